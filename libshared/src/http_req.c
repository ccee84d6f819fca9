/* Reading a request for oa/http.h: percent-decoding, the query string, the path, headers,
 * the body and the peer address. The parsers take plain bytes (and an h2o memory pool
 * for their output) so they are tested without sockets. Everything read from the
 * request is bounded, and text is decoded exactly once, here: callers compare decoded
 * names and never decode again (a second decode turns "%2541" into "A"). */
#include "oa/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int oa_http_pct_decode(const char *src, size_t len, bool plus_is_space, char *dst,
                       size_t dstcap, size_t *ret_len) {
        size_t i = 0, o = 0;

        while (i < len) {
                char c = src[i];

                if (c == '%') {
                        int hi, lo;

                        if (len - i < 3)
                                return -EINVAL;
                        hi = hexval(src[i + 1]);
                        lo = hexval(src[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (char) (hi << 4 | lo);
                        i += 3;
                } else {
                        if (c == '+' && plus_is_space)
                                c = ' ';
                        i++;
                }
                /* A NUL, raw or decoded, would cut the C string the caller gets. */
                if (c == '\0')
                        return -EINVAL;
                if (o + 1 >= dstcap)
                        return -E2BIG;
                dst[o++] = c;
        }
        if (dstcap == 0)
                return -E2BIG;
        dst[o] = '\0';
        *ret_len = o;
        return 0;
}

int oa_http_query_parse(h2o_mem_pool_t *pool, const char *qs, size_t len,
                        oa_http_query *ret_q) {
        oa_http_query q = { NULL, 0 };
        size_t n = 0, i, start;
        char *out;
        int r;

        if (len > OA_HTTP_QUERY_MAX_LEN)
                return -E2BIG;
        for (start = 0, i = 0; i <= len; i++) {
                if (i == len || qs[i] == '&') {
                        n += i > start;
                        start = i + 1;
                }
        }
        if (n > OA_HTTP_QUERY_MAX_PARAMS)
                return -E2BIG;
        if (n == 0) {
                *ret_q = q;
                return 0;
        }
        q.params = h2o_mem_alloc_pool(pool, n * sizeof(*q.params));
        /* Decoding never grows the text: each pair needs its length plus two NULs. */
        out = h2o_mem_alloc_pool(pool, len + 2 * n);
        for (start = 0, i = 0; i <= len; i++) {
                oa_http_param *p;
                const char *pair, *eq;
                size_t plen, nlen;

                if (i < len && qs[i] != '&')
                        continue;
                pair = qs + start;
                plen = i - start;
                start = i + 1;
                if (plen == 0)
                        continue;
                eq = memchr(pair, '=', plen);
                nlen = eq ? (size_t) (eq - pair) : plen;
                if (nlen == 0)
                        return -EINVAL;
                p = &q.params[q.n++];
                r = oa_http_pct_decode(pair, nlen, true, out, nlen + 1, &p->name_len);
                if (r < 0)
                        return r;
                p->name = out;
                out += p->name_len + 1;
                if (eq) {
                        size_t vlen = plen - nlen - 1;

                        r = oa_http_pct_decode(eq + 1, vlen, true, out, vlen + 1, &p->value_len);
                        if (r < 0)
                                return r;
                } else {
                        out[0] = '\0';
                        p->value_len = 0;
                }
                p->value = out;
                out += p->value_len + 1;
        }
        *ret_q = q;
        return 0;
}

int oa_http_query_get(const oa_http_query *q, const char *name, const char **ret_value,
                      size_t *ret_len) {
        const oa_http_param *found = NULL;
        size_t nlen = strlen(name);

        for (size_t i = 0; i < q->n; i++) {
                const oa_http_param *p = &q->params[i];

                if (p->name_len != nlen || memcmp(p->name, name, nlen) != 0)
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = p;
        }
        if (!found)
                return -ENOENT;
        *ret_value = found->value;
        if (ret_len)
                *ret_len = found->value_len;
        return 0;
}

int oa_http_req_query(h2o_req_t *req, oa_http_query *ret_q) {
        size_t at = req->query_at;

        if (at == SIZE_MAX) {
                ret_q->params = NULL;
                ret_q->n = 0;
                return 0;
        }
        return oa_http_query_parse(&req->pool, req->path.base + at + 1, req->path.len - at - 1,
                                   ret_q);
}

h2o_iovec_t oa_http_path(h2o_req_t *req) {
        return h2o_iovec_init(req->path.base, req->query_at == SIZE_MAX ? req->path.len
                                                                           : req->query_at);
}

int oa_http_path_split(const char *path, size_t len, h2o_iovec_t *segs, size_t max) {
        size_t n = 0, start;

        if (len == 0 || path[0] != '/')
                return -EINVAL;
        if (len == 1)
                return 0;
        start = 1;
        for (size_t i = 1; i <= len; i++) {
                if (i < len && path[i] != '/')
                        continue;
                if (n == max)
                        return -E2BIG;
                segs[n++] = h2o_iovec_init(path + start, i - start);
                start = i + 1;
        }
        return (int) n;
}

int oa_http_header(h2o_req_t *req, const h2o_token_t *token, h2o_iovec_t *ret_value) {
        ssize_t i = h2o_find_header(&req->headers, token, -1);

        if (i < 0)
                return -ENOENT;
        *ret_value = req->headers.entries[i].value;
        return 0;
}

int oa_http_header_by_name(h2o_req_t *req, const char *name, h2o_iovec_t *ret_value) {
        ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

        if (i < 0)
                return -ENOENT;
        *ret_value = req->headers.entries[i].value;
        return 0;
}

int oa_http_body(h2o_req_t *req, size_t max, h2o_iovec_t *ret_body) {
        if (req->entity.len > max)
                return -E2BIG;
        /* No body at all leaves entity.base NULL; give callers an empty string instead. */
        *ret_body = req->entity.base ? req->entity : h2o_iovec_init("", 0);
        return 0;
}

int oa_http_body_cstr(h2o_req_t *req, size_t max, const char **ret_body, size_t *ret_len) {
        h2o_iovec_t b;
        char *p;
        int r;

        r = oa_http_body(req, max, &b);
        if (r < 0)
                return r;
        p = h2o_mem_alloc_pool(&req->pool, b.len + 1);
        memcpy(p, b.base, b.len);
        p[b.len] = '\0';
        *ret_body = p;
        if (ret_len)
                *ret_len = b.len;
        return 0;
}

int oa_http_peer_ip(h2o_req_t *req, char *buf, size_t len) {
        struct sockaddr_storage ss;
        const void *addr;
        socklen_t sl;
        int family;

        if (!req->conn->callbacks->get_peername)
                return -ENOTCONN;
        sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *) &ss);
        if (sl == 0)
                return -ENOTCONN;
        family = ss.ss_family;
        if (family == AF_INET) {
                addr = &((struct sockaddr_in *) &ss)->sin_addr;
        } else if (family == AF_INET6) {
                const struct in6_addr *a6 = &((struct sockaddr_in6 *) &ss)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        family = AF_INET;
                        addr = &a6->s6_addr[12];
                } else
                        addr = a6;
        } else
                return -ENOTCONN;
        return oa_ip_format(family, addr, buf, len);
}

bool oa_http_method_is(h2o_req_t *req, const char *m) {
        return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Tests for the socket-free parts of libshared/src/http_*.c: listen addresses, percent-
 * decoding, query strings, path splitting, the error body. */
#include "oa/http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- oa_http_addr_parse ---- */

typedef struct addr_row {
        char in[96];
        int want;
        int family;
        char ip[48];
        int port;
} addr_row;

ParameterizedTestParameters(oa_http, addr_parse) {
        static addr_row rows[] = {
                { "127.0.0.1:8080", 0, AF_INET, "127.0.0.1", 8080 },
                { "[::1]:8080", 0, AF_INET6, "::1", 8080 },
                { ":8080", 0, AF_INET, "0.0.0.0", 8080 },
                { "0.0.0.0:0", 0, AF_INET, "0.0.0.0", 0 },
                { "[::]:65535", 0, AF_INET6, "::", 65535 },
                { "10.1.2.3:08080", 0, AF_INET, "10.1.2.3", 8080 },
                { "[2001:db8::7]:443", 0, AF_INET6, "2001:db8::7", 443 },
                { "127.0.0.1", -EINVAL, 0, "", 0 },
                { "127.0.0.1:", -EINVAL, 0, "", 0 },
                { ":", -EINVAL, 0, "", 0 },
                { "", -EINVAL, 0, "", 0 },
                { "127.0.0.1:65536", -ERANGE, 0, "", 0 },
                { "127.0.0.1:99999999999999999999999", -ERANGE, 0, "", 0 },
                { "127.0.0.1:-1", -EINVAL, 0, "", 0 },
                { "127.0.0.1:+80", -EINVAL, 0, "", 0 },
                { "127.0.0.1: 80", -EINVAL, 0, "", 0 },
                { "127.0.0.1:80 ", -EINVAL, 0, "", 0 },
                { " 127.0.0.1:80", -EINVAL, 0, "", 0 },
                { "127.0.0.1:0x50", -EINVAL, 0, "", 0 },
                { "::1:80", -EINVAL, 0, "", 0 },
                { "[::1]80", -EINVAL, 0, "", 0 },
                { "[::1]", -EINVAL, 0, "", 0 },
                { "[::1]:", -EINVAL, 0, "", 0 },
                { "[]:80", -EINVAL, 0, "", 0 },
                { "[::1:80", -EINVAL, 0, "", 0 },
                { "[127.0.0.1]:80", -EINVAL, 0, "", 0 },
                { "[fe80::1%eth0]:80", -EINVAL, 0, "", 0 },
                { "localhost:80", -EINVAL, 0, "", 0 },
                { "256.0.0.1:80", -EINVAL, 0, "", 0 },
                { "1.2.3:80", -EINVAL, 0, "", 0 },
                { "01.2.3.4:80", -EINVAL, 0, "", 0 },
                { "*:80", -EINVAL, 0, "", 0 },
                { "1.2.3.4:80:80", -EINVAL, 0, "", 0 },
                { "[::1]:80]", -EINVAL, 0, "", 0 },
                { "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:80",
                  -EINVAL, 0, "", 0 },
        };
        return cr_make_param_array(addr_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(addr_row *row, oa_http, addr_parse) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        char ip[INET6_ADDRSTRLEN];
        int port;

        cr_assert_eq(oa_http_addr_parse(row->in, &ss, &len), row->want, "\"%s\"", row->in);
        if (row->want < 0)
                return;
        cr_assert_eq(ss.ss_family, row->family);
        if (row->family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

                cr_assert_eq(len, sizeof(*sin));
                inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
                port = ntohs(sin->sin_port);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

                cr_assert_eq(len, sizeof(*sin6));
                inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
                port = ntohs(sin6->sin6_port);
        }
        cr_assert_str_eq(ip, row->ip);
        cr_assert_eq(port, row->port);
}

Test(oa_http, addr_parse_of_null_and_overlong_text_is_einval) {
        struct sockaddr_storage ss;
        socklen_t len;
        char big[4096];

        cr_assert_eq(oa_http_addr_parse(NULL, &ss, &len), -EINVAL);
        memset(big, '1', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        big[10] = ':';
        cr_assert_eq(oa_http_addr_parse(big, &ss, &len), -EINVAL);
}

Test(oa_http, addr_format_round_trips) {
        const char *in[] = { "127.0.0.1:8080", "[::1]:9101", "[2001:db8::7]:0", "0.0.0.0:1" };
        struct sockaddr_storage ss;
        socklen_t len;
        char out[OA_HTTP_ADDR_MAX];

        for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
                cr_assert_eq(oa_http_addr_parse(in[i], &ss, &len), 0);
                cr_assert_eq(oa_http_addr_format((struct sockaddr *) &ss, out, sizeof(out)), 0);
                cr_assert_str_eq(out, in[i]);
        }
        cr_assert_eq(oa_http_addr_format((struct sockaddr *) &ss, out, 4), -ENOSPC);
}

/* ---- oa_http_listen ---- */

Test(oa_http, listen_on_a_taken_port_names_the_address) {
        char addr[64], err[256];
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        int fd, fd2 = -1;

        cr_assert_eq(oa_http_listen("127.0.0.1:0", 16, false, &fd, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sin, &sl), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
        cr_assert_eq(oa_http_listen(addr, 16, false, &fd2, err, sizeof(err)), -EADDRINUSE);
        cr_assert(strstr(err, addr), "%s", err);
        cr_assert(strstr(err, "Address already in use"), "%s", err);
        cr_assert_eq(fd2, -1);
        close(fd);
}

Test(oa_http, listen_with_reuseport_shares_the_port) {
        char addr[64], err[256];
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        int fd, fd2;

        cr_assert_eq(oa_http_listen("127.0.0.1:0", 16, true, &fd, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sin, &sl), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
        cr_assert_eq(oa_http_listen(addr, 16, true, &fd2, err, sizeof(err)), 0, "%s", err);
        close(fd2);
        close(fd);
}

Test(oa_http, listen_on_a_bad_address_says_what_is_expected) {
        char err[256];
        int fd;

        cr_assert_eq(oa_http_listen("localhost:80", 16, false, &fd, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "localhost:80"), "%s", err);
        cr_assert(strstr(err, "127.0.0.1:8080"), "%s", err);
}

/* ---- oa_http_pct_decode ---- */

typedef struct pct_row {
        char in[64];
        bool plus;
        int want;
        char out[64];
} pct_row;

ParameterizedTestParameters(oa_http, pct_decode) {
        static pct_row rows[] = {
                { "", true, 0, "" },
                { "plain", true, 0, "plain" },
                { "a%20b", false, 0, "a b" },
                { "a+b", true, 0, "a b" },
                { "a+b", false, 0, "a+b" },
                { "%2B", true, 0, "+" },                /* an encoded plus stays a plus */
                { "%2541", true, 0, "%41" },            /* decoded exactly once */
                { "%252541", true, 0, "%2541" },
                { "caf%C3%A9", true, 0, "caf\xc3\xa9" },
                { "caf%c3%a9", true, 0, "caf\xc3\xa9" },
                { "%7e%7E", true, 0, "~~" },
                { "%0A%0d", true, 0, "\n\r" },
                { "%ff", true, 0, "\xff" },             /* bytes, not UTF-8: validators decide */
                { "%00", true, -EINVAL, "" },
                { "a%00b", true, -EINVAL, "" },
                { "%zz", true, -EINVAL, "" },
                { "%g0", true, -EINVAL, "" },
                { "%0g", true, -EINVAL, "" },
                { "%", true, -EINVAL, "" },
                { "abc%", true, -EINVAL, "" },
                { "%4", true, -EINVAL, "" },
                { "abc%4", true, -EINVAL, "" },
                { "%%41", true, -EINVAL, "" },
                { "% 41", true, -EINVAL, "" },
                { "%-1", true, -EINVAL, "" },
                { "%+1", true, -EINVAL, "" },
        };
        return cr_make_param_array(pct_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(pct_row *row, oa_http, pct_decode) {
        char out[64];
        size_t len = 12345;

        cr_assert_eq(oa_http_pct_decode(row->in, strlen(row->in), row->plus, out, sizeof(out), &len),
                     row->want, "\"%s\"", row->in);
        if (row->want < 0) {
                cr_assert_eq(len, 12345, "*ret_len untouched on error");
                return;
        }
        cr_assert_str_eq(out, row->out);
        cr_assert_eq(len, strlen(row->out));
}

Test(oa_http, pct_decode_rejects_a_raw_nul) {
        char out[8];
        size_t len;

        cr_assert_eq(oa_http_pct_decode("a\0b", 3, true, out, sizeof(out), &len), -EINVAL);
}

Test(oa_http, pct_decode_is_bounded_by_the_output) {
        char out[4];
        size_t len;

        cr_assert_eq(oa_http_pct_decode("abc", 3, true, out, sizeof(out), &len), 0);
        cr_assert_eq(oa_http_pct_decode("abcd", 4, true, out, sizeof(out), &len), -E2BIG);
        cr_assert_eq(oa_http_pct_decode("%41%42%43", 9, true, out, sizeof(out), &len), 0);
        cr_assert_str_eq(out, "ABC");
        cr_assert_eq(oa_http_pct_decode("", 0, true, out, 0, &len), -E2BIG);
}

Test(oa_http, pct_decode_of_a_megabyte) {
        size_t n = 3 << 20, len;
        char *in = malloc(n), *out = malloc(n / 3 + 1);

        for (size_t i = 0; i < n; i += 3)
                memcpy(in + i, "%41", 3);
        cr_assert_eq(oa_http_pct_decode(in, n, true, out, n / 3 + 1, &len), 0);
        cr_assert_eq(len, n / 3);
        cr_assert_eq(out[0], 'A');
        cr_assert_eq(out[len - 1], 'A');
        in[n - 1] = 'z';
        cr_assert_eq(oa_http_pct_decode(in, n, true, out, n / 3 + 1, &len), -EINVAL);
        free(in);
        free(out);
}

/* ---- oa_http_query_parse / oa_http_query_get ---- */

static h2o_mem_pool_t pool;

static void pool_init(void) {
        h2o_mem_init_pool(&pool);
}

static void pool_done(void) {
        h2o_mem_clear_pool(&pool);
}

typedef struct query_row {
        char qs[96];
        int want_parse;
        size_t n;
        char name[16];
        int want_get;
        char value[32];
} query_row;

ParameterizedTestParameters(oa_http, query) {
        static query_row rows[] = {
                { "from=2026-05-01&to=2026-05-12&group_by=path", 0, 3, "group_by", 0, "path" },
                { "from=2026-05-01&to=2026-05-12&group_by=path", 0, 3, "from", 0, "2026-05-01" },
                { "", 0, 0, "a", -ENOENT, "" },
                { "a=1&&b=2&", 0, 2, "b", 0, "2" },
                { "&&&", 0, 0, "a", -ENOENT, "" },
                { "flag", 0, 1, "flag", 0, "" },
                { "a=", 0, 1, "a", 0, "" },
                { "a=b=c", 0, 1, "a", 0, "b=c" },
                { "q=a+b%2Bc", 0, 1, "q", 0, "a b+c" },
                { "gro%75p_by=x", 0, 1, "group_by", 0, "x" },
                { "a=1&A=2", 0, 2, "a", 0, "1" },
                { "a=1&a=2", 0, 2, "a", -ENOTUNIQ, "" },
                { "a=1&b=2&a=1", 0, 3, "a", -ENOTUNIQ, "" },
                { "a%3D1=2", 0, 1, "a=1", 0, "2" },
                { "k=%2500", 0, 1, "k", 0, "%00" },
                { "k=%26&j=1", 0, 2, "k", 0, "&" },
                { "a=1", 0, 1, "ab", -ENOENT, "" },
                { "ab=1", 0, 1, "a", -ENOENT, "" },
                { "=x", -EINVAL, 0, "", 0, "" },
                { "a=1&=x", -EINVAL, 0, "", 0, "" },
                { "a=%zz", -EINVAL, 0, "", 0, "" },
                { "a%zz=1", -EINVAL, 0, "", 0, "" },
                { "a=%", -EINVAL, 0, "", 0, "" },
                { "a=%4", -EINVAL, 0, "", 0, "" },
                { "k=%00", -EINVAL, 0, "", 0, "" },
                { "%00=1", -EINVAL, 0, "", 0, "" },
        };
        return cr_make_param_array(query_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(query_row *row, oa_http, query, .init = pool_init, .fini = pool_done) {
        oa_http_query q = { NULL, 99 };
        const char *v = NULL;
        size_t len = 0;

        cr_assert_eq(oa_http_query_parse(&pool, row->qs, strlen(row->qs), &q), row->want_parse,
                     "\"%s\"", row->qs);
        if (row->want_parse < 0) {
                cr_assert_eq(q.n, 99, "*ret_q untouched on error");
                return;
        }
        cr_assert_eq(q.n, row->n, "\"%s\": %zu params", row->qs, q.n);
        cr_assert_eq(oa_http_query_get(&q, row->name, &v, &len), row->want_get, "\"%s\" %s",
                     row->qs, row->name);
        if (row->want_get == 0) {
                cr_assert_str_eq(v, row->value);
                cr_assert_eq(len, strlen(row->value));
        }
}

Test(oa_http, query_names_and_values_are_nul_terminated_and_lengths_exact, .init = pool_init,
     .fini = pool_done) {
        static const char qs[] = "x=1&longer_name=a%20value&y";
        oa_http_query q;

        cr_assert_eq(oa_http_query_parse(&pool, qs, sizeof(qs) - 1, &q), 0);
        cr_assert_eq(q.n, 3);
        cr_assert_str_eq(q.params[1].name, "longer_name");
        cr_assert_eq(q.params[1].name_len, 11);
        cr_assert_str_eq(q.params[1].value, "a value");
        cr_assert_eq(q.params[1].value_len, 7);
        cr_assert_str_eq(q.params[2].name, "y");
        cr_assert_str_eq(q.params[2].value, "");
}

Test(oa_http, query_stops_at_the_length_given, .init = pool_init, .fini = pool_done) {
        static const char qs[] = "a=1&b=2";
        oa_http_query q;
        const char *v;

        cr_assert_eq(oa_http_query_parse(&pool, qs, 3, &q), 0);
        cr_assert_eq(q.n, 1);
        cr_assert_eq(oa_http_query_get(&q, "a", &v, NULL), 0);
        cr_assert_str_eq(v, "1");
}

Test(oa_http, query_parameter_count_is_capped, .init = pool_init, .fini = pool_done) {
        char qs[OA_HTTP_QUERY_MAX_PARAMS * 8 + 16];
        size_t len = 0;
        oa_http_query q;

        for (int i = 0; i < OA_HTTP_QUERY_MAX_PARAMS; i++)
                len += (size_t) snprintf(qs + len, sizeof(qs) - len, "p%d=1&", i);
        cr_assert_eq(oa_http_query_parse(&pool, qs, len, &q), 0);
        cr_assert_eq(q.n, OA_HTTP_QUERY_MAX_PARAMS);
        len += (size_t) snprintf(qs + len, sizeof(qs) - len, "one=more");
        cr_assert_eq(oa_http_query_parse(&pool, qs, len, &q), -E2BIG);
}

Test(oa_http, query_length_is_capped, .init = pool_init, .fini = pool_done) {
        char *qs = malloc(OA_HTTP_QUERY_MAX_LEN + 1);
        oa_http_query q;
        const char *v;
        size_t len;

        memcpy(qs, "a=", 2);
        memset(qs + 2, 'x', OA_HTTP_QUERY_MAX_LEN - 1);
        cr_assert_eq(oa_http_query_parse(&pool, qs, OA_HTTP_QUERY_MAX_LEN, &q), 0);
        cr_assert_eq(oa_http_query_get(&q, "a", &v, &len), 0);
        cr_assert_eq(len, OA_HTTP_QUERY_MAX_LEN - 2);
        cr_assert_eq(oa_http_query_parse(&pool, qs, OA_HTTP_QUERY_MAX_LEN + 1, &q), -E2BIG);
        free(qs);
}

/* ---- oa_http_path_split ---- */

typedef struct path_row {
        char path[48];
        int want;
        char segs[4][16];
} path_row;

ParameterizedTestParameters(oa_http, path_split) {
        static path_row rows[] = {
                { "/v1/projects/p1", 3, { "v1", "projects", "p1" } },
                { "/v1/projects/p1/privacy", 4, { "v1", "projects", "p1", "privacy" } },
                { "/", 0, { "" } },
                { "/a", 1, { "a" } },
                { "/a/", 2, { "a", "" } },
                { "//", 2, { "", "" } },
                { "/a%2Fb/c", 2, { "a%2Fb", "c" } },  /* not decoded: %2F is not a separator */
                { "/a/b/c/d/e", -E2BIG, { "" } },
                { "", -EINVAL, { "" } },
                { "a/b", -EINVAL, { "" } },
        };
        return cr_make_param_array(path_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(path_row *row, oa_http, path_split) {
        h2o_iovec_t segs[4];
        int n = oa_http_path_split(row->path, strlen(row->path), segs, 4);

        cr_assert_eq(n, row->want, "\"%s\": %d", row->path, n);
        for (int i = 0; i < n; i++) {
                cr_assert_eq(segs[i].len, strlen(row->segs[i]), "segment %d", i);
                cr_assert_eq(memcmp(segs[i].base, row->segs[i], segs[i].len), 0, "segment %d", i);
        }
}

/* ---- oa_http_error_body ---- */

typedef struct error_row {
        char code[24];
        char message[48];
        char want[128];
} error_row;

ParameterizedTestParameters(oa_http, error_body) {
        static error_row rows[] = {
                { "not_found", "project not found",
                  "{\"error\":\"not_found\",\"message\":\"project not found\"}" },
                { "validation_error", "field \"url\" is required",
                  "{\"error\":\"validation_error\",\"message\":\"field \\\"url\\\" is required\"}" },
                { "internal_error", "line1\nline2\t\\",
                  "{\"error\":\"internal_error\",\"message\":\"line1\\nline2\\t\\\\\"}" },
                { "validation_error", "bad byte \xff here",
                  "{\"error\":\"validation_error\",\"message\":\"bad byte \xef\xbf\xbd here\"}" },
                { "validation_error", "ctl \x01",
                  "{\"error\":\"validation_error\",\"message\":\"ctl \\u0001\"}" },
                { "rate_limited", "", "{\"error\":\"rate_limited\",\"message\":\"\"}" },
        };
        return cr_make_param_array(error_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(error_row *row, oa_http, error_body) {
        oa_buf b;

        oa_buf_init(&b, 1024);
        cr_assert_eq(oa_http_error_body(&b, row->code, row->message), 0);
        cr_assert_str_eq(b.data, row->want);
        oa_buf_done(&b);
}

Test(oa_http, error_body_past_the_cap_leaves_the_buffer_as_it_was) {
        oa_buf b;

        oa_buf_init(&b, 40);
        cr_assert_eq(oa_buf_adds(&b, "keep"), 0);
        cr_assert_eq(oa_http_error_body(&b, "internal_error", "a message too long for the cap"),
                     -E2BIG);
        cr_assert_str_eq(b.data, "keep");
        cr_assert_eq(b.len, 4);
        oa_buf_done(&b);
}

Test(oa_http, reason_phrases) {
        cr_assert_str_eq(oa_http_reason(200), "OK");
        cr_assert_str_eq(oa_http_reason(204), "No Content");
        cr_assert_str_eq(oa_http_reason(413), "Payload Too Large");
        cr_assert_str_eq(oa_http_reason(429), "Too Many Requests");
        cr_assert_str_eq(oa_http_reason(503), "Service Unavailable");
        cr_assert_str_eq(oa_http_reason(299), "Unknown");
}

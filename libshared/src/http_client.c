/* The client address of a request behind trusted proxies (oa_http_client_ip in
 * oa/http.h): the peer, and the X-Forwarded-For headers handed to oa/proxy.h. */
#include "oa/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int oa_http_client_ip(h2o_req_t *req, const oa_proxies *p, char *buf, size_t len) {
        char peer[64], *xff = NULL;
        size_t xlen = 0, total = 0;
        ssize_t cur = -1;
        int r;

        r = oa_http_peer_ip(req, peer, sizeof(peer));
        if (r < 0)
                return r;
        if (!p || p->n == 0 || !oa_proxies_match(p, peer))
                return snprintf(buf, len, "%s", peer) < (int) len ? 0 : -ENOSPC;
        /* Several X-Forwarded-For headers are one list, in order. h2o bounds the request
         * head, so the joined text is bounded too. */
        while ((cur = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, cur)) != -1)
                total += req->headers.entries[cur].value.len + 1;
        if (total) {
                xff = h2o_mem_alloc_pool(&req->pool, total);
                while ((cur = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, cur)) != -1) {
                        h2o_iovec_t v = req->headers.entries[cur].value;

                        if (xlen)
                                xff[xlen++] = ',';
                        memcpy(xff + xlen, v.base, v.len);
                        xlen += v.len;
                }
        }
        r = oa_proxies_client_ip(p, peer, xff, xlen, buf, len);
        return r == -EINVAL ? -ENOTCONN : r;
}

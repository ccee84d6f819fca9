/* GET /openapi.json: the OpenAPI 3.1 description of the API, kept in openapi.json next to
 * this file and compiled into the program (embed.py), so the document a client fetches is
 * always the one this build was made with. No authentication: it describes, it reveals
 * nothing of any account. */
#include "query.h"

#include <string.h>

extern const char oa_query_openapi_json[];
extern const size_t oa_query_openapi_json_len;

static int on_openapi(h2o_req_t *req, void *userdata) {
        h2o_iovec_t path = oa_http_path(req);

        if (path.len != strlen("/openapi.json"))
                return -1;      /* a longer path under it: 404 */
        if (!oa_http_method_is(req, "GET") && !oa_http_method_is(req, "HEAD")) {
                oa_http_add_header(req, "Allow", "GET, HEAD");
                oa_http_send_error(req, 405, "method_not_allowed", "use GET");
                return 0;
        }
        oa_http_add_header(req, "Cache-Control", "public, max-age=300");
        oa_http_add_header(req, "Access-Control-Allow-Origin", "*");
        oa_http_send_json(req, 200, oa_query_openapi_json, oa_query_openapi_json_len);
        return 0;
}

int oa_query_openapi_mount(oa_query *q) {
        return oa_http_server_route(q->srv, "/openapi.json", "/openapi.json", on_openapi, q);
}

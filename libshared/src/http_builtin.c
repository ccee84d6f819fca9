/* The routes every daemon mounts: /healthz (the process answers), /readyz (its
 * dependencies answer, as the daemon's callback says) and /metrics (the registry in the
 * Prometheus text format). GET and HEAD only. */
#include "http_internal.h"

#include <errno.h>
#include <string.h>

#define METRICS_MAX (16u << 20)         /* a registry this large is a bug, not a scrape */
#define READY_MSG_MAX 256

/* 405 for anything but GET and HEAD; returns true when it answered. */
static bool refuse_method(h2o_req_t *req) {
        if (oa_http_method_is(req, "GET") || oa_http_method_is(req, "HEAD"))
                return false;
        oa_http_add_header(req, "Allow", "GET, HEAD");
        oa_http_send_error(req, 405, OA_HTTP_E_VALIDATION, "method not allowed");
        return true;
}

/* Only the exact path (as h2o routed it, normalized and without the query): "/healthz/x"
 * is not a health check. */
static bool exact(h2o_req_t *req, const char *path) {
        return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

static int on_healthz(h2o_req_t *req, void *userdata) {
        static const char body[] = "{\"status\":\"ok\"}";

        if (!exact(req, "/healthz"))
                return -1;
        if (!refuse_method(req))
                oa_http_send_json(req, 200, body, sizeof(body) - 1);
        return 0;
}

static int on_readyz(h2o_req_t *req, void *userdata) {
        static const char body[] = "{\"status\":\"ready\"}";
        oa_http_server *srv = userdata;
        char msg[READY_MSG_MAX];

        if (!exact(req, "/readyz"))
                return -1;
        if (refuse_method(req))
                return 0;
        if (oa_http_server_stopping(srv)) {
                oa_http_send_error(req, 503, OA_HTTP_E_UNAVAILABLE, "shutting down");
                return 0;
        }
        msg[0] = '\0';
        if (srv->ready && srv->ready(srv->ready_userdata, msg, sizeof(msg)) < 0) {
                oa_http_send_error(req, 503, OA_HTTP_E_UNAVAILABLE,
                                   msg[0] ? msg : "a dependency is not ready");
                return 0;
        }
        oa_http_send_json(req, 200, body, sizeof(body) - 1);
        return 0;
}

static int on_metrics(h2o_req_t *req, void *userdata) {
        oa_http_server *srv = userdata;
        oa_buf b;

        if (!exact(req, "/metrics"))
                return -1;
        if (refuse_method(req))
                return 0;
        http_server_collect(srv);
        oa_buf_init(&b, METRICS_MAX);
        if (oa_metrics_render(srv->cfg.metrics, &b) < 0)
                oa_http_send_error(req, 500, OA_HTTP_E_INTERNAL, "rendering the metrics failed");
        else
                oa_http_send(req, 200, OA_METRICS_CONTENT_TYPE, b.data, b.len);
        oa_buf_done(&b);
        return 0;
}

int oa_http_server_mount_builtin(oa_http_server *srv, oa_http_ready_fn ready, void *userdata) {
        int r;

        srv->ready = ready;
        srv->ready_userdata = userdata;
        r = oa_http_server_route(srv, "/healthz", NULL, on_healthz, srv);
        if (r == 0)
                r = oa_http_server_route(srv, "/readyz", NULL, on_readyz, srv);
        if (r == 0 && srv->cfg.metrics)
                r = oa_http_server_route(srv, "/metrics", NULL, on_metrics, srv);
        return r;
}

/* Every /v1 request goes through on_v1: find the route, work out the client's address,
 * refuse an address that failed authentication too often, authenticate the key for the
 * route's scope and project (oa_auth_check), count the request against the key's plan,
 * then call the route's handler. Answers go through oa_query_send_*, which add the
 * rate-limit headers and write the request's log line.
 *
 * Which budget the X-RateLimit-* headers describe: the key's, on every response to a
 * request whose key was recognised (200s, and the 403, 404, 405, 400, 413, 429 and 503
 * that follow); the client address's failed-authentication budget on 401 and on the 429
 * that refuses an address (what GitHub does for unauthenticated requests). Only the 503
 * sent before the catalogue is loaded has none: nothing can be counted yet.
 *
 * The checks, their order and the budgets are libshared's oa/gate.h, shared with oa-edge's
 * POST /v1/projects/{id}/events; here they are counted in the metrics and answered. */
#include "query.h"

#include "oa/key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>


typedef struct method_entry {
        const char *method;
        unsigned scope;
        oa_query_handler *fn;
} method_entry;

typedef struct route {
        const char *label;              /* also the metrics' route label */
        const char *collection;         /* second path segment */
        bool with_id;                   /* a third segment: the resource's id */
        bool project_id;                /* that id is a project: oa_auth_check checks it */
        const char *allow;
        method_entry methods[4];
        const char *sub;                /* after the id: "pageviews", "realtime/stream" */
} route;

static const route routes[] = {
        { "/v1/projects", "projects", false, false, "GET, HEAD, POST", {
                { "GET", OA_SCOPE_PROJECTS_READ, oa_query_projects_list },
                { "HEAD", OA_SCOPE_PROJECTS_READ, oa_query_projects_list },
                { "POST", OA_SCOPE_PROJECTS_WRITE, oa_query_project_create },
        }, NULL },
        { "/v1/projects/:id", "projects", true, true, "GET, HEAD, PATCH, DELETE", {
                { "GET", OA_SCOPE_PROJECTS_READ, oa_query_project_get },
                { "HEAD", OA_SCOPE_PROJECTS_READ, oa_query_project_get },
                { "PATCH", OA_SCOPE_PROJECTS_WRITE, oa_query_project_update },
                { "DELETE", OA_SCOPE_PROJECTS_WRITE, oa_query_project_delete },
        }, NULL },
        { "/v1/keys", "keys", false, false, "GET, HEAD, POST", {
                { "GET", OA_SCOPE_KEYS_WRITE, oa_query_keys_list },
                { "HEAD", OA_SCOPE_KEYS_WRITE, oa_query_keys_list },
                { "POST", OA_SCOPE_KEYS_WRITE, oa_query_key_create },
        }, NULL },
        { "/v1/keys/:key_id", "keys", true, false, "DELETE", {
                { "DELETE", OA_SCOPE_KEYS_WRITE, oa_query_key_revoke },
        }, NULL },
        /* realtime.c, sse.c, verify.c */
        { "/v1/projects/:id/realtime", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_realtime },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_realtime },
        }, "realtime" },
        { "/v1/projects/:id/realtime/stream", "projects", true, true, "GET", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_realtime_stream },
        }, "realtime/stream" },
        { "/v1/projects/:id/verify", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_verify },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_verify },
        }, "verify" },
        /* stats (stats.c, export.c) */
        { "/v1/projects/:id/pageviews", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_pageviews },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_stats_pageviews },
        }, "pageviews" },
        { "/v1/projects/:id/sessions", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_sessions },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_stats_sessions },
        }, "sessions" },
        { "/v1/projects/:id/conversions", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_conversions },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_stats_conversions },
        }, "conversions" },
        { "/v1/projects/:id/timeseries", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_timeseries },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_stats_timeseries },
        }, "timeseries" },
        { "/v1/projects/:id/query", "projects", true, true, "POST", {
                { "POST", OA_SCOPE_STATS_READ, oa_query_stats_query },
        }, "query" },
        { "/v1/projects/:id/export", "projects", true, true, "GET", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_export },
        }, "export" },
        { "/v1/projects/:id/filtered", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_STATS_READ, oa_query_stats_filtered },
                { "HEAD", OA_SCOPE_STATS_READ, oa_query_stats_filtered },
        }, "filtered" },
        /* privacy.c */
        { "/v1/projects/:id/privacy/user/:user_id", "projects", true, true, "GET, HEAD, DELETE", {
                { "GET", OA_SCOPE_PRIVACY_READ, oa_query_privacy_export },
                { "HEAD", OA_SCOPE_PRIVACY_READ, oa_query_privacy_export },
                { "DELETE", OA_SCOPE_PRIVACY_WRITE, oa_query_privacy_delete },
        }, "privacy/user/*" },
        { "/v1/projects/:id/privacy/requests/:request_id", "projects", true, true, "GET, HEAD", {
                { "GET", OA_SCOPE_PRIVACY_READ, oa_query_privacy_status },
                { "HEAD", OA_SCOPE_PRIVACY_READ, oa_query_privacy_status },
        }, "privacy/requests/*" },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
#define UNMATCHED_LABEL "/v1/*"

/* ---- client addresses ---- */

/* The request's client address (text) into rq->client: the peer, or behind a trusted
 * proxy the last untrusted hop of X-Forwarded-For (oa/proxy.h); "unknown" without one. */
static void find_client(oa_query_req *rq) {
        if (oa_http_client_ip(rq->req, &rq->q->proxies, rq->client, sizeof(rq->client)) < 0)
                snprintf(rq->client, sizeof(rq->client), "unknown");
}

/* ---- limits ---- */

/* After each decision: warn once when the limiter falls back to counting in process,
 * and say once when Redis answers again. */
static void note_degraded(oa_query *q) {
        bool d = oa_rl_degraded(q->rl);

        if (d == q->rl_degraded)
                return;
        q->rl_degraded = d;
        oa_metrics_gauge_set(q->m.limit_degraded, d ? 1 : 0);
        if (d)
                oa_log_warn("rate limits counted in process: Redis does not answer",
                            "error", oa_rds_errstr(q->rds));
        else
                oa_log_info("rate limits counted in Redis again");
}

/* ---- answering ---- */

/* The gate's headers (rate limits, Retry-After, Cache-Control: no-store); a route that
 * may be cached by the client (realtime's ETag) says so in rq->cache_control instead. */
void oa_query_add_headers(oa_query_req *rq, int status) {
        h2o_req_t *req = rq->req;
        ssize_t i;

        oa_gate_add_headers(req, rq->has_limit ? &rq->limit : NULL, rq->retry_after, status);
        if (rq->cache_control &&
            (i = h2o_find_header(&req->res.headers, H2O_TOKEN_CACHE_CONTROL, -1)) >= 0)
                req->res.headers.entries[i].value = h2o_iovec_init(rq->cache_control,
                                                                   strlen(rq->cache_control));
}

/* One line per request: debug for reads, info for writes (an audit trail of changes).
 * The key is named by its id; the Authorization header is never logged. */
void oa_query_log_request(oa_query_req *rq, int status) {
        bool write = strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0;
        struct timespec end;
        char st[8], ms[24];

        if (!write && !rq->q->log_debug)
                return;
        clock_gettime(CLOCK_MONOTONIC, &end);
        snprintf(st, sizeof(st), "%d", status);
        snprintf(ms, sizeof(ms), "%.3f", (double) (end.tv_sec - rq->start.tv_sec) * 1e3 +
                 (double) (end.tv_nsec - rq->start.tv_nsec) / 1e6);
        oa_log(write ? OA_LOG_INFO : OA_LOG_DEBUG, "request", "method", rq->method, "route", rq->label,
               "status", st, "key", rq->key_id[0] ? rq->key_id : NULL, "client", rq->client,
               "ms", ms, NULL);
}

void oa_query_start_response(oa_query_req *rq, int status) {
        oa_query_add_headers(rq, status);
        oa_query_log_request(rq, status);
}

void oa_query_send_json(oa_query_req *rq, int status, const char *body, size_t len) {
        oa_query_add_headers(rq, status);
        oa_http_send_json(rq->req, status, body, len);
        oa_query_log_request(rq, status);
}

void oa_query_send_error(oa_query_req *rq, int status, const char *code, const char *message) {
        oa_query_add_headers(rq, status);
        oa_http_send_error(rq->req, status, code, message);
        oa_query_log_request(rq, status);
}

void oa_query_send_empty(oa_query_req *rq, int status) {
        oa_query_add_headers(rq, status);
        oa_http_send_empty(rq->req, status);
        oa_query_log_request(rq, status);
}

/* ---- routing ---- */

/* The route of the path and the entry for the method (NULL: 405), or NULL (404). *ret_id
 * is the id segment copied into the pool, when the route has one; segments after it must
 * be the route's sub path. */
static const route *match(h2o_req_t *req, const method_entry **ret_entry, const char **ret_id,
                          const char **ret_param) {
        h2o_iovec_t path = oa_http_path(req), segs[7];
        int n = oa_http_path_split(path.base, path.len, segs, 7);
        /* a sub-resource: the rest of the path after the id, as sent */
        const char *rest = n > 3 ? segs[3].base : NULL;
        size_t rest_len = rest ? (size_t) (path.base + path.len - rest) : 0;

        *ret_entry = NULL;
        *ret_id = NULL;
        *ret_param = NULL;
        if (n < 2 || n > 6 || !h2o_memis(segs[0].base, segs[0].len, H2O_STRLIT("v1")))
                return NULL;
        for (size_t i = 0; i < N_ROUTES; i++) {
                const route *rt = &routes[i];
                size_t sublen = rt->sub ? strlen(rt->sub) : 0;
                /* "privacy/user/" "*": the last segment is a parameter */
                bool wild = sublen >= 2 && rt->sub[sublen - 1] == '*' && rt->sub[sublen - 2] == '/';

                if (rt->with_id != (n >= 3) ||
                    !h2o_memis(segs[1].base, segs[1].len, rt->collection, strlen(rt->collection)))
                        continue;
                if (!rest ? rt->sub != NULL : !rt->sub)
                        continue;
                if (rest && wild) {
                        /* the sub path up to the parameter, as sent, with its last '/' */
                        if (n < 5 || !h2o_memis(rest, (size_t) (segs[n - 1].base - rest), rt->sub,
                                                sublen - 1))
                                continue;
                        *ret_param = h2o_strdup(&req->pool, segs[n - 1].base, segs[n - 1].len).base;
                } else if (rest && !h2o_memis(rest, rest_len, rt->sub, sublen)) {
                        continue;
                }
                if (n >= 3)
                        /* Longer than any id: cut, so it still matches nothing. */
                        *ret_id = h2o_strdup(&req->pool, segs[2].base, segs[2].len > 64 ? 64 : segs[2].len).base;
                for (size_t k = 0; k < 4 && rt->methods[k].method; k++)
                        if (h2o_memis(req->method.base, req->method.len, rt->methods[k].method,
                                      strlen(rt->methods[k].method)))
                                *ret_entry = &rt->methods[k];
                return rt;
        }
        return NULL;
}

static int on_v1(h2o_req_t *req, void *userdata) {
        oa_query *q = userdata;
        oa_query_req *rq = h2o_mem_alloc_pool(&req->pool, sizeof(*rq));
        const oa_catalog *cat = oa_projects_catalog(q->projects);
        const method_entry *entry;
        const route *rt;
        oa_gate_result *g = h2o_mem_alloc_pool(&req->pool, sizeof(*g));
        h2o_iovec_t authz;
        char msg[160];
        const char *id;
        bool has_authz;
        int64_t now = (int64_t) time(NULL);

        memset(rq, 0, sizeof(*rq));
        rq->q = q;
        rq->req = req;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        snprintf(rq->method, sizeof(rq->method), "%.*s", (int) (req->method.len < 7 ? req->method.len : 7),
                 req->method.base);
        rt = match(req, &entry, &id, &rq->param);
        rq->label = rt ? rt->label : UNMATCHED_LABEL;
        oa_http_set_route_label(req, rq->label);
        find_client(rq);

        if (!oa_query_catalog_ready(q)) {
                rq->retry_after = 1;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "the projects catalogue is not loaded yet");
                return 0;
        }
#ifdef OA_QUERY_BENCH_NOAUTH
        /* The benchmark's baseline (bench/auth): this one route without key or limit. */
        if (entry && entry->fn == oa_query_project_get) {
                memset(g, 0, sizeof(*g));
                g->auth.project = oa_catalog_project(cat, id);
                if (!g->auth.project)
                        oa_query_send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "project not found");
                else
                        entry->fn(rq, &g->auth, id);
                return 0;
        }
#endif
        /* The gate: failed-authentication budget of the address, the key for the route's
         * scope and project, the key's budget (oa/gate.h). */
        has_authz = oa_http_header(req, H2O_TOKEN_AUTHORIZATION, &authz) == 0;
        oa_gate_check(q->gate, cat, rq->client, has_authz ? authz.base : NULL, has_authz ? authz.len : 0,
                      entry ? entry->scope : 0, entry && rt->project_id ? id : NULL, now, g);
        note_degraded(q);
        oa_gate_count(&q->m.gate, g);
        rq->limit = g->limit;
        rq->has_limit = g->has_limit;
        rq->retry_after = g->retry_after;
        memcpy(rq->key_id, g->key_id, sizeof(rq->key_id));
        if (g->status) {
                if (g->status == 401)
                        oa_http_add_header(req, "WWW-Authenticate", "Bearer");
                oa_query_send_error(rq, g->status, g->error, g->message);
                return 0;
        }
        if (!rt) {
                oa_query_send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "no such route");
                return 0;
        }
        if (!entry) {
                snprintf(msg, sizeof(msg), "method %s not allowed on %s (allowed: %s)", rq->method,
                         rt->label, rt->allow);
                oa_http_add_header(req, "Allow", rt->allow);
                oa_query_send_error(rq, 405, OA_HTTP_E_VALIDATION, msg);
                return 0;
        }
        entry->fn(rq, &g->auth, id);
        return 0;
}

int oa_query_api_mount(oa_query *q) {
        int r = oa_http_server_route(q->srv, "/v1", UNMATCHED_LABEL, on_v1, q);

        return r < 0 ? r : oa_query_openapi_mount(q);
}

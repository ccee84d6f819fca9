/* Routes of the oa_http server and their metrics: registration (kept until the server
 * starts, then handed to h2o longest prefix first), the h2o handler that times each
 * request and calls the route's function, and the per-request counter and latency
 * histogram by route and status class, taken when h2o releases the request's pool
 * (response sent, or client gone) so asynchronous handlers are timed to their end.
 *
 * Assumptions about h2o 2.2.5, checked by tests/unit/libshared/test_http_server.c: a path
 * registered with h2o_config_register_path takes itself and everything below it ("/a"
 * takes "/a" and "/a/b", not "/ab"), the first registered match wins, and what matches no
 * path goes to the host's fallback path; memory linked to req->pool with
 * h2o_mem_alloc_shared is released when the request is disposed. */
#include "http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUTE_ENV "oa.route"            /* req->env key of oa_http_set_route_label */

static const char *const class_names[HTTP_N_CLASSES] = {
        "none", "1xx", "2xx", "3xx", "4xx", "5xx",
};

typedef struct route_handler {
        h2o_handler_t super;
        http_route *route;
} route_handler;

typedef struct req_timer {
        h2o_req_t *req;
        http_route *route;
        struct timespec start;
} req_timer;

/* ---- metrics ---- */

int http_metrics_setup(oa_http_server *srv) {
        static const char *const route_status[] = { "route", "status" };
        static const char *const status[] = { "status" };
        oa_metrics *m = srv->cfg.metrics;
        int r;

        if (!m)
                return 0;
        r = oa_metrics_counter_family(m, "oa_http_requests_total",
                                      "HTTP requests answered, by route and status class.",
                                      route_status, 2, &srv->m_requests);
        if (r == 0)
                r = oa_metrics_histogram_family(m, "oa_http_request_duration_seconds",
                                                "Time from handler start to response sent, "
                                                "by route and status class.",
                                                route_status, 2, oa_metrics_latency_buckets,
                                                OA_METRICS_LATENCY_BUCKETS_N, &srv->m_duration);
        if (r == 0)
                r = oa_metrics_counter_family(m, "oa_http_protocol_errors_total",
                                              "Requests refused by the HTTP layer before any "
                                              "handler (malformed, too large), by status.",
                                              status, 1, &srv->m_protocol_errors);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_http_connections", "Open client connections.",
                                         &srv->m_connections);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_http_connections_accepted_total",
                                           "Client connections accepted.", &srv->m_accepted);
        return r;
}

void http_server_collect(oa_http_server *srv) {
        static const int statuses[H2O_STATUS_ERROR_MAX] = {
                400, 403, 404, 405, 413, 416, 417, 500, 502, 503,
        };
        char num[8];

        if (!srv->m_protocol_errors || !srv->started)
                return;
        for (size_t i = 0; i < H2O_STATUS_ERROR_MAX; i++) {
                oa_metrics_counter *c;

                if (!srv->ctx.emitted_error_status[i])
                        continue;
                snprintf(num, sizeof(num), "%d", statuses[i]);
                if (oa_metrics_family_counter(srv->m_protocol_errors, (const char *[]) { num },
                                              &c) == 0)
                        c->value = srv->ctx.emitted_error_status[i];
        }
}

/* Released with the request's pool: the response is sent or the client went away. */
static void on_request_done(void *p) {
        req_timer *t = p;
        http_route *rt = t->route;
        oa_http_server *srv = rt->srv;
        int status = t->req->res.status, cls = status / 100;
        oa_metrics_counter *count = NULL;
        oa_metrics_histogram *duration = NULL;
        struct timespec end;
        h2o_iovec_t *label;
        double secs;

        if (cls < 1 || cls >= HTTP_N_CLASSES)
                cls = 0;
        clock_gettime(CLOCK_MONOTONIC, &end);
        secs = (double) (end.tv_sec - t->start.tv_sec) +
               (double) (end.tv_nsec - t->start.tv_nsec) / 1e9;
        label = h2o_req_getenv(t->req, H2O_STRLIT(ROUTE_ENV), 0);
        if (label) {
                const char *values[] = { label->base, class_names[cls] };

                /* A failed lookup (too many labels) only loses the sample. */
                if (oa_metrics_family_counter(srv->m_requests, values, &count) < 0 ||
                    oa_metrics_family_histogram(srv->m_duration, values, &duration) < 0)
                        return;
        } else {
                const char *values[] = { rt->label, class_names[cls] };

                if (!rt->count[cls] &&
                    (oa_metrics_family_counter(srv->m_requests, values, &rt->count[cls]) < 0 ||
                     oa_metrics_family_histogram(srv->m_duration, values,
                                                 &rt->duration[cls]) < 0)) {
                        rt->count[cls] = NULL;
                        return;
                }
                count = rt->count[cls];
                duration = rt->duration[cls];
        }
        oa_metrics_counter_inc(count, 1);
        oa_metrics_histogram_observe(duration, secs);
}

void oa_http_set_route_label(h2o_req_t *req, const char *label) {
        *h2o_req_getenv(req, H2O_STRLIT(ROUTE_ENV), 1) = h2o_iovec_init(label, strlen(label));
}

/* ---- routes ---- */

static int on_route_req(h2o_handler_t *self, h2o_req_t *req) {
        http_route *rt = ((route_handler *) self)->route;

        if (rt->srv->m_requests) {
                req_timer *t = h2o_mem_alloc_shared(&req->pool, sizeof(*t), on_request_done);

                t->req = req;
                t->route = rt;
                clock_gettime(CLOCK_MONOTONIC, &t->start);
        }
        if (rt->fn(req, rt->userdata) < 0)
                oa_http_send_error(req, 404, OA_HTTP_E_NOT_FOUND, "no such resource");
        return 0;
}

static int on_unmatched(h2o_req_t *req, void *userdata) {
        return -1;
}

static void route_free(http_route *rt) {
        if (!rt)
                return;
        free(rt->prefix);
        free(rt->label);
        free(rt);
}

int oa_http_server_route(oa_http_server *srv, const char *prefix, const char *label,
                         oa_http_handler_fn fn, void *userdata) {
        http_route *rt = NULL, **routes;
        size_t plen;

        if (srv->started)
                return -EBUSY;
        if (!prefix || prefix[0] != '/' || !fn)
                return -EINVAL;
        /* "/a/" and "/a" are the same route to h2o. */
        plen = strlen(prefix);
        while (plen > 1 && prefix[plen - 1] == '/')
                plen--;
        for (size_t i = 0; i < srv->n_routes; i++)
                if (strlen(srv->routes[i]->prefix) == plen &&
                    memcmp(srv->routes[i]->prefix, prefix, plen) == 0)
                        return -EEXIST;
        if (srv->n_routes == srv->cap_routes) {
                size_t cap = srv->cap_routes ? srv->cap_routes * 2 : 8;

                routes = realloc(srv->routes, cap * sizeof(*routes));
                if (!routes)
                        return -ENOMEM;
                srv->routes = routes;
                srv->cap_routes = cap;
        }
        rt = calloc(1, sizeof(*rt));
        if (!rt)
                return -ENOMEM;
        rt->prefix = strndup(prefix, plen);
        rt->label = strdup(label ? label : rt->prefix ? rt->prefix : "");
        if (!rt->prefix || !rt->label) {
                route_free(rt);
                return -ENOMEM;
        }
        rt->fn = fn;
        rt->userdata = userdata;
        rt->srv = srv;
        srv->routes[srv->n_routes++] = rt;
        return 0;
}

static int by_prefix_length_desc(const void *a, const void *b) {
        size_t la = strlen((*(http_route *const *) a)->prefix);
        size_t lb = strlen((*(http_route *const *) b)->prefix);

        return la < lb ? 1 : la > lb ? -1 : 0;
}

static void attach_route(h2o_pathconf_t *pathconf, http_route *rt) {
        route_handler *h = (route_handler *) h2o_create_handler(pathconf, sizeof(*h));

        h->super.on_req = on_route_req;
        h->route = rt;
}

void http_routes_init(oa_http_server *srv) {
        srv->unmatched.prefix = NULL;
        srv->unmatched.label = "unmatched";
        srv->unmatched.fn = on_unmatched;
        srv->unmatched.srv = srv;
}

void http_routes_attach(oa_http_server *srv) {
        if (srv->n_routes)
                qsort(srv->routes, srv->n_routes, sizeof(*srv->routes), by_prefix_length_desc);
        for (size_t i = 0; i < srv->n_routes; i++)
                attach_route(h2o_config_register_path(srv->host, srv->routes[i]->prefix, 0),
                             srv->routes[i]);
        attach_route(&srv->host->fallback_path, &srv->unmatched);
}

void http_routes_free(oa_http_server *srv) {
        for (size_t i = 0; i < srv->n_routes; i++)
                route_free(srv->routes[i]);
        free(srv->routes);
        srv->routes = NULL;
        srv->n_routes = srv->cap_routes = 0;
}

/* What the http_*.c files share and nobody else sees: the server object. */
#ifndef OA_HTTP_INTERNAL_H
#define OA_HTTP_INTERNAL_H

#include "oa/http.h"

/* Status classes as metric label values: index status / 100, 0 for no response. */
#define HTTP_N_CLASSES 6

typedef struct http_route {
        char *prefix;
        char *label;
        oa_http_handler_fn fn;
        void *userdata;
        struct oa_http_server *srv;
        oa_metrics_counter *count[HTTP_N_CLASSES];      /* created on first use */
        oa_metrics_histogram *duration[HTTP_N_CLASSES];
} http_route;

typedef struct http_watch {
        h2o_socket_t *sock;     /* on a dup of fd, so closing it leaves fd alone */
        int fd;
        void (*fn)(int fd, void *userdata);
        void *userdata;
} http_watch;

struct oa_http_server {
        oa_http_server_cfg cfg;
        char *listen;
        h2o_evloop_t *loop;
        h2o_globalconf_t conf;
        h2o_hostconf_t *host;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept_ctx;
        int listen_fd;                  /* until started; then owned by listener */
        h2o_socket_t *listener;
        int port;
        bool started, stopping, accept_paused, conf_inited;
        size_t nconn;
        h2o_timeout_t retry_timeout;    /* resumes accepting after EMFILE and friends */
        h2o_timeout_entry_t retry_entry;

        http_route **routes;
        size_t n_routes, cap_routes;
        http_route unmatched;           /* answers 404 for every path no route takes */

        http_watch **watches;
        size_t n_watches, cap_watches;
        http_watch *sig_watch;

        oa_http_ready_fn ready;
        void *ready_userdata;

        oa_metrics_family *m_requests;          /* {route, status} */
        oa_metrics_family *m_duration;          /* {route, status} */
        oa_metrics_family *m_protocol_errors;   /* {status}: answered by h2o itself */
        oa_metrics_gauge *m_connections;
        oa_metrics_counter *m_accepted;
};

/* http_route.c: register the server's metrics families in cfg.metrics (if any; returns
 * 0 or an oa_metrics error), set up the 404 route, hand the routes to h2o (at start),
 * free them. */
int http_metrics_setup(oa_http_server *srv);
void http_routes_init(oa_http_server *srv);
void http_routes_attach(oa_http_server *srv);
void http_routes_free(oa_http_server *srv);

/* Copy h2o's own error counts (400, 413, ... sent before any handler) into the registry;
 * called by /metrics before rendering. */
void http_server_collect(oa_http_server *srv);

#endif

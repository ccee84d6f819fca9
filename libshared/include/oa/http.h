/* HTTP helpers around libh2o-evloop 2.2.5, so a daemon's main.c stays a skeleton:
 *
 *     oa_sig_setup();                                            // SIGTERM wakes the loop
 *     oa_http_server_cfg_init(&hc);
 *     hc.listen = cfg.listen;
 *     hc.metrics = metrics;
 *     r = oa_http_server_new(&hc, &srv, err, sizeof(err));      // binds: fails fast
 *     oa_http_server_route(srv, "/collect", NULL, on_collect, ctx);
 *     oa_http_server_mount_builtin(srv, is_ready, ctx);          // /healthz /readyz /metrics
 *     r = oa_http_server_run(srv, on_turn, rk);                  // until SIGTERM, then drain
 *     srv = oa_http_server_free(srv);
 *
 * One server is one listening socket, one h2o context and one event loop, driven by the
 * thread that calls run (or run_once). HTTP/1.x only: the gateway (nginx) or ingress in
 * front terminates TLS and HTTP/2. Handlers get the h2o_req_t; allocate per-request
 * memory from req->pool, so nothing is freed by hand. Request timing, status classes
 * and connection counts go to the oa_metrics registry given in the configuration.
 *
 * Addresses are numeric: "127.0.0.1:8080", "[::1]:8080", ":8080" (all IPv4 interfaces),
 * "[::]:8080". Port 0 picks a free port (see oa_http_server_port). */
#ifndef OA_HTTP_H
#define OA_HTTP_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "oa/buf.h"
#include "oa/metrics.h"
#include "oa/proxy.h"

/* ---- addresses and listening sockets (http_addr.c) ---- */

#define OA_HTTP_ADDR_MAX 64     /* longest accepted address text, and enough to format one */

/* Parse a listen address (see above). Returns 0 and fills *ret_ss / *ret_len, -EINVAL
 * (no port, port not all digits, host not a numeric IPv4 or bracketed IPv6 address,
 * text longer than OA_HTTP_ADDR_MAX) or -ERANGE (port above 65535). */
int oa_http_addr_parse(const char *s, struct sockaddr_storage *ret_ss, socklen_t *ret_len);

/* Format sa as "1.2.3.4:80" or "[::1]:80" into buf (OA_HTTP_ADDR_MAX bytes suffice).
 * Returns 0, -EAFNOSUPPORT or -ENOSPC. */
int oa_http_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Create a non-blocking, close-on-exec TCP socket listening on addr with SO_REUSEADDR
 * (and SO_REUSEPORT when reuseport, so replicas on one host can share the port).
 * Returns 0 and the socket in *ret_fd (the caller closes it), or a negative errno with
 * a message naming the address in errbuf, e.g. "listen 127.0.0.1:8080: Address already
 * in use". */
int oa_http_listen(const char *addr, int backlog, bool reuseport, int *ret_fd,
                   char *errbuf, size_t errlen);

/* ---- the server (http_server.c) ---- */

typedef struct oa_http_server oa_http_server;

typedef struct oa_http_server_cfg {
        const char *listen;             /* address to listen on (copied) */
        int backlog;                    /* listen(2) backlog */
        bool reuseport;                 /* SO_REUSEPORT */
        unsigned max_connections;       /* stop accepting above this many open ones */
        size_t max_request_body;        /* bigger bodies get h2o's own 413 (text/plain)
                                         * before any handler: set it above the routes'
                                         * limits, which answer JSON via oa_http_body */
        uint64_t request_timeout_ms;    /* headers and body must arrive, and an idle
                                         * keep-alive connection closes, within this */
        uint64_t drain_timeout_ms;      /* on stop, wait this long for in-flight requests */
        int loop_wait_ms;               /* oa_http_server_run: longest sleep per turn */
        oa_metrics *metrics;            /* NULL: no request metrics and no /metrics */
} oa_http_server_cfg;

/* Fill c with the defaults: 127.0.0.1:8080, backlog 1024, no reuseport, 10000
 * connections, 1 MiB bodies, 10 s request timeout, 5 s drain, 100 ms turns, no metrics. */
void oa_http_server_cfg_init(oa_http_server_cfg *c);

/* A route handler: respond through the oa_http_send_* helpers, now or later from the
 * event loop (the request stays valid until its response is sent; h2o 2.2 does not tell
 * a handler that the client left). Return 0 when the request is (or will be) answered,
 * negative to decline: the server then answers 404 not_found. */
typedef int (*oa_http_handler_fn)(h2o_req_t *req, void *userdata);

/* Readiness check for /readyz: return 0 when every dependency answers, else write what
 * failed, naming the dependency ("kafka: no broker up"), into errbuf and return
 * negative. It runs on the event loop: read state kept by the daemon, do not block. */
typedef int (*oa_http_ready_fn)(void *userdata, char *errbuf, size_t errlen);

/* Create a server: bind and listen on c->listen now (so a taken port fails at start-up),
 * set up h2o (one host, HTTP/1.x, the limits of c) and the request metrics in
 * c->metrics. max_connections, max_request_body and request_timeout_ms must be
 * positive. A server belongs to the thread that runs it. Returns 0, or a negative errno
 * with the reason in errbuf (-EEXIST: c->metrics already serves another server). */
int oa_http_server_new(const oa_http_server_cfg *c, oa_http_server **ret_srv,
                       char *errbuf, size_t errlen);

/* Close everything: connections still open (drained first, as oa_http_server_drain),
 * the listener, the watches, h2o, the loop. NULL-safe; returns NULL. */
oa_http_server *oa_http_server_free(oa_http_server *srv);

/* Send requests whose path is prefix, or starts with prefix + "/", to fn. The longest
 * matching prefix wins; nothing matching gets 404 not_found. label names the route in
 * the metrics (NULL: the prefix); both strings are copied. Only before the first run;
 * returns 0, -EBUSY (already running), -EEXIST (prefix taken), -EINVAL (prefix not
 * starting with "/") or -ENOMEM. */
int oa_http_server_route(oa_http_server *srv, const char *prefix, const char *label,
                         oa_http_handler_fn fn, void *userdata);

/* Mount GET /healthz (200 {"status":"ok"}), GET /readyz (200 {"status":"ready"}, or 503
 * unavailable with ready's message; also 503 once stopping; ready may be NULL) and GET
 * /metrics (the registry of the configuration, if any). Returns as route. */
int oa_http_server_mount_builtin(oa_http_server *srv, oa_http_ready_fn ready, void *userdata);

/* The event loop, to add the daemon's own sockets and timers to it. */
h2o_evloop_t *oa_http_server_loop(oa_http_server *srv);

/* The port actually bound (useful with port 0). */
int oa_http_server_port(const oa_http_server *srv);

/* Client connections open now. */
size_t oa_http_server_connections(const oa_http_server *srv);

/* Call fn(fd, userdata) on the loop whenever fd is readable (level-triggered: fn must
 * read what is there, e.g. the pipe given to rd_kafka_queue_io_event_enable, so answers
 * waiting on delivery reports go out without waiting for the next turn). fd stays the
 * caller's (a duplicate is watched) but its open file becomes non-blocking. Until
 * oa_http_server_free. Returns 0 or a negative errno. */
int oa_http_server_watch_fd(oa_http_server *srv, int fd, void (*fn)(int fd, void *userdata),
                            void *userdata);

/* Ask the server to stop: the current or next turn returns 1. Also triggered by SIGTERM
 * and SIGINT when oa_sig_setup was called before oa_http_server_new. */
void oa_http_server_stop(oa_http_server *srv);

/* True once a stop was asked for (by oa_http_server_stop or a signal). */
bool oa_http_server_stopping(const oa_http_server *srv);

/* Run one turn of the event loop, sleeping at most max_wait_ms (0: do not sleep; a
 * consumer daemon serving only /metrics calls this from its poll loop). The first turn
 * starts the server. Returns 0, 1 when a stop was requested (the turn still ran), or a
 * negative errno. */
int oa_http_server_run_once(oa_http_server *srv, int max_wait_ms);

/* Stop listening, then wait up to the drain timeout for requests in flight to be
 * answered (idle keep-alive connections are closed at once, responses say "Connection:
 * close"), running the loop and on_turn (may be NULL) meanwhile; after the timeout,
 * shut down the connections left. Returns the number of connections still open (0 when
 * the drain was clean): those wait in a handler that has not answered yet; turning the
 * loop on lets them finish, oa_http_server_free leaks them rather than free memory they
 * still use. */
int oa_http_server_drain(oa_http_server *srv, void (*on_turn)(void *userdata), void *userdata);

/* Loop until a stop is requested, calling on_turn(userdata) (may be NULL) after every
 * turn (e.g. rd_kafka_poll(rk, 0)), then drain. Returns 0, or a negative errno when the
 * loop failed. */
int oa_http_server_run(oa_http_server *srv, void (*on_turn)(void *userdata), void *userdata);

/* Use label for this request's metrics instead of the route's (e.g. "/v1/projects/:id/
 * pageviews" from a router under "/v1"). label must outlive the request (a literal);
 * keep the set small: each distinct label is a time series. */
void oa_http_set_route_label(h2o_req_t *req, const char *label);

/* ---- reading a request (http_req.c) ---- */

#define OA_HTTP_QUERY_MAX_LEN 8192      /* longest query string accepted */
#define OA_HTTP_QUERY_MAX_PARAMS 64     /* most parameters accepted */

typedef struct oa_http_param {
        const char *name;       /* decoded, NUL-terminated */
        size_t name_len;
        const char *value;      /* decoded, NUL-terminated; "" for "name" or "name=" */
        size_t value_len;
} oa_http_param;

typedef struct oa_http_query {
        oa_http_param *params;  /* in pool */
        size_t n;
} oa_http_query;

/* Percent-decode src[0, len) into dst (dstcap bytes; len + 1 always suffice), turning
 * '+' into a space when plus_is_space (query strings, not paths). Decodes exactly once:
 * "%2541" gives "%41". Returns 0 and the decoded length in *ret_len (dst is
 * NUL-terminated), -EINVAL when a '%' is not followed by two hex digits or "%00" would
 * put a NUL byte in the text, or -E2BIG when dst is too small. */
int oa_http_pct_decode(const char *src, size_t len, bool plus_is_space, char *dst,
                       size_t dstcap, size_t *ret_len);

/* Parse the query string qs[0, len) (without the '?'): pairs separated by '&', names and
 * values percent-decoded once into pool; empty pairs ("a=1&&b=2", a trailing '&') are
 * skipped. Returns 0, -EINVAL (bad escape, %00, empty name as in "=x") or -E2BIG (more
 * than OA_HTTP_QUERY_MAX_LEN bytes or OA_HTTP_QUERY_MAX_PARAMS parameters). */
int oa_http_query_parse(h2o_mem_pool_t *pool, const char *qs, size_t len,
                        oa_http_query *ret_q);

/* The value of parameter name. Returns 0, -ENOENT (absent) or -ENOTUNIQ (given more
 * than once: "?from=a&from=b" is ambiguous, so it is an error, not a guess). */
int oa_http_query_get(const oa_http_query *q, const char *name, const char **ret_value,
                      size_t *ret_len);

/* Parse the request's query string (see oa_http_query_parse; no query: n = 0). */
int oa_http_req_query(h2o_req_t *req, oa_http_query *ret_q);

/* The request path without the query string, as sent (not decoded). */
h2o_iovec_t oa_http_path(h2o_req_t *req);

/* Split path[0, len) (starting with '/') at '/' into at most max segments pointing into
 * path, not decoded: "/v1/projects/p1" gives "v1", "projects", "p1"; "/" gives none;
 * "/a/" gives "a", "". Returns the count, -EINVAL (no leading '/') or -E2BIG. */
int oa_http_path_split(const char *path, size_t len, h2o_iovec_t *segs, size_t max);

/* The first value of a request header, by h2o token (H2O_TOKEN_AUTHORIZATION) or by
 * lower-case name ("x-request-id"). Returns 0 or -ENOENT. */
int oa_http_header(h2o_req_t *req, const h2o_token_t *token, h2o_iovec_t *ret_value);
int oa_http_header_by_name(h2o_req_t *req, const char *name, h2o_iovec_t *ret_value);

/* The request body (h2o's, not NUL-terminated). Returns 0, or -E2BIG when it is longer
 * than max (answer 413 payload_too_large). */
int oa_http_body(h2o_req_t *req, size_t max, h2o_iovec_t *ret_body);

/* The body copied into req->pool with a NUL after it, for code that wants a C string.
 * Returns as oa_http_body. */
int oa_http_body_cstr(h2o_req_t *req, size_t max, const char **ret_body, size_t *ret_len);

/* The peer's IP address as text ("203.0.113.7", "2001:db8::1"; IPv4-mapped IPv6 shown
 * as IPv4) into buf (46 bytes suffice). This is the TCP peer: behind the gateway it is
 * the gateway. Returns 0, -ENOTCONN or -ENOSPC. */
int oa_http_peer_ip(h2o_req_t *req, char *buf, size_t len);

/* The client's address as text into buf (46 bytes suffice): the peer, or behind a
 * trusted proxy of p the last untrusted hop of X-Forwarded-For (every such header, in
 * order; see oa_proxies_client_ip). Returns 0, -ENOTCONN (no peer address) or -ENOSPC. */
int oa_http_client_ip(h2o_req_t *req, const oa_proxies *p, char *buf, size_t len);

/* True when the method is exactly m ("GET"). */
bool oa_http_method_is(h2o_req_t *req, const char *m);

/* ---- answering (http_send.c) ---- */

/* Error codes of the API (DESIGN.md). */
#define OA_HTTP_E_VALIDATION    "validation_error"
#define OA_HTTP_E_UNAUTHORIZED  "unauthorized"
#define OA_HTTP_E_FORBIDDEN     "forbidden"
#define OA_HTTP_E_NOT_FOUND     "not_found"
#define OA_HTTP_E_TOO_LARGE     "payload_too_large"
#define OA_HTTP_E_RATE_LIMITED  "rate_limited"
#define OA_HTTP_E_UNAVAILABLE   "unavailable"
#define OA_HTTP_E_INTERNAL      "internal_error"

/* Append {"error":"<code>","message":"<message>"} to b, both JSON-escaped (invalid UTF-8
 * becomes U+FFFD). Returns 0 or an oa_buf_add error. */
int oa_http_error_body(oa_buf *b, const char *code, const char *message);

/* The reason phrase for status ("Not Found"; "Unknown" for codes without one). */
const char *oa_http_reason(int status);

/* Add a response header (name in any case, e.g. "X-RateLimit-Limit"); name and value
 * are copied into req->pool. Call before sending. */
void oa_http_add_header(h2o_req_t *req, const char *name, const char *value);
void oa_http_add_header_u64(h2o_req_t *req, const char *name, uint64_t value);

/* A header name known when compiling, for headers sent on every request: kept by pointer
 * (never copied, never lower-cased again). Declare with OA_HTTP_NAME("x-ratelimit-limit",
 * "X-RateLimit-Limit"): its lower-case form, and the spelling HTTP/1.x writes. */
typedef struct oa_http_name {
        h2o_iovec_t lower;
        const char *orig;
} oa_http_name;
#define OA_HTTP_NAME(lower, orig) { { (char *) (lower), sizeof(lower) - 1 }, (orig) }

/* Add header name with value in decimal (formatted without stdio, into req->pool). */
void oa_http_add_named_u64(h2o_req_t *req, const oa_http_name *name, uint64_t value);

/* Send a complete response: status, Content-Type (NULL: none) and body (copied into
 * req->pool). HEAD gets the headers only. */
void oa_http_send(h2o_req_t *req, int status, const char *content_type, const void *body,
                  size_t len);

/* Send body as application/json. */
void oa_http_send_json(h2o_req_t *req, int status, const char *body, size_t len);

/* Send {"error":"<code>","message":"<message>"} (see oa_http_error_body). */
void oa_http_send_error(h2o_req_t *req, int status, const char *code, const char *message);

/* Send a response without a body: 204 and 304 without Content-Length, any other status
 * with "Content-Length: 0". */
void oa_http_send_empty(h2o_req_t *req, int status);

#endif

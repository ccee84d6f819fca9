/* Tests for libshared/src/http_server.c and friends over real loopback sockets: an
 * oa_http server runs in a thread of the test process, libcurl asks it questions, and
 * SIGTERM (or oa_http_server_stop) ends it. Only 127.0.0.1 on a port the kernel picks. */
#define _GNU_SOURCE                     /* strcasestr */
#include "oa/http.h"
#include "oa/sig.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Criterion ignores what LeakSanitizer prints at exit, so tests ask it directly, on the
 * server thread after oa_http_server_free. h2o keeps freed pool chunks for reuse in
 * thread-local lists, so that thread never ends: it parks, and its lists stay reachable
 * (in a daemon the loop runs on the main thread, which outlives everything). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define leak_check() __lsan_do_recoverable_leak_check()
#else
#define leak_check() 0
#endif

#define SLOW_MS 300

typedef struct fixture {
        oa_http_server *srv;
        oa_metrics *m;
        pthread_t thread;
        sem_t done;                     /* posted when serve() is done; it then parks */
        bool running;
        char base[64];
        int run_rc;
        atomic_int turns;
        h2o_timeout_t slow_timeout;
        bool slow_inited;
        /* manual mode: run_once, drain and finish by hand */
        bool manual;
        int drain_left;
        uint64_t drain_ms;
        size_t conns_after_finish;
        int leaks;                      /* leak_check() on the server thread at its end */
} fixture;

static fixture fx;
static atomic_int slow_started;
static atomic_int watched;
static int watch_pipe[2] = { -1, -1 };

static uint64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- routes under test ---- */

static int on_error(h2o_req_t *req, void *userdata) {
        oa_http_send_error(req, 404, OA_HTTP_E_NOT_FOUND, "project \"x\" not found");
        return 0;
}

static int on_echo(h2o_req_t *req, void *userdata) {
        char ip[64], out[512];
        const char *name = "";
        oa_http_query q;
        h2o_iovec_t body, ua;
        int r, n;

        r = oa_http_req_query(req, &q);
        if (r < 0) {
                oa_http_send_error(req, 400, OA_HTTP_E_VALIDATION, "bad query string");
                return 0;
        }
        oa_http_query_get(&q, "name", &name, NULL);
        if (oa_http_body(req, 64, &body) < 0) {
                oa_http_send_error(req, 413, OA_HTTP_E_TOO_LARGE, "body over 64 bytes");
                return 0;
        }
        if (oa_http_header(req, H2O_TOKEN_USER_AGENT, &ua) < 0)
                ua = h2o_iovec_init(H2O_STRLIT("-"));
        if (oa_http_peer_ip(req, ip, sizeof(ip)) < 0)
                strcpy(ip, "?");
        n = snprintf(out, sizeof(out), "{\"name\":\"%s\",\"body\":\"%.*s\",\"ip\":\"%s\",\"ua\":\"%.*s\","
                     "\"path\":\"%.*s\",\"method\":\"%.*s\"}", name, (int) body.len, body.base, ip,
                     (int) ua.len, ua.base, (int) oa_http_path(req).len, oa_http_path(req).base,
                     (int) req->method.len, req->method.base);
        oa_http_add_header(req, "X-RateLimit-Limit", "60");
        oa_http_add_header_u64(req, "X-RateLimit-Remaining", 59);
        oa_http_send_json(req, 200, out, (size_t) n);
        return 0;
}

static int on_accepted(h2o_req_t *req, void *userdata) {
        oa_http_send_empty(req, 204);
        return 0;
}

static int on_labelled(h2o_req_t *req, void *userdata) {
        oa_http_set_route_label(req, "/test/items/:id");
        oa_http_send_json(req, 200, "{}", 2);
        return 0;
}

static int on_decline(h2o_req_t *req, void *userdata) {
        return -1;
}

typedef struct slow_req {
        h2o_timeout_entry_t entry;
        h2o_req_t *req;
} slow_req;

static void on_slow_timer(h2o_timeout_entry_t *entry) {
        slow_req *s = H2O_STRUCT_FROM_MEMBER(slow_req, entry, entry);

        oa_http_send_json(s->req, 200, "{\"slow\":true}", 13);
}

/* Answers SLOW_MS later, from a timer: a request in flight when the stop comes. */
static int on_slow(h2o_req_t *req, void *userdata) {
        slow_req *s = h2o_mem_alloc_pool(&req->pool, sizeof(*s));

        memset(s, 0, sizeof(*s));
        s->req = req;
        s->entry.cb = on_slow_timer;
        h2o_timeout_link(oa_http_server_loop(fx.srv), &fx.slow_timeout, &s->entry);
        atomic_store(&slow_started, 1);
        return 0;
}

static atomic_int block_started;

/* Blocks the whole loop for a while (no daemon may do this): meanwhile connections pile
 * up in the listener's accept queue. */
static int on_block(h2o_req_t *req, void *userdata) {
        atomic_store(&block_started, 1);
        usleep(300 * 1000);
        oa_http_send_json(req, 200, "{}", 2);
        return 0;
}

/* Parks the request and wakes the loop through a pipe; the turn after the wake-up answers
 * it, as oa-edge answers /v1 once librdkafka's wake-up pipe brought the delivery report. */
static h2o_req_t *parked;
static bool park_woken;
static int park_pipe[2] = { -1, -1 };

static int on_park(h2o_req_t *req, void *userdata) {
        parked = req;
        cr_assert_eq(write(park_pipe[1], "p", 1), 1);
        return 0;
}

static void on_park_wake(int fd, void *userdata) {
        char c;

        while (read(fd, &c, 1) == 1)
                ;
        park_woken = true;
}

static int not_ready(void *userdata, char *errbuf, size_t errlen) {
        snprintf(errbuf, errlen, "kafka: no broker up");
        return -1;
}

/* ---- the server thread ---- */

static void on_turn(void *userdata) {
        atomic_fetch_add(&fx.turns, 1);
        if (parked && park_woken) {
                oa_http_send_empty(parked, 204);
                parked = NULL;
                park_woken = false;
        }
}

/* Free the server (on the thread that ran it, or after it ended) and what the tests hung on its loop. */
static void finish(void) {
        if (fx.slow_inited) {
                h2o_timeout_dispose(oa_http_server_loop(fx.srv), &fx.slow_timeout);
                fx.slow_inited = false;
        }
        fx.srv = oa_http_server_free(fx.srv);
}

/* The server thread: run (or run_once, drain and finish by hand), free, check for
 * leaks, tell join() and park. */
static void *serve(void *arg) {
        uint64_t t0, deadline;

        if (!fx.manual) {
                fx.run_rc = oa_http_server_run(fx.srv, on_turn, NULL);
        } else {
                while ((fx.run_rc = oa_http_server_run_once(fx.srv, 100)) == 0)
                        ;
                t0 = mono_ms();
                fx.drain_left = oa_http_server_drain(fx.srv, NULL, NULL);
                fx.drain_ms = mono_ms() - t0;
                /* What the drain left waits in a handler; more turns let it finish. */
                deadline = mono_ms() + 5000;
                while (oa_http_server_connections(fx.srv) > 0 && mono_ms() < deadline)
                        oa_http_server_run_once(fx.srv, 50);
                fx.conns_after_finish = oa_http_server_connections(fx.srv);
        }
        finish();
        fx.leaks = leak_check();
        sem_post(&fx.done);
        for (;;)
                pause();
        return NULL;
}

static void spawn(void) {
        pthread_attr_t attr;

        cr_assert_eq(sem_init(&fx.done, 0, 0), 0);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        cr_assert_eq(pthread_create(&fx.thread, &attr, serve, NULL), 0);
        pthread_attr_destroy(&attr);
        fx.running = true;
}

typedef struct start_opts {
        uint64_t drain_timeout_ms;
        uint64_t request_timeout_ms;
        uint64_t slow_ms;
        size_t max_body;
        unsigned max_connections;
        oa_http_ready_fn ready;
        bool manual;
} start_opts;

static void start(start_opts o) {
        oa_http_server_cfg c;
        char err[256];

        cr_assert_eq(oa_sig_setup(), 0);
        cr_assert_eq(oa_metrics_new(&fx.m), 0);
        oa_http_server_cfg_init(&c);
        c.listen = "127.0.0.1:0";
        c.metrics = fx.m;
        c.drain_timeout_ms = o.drain_timeout_ms ? o.drain_timeout_ms : 2000;
        if (o.max_body)
                c.max_request_body = o.max_body;
        if (o.request_timeout_ms)
                c.request_timeout_ms = o.request_timeout_ms;
        if (o.max_connections)
                c.max_connections = o.max_connections;
        fx.manual = o.manual;
        cr_assert_eq(oa_http_server_new(&c, &fx.srv, err, sizeof(err)), 0, "%s", err);
        cr_assert_gt(oa_http_server_port(fx.srv), 0);
        snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d", oa_http_server_port(fx.srv));
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/error", NULL, on_error, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/echo", NULL, on_echo, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/e", NULL, on_accepted, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/slow", NULL, on_slow, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/items", NULL, on_labelled, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/decline", "declined", on_decline, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/block", NULL, on_block, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/test/park", NULL, on_park, NULL), 0);
        cr_assert_eq(oa_http_server_mount_builtin(fx.srv, o.ready, NULL), 0);
        h2o_timeout_init(oa_http_server_loop(fx.srv), &fx.slow_timeout,
                         o.slow_ms ? o.slow_ms : SLOW_MS);
        fx.slow_inited = true;
        spawn();
}

/* Wait for the server thread to be done (within limit_ms); returns how long it took. */
static uint64_t join(uint64_t limit_ms) {
        uint64_t t0 = mono_ms(), took;
        struct timespec until;
        int r;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t) (limit_ms / 1000) + 1;
        while ((r = sem_timedwait(&fx.done, &until)) < 0 && errno == EINTR)
                ;
        cr_assert_eq(r, 0, "server did not stop");
        took = mono_ms() - t0;
        fx.running = false;
        cr_assert_leq(took, limit_ms, "server took %llu ms to stop", (unsigned long long) took);
        return took;
}

static void stop_with_sigterm(void) {
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        join(1500);
        cr_assert_eq(fx.run_rc, fx.manual ? 1 : 0);
        cr_assert_eq(fx.leaks, 0, "leaks (see stderr)");
}

static void teardown(void) {
        if (fx.running) {
                kill(getpid(), SIGTERM);
                while (sem_wait(&fx.done) < 0 && errno == EINTR)
                        ;
        }
        finish();
        fx.m = oa_metrics_free(fx.m);
        for (int i = 0; i < 2; i++) {
                if (park_pipe[i] >= 0)
                        close(park_pipe[i]);
                park_pipe[i] = -1;
        }
        if (watch_pipe[0] >= 0) {
                close(watch_pipe[0]);
                close(watch_pipe[1]);
        }
        curl_global_cleanup();
}

static void setup(void) {
        memset(&fx, 0, sizeof(fx));
        cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

TestSuite(oa_http_server, .init = setup, .fini = teardown, .timeout = 30);

/* ---- the client ---- */

typedef struct resp {
        long status;
        char body[1 << 16];
        size_t len;
        char headers[8192];
        size_t hlen;
        CURLcode rc;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        resp *r = userdata;
        size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

        memcpy(r->body + r->len, p, len < room ? len : room);
        r->len += len < room ? len : room;
        r->body[r->len] = '\0';
        return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata) {
        resp *r = userdata;
        size_t len = size * n, room = sizeof(r->headers) - 1 - r->hlen;

        memcpy(r->headers + r->hlen, p, len < room ? len : room);
        r->hlen += len < room ? len : room;
        r->headers[r->hlen] = '\0';
        return len;
}

/* One request on handle h (NULL: a fresh connection). body NULL: no body. */
static resp *request_on(CURL *h, const char *method, const char *path, const char *body,
                        long timeout_ms) {
        static resp r;
        char url[512];
        bool own = !h;

        memset(&r, 0, sizeof(r));
        if (own)
                h = curl_easy_init();
        cr_assert_not_null(h);
        snprintf(url, sizeof(url), "%s%s", fx.base, path);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "oa-test/1");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 5000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
        } else if (strcmp(method, "HEAD") != 0) {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        r.rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
        if (own)
                curl_easy_cleanup(h);
        return &r;
}

static resp *request(const char *method, const char *path, const char *body) {
        resp *r = request_on(NULL, method, path, body, 0);

        cr_assert_eq(r->rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(r->rc));
        return r;
}

/* Case-insensitive search for a header line "name: value". */
static bool has_header(const resp *r, const char *line) {
        return strcasestr(r->headers, line) != NULL;
}

/* ---- tests ---- */

Test(oa_http_server, healthz_answers_ok_json) {
        resp *r;

        start((start_opts) { 0 });
        r = request("GET", "/healthz", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert_str_eq(r->body, "{\"status\":\"ok\"}");
        cr_assert(has_header(r, "content-type: application/json\r\n"), "%s", r->headers);
        cr_assert(has_header(r, "content-length: 15\r\n"), "%s", r->headers);
        cr_assert_not(has_header(r, "server:"), "no Server header: %s", r->headers);
        r = request("GET", "/healthz?probe=1", NULL);
        cr_assert_eq(r->status, 200, "a query string does not change the path");
        stop_with_sigterm();
}

Test(oa_http_server, head_gets_the_headers_without_the_body) {
        resp *r;

        start((start_opts) { 0 });
        r = request("HEAD", "/healthz", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert_eq(r->len, 0);
        cr_assert(has_header(r, "content-length: 15\r\n"), "%s", r->headers);
        stop_with_sigterm();
}

Test(oa_http_server, builtin_routes_refuse_other_methods_and_subpaths) {
        resp *r;

        start((start_opts) { 0 });
        r = request("POST", "/healthz", "x");
        cr_assert_eq(r->status, 405);
        cr_assert_str_eq(r->body, "{\"error\":\"validation_error\",\"message\":\"method not allowed\"}");
        cr_assert(has_header(r, "allow: GET, HEAD\r\n"), "%s", r->headers);
        r = request("GET", "/healthz/deep", NULL);
        cr_assert_eq(r->status, 404);
        stop_with_sigterm();
}

Test(oa_http_server, readyz_is_ready_without_a_callback) {
        resp *r;

        start((start_opts) { 0 });
        r = request("GET", "/readyz", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert_str_eq(r->body, "{\"status\":\"ready\"}");
        stop_with_sigterm();
}

Test(oa_http_server, readyz_names_the_failing_dependency) {
        resp *r;

        start((start_opts) { .ready = not_ready });
        r = request("GET", "/readyz", NULL);
        cr_assert_eq(r->status, 503);
        cr_assert_str_eq(r->body, "{\"error\":\"unavailable\",\"message\":\"kafka: no broker up\"}");
        cr_assert(has_header(r, "content-type: application/json\r\n"), "%s", r->headers);
        stop_with_sigterm();
}

Test(oa_http_server, error_route_answers_api_error_json) {
        resp *r;

        start((start_opts) { 0 });
        r = request("GET", "/test/error", NULL);
        cr_assert_eq(r->status, 404);
        cr_assert_str_eq(r->body, "{\"error\":\"not_found\",\"message\":\"project \\\"x\\\" not found\"}");
        cr_assert(has_header(r, "content-type: application/json\r\n"), "%s", r->headers);
        stop_with_sigterm();
}

Test(oa_http_server, unknown_paths_and_declined_requests_are_json_404) {
        const char *paths[] = { "/", "/nothing", "/test/errorx", "/test", "/test/decline/7" };
        resp *r;

        start((start_opts) { 0 });
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                r = request("GET", paths[i], NULL);
                cr_assert_eq(r->status, 404, "%s", paths[i]);
                cr_assert_str_eq(r->body, "{\"error\":\"not_found\",\"message\":\"no such resource\"}");
        }
        stop_with_sigterm();
}

Test(oa_http_server, prefix_routes_take_subpaths_and_the_longest_prefix_wins) {
        resp *r;

        start((start_opts) { 0 });
        /* "/test/e" is registered after "/test/echo" and shorter: it must not take it. */
        r = request("GET", "/test/echo/sub?name=x", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert(strstr(r->body, "\"path\":\"/test/echo/sub\""), "%s", r->body);
        r = request("GET", "/test/e/sub", NULL);
        cr_assert_eq(r->status, 204);
        stop_with_sigterm();
}

Test(oa_http_server, query_body_headers_and_peer_reach_the_handler) {
        resp *r;

        start((start_opts) { 0 });
        r = request("POST", "/test/echo?name=caf%C3%A9+au+lait&x=1", "hello");
        cr_assert_eq(r->status, 200);
        cr_assert_str_eq(r->body, "{\"name\":\"caf\xc3\xa9 au lait\",\"body\":\"hello\",\"ip\":\"127.0.0.1\","
                         "\"ua\":\"oa-test/1\",\"path\":\"/test/echo\",\"method\":\"POST\"}");
        cr_assert(strstr(r->headers, "\r\nX-RateLimit-Limit: 60\r\n"), "original case kept: %s", r->headers);
        cr_assert(has_header(r, "\r\nX-RateLimit-Remaining: 59\r\n"), "%s", r->headers);
        stop_with_sigterm();
}

Test(oa_http_server, bad_query_escape_is_a_validation_error) {
        resp *r;

        start((start_opts) { 0 });
        r = request("GET", "/test/echo?name=%zz", NULL);
        cr_assert_eq(r->status, 400);
        cr_assert_str_eq(r->body, "{\"error\":\"validation_error\",\"message\":\"bad query string\"}");
        r = request("GET", "/test/echo?name=a%00b", NULL);
        cr_assert_eq(r->status, 400);
        stop_with_sigterm();
}

Test(oa_http_server, route_body_limit_answers_json_413_and_server_cap_h2o_413) {
        char big[2001];
        resp *r;

        start((start_opts) { .max_body = 1024 });
        memset(big, 'a', 100);
        big[100] = '\0';
        r = request("POST", "/test/echo", big);
        cr_assert_eq(r->status, 413);
        cr_assert_str_eq(r->body, "{\"error\":\"payload_too_large\",\"message\":\"body over 64 bytes\"}");
        memset(big, 'a', 2000);
        big[2000] = '\0';
        r = request("POST", "/test/echo", big);
        cr_assert_eq(r->status, 413);
        r = request("GET", "/metrics", NULL);
        cr_assert(strstr(r->body, "\noa_http_protocol_errors_total{status=\"413\"} 1\n"), "%s", r->body);
        stop_with_sigterm();
}

Test(oa_http_server, empty_204_has_no_content_length) {
        resp *r;

        start((start_opts) { 0 });
        r = request("POST", "/test/e", "{}");
        cr_assert_eq(r->status, 204);
        cr_assert_eq(r->len, 0);
        cr_assert_not(has_header(r, "content-length"), "%s", r->headers);
        cr_assert_not(has_header(r, "transfer-encoding"), "%s", r->headers);
        stop_with_sigterm();
}

Test(oa_http_server, metrics_count_requests_by_route_and_status_class) {
        resp *r;

        start((start_opts) { 0 });
        request("GET", "/healthz", NULL);
        request("GET", "/healthz", NULL);
        request("GET", "/test/error", NULL);
        request("GET", "/test/items/42", NULL);
        request("GET", "/test/decline", NULL);
        request("GET", "/nope", NULL);
        r = request("GET", "/metrics", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert(has_header(r, "content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
                  "%s", r->headers);
        cr_assert(strstr(r->body, "# TYPE oa_http_requests_total counter\n"), "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_requests_total{route=\"/healthz\",status=\"2xx\"} 2\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_requests_total{route=\"/test/error\",status=\"4xx\"} 1\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_requests_total{route=\"/test/items/:id\",status=\"2xx\"} 1\n"),
                  "label set by the handler: %s", r->body);
        cr_assert_null(strstr(r->body, "route=\"/test/items\""), "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_requests_total{route=\"declined\",status=\"4xx\"} 1\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_request_duration_seconds_count{route=\"/healthz\",status=\"2xx\"} 2\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_request_duration_seconds_bucket{route=\"/healthz\",status=\"2xx\",le=\"+Inf\"} 2\n"),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\n# TYPE oa_http_connections gauge\noa_http_connections "),
                  "%s", r->body);
        cr_assert(strstr(r->body, "\noa_http_connections_accepted_total 7\n"), "%s", r->body);
        stop_with_sigterm();
}

Test(oa_http_server, keep_alive_serves_many_requests_on_one_connection) {
        CURL *h = curl_easy_init();
        long conns = -1;
        resp *r;

        start((start_opts) { 0 });
        for (int i = 0; i < 20; i++) {
                r = request_on(h, "GET", "/healthz", NULL, 0);
                cr_assert_eq(r->rc, CURLE_OK);
                cr_assert_eq(r->status, 200);
        }
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
        cr_assert_eq(conns, 0, "the last request reused the connection");
        r = request("GET", "/metrics", NULL);
        cr_assert(strstr(r->body, "\noa_http_connections_accepted_total 2\n"), "%s", r->body);
        curl_easy_cleanup(h);
        stop_with_sigterm();
}

/* A response sent from on_turn (outside h2o's callbacks) must not leave its keep-alive
 * connection unread for the loop's whole wait (100 ms): one client sending requests one
 * after another got 10 answers a second from oa-edge's /v1. */
Test(oa_http_server, keep_alive_answered_from_on_turn_is_read_again_at_once) {
        CURL *h = curl_easy_init();
        uint64_t t0, took;
        resp *r;

        cr_assert_eq(pipe2(park_pipe, O_NONBLOCK | O_CLOEXEC), 0);
        start((start_opts) { 0 });
        cr_assert_eq(oa_http_server_watch_fd(fx.srv, park_pipe[0], on_park_wake, NULL), 0);
        r = request_on(h, "POST", "/test/park", "{}", 0);
        cr_assert_eq(r->status, 204);
        t0 = mono_ms();
        for (int i = 0; i < 20; i++) {
                r = request_on(h, "POST", "/test/park", "{}", 0);
                cr_assert_eq(r->rc, CURLE_OK);
                cr_assert_eq(r->status, 204);
        }
        took = mono_ms() - t0;
        cr_assert_lt(took, 1000, "20 requests on one connection took %llu ms (a wait per request)",
                     (unsigned long long) took);
        curl_easy_cleanup(h);
        stop_with_sigterm();
}

Test(oa_http_server, sigterm_with_idle_keep_alive_connections_stops_at_once) {
        CURL *h[3];
        resp *r;
        uint64_t took;

        start((start_opts) { .drain_timeout_ms = 5000 });
        for (int i = 0; i < 3; i++) {
                h[i] = curl_easy_init();
                r = request_on(h[i], "GET", "/healthz", NULL, 0);
                cr_assert_eq(r->status, 200);
        }
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        /* Idle connections do not hold the drain: far below the 5 s drain timeout. */
        took = join(1000);
        cr_assert_eq(fx.run_rc, 0);
        cr_assert_gt(atomic_load(&fx.turns), 0, "on_turn ran");
        cr_assert_lt(took, 1000);
        /* The listener is closed. */
        r = request_on(NULL, "GET", "/healthz", NULL, 1000);
        cr_assert_eq(r->rc, CURLE_COULDNT_CONNECT, "%s", curl_easy_strerror(r->rc));
        for (int i = 0; i < 3; i++)
                curl_easy_cleanup(h[i]);
        cr_assert_eq(fx.leaks, 0, "leaks (see stderr)");
}

typedef struct client_job {
        pthread_t thread;
        const char *path;
        resp r;
} client_job;

static void *client_thread(void *arg) {
        client_job *j = arg;

        j->r = *request_on(NULL, "GET", j->path, NULL, 10000);
        return NULL;
}

Test(oa_http_server, request_in_flight_at_sigterm_is_answered_before_the_stop) {
        client_job *j = calloc(1, sizeof(*j));
        uint64_t took;

        start((start_opts) { .drain_timeout_ms = 5000 });
        j->path = "/test/slow";
        cr_assert_eq(pthread_create(&j->thread, NULL, client_thread, j), 0);
        while (!atomic_load(&slow_started))
                usleep(1000);
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        took = join(2000);
        pthread_join(j->thread, NULL);
        cr_assert_eq(j->r.rc, CURLE_OK, "%s", curl_easy_strerror(j->r.rc));
        cr_assert_eq(j->r.status, 200);
        cr_assert_str_eq(j->r.body, "{\"slow\":true}");
        cr_assert(has_header(&j->r, "connection: close\r\n"), "%s", j->r.headers);
        cr_assert_geq(took, SLOW_MS / 2, "the drain waited for the answer (%llu ms)",
                      (unsigned long long) took);
        free(j);
}

Test(oa_http_server, connections_waiting_in_the_accept_queue_at_sigterm_are_served) {
        client_job *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

        start((start_opts) { 0 });
        a->path = "/test/block";
        cr_assert_eq(pthread_create(&a->thread, NULL, client_thread, a), 0);
        while (!atomic_load(&block_started))
                usleep(1000);
        /* The loop is stuck in on_block: b's connection waits in the accept queue. */
        b->path = "/healthz";
        cr_assert_eq(pthread_create(&b->thread, NULL, client_thread, b), 0);
        usleep(100 * 1000);
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        join(2000);
        pthread_join(a->thread, NULL);
        pthread_join(b->thread, NULL);
        cr_assert_eq(a->r.status, 200);
        cr_assert_eq(b->r.rc, CURLE_OK, "%s", curl_easy_strerror(b->r.rc));
        cr_assert_eq(b->r.status, 200);
        cr_assert(has_header(&b->r, "connection: close\r\n"), "%s", b->r.headers);
        free(a);
        free(b);
}

Test(oa_http_server, drain_timeout_bounds_the_wait_for_a_slow_handler) {
        client_job *j = calloc(1, sizeof(*j));

        start((start_opts) { .drain_timeout_ms = 200, .slow_ms = 1500, .manual = true });
        j->path = "/test/slow";
        cr_assert_eq(pthread_create(&j->thread, NULL, client_thread, j), 0);
        while (!atomic_load(&slow_started))
                usleep(1000);
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        join(4000);
        pthread_join(j->thread, NULL);
        cr_assert_eq(fx.drain_left, 1, "the slow request was still in its handler");
        cr_assert_geq(fx.drain_ms, 200);
        cr_assert_lt(fx.drain_ms, 1000, "drain took %llu ms", (unsigned long long) fx.drain_ms);
        cr_assert_eq(fx.conns_after_finish, 0, "more turns let the handler finish");
        cr_assert_eq(fx.leaks, 0, "leaks (see stderr)");
        free(j);
}

static void on_watched(int fd, void *userdata) {
        char c;

        cr_assert_eq(read(fd, &c, 1), 1);
        atomic_store(&watched, c);
        oa_http_server_stop(fx.srv);
}

Test(oa_http_server, watched_fd_wakes_the_loop_and_stop_ends_run) {
        oa_http_server_cfg c;
        char err[256];

        cr_assert_eq(pipe(watch_pipe), 0);
        oa_http_server_cfg_init(&c);
        c.listen = "127.0.0.1:0";
        c.loop_wait_ms = 10000;         /* only the fd can end the wait early */
        cr_assert_eq(oa_http_server_new(&c, &fx.srv, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_http_server_watch_fd(fx.srv, watch_pipe[0], on_watched, NULL), 0);
        spawn();
        usleep(50000);
        cr_assert_eq(write(watch_pipe[1], "w", 1), 1);
        join(1000);
        cr_assert_eq(atomic_load(&watched), 'w');
        cr_assert_eq(fx.run_rc, 0);
        cr_assert_eq(fx.leaks, 0, "leaks (see stderr)");
        cr_assert_neq(fcntl(watch_pipe[0], F_GETFD), -1, "the caller's fd is still open");
}

Test(oa_http_server, max_connections_pauses_accepting_until_one_closes) {
        CURL *h = curl_easy_init();
        resp *r;

        start((start_opts) { .max_connections = 1 });
        r = request_on(h, "GET", "/healthz", NULL, 0);
        cr_assert_eq(r->status, 200);
        /* The one slot is taken by h's idle connection: a second client waits. */
        r = request_on(NULL, "GET", "/healthz", NULL, 300);
        cr_assert_eq(r->rc, CURLE_OPERATION_TIMEDOUT, "%s", curl_easy_strerror(r->rc));
        curl_easy_cleanup(h);
        r = request_on(NULL, "GET", "/healthz", NULL, 2000);
        cr_assert_eq(r->rc, CURLE_OK, "%s", curl_easy_strerror(r->rc));
        cr_assert_eq(r->status, 200);
        stop_with_sigterm();
}

Test(oa_http_server, a_client_that_stalls_in_its_headers_is_cut_at_the_request_timeout) {
        static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        struct sockaddr_in sin = { .sin_family = AF_INET };
        struct timeval tv = { .tv_sec = 3 };
        char buf[256];
        uint64_t t0;
        ssize_t n;
        int fd;

        start((start_opts) { .request_timeout_ms = 200 });
        sin.sin_port = htons((uint16_t) oa_http_server_port(fx.srv));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(fd, 0);
        cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
        cr_assert_eq(write(fd, partial, sizeof(partial) - 1), (ssize_t) sizeof(partial) - 1);
        t0 = mono_ms();
        n = read(fd, buf, sizeof(buf));
        cr_assert_eq(n, 0, "closed without an answer (read %zd)", n);
        cr_assert_geq(mono_ms() - t0, 150);
        cr_assert_lt(mono_ms() - t0, 1500);
        close(fd);
        stop_with_sigterm();
}

Test(oa_http_server, new_on_a_taken_port_fails_naming_it) {
        oa_http_server_cfg c;
        oa_http_server *second = NULL;
        char err[256], addr[64];

        start((start_opts) { 0 });
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", oa_http_server_port(fx.srv));
        oa_http_server_cfg_init(&c);
        c.listen = addr;
        cr_assert_eq(oa_http_server_new(&c, &second, err, sizeof(err)), -EADDRINUSE);
        cr_assert_null(second);
        cr_assert(strstr(err, addr), "%s", err);
        stop_with_sigterm();
}

Test(oa_http_server, routes_are_checked_and_fixed_once_running) {
        start((start_opts) { 0 });
        cr_assert_eq(request("GET", "/healthz", NULL)->status, 200, "running");
        cr_assert_eq(oa_http_server_route(fx.srv, "/x", NULL, on_error, NULL), -EBUSY);
        stop_with_sigterm();
}

Test(oa_http_server, route_registration_rejects_bad_and_duplicate_prefixes) {
        oa_http_server_cfg c;
        char err[256];

        oa_http_server_cfg_init(&c);
        c.listen = "127.0.0.1:0";
        cr_assert_eq(oa_http_server_new(&c, &fx.srv, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_http_server_route(fx.srv, "x", NULL, on_error, NULL), -EINVAL);
        cr_assert_eq(oa_http_server_route(fx.srv, NULL, NULL, on_error, NULL), -EINVAL);
        cr_assert_eq(oa_http_server_route(fx.srv, "/a", NULL, NULL, NULL), -EINVAL);
        cr_assert_eq(oa_http_server_route(fx.srv, "/a", NULL, on_error, NULL), 0);
        cr_assert_eq(oa_http_server_route(fx.srv, "/a/", NULL, on_error, NULL), -EEXIST);
        finish();
        cr_assert_eq(leak_check(), 0, "leaks (see stderr)");
}

Test(oa_http_server, one_registry_serves_one_server) {
        oa_http_server_cfg c;
        oa_http_server *second = NULL;
        char err[256];

        start((start_opts) { 0 });
        oa_http_server_cfg_init(&c);
        c.listen = "127.0.0.1:0";
        c.metrics = fx.m;
        cr_assert_eq(oa_http_server_new(&c, &second, err, sizeof(err)), -EEXIST);
        cr_assert(strstr(err, "one server per registry"), "%s", err);
        stop_with_sigterm();
}

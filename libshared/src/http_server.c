/* The oa_http server: one listening socket, one h2o context on one h2o evloop, accepting
 * within limits, watched descriptors (the signal pipe), and the stop/drain sequence.
 * Routes and request metrics are in http_route.c.
 *
 * An assumption about h2o 2.2.5 (pinned by Debian 12), checked by tests/unit/libshared/
 * test_http_server.c: an HTTP/1 connection waiting for its next request is reading with
 * nothing buffered, one inside a handler is not reading, and a socket shut down under h2o
 * is seen as a client close and freed through h2o's own path. That is how idle
 * keep-alive connections are closed at once on stop while requests in flight finish. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o/http1.h>

#include "oa/sig.h"

#define ACCEPT_BURST 64                 /* connections accepted per readiness event */
#define ACCEPT_RETRY_MS 100             /* pause after EMFILE, ENFILE, ENOBUFS, ENOMEM */
#define DRAIN_TURN_MS 10
#define FORCE_GRACE_MS 200              /* after the drain timeout, for shut-down sockets */

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void oa_http_server_cfg_init(oa_http_server_cfg *c) {
        memset(c, 0, sizeof(*c));
        c->listen = "127.0.0.1:8080";
        c->backlog = 1024;
        c->max_connections = 10000;
        c->max_request_body = 1024 * 1024;
        c->request_timeout_ms = 10000;
        c->drain_timeout_ms = 5000;
        c->loop_wait_ms = 100;
}

/* ---- connections ---- */

static void on_accept(h2o_socket_t *listener, const char *err);

static void accept_resume(oa_http_server *srv) {
        if (!srv->accept_paused || srv->stopping || !srv->listener ||
            srv->nconn >= srv->cfg.max_connections || h2o_timeout_is_linked(&srv->retry_entry))
                return;
        srv->accept_paused = false;
        h2o_socket_read_start(srv->listener, on_accept);
}

static void on_accept_retry(h2o_timeout_entry_t *entry) {
        oa_http_server *srv = H2O_STRUCT_FROM_MEMBER(oa_http_server, retry_entry, entry);

        accept_resume(srv);
}

/* Stop reading the listener (it would stay readable and spin the loop); with retry,
 * look again after ACCEPT_RETRY_MS, else when a connection closes. */
static void accept_pause(oa_http_server *srv, bool retry) {
        if (!srv->accept_paused) {
                h2o_socket_read_stop(srv->listener);
                srv->accept_paused = true;
        }
        if (retry && !h2o_timeout_is_linked(&srv->retry_entry))
                h2o_timeout_link(srv->loop, &srv->retry_timeout, &srv->retry_entry);
}

static void on_conn_close(void *data) {
        oa_http_server *srv = data;

        srv->nconn--;
        if (srv->m_connections)
                oa_metrics_gauge_add(srv->m_connections, -1);
        accept_resume(srv);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
        oa_http_server *srv = listener->data;

        if (err)
                return;
        for (int i = 0; i < ACCEPT_BURST; i++) {
                h2o_socket_t *sock;

                if (srv->nconn >= srv->cfg.max_connections) {
                        accept_pause(srv, false);
                        return;
                }
                errno = 0;
                sock = h2o_evloop_socket_accept(listener);
                if (!sock) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                accept_pause(srv, true);
                        return;
                }
                srv->nconn++;
                if (srv->m_connections) {
                        oa_metrics_gauge_add(srv->m_connections, 1);
                        oa_metrics_counter_inc(srv->m_accepted, 1);
                }
                sock->on_close.cb = on_conn_close;
                sock->on_close.data = srv;
                h2o_accept(&srv->accept_ctx, sock);
        }
}

/* ---- watched descriptors ---- */

static void on_watch(h2o_socket_t *sock, const char *err) {
        http_watch *w = sock->data;

        w->fn(w->fd, w->userdata);
}

int oa_http_server_watch_fd(oa_http_server *srv, int fd, void (*fn)(int fd, void *userdata),
                            void *userdata) {
        http_watch *w, **watches;
        int dupfd;

        if (fd < 0 || !fn)
                return -EINVAL;
        if (srv->n_watches == srv->cap_watches) {
                size_t cap = srv->cap_watches ? srv->cap_watches * 2 : 4;

                watches = realloc(srv->watches, cap * sizeof(*watches));
                if (!watches)
                        return -ENOMEM;
                srv->watches = watches;
                srv->cap_watches = cap;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dupfd < 0) {
                free(w);
                return -errno;
        }
        w->fd = fd;
        w->fn = fn;
        w->userdata = userdata;
        w->sock = h2o_evloop_socket_create(srv->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
        w->sock->data = w;
        h2o_socket_read_start(w->sock, on_watch);
        srv->watches[srv->n_watches++] = w;
        return 0;
}

/* The signal self-pipe became readable: stop. The byte is left in the pipe (others may
 * poll it too) and the watch stops reading so a level-triggered loop does not spin. */
static void on_signal(int fd, void *userdata) {
        oa_http_server *srv = userdata;

        oa_http_server_stop(srv);
        h2o_socket_read_stop(srv->sig_watch->sock);
}

/* ---- life cycle ---- */

int oa_http_server_new(const oa_http_server_cfg *c, oa_http_server **ret_srv,
                       char *errbuf, size_t errlen) {
        oa_http_server *srv;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int r;

        srv = calloc(1, sizeof(*srv));
        if (!srv)
                return -ENOMEM;
        srv->listen_fd = -1;
        srv->cfg = *c;
        if (c->max_connections == 0 || c->request_timeout_ms == 0 || c->max_request_body == 0) {
                r = -EINVAL;
                snprintf(errbuf, errlen, "max_connections, request_timeout_ms and "
                         "max_request_body must be positive");
                goto out;
        }
        srv->listen = strdup(c->listen ? c->listen : "");
        if (!srv->listen) {
                r = -ENOMEM;
                snprintf(errbuf, errlen, "out of memory");
                goto out;
        }
        srv->cfg.listen = srv->listen;
        r = oa_http_listen(srv->listen, c->backlog, c->reuseport, &srv->listen_fd, errbuf, errlen);
        if (r < 0)
                goto out;
        if (getsockname(srv->listen_fd, (struct sockaddr *) &ss, &sl) == 0)
                srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                           : ((struct sockaddr_in *) &ss)->sin_port);

        srv->loop = h2o_evloop_create();
        h2o_config_init(&srv->conf);
        srv->conf_inited = true;
        srv->conf.server_name = h2o_iovec_init(H2O_STRLIT(""));    /* no Server header */
        srv->conf.max_request_entity_size = c->max_request_body;
        srv->conf.http1.req_timeout = c->request_timeout_ms;
        srv->conf.http1.upgrade_to_http2 = 0;
        srv->host = h2o_config_register_host(&srv->conf, h2o_iovec_init(H2O_STRLIT("default")),
                                             65535);
        http_routes_init(srv);

        r = http_metrics_setup(srv);
        if (r < 0) {
                snprintf(errbuf, errlen, "registering the HTTP metrics: %s",
                         r == -EEXIST ? "already registered (one server per registry)" : "failed");
                goto out;
        }
        if (oa_sig_fd() >= 0) {
                r = oa_http_server_watch_fd(srv, oa_sig_fd(), on_signal, srv);
                if (r < 0) {
                        snprintf(errbuf, errlen, "watching the signal pipe failed");
                        goto out;
                }
                srv->sig_watch = srv->watches[srv->n_watches - 1];
        }
        *ret_srv = srv;
        srv = NULL;
        r = 0;
out:
        oa_http_server_free(srv);
        return r;
}

/* Hand the routes to h2o, create the context and start accepting. */
static void server_start(oa_http_server *srv) {
        http_routes_attach(srv);

        h2o_context_init(&srv->ctx, srv->loop, &srv->conf);
        srv->accept_ctx.ctx = &srv->ctx;
        srv->accept_ctx.hosts = srv->conf.hosts;
        h2o_timeout_init(srv->loop, &srv->retry_timeout, ACCEPT_RETRY_MS);
        srv->retry_entry.cb = on_accept_retry;

        srv->listener = h2o_evloop_socket_create(srv->loop, srv->listen_fd,
                                                 H2O_SOCKET_FLAG_DONT_READ);
        srv->listen_fd = -1;            /* owned by the listener now */
        srv->listener->data = srv;
        h2o_socket_read_start(srv->listener, on_accept);
        srv->started = true;
}

h2o_evloop_t *oa_http_server_loop(oa_http_server *srv) {
        return srv->loop;
}

int oa_http_server_port(const oa_http_server *srv) {
        return srv->port;
}

size_t oa_http_server_connections(const oa_http_server *srv) {
        return srv->nconn;
}

void oa_http_server_stop(oa_http_server *srv) {
        srv->stopping = true;
}

bool oa_http_server_stopping(const oa_http_server *srv) {
        return srv->stopping || oa_sig_stop_requested();
}

/* How long the next turn may wait for events. h2o runs a socket's write-complete callback
 * (for HTTP/1: read the next request of a keep-alive connection) in the turn after the
 * write, and its epoll wait does not count those pending sockets: a response sent from
 * outside the loop's callbacks (on_turn answering from a Kafka delivery report) would
 * leave its connection deaf for a whole wait (100 ms per request of one client sending
 * one request at a time). The fields are h2o 2.2's evloop.h, read only. */
static int32_t turn_wait(const oa_http_server *srv, int max_wait_ms) {
        const h2o_evloop_t *loop = srv->loop;

        if (max_wait_ms <= 0 || loop->_pending_as_server || loop->_pending_as_client ||
            loop->_statechanged.head)
                return 0;
        return max_wait_ms;
}

int oa_http_server_run_once(oa_http_server *srv, int max_wait_ms) {
        if (!srv->started)
                server_start(srv);
        if (h2o_evloop_run(srv->loop, turn_wait(srv, max_wait_ms)) != 0 && errno != EINTR)
                return -errno;
        return oa_http_server_stopping(srv) ? 1 : 0;
}

/* Per HTTP/1 connection during the drain: no keep-alive after the response in flight;
 * idle ones (or all, when forced) are shut down so h2o reads EOF and frees them. */
typedef struct drain_pass {
        bool force;
} drain_pass;

/* Idle: waiting for a request with nothing of one buffered, by h2o or by the kernel (a
 * request already on its way is served, not cut). */
static bool conn_idle(h2o_socket_t *sock) {
        int pending = 0;

        if (!h2o_socket_is_reading(sock) || sock->input->size != 0)
                return false;
        return ioctl(h2o_socket_get_fd(sock), FIONREAD, &pending) == 0 && pending == 0;
}

static int drain_conn(h2o_req_t *req, void *cbdata) {
        drain_pass *pass = cbdata;
        h2o_socket_t *sock;

        req->http1_is_persistent = 0;
        sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn)
                                                : NULL;
        if (sock && (pass->force || conn_idle(sock)))
                shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
        return 0;
}

int oa_http_server_drain(oa_http_server *srv, void (*on_turn)(void *userdata), void *userdata) {
        drain_pass pass = { false };
        uint64_t deadline;

        srv->stopping = true;
        if (!srv->started)
                return 0;
        if (srv->listener) {
                /* Take what already waits in the accept queue (closing the listener would
                 * reset it; with SO_REUSEPORT the other replicas never see it): those
                 * requests are served like the ones in flight. */
                if (!srv->accept_paused)
                        on_accept(srv->listener, NULL);
                h2o_socket_close(srv->listener);
                srv->listener = NULL;
        }
        if (h2o_timeout_is_linked(&srv->retry_entry))
                h2o_timeout_unlink(&srv->retry_entry);
        /* What h2o_context_request_shutdown does for HTTP/1 (no keep-alive for requests
         * parsed from now on), without its HTTP/2 part: that arms a one-second GOAWAY
         * timer even with HTTP/2 off, and the timer would outlive a quick drain. */
        srv->ctx.shutdown_requested = 1;
        deadline = now_ms() + srv->cfg.drain_timeout_ms;
        for (;;) {
                H2O_HTTP1_CALLBACKS.foreach_request(&srv->ctx, drain_conn, &pass);
                if (srv->nconn == 0)
                        break;
                if (now_ms() >= deadline) {
                        if (pass.force)
                                break;
                        pass.force = true;
                        deadline = now_ms() + FORCE_GRACE_MS;
                        continue;
                }
                h2o_evloop_run(srv->loop, turn_wait(srv, DRAIN_TURN_MS));
                if (on_turn)
                        on_turn(userdata);
        }
        /* One more turn frees the sockets closed in the last one. */
        h2o_evloop_run(srv->loop, 0);
        return (int) srv->nconn;
}

int oa_http_server_run(oa_http_server *srv, void (*on_turn)(void *userdata), void *userdata) {
        int r;

        for (;;) {
                r = oa_http_server_run_once(srv, srv->cfg.loop_wait_ms);
                if (on_turn)
                        on_turn(userdata);
                if (r != 0)
                        break;
        }
        oa_http_server_drain(srv, on_turn, userdata);
        return r < 0 ? r : 0;
}

oa_http_server *oa_http_server_free(oa_http_server *srv) {
        if (!srv)
                return NULL;
        if (srv->started && srv->nconn > 0)
                oa_http_server_drain(srv, NULL, NULL);
        if (srv->listener)
                h2o_socket_close(srv->listener);
        if (srv->listen_fd >= 0)
                close(srv->listen_fd);
        for (size_t i = 0; i < srv->n_watches; i++) {
                h2o_socket_close(srv->watches[i]->sock);
                free(srv->watches[i]);
        }
        free(srv->watches);
        /* A connection whose handler never answered still points into the context and
         * the loop: leaking them is better than freeing them under it. */
        if (srv->nconn == 0) {
                if (srv->started) {
                        if (h2o_timeout_is_linked(&srv->retry_entry))
                                h2o_timeout_unlink(&srv->retry_entry);
                        h2o_timeout_dispose(srv->loop, &srv->retry_timeout);
                        h2o_context_dispose(&srv->ctx);
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR <= 2
                        /* h2o 2.2 closes the context's message queue but forgets to free
                         * it on evloop builds (later versions do free it). */
                        free(srv->ctx.queue);
#endif
                }
                if (srv->conf_inited)
                        h2o_config_dispose(&srv->conf);
                if (srv->loop)
                        h2o_evloop_destroy(srv->loop);
        }
        http_routes_free(srv);
        free(srv->listen);
        free(srv);
        return NULL;
}

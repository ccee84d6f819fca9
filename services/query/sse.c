/* GET /v1/projects/{id}/realtime/stream: the realtime object as Server-Sent Events, at
 * once when the stream opens (a reconnect gets the current picture without waiting) and
 * then every OA_QUERY_STREAM_INTERVAL_MS.
 *
 * Many streams cost little: one timer for all of them (not one per stream); on each tick
 * every stream takes its project's object from the realtime cache (realtime.c), so a
 * project's object is computed once per slot whatever the number of its streams, and a
 * stream only costs the write of a message already built. A stream whose client reads
 * slower than the ticks skips ticks (one message in flight at most: memory per stream is
 * bounded). Each message carries the object's ETag as its id; while Redis does not answer,
 * an "unavailable" event says so and the stream stays open. On SIGTERM every stream ends
 * cleanly before the drain. Responses are h2o streaming responses (a generator). */
#include "query.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct oa_query_stream {
        h2o_generator_t gen;            /* first: h2o hands it back */
        oa_query *q;
        h2o_req_t *req;
        char project[OA_ENTITY_ID_MAX];
        char *out;                      /* the message in flight (until proceed) */
        bool sending;
        bool ending;                    /* send the final chunk once proceed comes */
        struct oa_query_stream *prev, *next;
} oa_query_stream;

static void unlink_stream(oa_query_stream *s) {
        oa_query *q = s->q;

        if (s->prev)
                s->prev->next = s->next;
        else
                q->streams = s->next;
        if (s->next)
                s->next->prev = s->prev;
        q->n_streams--;
        oa_metrics_gauge_set(q->rt_streams, (double) q->n_streams);
}

static void end_stream(oa_query_stream *s) {
        unlink_stream(s);
        free(s->out);
        s->out = NULL;
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
        /* h2o is done with the generator once the final chunk is handed over */
        free(s);
}

/* h2o wrote the last message: the next may go. */
static void on_proceed(h2o_generator_t *g, h2o_req_t *req) {
        oa_query_stream *s = (oa_query_stream *) g;

        (void) req;
        free(s->out);
        s->out = NULL;
        s->sending = false;
        if (s->ending)
                end_stream(s);
}

/* The client went away (or the connection was closed): forget the stream. */
static void on_stop(h2o_generator_t *g, h2o_req_t *req) {
        oa_query_stream *s = (oa_query_stream *) g;

        (void) req;
        unlink_stream(s);
        free(s->out);
        free(s);
}

/* Send the project's current object (or an unavailable event). */
static void push(oa_query_stream *s) {
        const oa_query_rt_result *res;
        oa_buf b;
        h2o_iovec_t buf;
        int r;

        if (s->sending || s->ending)
                return;
        res = oa_query_rt_get(s->q, s->project);
        oa_buf_init(&b, 2u << 20);
        if (res->status == 200)
                r = oa_buf_addf(&b, "id: %s\ndata: %s\n\n", res->etag, res->body);
        else
                r = oa_buf_addf(&b, "event: unavailable\ndata: {\"error\":\"unavailable\",\"message\":\"%s\"}\n\n",
                                "realtime data is unavailable (Redis does not answer)");
        if (r < 0) {
                oa_buf_done(&b);
                return;
        }
        s->out = oa_buf_steal(&b, &buf.len);
        buf.base = s->out;
        s->sending = true;
        h2o_send(s->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_tick(h2o_timeout_entry_t *e) {
        oa_query *q = (oa_query *) ((char *) e - offsetof(oa_query, stream_tick));
        oa_query_stream *s, *next;

        for (s = q->streams; s; s = next) {
                next = s->next;
                push(s);
        }
        if (q->streams_on)
                h2o_timeout_link(oa_http_server_loop(q->srv), &q->stream_timeout, &q->stream_tick);
}

void oa_query_streams_start(oa_query *q) {
        h2o_evloop_t *loop = oa_http_server_loop(q->srv);

        h2o_timeout_init(loop, &q->stream_timeout, (uint64_t) q->cfg->stream_interval_ms);
        q->stream_tick.cb = on_tick;
        q->streams_on = true;
        h2o_timeout_link(loop, &q->stream_timeout, &q->stream_tick);
}

void oa_query_streams_end(oa_query *q) {
        oa_query_stream *s, *next;

        if (!q->streams_on)
                return;
        q->streams_on = false;
        if (h2o_timeout_is_linked(&q->stream_tick))
                h2o_timeout_unlink(&q->stream_tick);
        h2o_timeout_dispose(oa_http_server_loop(q->srv), &q->stream_timeout);
        for (s = q->streams; s; s = next) {
                next = s->next;
                if (s->sending)
                        s->ending = true;       /* on_proceed ends it */
                else
                        end_stream(s);
        }
}

void oa_query_realtime_stream(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_query *q = rq->q;
        const oa_query_rt_result *res = oa_query_rt_get(q, auth->project->id);
        h2o_req_t *req = rq->req;
        oa_query_stream *s;

        (void) id;
        /* Redis away at the start: say so plainly, as /realtime does */
        if (res->status != 200) {
                rq->retry_after = 1;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, res->error);
                return;
        }
        if (!q->streams_on) {
                rq->retry_after = 1;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "the server is stopping");
                return;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        s->gen.proceed = on_proceed;
        s->gen.stop = on_stop;
        s->q = q;
        s->req = req;
        snprintf(s->project, sizeof(s->project), "%s", auth->project->id);
        s->next = q->streams;
        if (q->streams)
                q->streams->prev = s;
        q->streams = s;
        q->n_streams++;
        oa_metrics_gauge_set(q->rt_streams, (double) q->n_streams);

        req->res.status = 200;
        req->res.reason = "OK";
        oa_http_add_header(req, "Content-Type", "text/event-stream; charset=utf-8");
        oa_http_add_header(req, "X-Accel-Buffering", "no");     /* nginx: pass each event on */
        oa_query_start_response(rq, 200);
        h2o_start_response(req, &s->gen);
        push(s);
}

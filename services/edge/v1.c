/* POST /v1/projects/{id}/events: server-side events behind a Bearer key with
 * events:write. The door is oa/gate.h, as in oa-query (401/403/404, the plan's budget per
 * minute, the X-RateLimit-* headers on every answer, Retry-After on 429 and 503).
 *
 * 202 means durable: the answer is sent from the delivery reports, once Kafka
 * acknowledged (acks=all, idempotent producer) every event of the request that is not a
 * duplicate. The guarantee, exactly:
 *  - A 202 is sent only when every produced event of the request was acknowledged.
 *  - The /v1 producer's message.timeout.ms is OA_EDGE_KAFKA_ACK_TIMEOUT_MS, so every
 *    message gets its report within about that time (librdkafka checks timeouts once a
 *    second), and a message reported as failed is never delivered afterwards:
 *    librdkafka gives up on it, and the request is answered 503 unavailable with
 *    Retry-After once all its reports are in. A request is answered 503 at once,
 *    without producing, while the health probe says no broker answers.
 *    The producer's request.timeout.ms is the ack timeout too, so a request sent to a
 *    broker that stopped answering fails in that time as well.
 *  - If a report has not come OA_EDGE_KAFKA_ACK_TIMEOUT_MS + 3 s after the request (a
 *    broker that went away with the request in flight), the request is answered 503
 *    anyway; its messages may still be delivered, and their idempotency marks stay
 *    pending until their reports say which.
 *  - A message that timed out after it was sent may have been written by the broker
 *    without the acknowledgement reaching us (librdkafka's "possibly persisted"): the
 *    client got 503 and retries. Its idempotency mark is then kept pending, not removed,
 *    so retries with its event_id are answered 503 until the mark expires (2 minutes)
 *    instead of writing a second copy while the first may be in the topic; a retry after
 *    that is written (the event can then be in the topic twice with one event_id, and
 *    oa-sink keeps one per event_id). It is never lost after a 202 and never 202'd
 *    without an acknowledgement.
 *
 * Idempotency: an event with a client's event_id is marked pending in Redis before it
 * is produced (SET oa:idem:{project}:{event_id} p NX PX 120000, with a GET, one pipeline
 * per request), and the mark becomes final once Kafka acknowledged it (SET ... 1 EX
 * 86400). An id whose mark is final is a duplicate: reported, not produced (also an id
 * given twice in one request). An id whose mark is pending belongs to a request still
 * waiting for Kafka (or one answered 503 whose report is late): the request is answered
 * 503 with Retry-After, never "duplicate", because that write may yet fail. The mark of
 * an event Kafka did not take is removed before the 503 goes out, so the retry is
 * produced. Redis away: the check is skipped (a warning, oa_edge_idempotency_skipped_
 * total) and ingestion goes on. Events without event_id get a UUIDv7 and no mark.
 *
 * Bots: /v1 keeps events whose forwarded User-Agent is a bot (device "bot"): a backend
 * chose to send them, and the reads can filter on device. */
#include "edge.h"

#include "oa/entity.h"
#include "oa/key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUTE_LABEL "/v1/projects/:id/events"
#define OTHER_LABEL "/v1/*"
#define ARENA_MAX (8u << 20)            /* a 1 MB body of 500 events, enriched */
#define BACKSTOP_MS 3000
#define RETRY_AFTER_S 2

/* One /v1 request in flight (in req->pool). */
typedef struct v1_req {
        oa_edge *e;
        h2o_req_t *req;
        struct timespec start;
        char client[64];
        char key_id[OA_ENTITY_ID_MAX];
        oa_rl_result limit;
        bool has_limit;
        long long retry_after;
} v1_req;

typedef struct v1_msg {
        oa_edge_ticket *t;
        char *idem_key;                 /* in the ticket; NULL: no mark to settle */
} v1_msg;

/* The messages of one request, until every report came (may outlive the request). */
struct oa_edge_ticket {
        oa_edge *e;
        v1_req *rq;                     /* NULL once answered */
        const char *body;               /* the 202 body, in the request's pool */
        size_t body_len;
        size_t outstanding;             /* messages without a report */
        size_t failed;                  /* reports that were not an acknowledgement */
        bool enqueue_failed;            /* some events were not even queued */
        int64_t deadline_ms;
        oa_edge_ticket *prev, *next;
        char **unmark;                  /* marks to remove before answering (not taken) */
        size_t n_unmark;
        char **confirm;                 /* marks to make final (acknowledged) */
        size_t n_confirm;
        size_t n_msgs;
        v1_msg msgs[];
};

/* ---- answering ---- */

static void add_headers(v1_req *rq, int status) {
        oa_gate_add_headers(rq->req, rq->has_limit ? &rq->limit : NULL, rq->retry_after, status);
}

/* One debug line per request; the key is named by its id, never its secret. */
static void log_request(v1_req *rq, int status) {
        struct timespec end;
        char st[8], ms[24];

        if (!rq->e->log_debug)
                return;
        clock_gettime(CLOCK_MONOTONIC, &end);
        snprintf(st, sizeof(st), "%d", status);
        snprintf(ms, sizeof(ms), "%.3f", (double) (end.tv_sec - rq->start.tv_sec) * 1e3 +
                 (double) (end.tv_nsec - rq->start.tv_nsec) / 1e6);
        oa_log_debug("request", "route", ROUTE_LABEL, "status", st, "key", rq->key_id[0] ? rq->key_id : NULL,
                     "client", rq->client, "ms", ms);
}

static void send_json(v1_req *rq, int status, const char *body, size_t len) {
        add_headers(rq, status);
        oa_http_send_json(rq->req, status, body, len);
        log_request(rq, status);
}

static void send_error(v1_req *rq, int status, const char *code, const char *message) {
        add_headers(rq, status);
        oa_http_send_error(rq->req, status, code, message);
        log_request(rq, status);
}

static void unavailable(v1_req *rq, const char *message) {
        rq->retry_after = RETRY_AFTER_S;
        send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, message);
}

/* ---- tickets: waiting for Kafka ---- */

static void ticket_link(oa_edge *e, oa_edge_ticket *t) {
        oa_edge_ticket *last = e->tickets;

        /* oldest first (few requests wait at once: a walk is fine) */
        while (last && last->next)
                last = last->next;
        t->prev = last;
        t->next = NULL;
        if (last)
                last->next = t;
        else
                e->tickets = t;
        oa_metrics_gauge_add(e->m.requests_waiting, 1);
}

static void ticket_unlink(oa_edge *e, oa_edge_ticket *t) {
        if (t->prev)
                t->prev->next = t->next;
        else if (e->tickets == t)
                e->tickets = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->prev = t->next = NULL;
        oa_metrics_gauge_add(e->m.requests_waiting, -1);
}

/* Settle the marks: final for the events Kafka acknowledged (a retry is a duplicate),
 * removed for those it did not take (a retry is written). */
static void ticket_settle(oa_edge_ticket *t) {
        oa_edge *e = t->e;

        if (t->n_confirm && e->idem.confirm(e->idem.ctx, (const char *const *) t->confirm, t->n_confirm) < 0)
                oa_log_warn("idempotency marks of acknowledged events not made final: a retry after "
                            "2 minutes would be written again", "error", oa_rds_errstr(e->rds));
        if (t->n_unmark && e->idem.unmark(e->idem.ctx, (const char *const *) t->unmark, t->n_unmark) < 0) {
                oa_metrics_counter_inc(e->m.idem_unmark_failed, t->n_unmark);
                oa_log_warn("idempotency marks of events Kafka did not take not removed: a retry "
                            "within 2 minutes is answered 503", "error", oa_rds_errstr(e->rds));
        }
        t->n_confirm = t->n_unmark = 0;
}

/* Answer the request of t, if it still waits, from what the reports said. */
static void ticket_answer(oa_edge_ticket *t, bool overdue) {
        oa_edge *e = t->e;
        v1_req *rq = t->rq;

        t->rq = NULL;
        if (!rq || !e->answering)
                return;
        if (overdue)
                unavailable(rq, "Kafka did not acknowledge the events in time; retry later");
        else if (t->failed || t->enqueue_failed)
                unavailable(rq, "Kafka did not acknowledge every event; retry later (send event_id so "
                            "a retry never stores an event twice)");
        else
                send_json(rq, 202, t->body, t->body_len);
}

static void ticket_done(oa_edge_ticket *t) {
        ticket_settle(t);
        ticket_answer(t, false);
        ticket_unlink(t->e, t);
        free(t);
}

void oa_edge_on_delivery(const oa_kprod_report *r, void *cb_opaque) {
        oa_edge *e = cb_opaque;
        v1_msg *m = r->msg_opaque;
        oa_edge_ticket *t;

        if (!m) {
                /* /collect: nobody waits; a failure is a drop */
                if (r->err) {
                        oa_metrics_counter_inc(e->m.dr_collect_failed, 1);
                        oa_metrics_counter_inc(e->m.drop[OA_EDGE_DROP_UNDELIVERED], 1);
                } else {
                        oa_metrics_counter_inc(e->m.dr_collect_ok, 1);
                }
                return;
        }
        t = m->t;
        e->acks_waiting--;
        t->outstanding--;
        if (r->err) {
                oa_metrics_counter_inc(e->m.dr_api_failed, 1);
                t->failed++;
                /* possibly persisted: the broker may hold it, so the mark stays pending
                 * (its 2 minutes) and a retry meanwhile is 503, not a second copy */
                if (m->idem_key && !r->possibly_persisted)
                        t->unmark[t->n_unmark++] = m->idem_key;
        } else {
                oa_metrics_counter_inc(e->m.dr_api_ok, 1);
                if (m->idem_key)
                        t->confirm[t->n_confirm++] = m->idem_key;
                oa_edge_kafka_answered(e);
        }
        if (t->outstanding == 0)
                ticket_done(t);
}

void oa_edge_v1_tick(oa_edge *e, int64_t mono_ms) {
        for (oa_edge_ticket *t = e->tickets; t; t = t->next)
                if (t->rq && mono_ms >= t->deadline_ms) {
                        oa_log_warn("no delivery report in time: answering 503");
                        ticket_answer(t, true);
                }
}

/* ---- the request ---- */

/* A ticket for the n events to produce, with room for their idempotency keys. */
static oa_edge_ticket *ticket_new(oa_edge *e, v1_req *rq, const oa_event_batch *b,
                                  const oa_edge_item_state *state, const bool *has_id, bool marked,
                                  char *const *keys, size_t n) {
        size_t keybytes = 0, k = 0;
        oa_edge_ticket *t;
        char *p;

        for (size_t i = 0; i < b->n; i++)
                if (state[i] == OA_EDGE_ITEM_PRODUCE && has_id[i] && marked)
                        keybytes += strlen(keys[i]) + 1;
        t = calloc(1, sizeof(*t) + n * sizeof(v1_msg) + 2 * n * sizeof(char *) + keybytes);
        if (!t)
                return NULL;
        t->e = e;
        t->rq = rq;
        t->n_msgs = n;
        t->unmark = (char **) (t->msgs + n);
        t->confirm = t->unmark + n;
        p = (char *) (t->confirm + n);
        for (size_t i = 0; i < b->n; i++) {
                if (state[i] != OA_EDGE_ITEM_PRODUCE)
                        continue;
                t->msgs[k].t = t;
                if (has_id[i] && marked) {
                        size_t l = strlen(keys[i]) + 1;

                        memcpy(p, keys[i], l);
                        t->msgs[k].idem_key = p;
                        p += l;
                }
                k++;
        }
        return t;
}

/* When an event of b is being written by another request: remove the marks this request
 * just set and answer 503 (the other write may still fail; its retry must not be a
 * duplicate). True when answered. */
static bool pending(oa_edge *e, v1_req *rq, const oa_event_batch *b, const oa_edge_item_state *state,
                    const bool *has_id, char *const *keys, bool skipped) {
        const char **mine;
        size_t n = 0;
        bool any = false;

        for (size_t i = 0; i < b->n; i++)
                any |= state[i] == OA_EDGE_ITEM_PENDING;
        if (!any)
                return false;
        mine = h2o_mem_alloc_pool(&rq->req->pool, b->n * sizeof(*mine));
        for (size_t i = 0; i < b->n; i++)
                if (state[i] == OA_EDGE_ITEM_PRODUCE && has_id[i] && !skipped)
                        mine[n++] = keys[i];
        if (n && e->idem.unmark(e->idem.ctx, mine, n) < 0)
                oa_metrics_counter_inc(e->m.idem_unmark_failed, n);
        unavailable(rq, "an event with this event_id is still being written by an earlier request; "
                    "retry later");
        return true;
}

/* Enrich, mark and produce the accepted events of b; the answer follows the reports. */
static void ingest(v1_req *rq, const Oa__Project *p, oa_event_batch *b, oa_arena *a, int64_t now_ms) {
        oa_edge *e = rq->e;
        oa_edge_item_state *state = oa_arena_zalloc(a, b->n * sizeof(*state));
        bool *has_id = oa_arena_zalloc(a, b->n * sizeof(*has_id));
        char **keys = oa_arena_zalloc(a, b->n * sizeof(*keys));
        size_t n = 0, k = 0;
        oa_edge_ticket *t;
        oa_kprod_msg *pm;
        bool skipped;
        oa_buf body;
        int r;

        if (!state || !has_id || !keys) {
                send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        for (size_t i = 0; i < b->n; i++) {
                Oa__Event *ev = b->items[i].ev;

                if (!ev)
                        continue;
                has_id[i] = ev->event_id && *ev->event_id;
                if (oa_edge_enrich(e, ev, p, NULL, NULL, 0, NULL, now_ms, a) < 0 ||
                    (has_id[i] && !(keys[i] = oa_edge_idem_key(a, p->id, ev->event_id)))) {
                        send_error(rq, 500, OA_HTTP_E_INTERNAL, "enriching the events failed");
                        return;
                }
        }
        if (oa_edge_idem_apply(&e->idem, b, has_id, keys, state, &skipped) < 0) {
                send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        if (skipped) {
                oa_metrics_counter_inc(e->m.idem_skipped, 1);
                if (!e->idem_degraded)
                        oa_log_warn("idempotency not checked: Redis does not answer; events with an "
                                    "event_id may be stored twice", "error", oa_rds_errstr(e->rds));
                e->idem_degraded = true;
        } else if (e->idem_degraded) {
                e->idem_degraded = false;
                oa_log_info("idempotency checked in Redis again");
        }
        if (pending(e, rq, b, state, has_id, keys, skipped))
                return;
        for (size_t i = 0; i < b->n; i++) {
                n += state[i] == OA_EDGE_ITEM_PRODUCE;
                oa_metrics_counter_inc(state[i] == OA_EDGE_ITEM_PRODUCE ? e->m.v1_accepted
                                       : state[i] == OA_EDGE_ITEM_DUPLICATE ? e->m.v1_duplicate
                                       : e->m.v1_rejected, 1);
        }
        oa_buf_init(&body, 4u << 20);
        r = oa_edge_v1_body(&body, b, state);
        if (r < 0 || !body.data) {
                oa_buf_done(&body);
                send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
                return;
        }
        t = ticket_new(e, rq, b, state, has_id, !skipped, keys, n);
        if (!t) {
                oa_buf_done(&body);
                send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        t->body = h2o_strdup(&rq->req->pool, body.data, body.len).base;
        t->body_len = body.len;
        oa_buf_done(&body);
        t->deadline_ms = oa_edge_mono_ms() + e->cfg->ack_timeout_ms + BACKSTOP_MS;
        ticket_link(e, t);
        if (n == 0) {                   /* duplicates only: nothing to wait for */
                ticket_done(t);
                return;
        }
        /* No broker answers: say so now rather than after the ack timeout. */
        if (e->kafka_down)
                t->enqueue_failed = true;
        /* Encode every event, then queue them in one call; a message librdkafka refused
         * gets no report, so its mark goes now. */
        pm = t->enqueue_failed ? NULL : oa_arena_alloc(a, n * sizeof(*pm));
        if (!pm)
                t->enqueue_failed = true;
        for (size_t i = 0; i < b->n && !t->enqueue_failed; i++) {
                uint8_t *val;
                char *key;
                size_t vlen, klen;

                if (state[i] != OA_EDGE_ITEM_PRODUCE)
                        continue;
                if (oa_edge_encode(b->items[i].ev, a, &val, &vlen, &key, &klen) < 0) {
                        t->enqueue_failed = true;
                        break;
                }
                pm[k] = (oa_kprod_msg) { .key = key, .key_len = klen, .value = val, .value_len = vlen,
                                         .msg_opaque = &t->msgs[k] };
                k++;
        }
        if (t->enqueue_failed)
                k = 0;                  /* nothing queued */
        else
                oa_kprod_produce_batch(e->kapi, OA_TOPIC_EVENTS, pm, k);
        for (size_t j = 0; j < n; j++) {
                if (j < k && pm[j].err == 0) {
                        t->outstanding++;
                        e->acks_waiting++;
                        continue;
                }
                t->enqueue_failed = true;
                if (t->msgs[j].idem_key)
                        t->unmark[t->n_unmark++] = t->msgs[j].idem_key;
        }
        oa_metrics_counter_inc(e->m.ev_api, t->outstanding);
        if (t->outstanding == 0)
                ticket_done(t);
}

static void events_in(v1_req *rq, const Oa__Project *p, oa_arena *a) {
        oa_edge *e = rq->e;
        oa_event_api_opts o = e->api_opts;
        oa_event_batch b;
        h2o_iovec_t body;
        char err[OA_EVENT_ERR_MAX + 32];
        int64_t now_ms = oa_edge_now_ms();
        int r;

        if (oa_http_body(rq->req, OA_EVENT_API_MAX_BODY, &body) < 0) {
                snprintf(err, sizeof(err), "body: larger than %d bytes", OA_EVENT_API_MAX_BODY);
                send_error(rq, 413, OA_HTTP_E_TOO_LARGE, err);
                return;
        }
        o.now_ms = now_ms;
        r = oa_event_parse_api(body.base, body.len, &o, a, &b, err, sizeof(err));
        if (r == -E2BIG) {
                send_error(rq, 413, OA_HTTP_E_TOO_LARGE, err);
                return;
        }
        if (r == -EINVAL) {
                send_error(rq, 400, OA_HTTP_E_VALIDATION, err);
                return;
        }
        if (r < 0) {
                send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        if (b.n_accepted == 0) {
                oa_metrics_counter_inc(e->m.v1_rejected, b.n);
                oa_edge_v1_invalid_message(&b, err, sizeof(err));
                send_error(rq, 400, OA_HTTP_E_VALIDATION, err);
                return;
        }
        ingest(rq, p, &b, a, now_ms);
}

/* The events of one request in the loop's arena, emptied after each: everything that
 * outlives the handler (the 202 body, the marks in the ticket, Kafka's copies) was copied
 * out, so no allocation per event once it grew. */
static void events(v1_req *rq, const Oa__Project *p) {
        events_in(rq, p, &rq->e->v1_arena);
        oa_arena_reset(&rq->e->v1_arena);
}

/* True when the path is /v1/projects/{id}/events; the id is copied into the pool. */
static bool match(h2o_req_t *req, const char **ret_id) {
        h2o_iovec_t path = oa_http_path(req), segs[5];
        int n = oa_http_path_split(path.base, path.len, segs, 5);

        if (n != 4 || !h2o_memis(segs[0].base, segs[0].len, H2O_STRLIT("v1")) ||
            !h2o_memis(segs[1].base, segs[1].len, H2O_STRLIT("projects")) ||
            !h2o_memis(segs[3].base, segs[3].len, H2O_STRLIT("events")))
                return false;
        /* Longer than any id: cut, so it still matches nothing. */
        *ret_id = h2o_strdup(&req->pool, segs[2].base, segs[2].len > 64 ? 64 : segs[2].len).base;
        return true;
}

static int on_v1(h2o_req_t *req, void *userdata) {
        oa_edge *e = userdata;
        v1_req *rq = h2o_mem_alloc_pool(&req->pool, sizeof(*rq));
        oa_gate_result *g = h2o_mem_alloc_pool(&req->pool, sizeof(*g));
        h2o_iovec_t authz;
        const char *id = NULL;
        bool has_authz;

        memset(rq, 0, sizeof(*rq));
        rq->e = e;
        rq->req = req;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        if (!match(req, &id)) {
                /* every other /v1 route is oa-query's (the gateway sends them there) */
                oa_http_set_route_label(req, OTHER_LABEL);
                send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "no such route on oa-edge");
                return 0;
        }
        oa_http_set_route_label(req, ROUTE_LABEL);
        if (oa_http_client_ip(req, &e->proxies, rq->client, sizeof(rq->client)) < 0)
                snprintf(rq->client, sizeof(rq->client), "unknown");
        if (!oa_projects_ready(e->projects)) {
                rq->retry_after = 1;
                send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "the projects catalogue is not loaded yet");
                return 0;
        }
        has_authz = oa_http_header(req, H2O_TOKEN_AUTHORIZATION, &authz) == 0;
        oa_gate_check(e->gate, oa_projects_catalog(e->projects), rq->client, has_authz ? authz.base : NULL,
                      has_authz ? authz.len : 0, OA_SCOPE_EVENTS_WRITE, id, (int64_t) time(NULL), g);
        oa_edge_note_degraded(e);
        oa_gate_count(&e->m.gate, g);
        rq->limit = g->limit;
        rq->has_limit = g->has_limit;
        rq->retry_after = g->retry_after;
        memcpy(rq->key_id, g->key_id, sizeof(rq->key_id));
        if (g->status) {
                if (g->status == 401)
                        oa_http_add_header(req, "WWW-Authenticate", "Bearer");
                send_error(rq, g->status, g->error, g->message);
                return 0;
        }
        if (!oa_http_method_is(req, "POST")) {
                oa_http_add_header(req, "Allow", "POST");
                send_error(rq, 405, OA_HTTP_E_VALIDATION, "method not allowed on " ROUTE_LABEL " (allowed: POST)");
                return 0;
        }
        events(rq, g->auth.project);
        return 0;
}

int oa_edge_v1_mount(oa_edge *e) {
        oa_arena_init(&e->v1_arena, ARENA_MAX);
        return oa_http_server_route(e->srv, "/v1", OTHER_LABEL, on_v1, e);
}

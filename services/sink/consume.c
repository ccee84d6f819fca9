/* One message at a time into the batch, and the batch into ClickHouse.
 *
 * A message is: skipped when ClickHouse already holds its offset (part.c), dead-lettered
 * when it is not a valid event, skipped when its event_id was written recently (dedup.c),
 * else given its session (session.c) and encoded as an oa.events row. Its offset is
 * stored only when the batch that holds it is complete: dead letters acknowledged by
 * Kafka, then the events insert, then the sessions insert acknowledged by ClickHouse.
 * A flush that fails keeps the batch as it is (the encoded bytes are sent again, never
 * rebuilt) and the loop retries with backoff while the partitions are paused; an attempt
 * that failed in transit may have landed, so before sending again the sink looks. */
#include "sink.h"

#include "oa/log.h"
#include "deadletter.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DLQ_FLUSH_MS 5000
#define TS_MAX_MS (4294967295LL * 1000)    /* DateTime ends in 2106 */
#define FIELD_MAX (1u << 20)                /* longer than any event oa-edge accepts */

int64_t oa_sink_mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t oa_sink_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool text_ok(const char *s) {
        return s && *s && strlen(s) < FIELD_MAX;
}

const char *oa_sink_dl_reason(const void *value, size_t len, const Oa__Event *ev, char *detail,
                              size_t dlen) {
        if (!value || len == 0) {
                snprintf(detail, dlen, "empty message");
                return OA_SINK_DL_EMPTY;
        }
        if (!ev) {
                snprintf(detail, dlen, "not an oa.Event (%zu bytes)", len);
                return OA_SINK_DL_DECODE;
        }
        if (ev->version != 1) {
                snprintf(detail, dlen, "event version %u; this oa-sink reads version 1", ev->version);
                return OA_SINK_DL_VERSION;
        }
        if (!text_ok(ev->project_id) || !text_ok(ev->event_id) || !text_ok(ev->visitor_id) ||
            !text_ok(ev->event_type)) {
                snprintf(detail, dlen, "project_id, event_id, visitor_id or event_type missing or too long");
                return OA_SINK_DL_INVALID;
        }
        if (ev->timestamp_ms <= 0 || ev->timestamp_ms >= TS_MAX_MS || ev->received_ms < 0 ||
            ev->received_ms >= TS_MAX_MS) {
                snprintf(detail, dlen, "timestamp out of range");
                return OA_SINK_DL_INVALID;
        }
        return NULL;
}

int oa_sink_batch_init(oa_sink_batch *b, const oa_sink_cfg *c) {
        memset(b, 0, sizeof(*b));
        /* a row may pass the threshold: room for the largest event on top */
        oa_buf_init(&b->events, (size_t) c->batch_bytes + (8u << 20));
        oa_buf_init(&b->sessions, 1u << 30);
        return 0;
}

void oa_sink_batch_done(oa_sink_batch *b) {
        for (size_t i = 0; i < b->n_dls; i++)
                free(b->dls[i].bytes);
        free(b->dls);
        free(b->dirty);
        oa_buf_done(&b->events);
        oa_buf_done(&b->sessions);
        memset(b, 0, sizeof(*b));
}

static void batch_touch(oa_sink_batch *b) {
        if (!b->first_ms)
                b->first_ms = oa_sink_mono_ms();
}

int oa_sink_mark_dirty(oa_sink_batch *b, oa_sink_sess *ss) {
        if (ss->dirty)
                return 0;
        if (b->n_dirty == b->cap_dirty) {
                size_t cap = b->cap_dirty ? 2 * b->cap_dirty : 256;
                oa_sink_sess **v = realloc(b->dirty, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                b->dirty = v;
                b->cap_dirty = cap;
        }
        ss->dirty = true;
        b->dirty[b->n_dirty++] = ss;
        batch_touch(b);
        return 0;
}

/* Encode the rows of one session's change: the cancel of what is live, the new state. */
int oa_sink_encode_session(oa_sink_batch *b, const oa_sink_sess *ss) {
        int r = 0;

        if (ss->version > 0)
                r = oa_sink_rb_session(&b->sessions, ss->project_id, ss->visitor_id, &ss->written, -1,
                                       ss->version);
        if (r == 0)
                r = oa_sink_rb_session(&b->sessions, ss->project_id, ss->visitor_id, &ss->cur, 1,
                                       ss->version + 1);
        if (r == 0 && !b->probe_session) {
                b->probe_session = ss->cur.session_id;
                b->probe_version = ss->version + 1;
        }
        return r;
}

static int add_deadletter(oa_sink *s, const oa_kmsg *m, const char *reason, const char *detail) {
        Oa__DeadLetter dl = OA__DEAD_LETTER__INIT;
        oa_sink_batch *b = &s->batch;
        oa_sink_dl *d;

        if (b->n_dls == b->cap_dls) {
                size_t cap = b->cap_dls ? 2 * b->cap_dls : 16;
                oa_sink_dl *v = realloc(b->dls, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                b->dls = v;
                b->cap_dls = cap;
        }
        dl.version = 1;
        dl.consumer = (char *) "oa-sink";
        dl.reason = (char *) reason;
        dl.detail = (char *) detail;
        dl.topic = (char *) m->topic;
        dl.partition = m->partition;
        dl.offset = m->offset;
        dl.key = (ProtobufCBinaryData) { m->key_len, (uint8_t *) m->key };
        dl.value = (ProtobufCBinaryData) { m->value_len, (uint8_t *) m->value };
        dl.failed_ms = oa_sink_wall_ms();
        d = &b->dls[b->n_dls];
        d->len = oa__dead_letter__get_packed_size(&dl);
        d->bytes = malloc(d->len ? d->len : 1);
        if (!d->bytes)
                return -ENOMEM;
        oa__dead_letter__pack(&dl, d->bytes);
        d->state = 0;
        b->n_dls++;
        batch_touch(b);
        return 0;
}

/* The session the event goes into; its id in *ret_id. */
static int sessionize(oa_sink *s, int32_t p, const Oa__Event *ev, uint64_t *ret_id) {
        oa_sink_batch *b = &s->batch;
        oa_sink_sess *ss = oa_sink_part_session(s, p, ev->project_id, ev->visitor_id, true);
        oa_sink_srow late = { 0 };
        int r;

        if (!ss)
                return -ENOMEM;
        switch (oa_sink_sess_classify(ss->cur.events ? ss : NULL, ev->timestamp_ms)) {
        case OA_SINK_SESS_JOINED:
                r = oa_sink_srow_add(&ss->cur, ev);
                break;
        case OA_SINK_SESS_LATE:
                oa_metrics_counter_inc(s->m.late, 1);
                r = oa_sink_srow_start(&late, ev);
                late.session_id = oa_sink_session_id(ev->project_id, ev->visitor_id, ev->timestamp_ms);
                if (r == 0)
                        r = oa_sink_rb_session(&b->sessions, ss->project_id, ss->visitor_id, &late, 1, 1);
                *ret_id = late.session_id;
                oa_sink_srow_done(&late);
                batch_touch(b);
                return r;
        default:
                /* the visitor's previous session is final: its last change goes now */
                if (ss->dirty) {
                        r = oa_sink_encode_session(b, ss);
                        if (r < 0)
                                return r;
                        for (size_t i = 0; i < b->n_dirty; i++)
                                if (b->dirty[i] == ss)
                                        b->dirty[i] = b->dirty[--b->n_dirty];
                        ss->dirty = false;
                }
                oa_sink_srow_done(&ss->written);
                ss->version = 0;
                r = oa_sink_srow_start(&ss->cur, ev);
                ss->cur.session_id = oa_sink_session_id(ev->project_id, ev->visitor_id, ev->timestamp_ms);
        }
        if (r == 0)
                r = oa_sink_mark_dirty(b, ss);
        *ret_id = ss->cur.session_id;
        return r;
}

static void pending(oa_sink_part *pt, int64_t offset) {
        if (offset > pt->pending)
                pt->pending = offset;
}

int oa_sink_handle(oa_sink *s, oa_kmsg *m) {
        oa_sink_batch *b = &s->batch;
        oa_sink_part *pt;
        const Oa__Event *ev;
        const char *reason;
        char detail[160];
        uint64_t h, sid = 0;
        size_t mark;
        int r;

        if (m->partition < 0 || m->partition >= OA_SINK_PARTITIONS_MAX)
                return 0;       /* a topic with more partitions than we track: never */
        pt = &s->parts[m->partition];
        if (!pt->synced && oa_sink_part_sync(s, m->partition) < 0)
                return -EAGAIN;
        pt->next = m->offset + 1;
        if (pt->first < 0)
                pt->first = m->offset;
        if (m->offset <= pt->ch_max) {
                oa_metrics_counter_inc(s->m.skipped, 1);
                pending(pt, m->offset);
                batch_touch(b);
                return 0;
        }
        oa_arena_reset(&s->arena);
        ev = m->value && m->value_len ? oa_event_unpack(m->value, m->value_len, &s->arena) : NULL;
        reason = oa_sink_dl_reason(m->value, m->value_len, ev, detail, sizeof(detail));
        if (reason) {
                oa_metrics_counter *c = NULL;
                const char *lv[] = { reason };

                r = add_deadletter(s, m, reason, detail);
                if (r < 0)
                        return r;
                if (oa_metrics_family_counter(s->m.deadletters, lv, &c) == 0)
                        oa_metrics_counter_inc(c, 1);
                oa_log_warn("dead letter", "reason", reason, "detail", detail);
                pending(pt, m->offset);
                return 0;
        }
        /* a user deleted (DSAR) while this event of theirs was on its way */
        if (s->suppress && oa_dsar_suppressed(s->suppress, ev->project_id, ev->visitor_id,
                                              ev->received_ms)) {
                oa_metrics_counter_inc(s->m.suppressed, 1);
                pending(pt, m->offset);
                batch_touch(b);
                return 0;
        }
        h = oa_sink_ids_hash(ev->event_id, strlen(ev->event_id));
        if (oa_sink_ids_has(&pt->ids, h)) {
                oa_metrics_counter_inc(s->m.duplicates, 1);
                pending(pt, m->offset);
                batch_touch(b);
                return 0;
        }
        r = sessionize(s, m->partition, ev, &sid);
        mark = b->events.len;
        if (r == 0)
                r = oa_sink_rb_event(&b->events, ev, sid, m->partition, m->offset);
        if (r < 0) {
                b->events.len = mark;
                return r;
        }
        oa_sink_ids_add(&pt->ids, h);
        b->rows++;
        batch_touch(b);
        pending(pt, m->offset);
        pt->batch_row_max = m->offset;
        if (ev->timestamp_ms > pt->max_ts)
                pt->max_ts = ev->timestamp_ms;
        return 0;
}

void oa_sink_on_dl_report(const oa_kprod_report *rep, void *opaque) {
        oa_sink *s = opaque;
        size_t i = (size_t) (uintptr_t) rep->msg_opaque - 1;

        if (i < s->batch.n_dls)
                s->batch.dls[i].state = rep->err == 0 ? 2 : -1;
}

static int send_deadletters(oa_sink *s) {
        oa_sink_batch *b = &s->batch;
        bool all = true;

        for (size_t i = 0; i < b->n_dls; i++) {
                oa_sink_dl *d = &b->dls[i];

                if (d->state == 0 || d->state == -1) {
                        d->state = 1;
                        if (oa_kprod_produce(s->dlq, OA_TOPIC_DEADLETTER, NULL, 0, d->bytes, d->len,
                                             (void *) (uintptr_t) (i + 1)) < 0)
                                d->state = -1;
                }
        }
        oa_kprod_flush(s->dlq, DLQ_FLUSH_MS);
        for (size_t i = 0; i < b->n_dls; i++)
                all &= b->dls[i].state == 2;
        if (!all)
                snprintf(s->ch_err, sizeof(s->ch_err), "kafka did not acknowledge the dead letters");
        return all ? 0 : -EIO;
}

static bool transient(int r) {
        return r == -ETIMEDOUT || r == -EIO;
}

/* After an attempt that failed in transit: did the events land? Yes when ClickHouse
 * holds, on every partition of the batch, the batch's highest row offset (row_max). */
static int events_landed(oa_sink *s, const int64_t *row_max, bool *ret) {
        oa_buf sql, out;
        int r = 0;

        *ret = true;
        oa_buf_init(&sql, 4096);
        oa_buf_init(&out, 4096);
        for (int p = 0; r == 0 && *ret && p < OA_SINK_PARTITIONS_MAX; p++) {
                oa_ch_req req = { .out = &out };
                long long max = -1;

                if (row_max[p] < 0)
                        continue;
                oa_buf_reset(&sql);
                oa_buf_reset(&out);
                r = oa_sink_sql_max_offset(&sql, p);
                req.sql = sql.data;
                if (r == 0)
                        r = oa_ch_request(s->ch, &req, s->ch_err, sizeof(s->ch_err));
                if (r == 0 && (!out.data || sscanf(out.data, "%lld", &max) != 1))
                        r = -EPROTO;
                *ret = r == 0 && max >= row_max[p];
        }
        oa_buf_done(&sql);
        oa_buf_done(&out);
        return r;
}

static int sessions_landed(oa_sink *s, bool *ret) {
        oa_buf sql, out;
        oa_ch_req req = { .out = &out };
        int r;

        oa_buf_init(&sql, 4096);
        oa_buf_init(&out, 4096);
        r = oa_sink_sql_session_landed(&sql, s->batch.probe_session, s->batch.probe_version);
        req.sql = sql.data;
        if (r == 0)
                r = oa_ch_request(s->ch, &req, s->ch_err, sizeof(s->ch_err));
        *ret = r == 0 && out.data && atoi(out.data) > 0;
        oa_buf_done(&sql);
        oa_buf_done(&out);
        return r;
}

static void observe(oa_sink *s, int r, int64_t ms, bool *uncertain) {
        oa_metrics_histogram_observe(s->m.insert_seconds, (double) ms / 1000.0);
        oa_metrics_counter_inc(r == 0 ? s->m.inserts : s->m.insert_errors, 1);
        if (r < 0 && transient(r))
                *uncertain = true;
}

/* One insert from the loop's connection; the latency observed, the outcome noted. */
static int insert(oa_sink *s, const char *sql, const oa_buf *data, bool *uncertain) {
        oa_ch_req req = { .sql = sql, .data = data->data, .data_len = data->len };
        int64_t t0 = oa_sink_mono_ms();
        int r = oa_ch_request(s->ch, &req, s->ch_err, sizeof(s->ch_err));

        observe(s, r, oa_sink_mono_ms() - t0, uncertain);
        return r;
}

/* The flight's events are in ClickHouse: their offsets wait for the sessions. */
static void flight_complete(oa_sink *s) {
        oa_sink_flight *f = &s->flight;

        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                if (f->pending[p] > s->parts[p].held)
                        s->parts[p].held = f->pending[p];
        oa_metrics_counter_inc(s->m.rows, f->rows);
        oa_metrics_gauge_set(s->m.last_insert, (double) oa_sink_wall_ms() / 1000.0);
        oa_buf_reset(&f->events);
        f->rows = 0;
        f->active = f->busy = f->uncertain = false;
}

/* Take the flight's outcome: wait for the worker, or, after a failure, look whether it
 * landed and send it again from the loop's connection. Returns 0 when nothing is in
 * flight any more, or the error (the flight is kept as it is for the next retry). */
static int flight_settle(oa_sink *s) {
        oa_sink_flight *f = &s->flight;
        bool landed = false;
        int64_t ms = 0;
        int r = 0;

        if (!f->active)
                return 0;
        if (f->busy) {
                r = oa_sink_ins_wait(s->ins, &ms, s->ch_err, sizeof(s->ch_err));
                f->busy = false;
                if (r != -ECHILD)
                        observe(s, r, ms, &f->uncertain);
        } else {
                if (f->uncertain)
                        r = events_landed(s, f->row_max, &landed);
                if (r == 0 && !landed)
                        r = insert(s, OA_SINK_SQL_INSERT_EVENTS, &f->events, &f->uncertain);
        }
        oa_sink_note_ch(s, r, s->ch_err);
        if (r == 0)
                flight_complete(s);
        return r;
}

/* Hand the batch's events to the worker (the flight is settled). The batch starts over;
 * its dead letters were acknowledged. */
static void flight_hand_over(oa_sink *s) {
        oa_sink_batch *b = &s->batch;
        oa_sink_flight *f = &s->flight;
        oa_buf t;

        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++) {
                oa_sink_part *pt = &s->parts[p];

                f->pending[p] = pt->pending;
                f->row_max[p] = pt->batch_row_max;
                pt->pending = pt->batch_row_max = -1;
        }
        t = f->events;
        f->events = b->events;
        b->events = t;
        f->rows = b->rows;
        f->active = true;
        f->uncertain = false;
        for (size_t i = 0; i < b->n_dls; i++)
                free(b->dls[i].bytes);
        b->n_dls = 0;
        b->rows = 0;
        b->first_ms = 0;
        if (!f->events.len)
                flight_complete(s);     /* only skipped messages and dead letters */
        else if (oa_sink_ins_submit(s->ins, OA_SINK_SQL_INSERT_EVENTS, &f->events) == 0)
                f->busy = true;
        /* else the next settle sends it from the loop */
}

int oa_sink_settle(oa_sink *s) {
        return flight_settle(s);
}

bool oa_sink_flight_busy(oa_sink *s) {
        return s->flight.busy && oa_sink_ins_busy(s->ins);
}

/* The sessions are in ClickHouse too: they are live, and the held offsets are stored. */
static void complete_sessions(oa_sink *s) {
        oa_sink_batch *b = &s->batch;

        for (size_t i = 0; i < b->n_encoded; i++) {
                oa_sink_sess *ss = b->dirty[i];

                if (oa_sink_srow_copy(&ss->written, &ss->cur) == 0)
                        ss->version++;
                else
                        ss->version = 0;        /* out of memory: the next sync repairs it */
                ss->dirty = false;
        }
        memmove(b->dirty, b->dirty + b->n_encoded, (b->n_dirty - b->n_encoded) * sizeof(*b->dirty));
        b->n_dirty -= b->n_encoded;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++) {
                oa_sink_part *pt = &s->parts[p];

                if (pt->held >= 0 && pt->assigned) {
                        oa_kcons_store(s->kc, OA_TOPIC_EVENTS, p, pt->held);
                        pt->stored = pt->held;
                }
                pt->held = -1;
        }
        oa_buf_reset(&b->sessions);
        b->sessions_done = b->sessions_encoded = b->sessions_uncertain = false;
        b->probe_session = 0;
        b->n_encoded = 0;
        s->sessions_flushed_ms = oa_sink_mono_ms();
}

/* Sessions are written every OA_SINK_SESSIONS_MS (a session active across many batches is
 * written once per period, not once per batch), and sooner when a partition's messages
 * since its last stored offset reach half the rebuild window: what a restart rebuilds
 * from oa.events must cover everything whose sessions were not written yet. */
static bool sessions_due(oa_sink *s) {
        int64_t half = s->cfg->dedup_window / 2;

        if (oa_sink_mono_ms() - s->sessions_flushed_ms >= s->cfg->sessions_ms)
                return true;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++) {
                const oa_sink_part *pt = &s->parts[p];
                int64_t top = pt->pending > pt->held ? pt->pending : pt->held;

                if (s->flight.active && s->flight.pending[p] > top)
                        top = s->flight.pending[p];

                if (top >= 0 && top - (pt->stored >= 0 ? pt->stored : pt->first) >= half)
                        return true;
        }
        return false;
}

bool oa_sink_sessions_waiting(const oa_sink *s) {
        if (s->flight.active)
                return true;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                if (s->parts[p].held >= 0)
                        return true;
        return s->batch.n_dirty || s->batch.sessions.len;
}

int oa_sink_flush(oa_sink *s, bool sessions) {
        oa_sink_batch *b = &s->batch;
        bool landed;
        int r;

        /* at most one batch in flight, acknowledged in order */
        if ((r = flight_settle(s)) < 0)
                return r;
        if (b->first_ms) {
                if (b->n_dls && (r = send_deadletters(s)) < 0)
                        return r;
                flight_hand_over(s);
                /* the sessions are written only once every event before them is in */
                if (!sessions && !b->sessions_encoded && !sessions_due(s))
                        return 0;
                if ((r = flight_settle(s)) < 0)
                        return r;
        }
        if (!oa_sink_sessions_waiting(s) || (!sessions && !b->sessions_encoded && !sessions_due(s)))
                return 0;
        if (!b->sessions_encoded) {
                for (size_t i = 0; r == 0 && i < b->n_dirty; i++)
                        r = oa_sink_encode_session(b, b->dirty[i]);
                if (r < 0)
                        return r;
                b->n_encoded = b->n_dirty;
                b->sessions_encoded = true;
        }
        if (!b->sessions_done && b->sessions.len) {
                if (b->sessions_uncertain && b->probe_session &&
                    (r = sessions_landed(s, &landed)) == 0 && landed)
                        b->sessions_done = true;
                if (r == 0 && !b->sessions_done)
                        r = insert(s, OA_SINK_SQL_INSERT_SESSIONS, &b->sessions, &b->sessions_uncertain);
                oa_sink_note_ch(s, r, s->ch_err);
                if (r < 0)
                        return r;
        }
        complete_sessions(s);
        return 0;
}

void oa_sink_drop_all(oa_sink *s) {
        oa_sink_batch *b = &s->batch;
        oa_sink_flight *f = &s->flight;
        int64_t ms;
        char err[256];

        if (f->busy)            /* its bytes stay untouched until the worker is done */
                oa_sink_ins_wait(s->ins, &ms, err, sizeof(err));
        oa_buf_reset(&f->events);
        f->rows = 0;
        f->active = f->busy = f->uncertain = false;
        b->n_dirty = b->n_encoded = 0;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                if (s->parts[p].assigned || s->parts[p].sessions)
                        oa_sink_part_reset(s, p);
        b->sessions_encoded = true;     /* nothing left to encode */
        for (size_t i = 0; i < b->n_dls; i++)
                free(b->dls[i].bytes);
        b->n_dls = 0;
        oa_buf_reset(&b->events);
        b->rows = 0;
        b->first_ms = 0;
        complete_sessions(s);
        if (s->parked_valid) {
                oa_kmsg_done(&s->parked);
                s->parked_valid = false;
        }
        s->stuck = false;
}

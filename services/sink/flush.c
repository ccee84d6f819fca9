/* The batch into ClickHouse: the flush and its retries (consume.c builds the batch).
 *
 * A batch is complete (its offsets may be stored) once its dead letters are acknowledged
 * by Kafka, its events insert and then the sessions insert by ClickHouse. The events go
 * to the insert worker (insert.c) while the loop builds the next batch: one batch in
 * flight at most, acknowledged in order. A flush that fails keeps the batch as it is (the
 * encoded bytes are sent again, never rebuilt) and the loop retries with backoff while the
 * partitions are paused; an attempt that failed in transit may have landed, so before
 * sending again the sink looks. */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DLQ_FLUSH_MS 5000

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

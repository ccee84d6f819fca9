/* One message at a time into the batch (flush.c takes the batch into ClickHouse).
 *
 * A message is: skipped when ClickHouse already holds its offset (part.c), dead-lettered
 * when it is not a valid event, skipped when its event_id was written recently (dedup.c),
 * else given its session (session.c) and encoded as an oa.events row. Its offset is
 * stored only when the batch that holds it is complete: dead letters acknowledged by
 * Kafka, then the events insert, then the sessions insert acknowledged by ClickHouse
 * (flush.c). */
#include "sink.h"

#include "oa/log.h"
#include "deadletter.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

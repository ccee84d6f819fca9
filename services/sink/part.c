/* Per-partition state, and what happens when the group assigns or revokes partitions.
 *
 * On assignment the partition is synced with ClickHouse before any of its messages is
 * handled: the highest offset ClickHouse holds there (messages at or below it were
 * inserted by an earlier owner that did not live to commit: skipped), the event ids of
 * the last OA_SINK_DEDUP_WINDOW offsets, and the latest session of every visitor seen in
 * that window, recomputed from its events in oa.events and compared with the row live in
 * oa.sessions: when they differ (a crash between the two inserts), the next batch writes
 * the correction. When ClickHouse does not answer, the partition stays unsynced and its
 * first message waits (consume.c).
 *
 * On revocation the batch is flushed, so its offsets are committed with the revocation;
 * when ClickHouse fails, the batch and all state are dropped instead: the next owner
 * starts from the committed offsets and skips what ClickHouse holds. */
#include "sink.h"

#include "oa/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_ANSWER_MAX (1u << 30)
#define STATE_FIELDS 26                 /* sql.c: STATE_FROM_EVENTS */
#define IDLE_FORGET_MS (2 * 3600 * 1000)

static int free_sess(const void *key, size_t klen, void *value, void *ud) {
        (void) key, (void) klen, (void) ud;
        oa_sink_sess_free(value);
        return 0;
}

void oa_sink_part_reset(oa_sink *s, int32_t p) {
        oa_sink_part *pt = &s->parts[p];
        oa_sink_batch *b = &s->batch;
        size_t k = 0;

        /* the batch must not keep pointers to the sessions freed here */
        for (size_t i = 0, n = b->n_dirty, enc = b->n_encoded; pt->sessions && i < n; i++) {
                oa_sink_sess *ss = b->dirty[i];

                if (oa_sink_part_session(s, p, ss->project_id, ss->visitor_id, false) != ss)
                        b->dirty[k++] = ss;
                else if (i < enc)
                        b->n_encoded--;
                if (i == n - 1)
                        b->n_dirty = k;
        }
        if (pt->sessions) {
                oa_map_foreach(pt->sessions, free_sess, NULL);
                pt->sessions = oa_map_free(pt->sessions);
        }
        oa_sink_ids_done(&pt->ids);
        pt->assigned = pt->synced = false;
        pt->ch_max = pt->pending = pt->batch_row_max = pt->held = pt->stored = pt->first = -1;
        pt->max_ts = 0;
}

static int make_key(oa_buf *k, const char *project_id, const char *visitor_id) {
        oa_buf_reset(k);
        int r = oa_buf_adds(k, project_id);

        if (r == 0)
                r = oa_buf_addc(k, '\0');
        return r == 0 ? oa_buf_adds(k, visitor_id) : r;
}

oa_sink_sess *oa_sink_part_session(oa_sink *s, int32_t p, const char *project_id,
                                   const char *visitor_id, bool create) {
        static oa_buf key = { .max = 1 << 20 };
        oa_sink_part *pt = &s->parts[p];
        oa_sink_sess *ss;

        if (make_key(&key, project_id, visitor_id) < 0)
                return NULL;
        ss = oa_map_get(pt->sessions, key.data, key.len);
        if (ss || !create)
                return ss;
        ss = oa_sink_sess_new(project_id, visitor_id);
        if (ss && oa_map_put(pt->sessions, key.data, key.len, ss, NULL) < 0) {
                oa_sink_sess_free(ss);
                ss = NULL;
        }
        return ss;
}

int oa_sink_part_put(oa_sink *s, int32_t p, oa_sink_sess *ss) {
        static oa_buf key = { .max = 1 << 20 };
        int r = make_key(&key, ss->project_id, ss->visitor_id);

        return r < 0 ? r : oa_map_put(s->parts[p].sessions, key.data, key.len, ss, NULL);
}

/* Run a read; the answer in out. Sets s->ch_err on failure. */
static int ch_read(oa_sink *s, const char *sql, oa_buf *out) {
        oa_ch_req req = { .sql = sql, .out = out };
        int r;

        oa_buf_reset(out);
        r = oa_ch_request(s->ch, &req, s->ch_err, sizeof(s->ch_err));
        oa_sink_note_ch(s, r, s->ch_err);
        return r;
}

/* Call fn for each line of out (NUL-terminated in place). */
static int each_line(oa_buf *out, int (*fn)(oa_sink *s, int32_t p, char *line, size_t len),
                     oa_sink *s, int32_t p) {
        size_t i = 0;
        int r = 0;

        while (r == 0 && out->data && i < out->len) {
                char *line = out->data + i, *nl = memchr(line, '\n', out->len - i);
                size_t len = nl ? (size_t) (nl - line) : out->len - i;

                i += len + 1;
                if (len)
                        r = fn(s, p, line, len);
        }
        return r;
}

static int add_id(oa_sink *s, int32_t p, char *line, size_t len) {
        oa_sink_ids_add(&s->parts[p].ids, oa_sink_ids_hash(line, len));
        return 0;
}

static int parse_i64(const char *f, int64_t *ret) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(f, &end, 10);
        if (errno || end == f || *end)
                return -EPROTO;
        *ret = v;
        return 0;
}

/* A state row (STATE_FIELDS, then optionally the version) into r; keys into ret_f. */
static int parse_state(char *line, size_t len, char **f, oa_sink_srow *r, int64_t *ret_version) {
        size_t lens[STATE_FIELDS + 1];
        int64_t v[8];
        int n = oa_sink_tsv_split(line, len, f, lens, STATE_FIELDS + 1);

        if (n < STATE_FIELDS)
                return -EPROTO;
        for (int i = 1; i < 8; i++)             /* start .. user_ms: f[3] .. f[9] */
                if (parse_i64(f[2 + i], &v[i]) < 0)
                        return -EPROTO;
        oa_sink_srow_done(r);
        r->session_id = strtoull(f[2], NULL, 10);
        r->start_ms = v[1];
        r->end_ms = v[2];
        r->pageviews = (uint32_t) v[3];
        r->events = (uint32_t) v[4];
        r->entry_ms = r->pageviews ? v[5] : -1;
        r->exit_ms = r->pageviews ? v[6] : -1;
        r->user_ms = *f[10] ? v[7] : -1;
        for (int i = 0; i < OA_SS_N; i++)
                if (!(r->s[i] = strdup(f[10 + i])))
                        return -ENOMEM;
        *ret_version = 0;
        if (n > STATE_FIELDS && parse_i64(f[STATE_FIELDS], ret_version) < 0)
                return -EPROTO;
        return 0;
}

/* The sessions of the window being rebuilt, by session id (decimal): all of them are
 * reconciled with ClickHouse; the latest of each visitor stays in the partition's map. */
static oa_map *rebuilt;

static int add_rebuilt(oa_sink *s, int32_t p, char *line, size_t len) {
        char *f[STATE_FIELDS + 1];
        oa_sink_srow row = { 0 };
        oa_sink_sess *ss = NULL, *prev;
        int64_t version;
        int r = parse_state(line, len, f, &row, &version);

        if (r == 0 && !(ss = oa_sink_sess_new(f[0], f[1])))
                r = -ENOMEM;
        if (r == 0) {
                ss->cur = row;
                memset(&row, 0, sizeof(row));
                r = oa_map_put(rebuilt, f[2], strlen(f[2]), ss, NULL);
                if (r < 0)
                        oa_sink_sess_free(ss);
        }
        if (r == 0) {
                prev = oa_sink_part_session(s, p, ss->project_id, ss->visitor_id, false);
                if (!prev || prev->cur.end_ms < ss->cur.end_ms)
                        r = oa_sink_part_put(s, p, ss);
                if (s->parts[p].max_ts < ss->cur.end_ms)
                        s->parts[p].max_ts = ss->cur.end_ms;
        }
        oa_sink_srow_done(&row);
        return r;
}

static int add_live(oa_sink *s, int32_t p, char *line, size_t len) {
        char *f[STATE_FIELDS + 1];
        oa_sink_srow row = { 0 };
        oa_sink_sess *ss;
        int64_t version;
        int r = parse_state(line, len, f, &row, &version);

        (void) s, (void) p;
        if (r == 0 && (ss = oa_map_get(rebuilt, f[2], strlen(f[2])))) {
                oa_sink_srow_done(&ss->written);
                ss->written = row;
                ss->version = (uint32_t) version;
                memset(&row, 0, sizeof(row));
        }
        oa_sink_srow_done(&row);
        return r;
}

struct reconcile_ctx {
        oa_sink *s;
        int32_t p;
        int r;
};

/* A rebuilt session whose live row differs (or is missing) is written: the visitor's
 * current one with the next batch, an older one now (its rows into the batch) and then
 * forgotten. */
static int reconcile(const void *key, size_t klen, void *value, void *ud) {
        struct reconcile_ctx *c = ud;
        oa_sink_sess *ss = value;
        bool latest = oa_sink_part_session(c->s, c->p, ss->project_id, ss->visitor_id, false) == ss;
        bool differs = ss->version == 0 || !oa_sink_srow_equal(&ss->cur, &ss->written);

        (void) key, (void) klen;
        if (latest && differs && c->r == 0)
                c->r = oa_sink_mark_dirty(&c->s->batch, ss);
        else if (!latest && differs && c->r == 0)
                c->r = oa_sink_encode_session(&c->s->batch, ss);
        if (!latest)
                oa_sink_sess_free(ss);
        return 0;
}

int oa_sink_part_sync(oa_sink *s, int32_t p) {
        oa_sink_part *pt = &s->parts[p];
        oa_buf sql, out;
        char *f[2];
        size_t lens[2];
        int64_t max = -1, count = 0, lo;
        int r;

        oa_buf_init(&sql, 1 << 16);
        oa_buf_init(&out, SYNC_ANSWER_MAX);
        /* a retry after a failure starts over */
        oa_sink_part_reset(s, p);
        pt->assigned = true;
        pt->sessions = oa_map_new();
        r = pt->sessions ? oa_sink_ids_init(&pt->ids, (size_t) s->cfg->dedup_window) : -ENOMEM;
        if (r == 0)
                r = oa_sink_sql_max_offset(&sql, p);
        if (r == 0)
                r = ch_read(s, sql.data, &out);
        if (r == 0 && (!out.data || oa_sink_tsv_split(out.data, strcspn(out.data, "\n"), f, lens, 2) != 2 ||
                       parse_i64(f[0], &max) < 0 || parse_i64(f[1], &count) < 0)) {
                snprintf(s->ch_err, sizeof(s->ch_err), "unexpected answer to the max offset query");
                r = -EPROTO;
        }
        if (r < 0 || count == 0)
                goto out;
        lo = max - s->cfg->dedup_window;
        oa_buf_reset(&sql);
        r = oa_sink_sql_recent_ids(&sql, p, lo);
        if (r == 0)
                r = ch_read(s, sql.data, &out);
        if (r == 0)
                r = each_line(&out, add_id, s, p);
        oa_buf_reset(&sql);
        rebuilt = oa_map_new();
        if (!rebuilt)
                r = -ENOMEM;
        if (r == 0)
                r = oa_sink_sql_rebuild(&sql, p, lo);
        if (r == 0)
                r = ch_read(s, sql.data, &out);
        if (r == 0)
                r = each_line(&out, add_rebuilt, s, p);
        oa_buf_reset(&sql);
        if (r == 0)
                r = oa_sink_sql_live_sessions(&sql, p, lo);
        if (r == 0)
                r = ch_read(s, sql.data, &out);
        if (r == 0)
                r = each_line(&out, add_live, s, p);
        if (r == 0) {
                struct reconcile_ctx c = { s, p, 0 };

                oa_map_foreach(rebuilt, reconcile, &c);
                r = c.r;
        } else if (rebuilt) {
                /* failed half-way: the partition's map owns the latest ones (reset frees
                 * them); free the others */
                struct reconcile_ctx c = { s, p, -1 };

                oa_map_foreach(rebuilt, reconcile, &c);
        }
        rebuilt = oa_map_free(rebuilt);
out:
        if (r == 0) {
                pt->ch_max = count ? max : -1;
                pt->synced = true;
                char ps[16], ms[24];

                snprintf(ps, sizeof(ps), "%d", (int) p);
                snprintf(ms, sizeof(ms), "%lld", (long long) pt->ch_max);
                oa_log_info("partition synced with clickhouse", "partition", ps, "clickhouse_max_offset", ms);
        }
        oa_buf_done(&sql);
        oa_buf_done(&out);
        return r;
}

void oa_sink_on_rebalance(bool assigned, rd_kafka_topic_partition_list_t *parts, void *opaque) {
        oa_sink *s = opaque;

        if (!assigned && oa_sink_flush(s, true) < 0) {
                oa_log_warn("partitions revoked with a batch ClickHouse did not take: dropped, "
                            "the next owner reads it again", "error", s->ch_err);
                oa_sink_drop_all(s);
        }
        for (int i = 0; i < parts->cnt; i++) {
                int32_t p = parts->elems[i].partition;

                if (strcmp(parts->elems[i].topic, OA_TOPIC_EVENTS) != 0 || p < 0 ||
                    p >= OA_SINK_PARTITIONS_MAX)
                        continue;
                oa_sink_part_reset(s, p);
                if (!assigned)
                        continue;
                s->parts[p].assigned = true;
                if (oa_sink_part_sync(s, p) < 0)
                        oa_log_warn("partition not synced with clickhouse yet", "error", s->ch_err);
        }
}

struct evict_ctx {
        int64_t cutoff;
        oa_buf keys;                    /* klen (size_t) + key, ... */
};

static int collect_idle(const void *key, size_t klen, void *value, void *ud) {
        struct evict_ctx *c = ud;
        oa_sink_sess *ss = value;

        if (ss->dirty || ss->cur.end_ms >= c->cutoff)
                return 0;
        if (oa_buf_add(&c->keys, &klen, sizeof(klen)) < 0 || oa_buf_add(&c->keys, key, klen) < 0)
                return 1;
        return 0;
}

void oa_sink_part_evict(oa_sink *s, int32_t p) {
        oa_sink_part *pt = &s->parts[p];
        struct evict_ctx c;

        if (!pt->sessions)
                return;
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1 && oa_map_size(pt->sessions) <= (size_t) s->cfg->sessions_max)
                        break;
                c.cutoff = pt->max_ts - (pass == 0 ? IDLE_FORGET_MS : OA_SINK_SESSION_GAP_MS);
                oa_buf_init(&c.keys, 1u << 30);
                oa_map_foreach(pt->sessions, collect_idle, &c);
                for (size_t i = 0; c.keys.data && i < c.keys.len;) {
                        size_t klen;

                        memcpy(&klen, c.keys.data + i, sizeof(klen));
                        oa_sink_sess_free(oa_map_del(pt->sessions, c.keys.data + i + sizeof(klen), klen));
                        i += sizeof(klen) + klen;
                }
                oa_buf_done(&c.keys);
        }
}

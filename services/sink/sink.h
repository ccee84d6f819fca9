/* oa-sink: the only writer of events into ClickHouse. It consumes oa.events.v1 in a group,
 * batches rows (bounded by rows, bytes and age), inserts them in RowBinary, and stores a
 * partition's offsets only after ClickHouse acknowledged everything before them.
 *
 * Exactly once as seen through ClickHouse: every row carries its Kafka partition and
 * offset; when a partition is assigned, the sink asks ClickHouse for the highest offset it
 * holds there and skips what is at or below it (a crash between insert and commit leaves
 * no duplicate), keeps the event ids of the partition's recent window to skip an event
 * sent twice, and rebuilds the visitors' open sessions from the events ClickHouse holds.
 *
 *   config.c   the option table
 *   rowbin.c   RowBinary: the writers, an event row, a session row (pure)
 *   session.c  the session state machine (pure): 30-minute inactivity, late events
 *   dedup.c    a bounded set of recent event ids (pure)
 *   sql.c      every SQL text the sink sends, from one place (--print-sql shows them)
 *   tsv.c      reading ClickHouse's TabSeparated answers (pure)
 *   part.c     per-partition state; what happens on assignment (rebuild from ClickHouse)
 *   consume.c  one message: decode, dead letters, skip, dedup, sessions, into the batch
 *   flush.c    the batch into ClickHouse: the flush, the batch in flight, the retries
 *   insert.c   the insert worker: a thread with its own connection, one insert in flight
 *   feed.c     metrics, readiness, lag
 *   main.c     the skeleton */
#ifndef OA_SINK_H
#define OA_SINK_H

#include "oa/arena.h"
#include "oa/buf.h"
#include "oa/cfg.h"
#include "oa/ch.h"
#include "oa/dsar.h"
#include "oa/event.h"
#include "oa/http.h"
#include "oa/kafka.h"
#include "oa/map.h"
#include "oa/metrics.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- configuration (config.c) ---- */

typedef struct oa_sink_cfg {
        char *listen;
        char *kafka_brokers;
        char *group_id;
        char *clickhouse_url;
        char *clickhouse_user;
        char *clickhouse_password;
        long long clickhouse_timeout_ms;
        long long batch_rows;
        long long batch_bytes;
        long long batch_ms;
        long long dedup_window;
        long long retry_max_ms;
        long long sessions_ms;
        long long sessions_max;
        char *log_level;
} oa_sink_cfg;

/* Load: defaults < environment < command line; --help, --check-config. Also --print-sql
 * (every SQL text the sink sends, NUL-separated, then exit 0): *ret_print_sql. Returns
 * OA_CFG_LOAD_RUN, OA_CFG_LOAD_EXIT or a negative errno with errbuf. */
int oa_sink_cfg_load(oa_sink_cfg *cfg, int argc, char **argv, bool *ret_print_sql,
                     char *errbuf, size_t errlen);
void oa_sink_cfg_free(oa_sink_cfg *cfg);
void oa_sink_cfg_log(const oa_sink_cfg *cfg);

/* ---- RowBinary (rowbin.c) ---- */

int oa_rb_u8(oa_buf *b, uint8_t v);
int oa_rb_u16(oa_buf *b, uint16_t v);
int oa_rb_u32(oa_buf *b, uint32_t v);
int oa_rb_u64(oa_buf *b, uint64_t v);
int oa_rb_f64(oa_buf *b, double v);
/* A String: LEB128 length, then the bytes (n may be 0; s may then be NULL). */
int oa_rb_str(oa_buf *b, const char *s, size_t n);
/* A NUL-terminated string, NULL as "". */
int oa_rb_cstr(oa_buf *b, const char *s);

/* The columns oa-sink writes into oa.events, in this order (sql.c names them). */
#define OA_SINK_EVENT_COLUMNS \
        "project_id, site_id, event_id, source, event_type, event_name, timestamp, millis, " \
        "received_at, received_millis, visitor_id, user_id, session_id, url, hostname, path, " \
        "title, referrer, referrer_host, referrer_source, utm_source, utm_medium, " \
        "utm_campaign, utm_content, utm_term, ip, user_agent, country, browser, " \
        "browser_version, os, os_version, device, screen_width, properties.key, " \
        "properties.value, properties.type, revenue, currency, kafka_partition, kafka_offset"

/* Append one oa.events row for ev (session_id, partition, offset given) to b. Returns 0
 * or an oa_buf error (b may then hold part of the row: the caller truncates). */
int oa_sink_rb_event(oa_buf *b, const Oa__Event *ev, uint64_t session_id, int32_t partition,
                     int64_t offset);

/* ---- sessions (session.c) ---- */

#define OA_SINK_SESSION_GAP_MS (30 * 60 * 1000)     /* inactivity that ends a session */

/* The text columns of a session row that come from its events. */
enum {
        OA_SS_USER_ID, OA_SS_ENTRY, OA_SS_EXIT, OA_SS_HOSTNAME, OA_SS_REFERRER,
        OA_SS_REFERRER_HOST, OA_SS_REFERRER_SOURCE, OA_SS_UTM_SOURCE, OA_SS_UTM_MEDIUM,
        OA_SS_UTM_CAMPAIGN, OA_SS_UTM_CONTENT, OA_SS_UTM_TERM, OA_SS_COUNTRY, OA_SS_DEVICE,
        OA_SS_BROWSER, OA_SS_OS, OA_SS_N
};

/* One state of a session: a row of oa.sessions without sign and version. Strings are
 * owned (malloc), never NULL once set by oa_sink_sess_*. */
typedef struct oa_sink_srow {
        uint64_t session_id;
        int64_t start_ms, end_ms;
        int64_t entry_ms, exit_ms;      /* timestamps of the entry and exit pageviews */
        int64_t user_ms;                /* timestamp of the event user_id came from */
        uint32_t pageviews, events;
        char *s[OA_SS_N];
} oa_sink_srow;

/* A visitor's current session: what is in memory, and what ClickHouse holds (the row
 * the next state must cancel). */
typedef struct oa_sink_sess {
        char *project_id, *visitor_id;
        oa_sink_srow cur;
        oa_sink_srow written;           /* valid when version > 0 */
        uint32_t version;               /* of written; 0: nothing written yet */
        bool dirty;                     /* cur differs from written: in the next batch */
} oa_sink_sess;

/* What an event did to a visitor's session. */
typedef enum oa_sink_sess_step {
        OA_SINK_SESS_JOINED,            /* it belongs to the current session */
        OA_SINK_SESS_NEW,               /* more than 30 min after it: a new session */
        OA_SINK_SESS_LATE,              /* more than 30 min before its start: a session
                                         * of its own, the current one stays */
} oa_sink_sess_step;

/* Decide where ev goes for the visitor whose current session is s (NULL: none yet). */
oa_sink_sess_step oa_sink_sess_classify(const oa_sink_sess *s, int64_t ts_ms);

/* The id of a session starting at start_ms for (project, visitor): a 64-bit hash. */
uint64_t oa_sink_session_id(const char *project_id, const char *visitor_id, int64_t start_ms);

/* Start row r (zeroed or freed before) as a one-event session of ev. Returns 0 or
 * -ENOMEM. */
int oa_sink_srow_start(oa_sink_srow *r, const Oa__Event *ev);

/* Add ev (at ts ms) to row r: start/end, counts, entry and exit pages, the attributes
 * of the earliest event, user_id of the latest event that has one. Returns 0 or
 * -ENOMEM. */
int oa_sink_srow_add(oa_sink_srow *r, const Oa__Event *ev);

/* Copy src into dst (dst freed first). Returns 0 or -ENOMEM. */
int oa_sink_srow_copy(oa_sink_srow *dst, const oa_sink_srow *src);

/* True when the two rows would be the same row of oa.sessions. */
bool oa_sink_srow_equal(const oa_sink_srow *a, const oa_sink_srow *b);

/* Free the strings of r and zero it. */
void oa_sink_srow_done(oa_sink_srow *r);

/* Duration in whole seconds, and the bounce flag (one pageview, nothing else). */
uint32_t oa_sink_srow_duration(const oa_sink_srow *r);
bool oa_sink_srow_bounce(const oa_sink_srow *r);

/* Append the oa.sessions row (project, visitor, r, sign, version) to b. */
int oa_sink_rb_session(oa_buf *b, const char *project_id, const char *visitor_id,
                       const oa_sink_srow *r, int8_t sign, uint32_t version);

/* The columns oa-sink writes into oa.sessions, in oa_sink_rb_session's order. */
#define OA_SINK_SESSION_COLUMNS \
        "project_id, session_id, visitor_id, user_id, start, start_millis, `end`, end_millis, " \
        "duration, pageviews, events, is_bounce, entry_page, exit_page, hostname, referrer, " \
        "referrer_host, referrer_source, utm_source, utm_medium, utm_campaign, utm_content, " \
        "utm_term, country, device, browser, os, sign, version"

oa_sink_sess *oa_sink_sess_new(const char *project_id, const char *visitor_id);
void oa_sink_sess_free(oa_sink_sess *s);

/* ---- recent event ids (dedup.c) ---- */

/* A set of the last cap event ids (64-bit hashes: a false "seen" needs two distinct ids
 * of one partition's window to collide, odds about cap^2 / 2^65). */
typedef struct oa_sink_ids {
        uint64_t *ring;                 /* insertion order, for eviction */
        uint64_t *slots;                /* open addressing; 0 = empty */
        size_t cap, n, head, mask;
} oa_sink_ids;

int oa_sink_ids_init(oa_sink_ids *s, size_t cap);
void oa_sink_ids_done(oa_sink_ids *s);
/* The hash of an event id (never 0). */
uint64_t oa_sink_ids_hash(const char *id, size_t n);
/* True when h is in the set. */
bool oa_sink_ids_has(const oa_sink_ids *s, uint64_t h);
/* Add h (evicting the oldest when full). No-op when present. */
void oa_sink_ids_add(oa_sink_ids *s, uint64_t h);

/* ---- SQL (sql.c) ---- */

#define OA_SINK_SQL_INSERT_EVENTS "INSERT INTO oa.events (" OA_SINK_EVENT_COLUMNS ") FORMAT RowBinary"
#define OA_SINK_SQL_INSERT_SESSIONS "INSERT INTO oa.sessions (" OA_SINK_SESSION_COLUMNS ") FORMAT RowBinary"

/* Whether the +1 row (session, version) is in oa.sessions: "count". */
int oa_sink_sql_session_landed(oa_buf *b, uint64_t session_id, uint32_t version);

/* The highest offset ClickHouse holds for partition p: "max\tcount". */
int oa_sink_sql_max_offset(oa_buf *b, int32_t p);
/* The event ids of partition p with an offset above lo. */
int oa_sink_sql_recent_ids(oa_buf *b, int32_t p, int64_t lo);
/* Every session with an event on partition p above offset lo, recomputed from all its
 * events (the columns of oa_sink_srow, see part.c). */
int oa_sink_sql_rebuild(oa_buf *b, int32_t p, int64_t lo);
/* The rows of oa.sessions now live for those sessions (highest version with sign 1). */
int oa_sink_sql_live_sessions(oa_buf *b, int32_t p, int64_t lo);

/* Print every SQL text the sink sends (sample values), each followed by a NUL byte. */
int oa_sink_sql_print(void);

/* ---- TabSeparated (tsv.c) ---- */

/* Split one line of TabSeparated text (without its newline; line[len] must be writable,
 * it becomes a NUL) into at most max fields,
 * unescaping each in place (\t \n \\ \' \0 \b \f \r and \xHH). Returns the field count,
 * or -EPROTO for more than max fields. ret_len[i] is each field's length. */
int oa_sink_tsv_split(char *line, size_t len, char **ret_f, size_t *ret_len, size_t max);

/* ---- the daemon (part.c, consume.c, flush.c, insert.c, feed.c) ---- */

#define OA_SINK_PARTITIONS_MAX 1024

typedef struct oa_sink_part {
        bool assigned, synced;
        int64_t ch_max;                 /* highest offset ClickHouse holds; -1: none */
        int64_t next;                   /* next offset expected (lag) */
        int64_t pending;                /* highest offset in the batch, to store; -1 */
        int64_t batch_row_max;          /* highest offset of a row in the batch; -1 */
        int64_t held;                   /* highest offset whose events are in ClickHouse,
                                         * stored once the sessions are too; -1 */
        int64_t stored;                 /* last offset stored; -1: none yet */
        int64_t first;                  /* first offset handled since assignment */
        int64_t max_ts;                 /* newest event time seen (eviction) */
        oa_sink_ids ids;
        oa_map *sessions;               /* project\0visitor -> oa_sink_sess */
        oa_metrics_gauge *lag;
} oa_sink_part;

/* A dead letter waiting for Kafka's acknowledgement before the batch completes. */
typedef struct oa_sink_dl {
        uint8_t *bytes;
        size_t len;
        int state;                      /* 0 to send, 1 sent, 2 acknowledged, -1 failed */
} oa_sink_dl;

typedef struct oa_sink_batch {
        oa_buf events;                  /* RowBinary rows of oa.events */
        oa_buf sessions;                /* RowBinary rows of oa.sessions, built at flush */
        size_t rows;
        int64_t first_ms;               /* monotonic time of the first row; 0: empty */
        bool sessions_done;
        bool sessions_encoded;          /* the dirty sessions are in `sessions` */
        bool sessions_uncertain;        /* an attempt failed in transit: it
                                         * may have landed; look before sending again */
        uint64_t probe_session;         /* a +1 row of `sessions`, to look for */
        uint32_t probe_version;
        oa_sink_sess **dirty;           /* sessions to write */
        size_t n_dirty, cap_dirty, n_encoded;
        oa_sink_dl *dls;
        size_t n_dls, cap_dls;
} oa_sink_batch;

/* ---- the insert worker (insert.c) ---- */

typedef struct oa_sink_ins oa_sink_ins;

/* Start the worker thread with its own ClickHouse client for c. Returns 0 and sets
 * *ret_w, or an error (errbuf). */
int oa_sink_ins_new(const oa_ch_cfg *c, oa_sink_ins **ret_w, char *errbuf, size_t errlen);
/* Wait for the insert in flight (if any), stop the thread, free. NULL-safe; NULL. */
oa_sink_ins *oa_sink_ins_free(oa_sink_ins *w);
/* Hand over one insert: sql and data stay owned by the caller, untouched until
 * oa_sink_ins_wait returned. Returns 0, or -EBUSY when a result was not taken yet. */
int oa_sink_ins_submit(oa_sink_ins *w, const char *sql, const oa_buf *data);
/* True while the insert handed over runs. */
bool oa_sink_ins_busy(oa_sink_ins *w);
/* Wait for the insert handed over; its result (0 or an oa_ch error, text in errbuf) and
 * its duration in *ret_ms. -ECHILD when nothing was handed over. */
int oa_sink_ins_wait(oa_sink_ins *w, int64_t *ret_ms, char *errbuf, size_t errlen);

/* The events of the batch handed to the worker, until ClickHouse acknowledged them.
 * While it is active nothing after it completes; when its insert failed it is sent again
 * from here (after the "did it land" check) before anything else is. */
typedef struct oa_sink_flight {
        bool active;                    /* holds a batch not acknowledged yet */
        bool busy;                      /* its insert runs in the worker */
        bool uncertain;                 /* an attempt failed in transit: look first */
        oa_buf events;                  /* swapped with the batch's at hand-over */
        size_t rows;
        int64_t pending[OA_SINK_PARTITIONS_MAX];        /* per partition: highest offset */
        int64_t row_max[OA_SINK_PARTITIONS_MAX];        /* and highest offset of a row; -1 */
} oa_sink_flight;

typedef struct oa_sink_metrics {
        oa_metrics_counter *rows, *sessions_rows, *skipped, *duplicates, *inserts, *insert_errors;
        oa_metrics_counter *late, *suppressed;
        oa_metrics_family *deadletters, *lag;
        oa_metrics_histogram *insert_seconds;
        oa_metrics_gauge *last_insert, *ch_up, *rows_per_s, *batch_rows, *open_sessions, *stuck;
} oa_sink_metrics;

typedef struct oa_sink {
        const oa_sink_cfg *cfg;
        oa_ch *ch;
        oa_kcons *kc;
        oa_kprod *dlq;
        oa_kcons *deletions;            /* reader of oa.deletions.v1 (suppress.c) */
        oa_dsar_suppress *suppress;     /* recent deletions: their events in flight are dropped */
        int64_t suppress_expire_ms;
        oa_http_server *srv;
        oa_metrics *metrics;
        oa_sink_metrics m;
        oa_sink_part parts[OA_SINK_PARTITIONS_MAX];
        oa_sink_batch batch;
        oa_sink_ins *ins;               /* the insert worker (insert.c) */
        oa_sink_flight flight;
        oa_arena arena;                 /* the decoded event of the message in hand */
        /* ClickHouse trouble: everything waits (partitions paused, the message in hand
         * parked) until the retry at next_retry_ms succeeds. */
        bool stuck;
        bool parked_valid;
        oa_kmsg parked;
        int64_t next_retry_ms, backoff_ms;
        char ch_err[256];
        bool ch_ok;
        int64_t sessions_flushed_ms;
        int64_t rate_t0_ms;
        uint64_t rate_rows0;
        int exit_code;
} oa_sink;

int64_t oa_sink_mono_ms(void);
int64_t oa_sink_wall_ms(void);

/* part.c: the rebalance hook (oa_kcons_on_rebalance), and the sync of one partition with
 * ClickHouse (0, or an error with s->ch_err set). */
void oa_sink_on_rebalance(bool assigned, rd_kafka_topic_partition_list_t *parts, void *opaque);
int oa_sink_part_sync(oa_sink *s, int32_t p);
void oa_sink_part_reset(oa_sink *s, int32_t p);
/* Forget sessions idle for long (not dirty); keep at most cfg->sessions_max per partition. */
void oa_sink_part_evict(oa_sink *s, int32_t p);
oa_sink_sess *oa_sink_part_session(oa_sink *s, int32_t p, const char *project_id,
                                   const char *visitor_id, bool create);
/* Make ss the current session of its visitor on partition p (the map owns it then). */
int oa_sink_part_put(oa_sink *s, int32_t p, oa_sink_sess *ss);

/* suppress.c: the suppression list of DSAR deletions (docs/privacy.md). start: the reader
 * of oa.deletions.v1 from its beginning (0 or an error with errbuf); poll: apply what
 * arrived (and forget entries past 7 days); ready: the records present at start are in. */
int oa_sink_suppress_start(oa_sink *s, char *errbuf, size_t errlen);
void oa_sink_suppress_poll(oa_sink *s);
bool oa_sink_suppress_ready(const oa_sink *s);
void oa_sink_suppress_stop(oa_sink *s);

/* consume.c, flush.c */
/* Put ss in the list of sessions the next sessions flush writes. */
int oa_sink_mark_dirty(oa_sink_batch *b, oa_sink_sess *ss);
/* Encode the rows of ss's change into the batch now: the cancel of what is live, the new
 * state. */
int oa_sink_encode_session(oa_sink_batch *b, const oa_sink_sess *ss);
int oa_sink_batch_init(oa_sink_batch *b, const oa_sink_cfg *c);
void oa_sink_batch_done(oa_sink_batch *b);
/* Handle one message (the message is released by the caller unless it was parked).
 * Returns 0, or -EAGAIN when it could not be handled now (parked: ClickHouse). */
int oa_sink_handle(oa_sink *s, oa_kmsg *m);
/* Flush the batch: dead letters, events; then, when sessions is set or they are due
 * (OA_SINK_SESSIONS_MS, or half the rebuild window reached), the sessions and the
 * offsets. Returns 0 or an error (what is not done is kept for the retry). */
int oa_sink_flush(oa_sink *s, bool sessions);
/* True while the worker runs the flight's insert and the batch could wait for it (it is
 * not full): the loop's turn then does not block on a flush. */
bool oa_sink_flight_busy(oa_sink *s);
/* Take the answer for the batch in flight (waiting for it, or sending it again after a
 * failure). Returns 0 when none is in flight any more, or the error (kept for a retry). */
int oa_sink_settle(oa_sink *s);
/* True while sessions or offsets wait for a sessions flush. */
bool oa_sink_sessions_waiting(const oa_sink *s);
/* The loop's turn: age flush, retries while stuck. */
void oa_sink_tick(oa_sink *s);
/* Something waits for ClickHouse: pause every partition (first time) and schedule the
 * retry with backoff. */
void oa_sink_get_stuck(oa_sink *s);
/* Drop the batch and every partition's state (revocation without ClickHouse). */
void oa_sink_drop_all(oa_sink *s);
void oa_sink_on_dl_report(const oa_kprod_report *r, void *opaque);

/* Dead-letter reasons. */
#define OA_SINK_DL_EMPTY "empty"
#define OA_SINK_DL_DECODE "decode_error"
#define OA_SINK_DL_VERSION "unknown_version"
#define OA_SINK_DL_INVALID "invalid_event"

/* Pure: the reason to dead-letter the message value (len bytes) decoded as ev (NULL when
 * undecodable), or NULL when it is a good event. detail gets a human text. */
const char *oa_sink_dl_reason(const void *value, size_t len, const Oa__Event *ev, char *detail,
                              size_t dlen);

/* feed.c */
int oa_sink_metrics_setup(oa_sink *s);
int oa_sink_ready(void *userdata, char *errbuf, size_t errlen);
void oa_sink_note_ch(oa_sink *s, int r, const char *err);

#endif

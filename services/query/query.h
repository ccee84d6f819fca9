/* oa-query: the /v1 API other than ingest: the management routes (projects and API keys)
 * and the realtime routes behind Bearer authentication and the plans' rate limits; the
 * stats and privacy routes plug into the same route table.
 *
 *   config.c  the option table and what it cannot express (trusted proxies, log level)
 *   feed.c    following oa.projects.v1, Kafka's health, readiness, the producer's wake-ups
 *   api.c     every /v1 request: route, client address, authentication, limits, headers,
 *             the request log line
 *   manage.c  the projects and keys routes, and writes acknowledged by Kafka
 *   body.c    request bodies: strict JSON into checked inputs (pure, tested alone)
 *   qb.h, qb.c, qb_parse.c  the stats query builder: whitelists, parsing, SQL (pure)
 *   stats.c   the stats routes on ClickHouse (pageviews, sessions, conversions,
 *             timeseries, query), answers and errors
 *   stats_filtered.c  /filtered: oa-edge's drop counts from Redis
 *   export.c  /export: NDJSON streamed, one day per ClickHouse read, spooled to a file
 *   cache.c   the read cache of the stats routes
 *   chpool.c  the ClickHouse workers: stats reads, /export days, the DSAR export and /verify's
 *             count run there, never on the loop
 *   realtime.c GET .../realtime from Redis: one pipelined round trip, shared per half second, ETag
 *   sse.c     GET .../realtime/stream: Server-Sent Events, one timer for every stream
 *   verify.c  GET .../verify: what arrived (Redis), what is stored (ClickHouse), what was dropped
 *   main.c    the skeleton */
#ifndef OA_QUERY_H
#define OA_QUERY_H

#include "oa/auth.h"
#include "oa/ch.h"
#include "oa/cfg.h"
#include "oa/ch.h"
#include "oa/entity.h"
#include "oa/gate.h"
#include "oa/http.h"
#include "oa/kafka.h"
#include "oa/log.h"
#include "oa/metrics.h"
#include "oa/projects.h"
#include "oa/proxy.h"
#include "oa/rds.h"
#include "oa/rl.h"
#include "oa/rt.h"
#include "oa/map.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* ---- configuration (config.c) ---- */

typedef struct oa_query_cfg {
        char *listen;
        char *kafka_brokers;
        char *redis_url;
        char *log_level;
        long long auth_fail_limit;
        char *trusted_proxies;
        long long kafka_timeout_ms;
        long long write_timeout_ms;
        long long redis_timeout_ms;
        long long max_connections;
        long long drain_timeout_ms;
        char *clickhouse_url;
        char *clickhouse_user;
        char *clickhouse_password;
        char *clickhouse_database;
        long long clickhouse_timeout_ms;
        long long clickhouse_workers;
        long long clickhouse_queue;
        /* realtime.c, sse.c */
        long long realtime_cache_ms;
        long long stream_interval_ms;
        long long max_range_days;
        long long cache_ttl_ms;
        long long cache_max_entries;
        char *export_spool_dir;
} oa_query_cfg;

/* Load the configuration: defaults < environment < command line, --help, and
 * --check-config (which also runs oa_query_cfg_check before saying "ok"). Returns
 * OA_CFG_LOAD_RUN, OA_CFG_LOAD_EXIT, or a negative errno with the reason in errbuf. */
int oa_query_cfg_load(oa_query_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* What the table cannot express: the log level, the listen address, the trusted
 * proxies (parsed into *ret_proxies when not NULL). Returns 0 or -EINVAL with errbuf. */
int oa_query_cfg_check(const oa_query_cfg *cfg, oa_proxies *ret_proxies, char *errbuf,
                       size_t errlen);

/* Free the strings of cfg. */
void oa_query_cfg_free(oa_query_cfg *cfg);

/* Log the effective configuration (one "config" line). */
void oa_query_cfg_log(const oa_query_cfg *cfg);

/* ---- the daemon's state ---- */

typedef struct oa_query_req oa_query_req;       /* one request in flight (api.c) */

typedef struct oa_query_metrics {
        oa_metrics_family *auth;                /* {result} */
        oa_metrics_family *limit;               /* {limit, decision} */
        oa_metrics_family *limit_local;         /* {limit} */
        oa_metrics_family *produce_failed;      /* {stage} */
        oa_metrics_gauge *limit_degraded;
        oa_metrics_gauge *accounts, *projects, *keys, *ready, *kafka_up, *writes;
        oa_metrics_counter *records, *bad_records;
        /* fixed children, looked up once */
        oa_gate_counters gate;                  /* auth, limit, limit_local */
        oa_metrics_counter *enqueue_failed, *delivery_failed;
        oa_metrics_family *ch_queries;          /* {result}: ok, error, unavailable */
        oa_metrics_counter *ch_ok, *ch_error, *ch_unavailable, *cache_hits, *cache_misses;
        oa_metrics_counter *reads_shared, *reads_refused;
        oa_metrics_gauge *ch_queued;
} oa_query_metrics;

typedef struct oa_query {
        const oa_query_cfg *cfg;
        oa_proxies proxies;             /* OA_QUERY_TRUSTED_PROXIES */
        const char *tzdir;              /* NULL: $TZDIR or the system's */
        oa_metrics *metrics;
        oa_query_metrics m;
        oa_projects *projects;          /* the catalogue */
        oa_kprod *kprod;                /* writes to oa.projects.v1 */
        oa_rds *rds;
        oa_rl *rl;
        oa_gate *gate;                  /* the door of every request (oa/gate.h) */
        oa_http_server *srv;
        bool log_debug;

        /* feed.c */
        int wake[2];                    /* librdkafka's queues write here */
        bool woken;
        int64_t next_read_ms;
        bool was_ready;
        bool kafka_down;
        char kafka_err[200];
        oa_kprobe *probe;               /* Kafka's health: the projects topic's metadata */
        struct oa_query_sync *syncs;    /* requests waiting for the reader to catch up */
        int exit_code;

        /* api.c */
        bool rl_degraded;

        /* manage.c */
        size_t writes_in_flight;
        bool answering;                 /* false once the server is gone: drop reports */

        /* stats.c, export.c, privacy.c, verify.c */
        oa_ch *ch;                      /* ClickHouse on the loop: export chunks, DSAR, verify */
        struct oa_query_chpool *chpool; /* ClickHouse off the loop: the stats reads */
        struct oa_query_cache *cache;   /* cache.c */
        oa_map *reads;                  /* stats.c: SQL key -> the read running for it */
        /* realtime.c, sse.c, verify.c */
        oa_map *rt_cache;               /* project id -> its realtime object of this second */
        int64_t rt_swept_ms;
        struct oa_query_stream *streams; /* open /realtime/stream responses */
        size_t n_streams;
        h2o_timeout_t stream_timeout;   /* the one timer of every stream */
        h2o_timeout_entry_t stream_tick;
        bool streams_on;
        oa_metrics_counter *rt_computed, *rt_cached, *rt_not_modified, *rt_unavailable;
        oa_metrics_gauge *rt_streams;
} oa_query;

/* ---- feed.c ---- */

/* Register the daemon's metrics. Returns 0 or an oa_metrics error. */
int oa_query_metrics_setup(oa_query *q);

/* Make the reader's and the producer's queues wake the loop (a pipe watched by srv) and
 * start the Kafka health probe. Returns 0 or a negative errno with errbuf. */
int oa_query_feed_start(oa_query *q, char *errbuf, size_t errlen);

/* Stop the probe and close the pipe. */
void oa_query_feed_stop(oa_query *q);

/* Every loop turn: serve delivery reports, let the limiter hand back idle leases, apply
 * new catalogue records (every turn when woken or catching up, else every 10 ms), run
 * the health probe. */
void oa_query_on_turn(void *userdata);

/* A broker answered (a write was acknowledged, records arrived): Kafka is up again. */
void oa_query_kafka_answered(oa_query *q);

/* /readyz: 0 when the catalogue is loaded and Kafka answers, else the reason. */
int oa_query_ready(void *userdata, char *errbuf, size_t errlen);

/* The reader's callback for a record the catalogue refused: one warning line. */
void oa_query_on_bad_record(const oa_kmsg *m, int err, const char *reason, void *ud);

/* Called when the reader has caught up with the topic's end as it was when
 * oa_query_sync was called (err 0), or could not (-EAGAIN: the broker did not say where
 * the end is; -ETIMEDOUT: not reached in time; -ENOMEM). May be called from within
 * oa_query_sync. */
typedef void oa_query_synced_fn(oa_query_req *rq, int err);

/* Before a read-modify-write: make sure every record written before now (by any
 * replica) is in the catalogue, then call fn. Asks the broker for the end offsets (a
 * short blocking round trip), then waits on the loop. */
void oa_query_sync(oa_query *q, oa_query_req *rq, oa_query_synced_fn *fn);

/* True once the start-up read of the catalogue is complete. */
bool oa_query_catalog_ready(const oa_query *q);

/* ---- api.c ---- */

/* A route's handler, called once the request is authenticated and within its limits.
 * id is the path's last segment for routes with an id, else NULL. */
typedef void oa_query_handler(oa_query_req *rq, const oa_auth_result *auth, const char *id);

/* One request in flight (in req->pool). */
struct oa_query_req {
        oa_query *q;
        h2o_req_t *req;
        const char *label;              /* route label for logs and metrics */
        struct timespec start;
        char method[8];
        char client[INET6_ADDRSTRLEN + 8];
        char key_id[OA_ENTITY_ID_MAX];  /* "" until a key is recognised */
        oa_rl_result limit;             /* the budget the headers describe */
        bool has_limit;
        long long retry_after;          /* > 0: send Retry-After */
        /* a PATCH waiting for the catalogue to catch up (manage.c) */
        const char *param;              /* a route's trailing parameter, as sent (not
                                         * decoded): .../privacy/user/{user_id} */
        const char *target_id;
        void *input;
        /* a write waiting for Kafka (manage.c) */
        Oa__Record *rec;
        void (*on_acked)(oa_query_req *rq);     /* not NULL: a write of another topic,
                                                 * answered by this (privacy.c) */
        void *write_ctx;
        int ok_status;
        char *secret;                   /* POST /v1/keys: shown once, then wiped */
        const char *cache_control;      /* NULL: "no-store" */
};

/* Mount /v1 on the server. Returns as oa_http_server_route. */
int oa_query_api_mount(oa_query *q);

/* Mount GET /openapi.json, the API's OpenAPI 3.1 description (openapi.c). */
int oa_query_openapi_mount(oa_query *q);

/* Answer rq: the rate-limit headers, Retry-After, Cache-Control: no-store, then the
 * body, then the request's log line. */
void oa_query_send_json(oa_query_req *rq, int status, const char *body, size_t len);
void oa_query_send_error(oa_query_req *rq, int status, const char *code, const char *message);
void oa_query_send_empty(oa_query_req *rq, int status);

/* Add the rate-limit headers, Retry-After and Cache-Control to a response about to be
 * sent (by oa_query_send_* or by a streaming route). */
void oa_query_add_headers(oa_query_req *rq, int status);

/* Write the request's log line (after a streamed answer ends). */
void oa_query_log_request(oa_query_req *rq, int status);

/* ---- stats.c: the read routes on ClickHouse ---- */

/* The only parameters of /export and /filtered: from and to (dates, from <= to, at most
 * OA_QUERY_MAX_RANGE_DAYS). Returns 0, or -EINVAL after answering 400. */
int oa_query_date_range(oa_query_req *rq, int *ret_from, int *ret_to);

oa_query_handler oa_query_stats_pageviews, oa_query_stats_sessions, oa_query_stats_conversions,
        oa_query_stats_timeseries, oa_query_stats_query, oa_query_stats_filtered;

/* After a ClickHouse call failed with r: answer 503 unavailable with Retry-After (down,
 * timeout, time budget exceeded, transient codes), 400 (a filter ClickHouse refused: an
 * invalid regular expression) or 500, and count it. */
void oa_query_ch_failed(oa_query_req *rq, int r, const char *errmsg);

/* What a failed ClickHouse call (r, and the server's code when r is -EPROTO) is answered
 * with, counted and logged once however many requests get it. */
typedef struct oa_query_ch_verdict {
        int status;                     /* 503, 400 or 500 */
        const char *code;               /* OA_HTTP_E_* */
        const char *message;
        long long retry_after;          /* 503: seconds */
} oa_query_ch_verdict;

void oa_query_ch_judge(oa_query *q, int r, int ch_code, const char *errmsg, oa_query_ch_verdict *ret);

/* Answer rq with a verdict (and its Retry-After). */
void oa_query_send_verdict(oa_query_req *rq, const oa_query_ch_verdict *v);

#define OA_QUERY_RETRY_AFTER_S 5        /* Retry-After of a 503 about the databases */

/* ---- chpool.c: the ClickHouse workers of the stats reads ---- */

typedef struct oa_query_chpool oa_query_chpool;
typedef struct oa_query_chjob oa_query_chjob;

/* A unit of work for a worker, embedded in the caller's own struct. */
struct oa_query_chjob {
        oa_query_chjob *next;
        /* On a worker thread: the queries on ch; nothing of the loop (no request, no
         * metrics, no log lines that need the loop's state). */
        void (*run)(oa_query_chjob *job, oa_ch *ch);
        /* On the loop once run returned: answer and free. answer is false when the
         * daemon is going away (the job may not have run): free only. */
        void (*done)(oa_query_chjob *job, bool answer);
};

/* Start workers threads, each with a connection of c, handing finished jobs back on
 * q->srv's loop; at most max_queued jobs wait for a worker. Sets q->chpool even on
 * failure (oa_query_chpool_stop cleans up). Returns 0 or a negative errno with errbuf. */
int oa_query_chpool_start(oa_query *q, const oa_ch_cfg *c, size_t workers, size_t max_queued,
                          char *errbuf, size_t errlen);

/* Queue job. Returns 0, or -EBUSY when max_queued jobs already wait (or stopping). */
int oa_query_chpool_submit(oa_query_chpool *p, oa_query_chjob *job);

/* Jobs waiting or running. */
size_t oa_query_chpool_waiting(oa_query_chpool *p);

/* After the server is gone: let the running queries end, join the workers, and free
 * every job left (done(job, false)). NULL-safe. */
void oa_query_chpool_stop(oa_query *q);

/* A request seen from work that may outlive it: rq becomes NULL when the request's pool is
 * freed (answered, or the client went away). Loop only. */
typedef struct oa_query_rq_ref {
        oa_query_req *rq;
        struct oa_query_rq_ref **slot;  /* in rq's pool, pointing back here */
} oa_query_rq_ref;

/* Watch rq through ref (ref must not move until oa_query_rq_ref_drop). */
void oa_query_rq_ref_set(oa_query_rq_ref *ref, oa_query_req *rq);

/* Stop watching: before the memory of ref is freed. */
void oa_query_rq_ref_drop(oa_query_rq_ref *ref);

/* One statement for a request, on a worker (json: its answer is in a JSON format, for
 * oa_ch's error check): fn(rq, ud, r, ch_code, err, out) is called on
 * the loop with its answer (out: at most out_max bytes; r and ch_code as oa_ch_request
 * and oa_ch_last_code), unless the request went away first. Returns 0, -EBUSY (the queue
 * is full: answer 503) or -ENOMEM. */
typedef void oa_query_ch_answer(oa_query_req *rq, void *ud, int r, int ch_code, const char *err,
                                const oa_buf *out);

int oa_query_ch_call(oa_query_req *rq, const char *sql, bool json, size_t out_max, oa_query_ch_answer *fn,
                     void *ud);

/* Answer 503 unavailable with Retry-After: the workers' queue is full (-EBUSY), counted. */
void oa_query_send_busy(oa_query_req *rq);

/* ---- export.c ---- */

oa_query_handler oa_query_stats_export;

/* ---- cache.c: identical reads within OA_QUERY_CACHE_TTL_MS answered from memory ---- */

typedef struct oa_query_cache oa_query_cache;

/* A cache of at most max answers kept ttl_ms. Returns 0 or -ENOMEM. */
int oa_query_cache_new(long long ttl_ms, size_t max, oa_query_cache **ret);
oa_query_cache *oa_query_cache_free(oa_query_cache *c);

/* The answer stored under key (klen bytes) if younger than the TTL: its bytes (owned by
 * the cache, valid until the next put) and length, else NULL. now_ms: monotonic. */
const char *oa_query_cache_get(oa_query_cache *c, const char *key, size_t klen, int64_t now_ms,
                               size_t *ret_len);

/* Store a copy of val under key; when full, expired entries go first, then the oldest.
 * Returns 0 or -ENOMEM (nothing stored). */
int oa_query_cache_put(oa_query_cache *c, const char *key, size_t klen, const char *val,
                       size_t vlen, int64_t now_ms);

/* oa_query_add_headers, then the log line: for a response started by hand (the event
 * stream). */
void oa_query_start_response(oa_query_req *rq, int status);

/* ---- manage.c ---- */

oa_query_handler oa_query_projects_list, oa_query_project_get, oa_query_project_create,
        oa_query_project_update, oa_query_project_delete, oa_query_keys_list,
        oa_query_key_create, oa_query_key_revoke;

/* Queue a write for Kafka: publish(kprod, ud, rq) queues it with rq as the message's
 * opaque (or returns a negative errno). True when queued: the answer follows the
 * delivery report (rq->on_acked when set); false when rq was answered 503. */
bool oa_query_publish(oa_query_req *rq, int (*publish)(oa_kprod *kp, void *ud, oa_query_req *rq),
                      void *ud);

/* The producer's delivery reports: answer the write that waited for them. */
void oa_query_on_delivery(const oa_kprod_report *r, void *cb_opaque);

/* True when key k may see and revoke key other: same account, other's scopes within k's,
 * and other's projects within k's (a key limited to projects never manages a key for
 * every project). */
bool oa_query_key_manages(unsigned k_scopes, const Oa__ApiKey *k, unsigned other_scopes,
                          const Oa__ApiKey *other);

/* ---- privacy.c: the DSAR routes (docs/privacy.md) ---- */

oa_query_handler oa_query_privacy_export, oa_query_privacy_delete, oa_query_privacy_status;

/* ---- body.c ---- */

#define OA_QUERY_BODY_MAX (64 * 1024)   /* larger: 413 payload_too_large */
#define OA_QUERY_MAX_DOMAINS 50
#define OA_QUERY_MAX_KEY_PROJECTS 100

typedef struct oa_query_project_in {
        bool has_name, has_domains, has_timezone;
        char name[OA_ENTITY_NAME_MAX_BYTES + 1];
        char domains[OA_QUERY_MAX_DOMAINS][OA_ENTITY_DOMAIN_MAX + 1];
        size_t n_domains;
        char timezone[OA_ENTITY_TIMEZONE_MAX + 1];
} oa_query_project_in;

typedef struct oa_query_key_in {
        char name[OA_ENTITY_NAME_MAX_BYTES + 1];
        unsigned scopes;
        char project_ids[OA_QUERY_MAX_KEY_PROJECTS][OA_ENTITY_ID_MAX];
        size_t n_project_ids;
} oa_query_key_in;

/* Parse the body of POST /v1/projects (create: name and domains required, timezone
 * defaults to UTC) or PATCH /v1/projects/{id} (any of them, at least one): a JSON object
 * with "name" (string), "domains" (array of strings) or "domain" (string), "timezone"
 * (string); nothing else. Domains are lower-cased and duplicates dropped; time zones are
 * checked against tzdir (NULL: the system's). Returns 0, or -EINVAL with a message that
 * names the field in errbuf ("timezone: unknown time zone 'Mars/Base'"). */
int oa_query_parse_project(const char *body, size_t len, bool create, const char *tzdir,
                           oa_query_project_in *ret, char *errbuf, size_t errlen);

/* Parse the body of POST /v1/keys: "name" (string), "scopes" (non-empty array of scope
 * names), optional "project_ids" (array of project ids; duplicates dropped). Returns as
 * oa_query_parse_project. */
int oa_query_parse_key(const char *body, size_t len, oa_query_key_in *ret, char *errbuf,
                       size_t errlen);

/* ---- realtime.c: GET /v1/projects/{id}/realtime ---- */

#define OA_QUERY_RT_TOP 10              /* entries of each top list */

typedef struct oa_query_rt_entry {
        char name[256];
        long long count;
} oa_query_rt_entry;

/* What Redis holds for one project at one moment (oa/rt.h has the keys). */
typedef struct oa_query_rt_snapshot {
        int64_t minute0;                /* Unix minute of series[0]; the last is now's */
        long long visitors[OA_RT_SERIES_MIN], pageviews[OA_RT_SERIES_MIN],
                events[OA_RT_SERIES_MIN], collect[OA_RT_SERIES_MIN], api[OA_RT_SERIES_MIN];
        long long current_visitors;     /* distinct in the last OA_RT_CURRENT_MIN minutes */
        long long visitors_total;       /* distinct in the whole series */
        oa_query_rt_entry pages[OA_QUERY_RT_TOP], referrers[OA_QUERY_RT_TOP],
                countries[OA_QUERY_RT_TOP];
        size_t n_pages, n_referrers, n_countries;
} oa_query_rt_snapshot;

/* One computed answer, shared by every poller and stream of the project in its second. */
typedef struct oa_query_rt_result {
        int64_t slot;                   /* now_ms / OA_QUERY_REALTIME_CACHE_MS */
        int status;                     /* 200, or 503 (Redis did not answer) */
        char *body;                     /* the JSON object (200) */
        size_t len;
        char etag[24];                  /* "\"<16 hex>\"" of the body */
        char error[160];                /* 503: why */
} oa_query_rt_result;

/* Queue the snapshot's reads for project at now_ms on rds (one pipeline: per minute a
 * PFCOUNT and an HMGET, the two windows' PFCOUNT, three ZUNION). Returns the number of
 * commands queued or a negative errno. */
int oa_query_rt_append(oa_rds *rds, const char *project, int64_t now_ms);

/* Fill s from the n replies of oa_query_rt_append's commands, in order. Returns 0 or
 * -EPROTO when a reply has another shape (an error answer). */
int oa_query_rt_fill(oa_query_rt_snapshot *s, int64_t now_ms, redisReply *const *replies, size_t n);

/* A count in a reply: an integer, or a string of digits (HMGET); else 0 (a missing field). */
long long oa_query_rt_int(const redisReply *r);

/* Append the realtime object of s to b. Returns 0 or an oa_buf error. */
int oa_query_rt_json(oa_buf *b, const oa_query_rt_snapshot *s);

/* The strong ETag of a body: a quoted 64-bit FNV-1a in hex, into etag (24 bytes). */
void oa_query_etag(const void *body, size_t len, char etag[24]);

/* True when an If-None-Match value (len bytes) names etag: "*", or one entry of a
 * comma list, weak (W/"...") or strong, compared by its opaque part. */
bool oa_query_etag_matches(const char *value, size_t len, const char *etag);

/* The realtime result of project now: from the cache when computed in this slot, else
 * computed (one Redis round trip) and cached. Never NULL (a 503 result on failure). */
const oa_query_rt_result *oa_query_rt_get(oa_query *q, const char *project);

/* Set up and tear down the cache (and its metrics). */
int oa_query_rt_setup(oa_query *q);
void oa_query_rt_free(oa_query *q);

/* Forget entries older than a minute (called from the loop). */
void oa_query_rt_sweep(oa_query *q, int64_t now_ms);

oa_query_handler oa_query_realtime;

/* ---- sse.c: GET /v1/projects/{id}/realtime/stream ---- */

oa_query_handler oa_query_realtime_stream;

/* Start the streams' timer (on srv's loop); end every stream (on SIGTERM, before the
 * drain); free what is left. */
void oa_query_streams_start(oa_query *q);
void oa_query_streams_end(oa_query *q);

/* ---- verify.c: GET /v1/projects/{id}/verify ---- */

oa_query_handler oa_query_verify;

#endif

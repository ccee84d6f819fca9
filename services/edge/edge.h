/* oa-edge: the only way events enter the platform. POST /collect (the browser snippet:
 * public, silent, always 204) and POST /v1/projects/{id}/events (a Bearer key with
 * events:write; 202 only once Kafka acknowledged every accepted event), both validated,
 * enriched and produced to oa.events.v1 (key: project id "/" visitor id).
 *
 *   config.c   the option table and what it cannot express
 *   feed.c     following oa.projects.v1, Kafka's health, readiness, the metrics, the
 *              loop's turn (delivery reports, salts, drop counts, overdue answers)
 *   store.c    the Redis side: daily salts, drop counts per project and reason,
 *              idempotency marks (pure parts tested alone)
 *   enrich.c   from a parsed event to the protobuf bytes: enrichment (oa/event.h),
 *              User-Agent (oa/ua.h), country (oa/geo.h); the per-site budget
 *   collect.c  POST /collect and its CORS preflight; its events judged at the end of
 *              the loop's turn, after the 204s
 *   v1.c       POST /v1/projects/{id}/events: the door (oa/gate.h), idempotency marks,
 *              the wait for Kafka's acknowledgements, the answers
 *   batch.c    its pure parts: each event's fate, the 202 body, the 400 message
 *   main.c     the skeleton */
#ifndef OA_EDGE_H
#define OA_EDGE_H

#include "oa/arena.h"
#include "oa/buf.h"
#include "oa/cfg.h"
#include "oa/event.h"
#include "oa/gate.h"
#include "oa/geo.h"
#include "oa/http.h"
#include "oa/kafka.h"
#include "oa/log.h"
#include "oa/map.h"
#include "oa/metrics.h"
#include "oa/projects.h"
#include "oa/proxy.h"
#include "oa/rds.h"
#include "oa/rl.h"
#include "oa/tb.h"
#include "oa/ua.h"
#include "oa/visitor.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- configuration (config.c) ---- */

typedef struct oa_edge_cfg {
        char *listen;
        bool reuseport;
        char *kafka_brokers;
        char *redis_url;
        char *log_level;
        char *trusted_proxies;
        long long collect_max_body;
        long long ip_rate, ip_burst;
        long long site_rate_scale;
        long long ts_past_ms, ts_future_ms;
        long long ack_timeout_ms;
        long long collect_buffer_ms;
        long long collect_queue_max;
        long long collect_linger_ms, api_linger_ms;
        long long ua_cache;
        char *geo_db;
        char *uap_regexes;
        long long auth_fail_limit;
        long long kafka_timeout_ms;
        long long redis_timeout_ms;
        long long max_connections;
        long long request_timeout_ms;
        long long drain_timeout_ms;
        long long drops_flush_ms;
} oa_edge_cfg;

/* Load the configuration: defaults < environment < command line, --help, and
 * --check-config (which also runs oa_edge_cfg_check). Returns OA_CFG_LOAD_RUN,
 * OA_CFG_LOAD_EXIT, or a negative errno with the reason in errbuf. */
int oa_edge_cfg_load(oa_edge_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* What the table cannot express: the log level, the listen address, the trusted proxies
 * (parsed into *ret_proxies when not NULL), burst >= 1 token. Returns 0 or -EINVAL. */
int oa_edge_cfg_check(const oa_edge_cfg *cfg, oa_proxies *ret_proxies, char *errbuf, size_t errlen);

void oa_edge_cfg_free(oa_edge_cfg *cfg);
void oa_edge_cfg_log(const oa_edge_cfg *cfg);

/* ---- drop accounting (store.c) ---- */

/* Why /collect dropped an event: the label of oa_edge_collect_dropped_total and the
 * field of the Redis hash oa:drops:{project}:{date}. */
typedef enum oa_edge_drop {
        OA_EDGE_DROP_BOT,
        OA_EDGE_DROP_INVALID,
        OA_EDGE_DROP_UNKNOWN_SITE,
        OA_EDGE_DROP_RATE_LIMITED,
        OA_EDGE_DROP_TOO_LARGE,
        OA_EDGE_DROP_QUEUE_FULL,        /* librdkafka's bounded queue is full (Kafka away) */
        OA_EDGE_DROP_UNDELIVERED,       /* queued, but Kafka did not take it in time */
        OA_EDGE_N_DROPS,
} oa_edge_drop_reason;

/* The label of a reason ("bot", "queue_full"). */
const char *oa_edge_drop_name(oa_edge_drop_reason d);

/* The project under which drops that name none are counted (malformed bodies, unknown
 * site ids): oa:drops:unattributed:{date}. */
#define OA_EDGE_UNATTRIBUTED "unattributed"
#define OA_EDGE_DROPS_TTL_S (35 * 24 * 3600)

/* Counts waiting to be written to Redis: (date, project, reason) -> n. Bounded: past
 * max_keys distinct triples the rest is counted in /metrics only. */
typedef struct oa_edge_drops {
        oa_map *counts;                 /* "date\0project\0reason" -> uint64_t * */
        size_t max_keys;
        uint64_t lost;                  /* not written: table full, or Redis refused */
} oa_edge_drops;

int oa_edge_drops_init(oa_edge_drops *d, size_t max_keys);
void oa_edge_drops_done(oa_edge_drops *d);

/* Count n drops of reason for project (NULL: OA_EDGE_UNATTRIBUTED) on date
 * ("YYYY-MM-DD", UTC). Returns 0, -E2BIG (table full: counted in d->lost) or -ENOMEM. */
int oa_edge_drops_add(oa_edge_drops *d, const char *date, const char *project, oa_edge_drop_reason reason,
                      uint64_t n);

/* Distinct triples waiting. */
size_t oa_edge_drops_pending(const oa_edge_drops *d);

/* Write what waits in one pipeline: HINCRBY oa:drops:{project}:{date} reason n and
 * EXPIRE of the key to OA_EDGE_DROPS_TTL_S. On a connection failure everything is kept
 * for the next flush (Redis may have applied part of it: counts are approximate, never
 * blocking). Returns the number of triples written, or a negative errno. */
int oa_edge_drops_flush(oa_edge_drops *d, oa_rds *rds);

/* ---- idempotency (store.c) ---- */

/* The marks of event ids, one key per event: "p" (pending: being written to Kafka, for a
 * while) then "1" (acknowledged by Kafka, for 24 hours). An interface so the flow is
 * tested without Redis. */
#define OA_EDGE_IDEM_TTL_S 86400
#define OA_EDGE_IDEM_PENDING_MS 120000  /* a pending mark outlives any delivery report */

typedef enum oa_edge_mark {
        OA_EDGE_MARK_NEW = 0,           /* not marked before: marked pending now */
        OA_EDGE_MARK_DONE,              /* acknowledged by Kafka before: a duplicate */
        OA_EDGE_MARK_PENDING,           /* another request is writing it right now */
} oa_edge_mark;

typedef struct oa_edge_idem_ops {
        /* Mark n keys pending unless marked: ret[i] says what key i was. Returns 0, or a
         * negative errno when the store did not answer (then nothing is known). */
        int (*mark)(void *ctx, const char *const *keys, size_t n, oa_edge_mark *ret);
        /* Make n pending marks final (acknowledged). Returns 0 or a negative errno. */
        int (*confirm)(void *ctx, const char *const *keys, size_t n);
        /* Remove n marks. Returns 0 or a negative errno. */
        int (*unmark)(void *ctx, const char *const *keys, size_t n);
        void *ctx;
} oa_edge_idem_ops;

/* The Redis implementation over rds: SET k p NX PX 120000 and GET k per key (one
 * pipeline), SET k 1 EX 86400, DEL k. */
oa_edge_idem_ops oa_edge_idem_redis(oa_rds *rds);

/* The mark's key: "oa:idem:" project ":" event_id, in a. NULL when out of memory. */
char *oa_edge_idem_key(oa_arena *a, const char *project_id, const char *event_id);

/* ---- the daily salt (store.c) ---- */

typedef struct oa_edge_salt {
        int64_t day;                    /* UTC days since the epoch of key; -1: none */
        oa_visitor_key *key;
        bool local;                     /* made in process: Redis did not answer */
        bool failing;                   /* the last try failed (warn once) */
        unsigned char bytes[32];
        int64_t retry_ms;               /* monotonic: next try while local or stale */
} oa_edge_salt;

/* ---- the daemon ---- */

typedef struct oa_edge_metrics {
        oa_metrics_family *dropped;             /* {reason} */
        oa_metrics_family *events;              /* {source}: produced (queued for Kafka) */
        oa_metrics_family *v1_events;           /* {result}: accepted, duplicate, rejected */
        oa_metrics_family *v1_requests;         /* {result}: 202, 400, 413, 503 ... */
        oa_metrics_family *auth;                /* {result} */
        oa_metrics_family *limit;               /* {limit, decision} */
        oa_metrics_family *limit_local;         /* {limit} */
        oa_metrics_family *delivery;            /* {source, result} */
        oa_metrics_counter *drop[OA_EDGE_N_DROPS];
        oa_metrics_counter *ev_collect, *ev_api;
        oa_metrics_counter *v1_accepted, *v1_duplicate, *v1_rejected;
        oa_gate_counters gate;                  /* auth, limit, limit_local of /v1 */
        oa_metrics_counter *ip_limited, *site_limited, *site_local;
        oa_metrics_counter *dr_collect_ok, *dr_collect_failed, *dr_api_ok, *dr_api_failed;
        oa_metrics_counter *idem_skipped, *idem_unmark_failed;
        oa_metrics_counter *salt_failures, *drops_flush_failures, *drops_lost;
        oa_metrics_counter *ua_hits, *ua_misses, *ua_limit_errors;
        oa_metrics_counter *records, *bad_records;
        oa_metrics_gauge *limit_degraded, *salt_local, *acks_waiting, *requests_waiting;
        oa_metrics_gauge *queue_collect, *queue_api, *kafka_up, *ready;
        oa_metrics_gauge *accounts, *projects, *keys, *ua_entries;
} oa_edge_metrics;

typedef struct oa_edge_ticket oa_edge_ticket;   /* a /v1 request's messages (v1.c) */

/* Tokens of a site's budget leased from Redis, spent in process (enrich.c). */
typedef struct oa_edge_lease {
        long long tokens;
        int64_t until_ms;               /* monotonic: unused tokens lapse then */
} oa_edge_lease;

typedef struct oa_edge {
        const oa_edge_cfg *cfg;
        oa_proxies proxies;
        oa_metrics *metrics;
        oa_edge_metrics m;
        oa_projects *projects;
        oa_kprod *kcollect;             /* /collect: long message timeout, never waited on */
        oa_kprod *kapi;                 /* /v1: message.timeout.ms = the ack timeout */
        oa_rds *rds;
        oa_rl *rl;                      /* /v1: the plans' budgets per minute */
        oa_tb *tb;                      /* /collect: token buckets per address and site */
        oa_gate *gate;
        oa_ua *ua;
        oa_geo *geo;
        oa_http_server *srv;
        bool log_debug;
        oa_event_api_opts api_opts;     /* now_ms is set per request */

        /* feed.c */
        int wake[2];
        bool woken;
        int64_t next_read_ms;
        bool was_ready;
        bool kafka_down;
        char kafka_err[200];
        oa_kprobe *probe;
        int exit_code;
        char date[16];                  /* today, UTC, "YYYY-MM-DD" */
        int64_t date_s;                 /* the second date was computed for */

        /* store.c */
        oa_edge_salt salt;
        oa_edge_drops drops;
        int64_t next_flush_ms;
        oa_edge_idem_ops idem;
        bool idem_degraded;

        /* enrich.c, collect.c */
        bool rl_degraded;
        oa_map *leases;                 /* site id -> oa_edge_lease */
        oa_buf held;                    /* /collect events of this turn, judged at its end */
        oa_arena collect_arena;         /* one /collect event at a time, emptied after each */
        oa_arena collect_out;           /* their Kafka bytes until queued together */

        /* v1.c */
        oa_arena v1_arena;              /* one request's events at a time, emptied after each */
        oa_edge_ticket *tickets;        /* waiting for Kafka, oldest first */
        size_t acks_waiting;            /* messages without a report */
        bool answering;                 /* false once the server is gone */
} oa_edge;

/* ---- feed.c ---- */

int oa_edge_metrics_setup(oa_edge *e);
int oa_edge_feed_start(oa_edge *e, char *errbuf, size_t errlen);
void oa_edge_feed_stop(oa_edge *e);
void oa_edge_on_turn(void *userdata);
void oa_edge_kafka_answered(oa_edge *e);
int oa_edge_ready(void *userdata, char *errbuf, size_t errlen);
void oa_edge_on_bad_record(const oa_kmsg *m, int err, const char *reason, void *ud);
int64_t oa_edge_mono_ms(void);
int64_t oa_edge_now_ms(void);

/* After each limiter decision: one warning when limits fall back to counting in process,
 * one line when Redis answers again. */
void oa_edge_note_degraded(oa_edge *e);

/* ---- store.c: the daemon's use ---- */

/* Today's salt: from Redis (SET NX of 32 random bytes, shared by replicas, kept 48 h so
 * yesterday's outlives midnight), else the one in hand, else a process-local one. Called
 * at start and every turn (cheap unless the day changed or a retry is due). */
void oa_edge_salt_refresh(oa_edge *e, int64_t now_ms, int64_t mono_ms);
void oa_edge_salt_done(oa_edge *e);

/* Count one dropped /collect event (metrics now, Redis at the next flush). */
void oa_edge_drop(oa_edge *e, const char *project_id, oa_edge_drop_reason reason);

/* Flush the drop counts when due (every OA_EDGE_DROPS_FLUSH_MS) or when force. */
void oa_edge_drops_tick(oa_edge *e, int64_t mono_ms, bool force);

/* ---- enrich.c ---- */

/* Enrich ev (parsed) for project p: oa_event_enrich, then browser, OS and device from
 * its User-Agent (ua: already parsed, or NULL to parse ev->user_agent when there is
 * one), then the country of its IP. Returns 0 or a negative errno. */
int oa_edge_enrich(oa_edge *e, Oa__Event *ev, const Oa__Project *p, const char *ip,
                   const char *user_agent, size_t ua_len, const oa_ua_result *ua,
                   int64_t now_ms, oa_arena *a);

/* The protobuf bytes and the Kafka key of an enriched event, in a. Returns 0 or -ENOMEM. */
int oa_edge_encode(const Oa__Event *ev, oa_arena *a, uint8_t **ret_val, size_t *ret_vlen,
                   char **ret_key, size_t *ret_klen);

/* Events per second and burst of a site, from its account's plan: the plan's requests
 * per minute per key, times scale, as events per second (free 60/s, pro 600/s, business
 * 6,000/s, enterprise its limit); the burst is two seconds' worth, at least 100. */
void oa_edge_site_budget(const Oa__Account *a, long long scale, long long *ret_rate,
                         long long *ret_burst);

/* How many tokens one Redis call leases for a site: a twentieth of a second's worth, at
 * least 1, at most 500. */
long long oa_edge_lease_size(long long rate);

/* Take one token of site's budget: from the lease in hand, else a new lease from
 * Redis (oa_tb_take). Returns true when the event may go on. */
bool oa_edge_site_take(oa_edge *e, const Oa__Project *p, int64_t mono_ms);

/* Free the leases in hand (their tokens lapse). */
void oa_edge_leases_free(oa_edge *e);

/* ---- collect.c ---- */

int oa_edge_collect_mount(oa_edge *e);

/* Judge and queue the /collect events held this turn (their 204s went out already).
 * Called first thing each turn, and at the stop before the producers flush. */
void oa_edge_collect_flush(oa_edge *e);

/* True for the Content-Types /collect takes: none, application/json, text/plain (any
 * parameters, any case). */
bool oa_edge_collect_type_ok(const char *ct, size_t len);

/* The site_id of a body that did not parse, found lexically ("site_id" : "site_..."),
 * so even a malformed event is counted for its project. Returns 0 and the id in ret
 * (len bytes), or -ENOENT. */
int oa_edge_sniff_site(const char *body, size_t len, char *ret, size_t retlen);

/* ---- v1.c ---- */

int oa_edge_v1_mount(oa_edge *e);

/* The delivery reports of both producers (msg_opaque: NULL for /collect, a message of a
 * ticket for /v1). */
void oa_edge_on_delivery(const oa_kprod_report *r, void *cb_opaque);

/* Answer the requests whose acknowledgements are overdue (503), when due. */
void oa_edge_v1_tick(oa_edge *e, int64_t mono_ms);

/* ---- batch.c ---- */

/* What happens to each event of a /v1 request. */
typedef enum oa_edge_item_state {
        OA_EDGE_ITEM_REJECTED = 0,
        OA_EDGE_ITEM_PRODUCE,           /* produce; marked pending when it has an id */
        OA_EDGE_ITEM_DUPLICATE,         /* acknowledged before, or earlier in this request */
        OA_EDGE_ITEM_PENDING,           /* being written by another request: retry later */
} oa_edge_item_state;

/* Decide the state of each of the n items of a parsed batch: rejected when the parser
 * rejected it; an accepted one with a client's event id (has_id[i]) whose key (keys[i])
 * appeared earlier in the request is a duplicate; the others are marked through ops: a
 * duplicate when Kafka acknowledged the id before, pending when another request is
 * writing it now. When the store does not answer, every event is produced
 * (*ret_skipped true). Events without a client id are always produced. Returns 0
 * (states in ret_state) or -ENOMEM. */
int oa_edge_idem_apply(const oa_edge_idem_ops *ops, const oa_event_batch *b, const bool *has_id,
                       char *const *keys, oa_edge_item_state *ret_state, bool *ret_skipped);

/* The 202 body: one event {"status":"queued","event_id":"..."} (plus "duplicate":true
 * when it was one); a batch {"status":"queued","accepted":n,"duplicates":n,"rejected":
 * [{"index":i,"error":"validation_error","message":"..."}],"event_ids":[...]} where
 * event_ids lists the ids of the accepted and duplicate events in request order.
 * Returns 0 or an oa_buf error. */
int oa_edge_v1_body(oa_buf *b, const oa_event_batch *batch, const oa_edge_item_state *state);

/* The 400 message when no event is valid: the single event's error, or "events[i]: "
 * and the first rejected event's error. */
void oa_edge_v1_invalid_message(const oa_event_batch *batch, char *buf, size_t len);

#endif

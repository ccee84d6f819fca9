/* oa-realtime: the consumer of oa.events.v1 that keeps the realtime counters in Redis
 * (oa/rt.h has the keys), read by oa-query's /realtime, /realtime/stream and /verify.
 *
 *   config.c  the option table
 *   batch.c   events into one Lua script call per batch: the writes, their expiry, and the
 *             check that makes a batch apply exactly once (pure, tested alone)
 *   consume.c the loop: poll, batch, flush, store offsets, rewind, metrics, readiness
 *   main.c    the skeleton
 *
 * Exactly once into Redis: the batch's script first compares, per partition, the last
 * offset Redis says it applied (hash oa:rt:applied) with the one before the batch's first
 * message, and writes nothing when one differs. The daemon then seeks every partition of
 * the batch to where Redis is (the offset after the one applied), or, when Redis knows
 * nothing of a partition (a restart without persistence, an expired hash), to the first
 * message of the last OA_RT_SERIES_MIN + 1 minutes, and replays from there. Offsets are
 * stored for commit only after the script succeeded. */
#ifndef OA_REALTIME_H
#define OA_REALTIME_H

#include "oa/cfg.h"
#include "oa/http.h"
#include "oa/kafka.h"
#include "oa/log.h"
#include "oa/map.h"
#include "oa/metrics.h"
#include "oa/rds.h"
#include "oa/rt.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- configuration (config.c) ---- */

typedef struct oa_realtime_cfg {
        char *metrics_listen;
        char *kafka_brokers;
        char *redis_url;
        char *log_level;
        char *group;
        long long batch_max;
        long long batch_ms;
        long long top_max;
        long long retry_ms;
        long long redis_timeout_ms;
        long long kafka_timeout_ms;
} oa_realtime_cfg;

/* As oa_cfg_load for oa-realtime's table, plus the checks the table cannot express (log
 * level, listen address). Returns OA_CFG_LOAD_RUN, OA_CFG_LOAD_EXIT or a negative errno
 * with errbuf. */
int oa_realtime_cfg_load(oa_realtime_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen);
void oa_realtime_cfg_free(oa_realtime_cfg *cfg);
void oa_realtime_cfg_log(const oa_realtime_cfg *cfg);

/* ---- one batch (batch.c) ---- */

typedef struct oa_rt_part {
        int32_t partition;
        int64_t first, last;            /* offsets of the batch's first and last message */
        bool fresh;                     /* first is where a rewind put it: Redis may know
                                         * nothing of this partition yet */
} oa_rt_part;

typedef struct oa_rt_batch {
        char **args;                    /* the commands: argc, then the arguments */
        size_t n_args, cap_args;
        oa_map *touched;                /* key -> what to expire or trim, once per batch */
        oa_rt_part *parts;
        size_t n_parts, cap_parts;
        size_t n_msgs, n_events;        /* messages (bad ones too), events written */
        int64_t started_ms;             /* monotonic time of the first message */
        long long top_max;              /* members kept per minute sorted set */
        bool sealed;                    /* oa_rt_batch_args ran: expiry added, head made */
        char *head;                     /* the head's numbers (oa_rt_batch_args) */
} oa_rt_batch;

/* The script a batch runs (EVALSHA, loaded on first use). */
extern const char oa_rt_script[];

int oa_rt_batch_init(oa_rt_batch *b, long long top_max);
void oa_rt_batch_done(oa_rt_batch *b);
void oa_rt_batch_reset(oa_rt_batch *b);

/* Add the message at (partition, offset) and, when ev is not NULL, the event's writes:
 * visitors, counts, pages, referrers, countries into the minute of received_ms (only while
 * that minute is live at now_ms), and the recent list. rewound is the offset where the
 * daemon last rewound this partition (-1: never): a batch starting there may find Redis
 * empty. Returns 0, -ENOMEM or -EINVAL (a project id a key cannot hold: counted, not
 * written). */
int oa_rt_batch_add(oa_rt_batch *b, const Oa__Event *ev, int32_t partition, int64_t offset,
                    int64_t rewound, int64_t now_ms, int64_t mono_ms);

/* The script's arguments for the batch: partitions with the offset Redis must hold
 * ("-1": none) and the last one, the commands, then one EXPIREAT/EXPIRE, ZREMRANGEBYRANK
 * or LTRIM per touched key. *ret_args (malloc'd array of borrowed strings, valid until the
 * next add or reset) is freed by the caller. Call it again for a retry: the same
 * arguments. No add after it. Returns 0 or -ENOMEM. */
int oa_rt_batch_args(oa_rt_batch *b, const char ***ret_args, size_t *ret_n);

/* The batch's part for partition, or NULL. */
const oa_rt_part *oa_rt_batch_part(const oa_rt_batch *b, int32_t partition);

/* ---- the daemon ---- */

typedef struct oa_realtime_metrics {
        oa_metrics_counter *messages, *events, *bad, *flush_ok, *flush_rewind, *flush_error,
                *rewinds;
        oa_metrics_family *flushes;
        oa_metrics_gauge *redis_up, *batch_events, *age;
} oa_realtime_metrics;

typedef struct oa_realtime {
        const oa_realtime_cfg *cfg;
        oa_metrics *metrics;
        oa_realtime_metrics m;
        oa_http_server *srv;            /* /healthz /readyz /metrics */
        oa_kcons *kc;
        oa_rds *rds;
        oa_rt_batch batch;
        oa_map *rewound;                /* partition (int32) -> offset of the last rewind */
        bool redis_down;
        int64_t retry_at_ms;            /* a failed flush is tried again then */
        char redis_err[200];
        int64_t last_received_ms;       /* newest receive time in the batch */
        int exit_code;
} oa_realtime;

int oa_realtime_metrics_setup(oa_realtime *rt);
int oa_realtime_ready(void *userdata, char *errbuf, size_t errlen);

/* The loop until SIGTERM: returns 0 (stopped; the last batch flushed when Redis
 * answers, offsets committed by the close) or a negative errno. */
int oa_realtime_run(oa_realtime *rt);

#endif

/* Token buckets (GCRA), the second kind of rate limit next to rl.h's fixed windows: a
 * bucket holds up to burst tokens and refills at rate tokens per second; taking n tokens
 * succeeds when n are there. For event streams (POST /collect: 50 events/s per client
 * address with a burst of 100, a site's budget from its plan) where a fixed window would
 * let twice the budget through around a window's edge.
 *
 * Kept as the generic cell rate algorithm: one number per bucket, its theoretical
 * arrival time (TAT) in microseconds; once the clock passes the TAT the bucket is full
 * and needs no state at all. In Redis one Lua script reads Redis's own clock, decides and
 * stores the TAT with an expiry at that moment (key "oa:tb:{id}": a hash tag, one slot
 * under Redis Cluster), so every replica shares one bucket; when Redis does not answer,
 * the same arithmetic runs in process on the local clock (ret->local), so an event is
 * never refused because Redis is down. */
#ifndef OA_TB_H
#define OA_TB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct oa_rds oa_rds;
typedef struct oa_tb oa_tb;

typedef struct oa_tb_result {
        bool allowed;
        long long remaining;            /* whole tokens left (after this take when allowed) */
        long long retry_after_ms;       /* when !allowed: until n tokens are there (>= 1) */
        bool local;                     /* decided in process */
} oa_tb_result;

/* The pure arithmetic: take n tokens from the bucket whose TAT is *tat_us (0: full) at
 * now_us, refilling rate tokens per second (>= 1) up to burst (>= 1). Updates *tat_us only
 * when allowed and fills *ret (local false). More than burst tokens never pass. */
void oa_tb_gcra(long long *tat_us, long long now_us, long long rate, long long burst,
                long long n, oa_tb_result *ret);

/* Buckets over rds (borrowed; NULL: in process only), keeping at most local_max buckets
 * in process. Returns 0 or -ENOMEM. */
int oa_tb_new(oa_rds *rds, size_t local_max, oa_tb **ret);

/* NULL-safe; returns NULL. */
oa_tb *oa_tb_free(oa_tb *tb);

/* Take n tokens of bucket id ("site:S") in Redis, or in process when Redis does not
 * answer. Returns 0, -EINVAL (rate, burst or n below 1) or -ENOMEM. */
int oa_tb_take(oa_tb *tb, const char *id, long long rate, long long burst, long long n,
               oa_tb_result *ret);

/* The in-process path alone with the clock given (Unix microseconds): for tests, and for
 * buckets a daemon keeps per process on purpose (no round trip at all). When the table
 * is full, full buckets (no state) are dropped first, then all. Returns as oa_tb_take. */
int oa_tb_take_local(oa_tb *tb, const char *id, long long rate, long long burst, long long n,
                     long long now_us, oa_tb_result *ret);

/* True while the last decision of oa_tb_take was made in process. */
bool oa_tb_degraded(const oa_tb *tb);

#endif

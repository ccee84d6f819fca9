/* Rate limits: fixed windows (a request budget per key per minute, the plans' "N requests
 * / minute / API key"), counted in Redis so every replica of every daemon shares one
 * budget, and counted in process when Redis cannot be reached, so a request never fails
 * because Redis is down. The window is aligned to Redis's clock (to the local clock in the
 * fallback), and X-RateLimit-Reset is its end in Unix seconds.
 *
 * A process takes requests from Redis in leases sized to what is left of the budget (a
 * 64th, 1 to 10,000) and spends them without a round trip; near the limit leases are of
 * one request, so the limit is never exceeded and the last requests are decided exactly.
 * While much is left, Remaining counts other replicas' unspent leases as used. Call
 * oa_rl_tick from the event loop: it hands back what idle leases did not spend. */
#ifndef OA_RL_H
#define OA_RL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct oa_rds oa_rds;

typedef struct oa_rl_result {
        bool allowed;
        long long limit;        /* X-RateLimit-Limit */
        long long remaining;    /* X-RateLimit-Remaining, never negative */
        long long reset;        /* X-RateLimit-Reset: Unix seconds when the window ends */
        long long retry_after;  /* Retry-After seconds (>= 1) when !allowed, else 0 */
        bool local;             /* decided in process: Redis was unreachable */
} oa_rl_result;

typedef struct oa_rl oa_rl;

/* Decide a request from the window's count including this request. Pure arithmetic:
 * allowed while count <= limit; the window is [start, start + window_s) with
 * start = now_s - now_s % window_s. */
void oa_rl_decide(long long count, long long limit, long long now_s, long long window_s,
                  oa_rl_result *ret);

/* A limiter over rds (borrowed; may be NULL for in-process only) that keeps at most
 * local_max buckets in its fallback table. Returns 0 or -ENOMEM. */
int oa_rl_new(oa_rds *rds, size_t local_max, oa_rl **ret_rl);

/* Free the limiter (not the Redis handle). NULL-safe; returns NULL. */
oa_rl *oa_rl_free(oa_rl *rl);

/* Count one request of bucket id (e.g. "key:K" or "authfail:1.2.3.4") against limit per
 * window_s seconds and fill *ret. Uses Redis when it answers, else the in-process table
 * (ret->local). Returns 0 or -ENOMEM. */
int oa_rl_hit(oa_rl *rl, const char *id, long long limit, long long window_s, oa_rl_result *ret);

/* Read bucket id without counting: ret says whether one more request would pass (for
 * example, an address that has failed authentication too often is refused before its
 * key is even looked at). Returns as oa_rl_hit. */
int oa_rl_peek(oa_rl *rl, const char *id, long long limit, long long window_s, oa_rl_result *ret);

/* The in-process path alone, with the clock given: for tests and for the fallback. */
int oa_rl_hit_local(oa_rl *rl, const char *id, long long limit, long long window_s,
                    long long now_s, oa_rl_result *ret);

/* Hand back to Redis what leases idle for 100 ms did not spend (at most every 50 ms;
 * cheap to call every loop turn). oa_rl_free hands back everything. */
void oa_rl_tick(oa_rl *rl);

/* True while the last decision was made in process (Redis unreachable); lets a daemon warn
 * once when it goes down and once when it is back. */
bool oa_rl_degraded(const oa_rl *rl);

#endif

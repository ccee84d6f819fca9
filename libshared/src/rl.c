/* Fixed-window rate limiting. In Redis one Lua script counts the request and reads the
 * window from Redis's own clock, so replicas with skewed clocks still share one window;
 * the key carries a hash tag so a window's keys stay in one slot under Redis Cluster.
 * The fallback table keeps one bucket per id for the current window and is cleared of
 * old windows when it fills. */
#include "oa/rl.h"

#include "oa/map.h"
#include "oa/rds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* KEYS[1]: the bucket's key prefix; ARGV[1]: window seconds; ARGV[2]: "1" to count this
 * request, "0" to only read. Returns {count, Redis's clock in seconds}. */
static const char rl_script[] =
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1])\n"
        "local w = tonumber(ARGV[1])\n"
        "local k = KEYS[1] .. ':' .. (now - (now % w))\n"
        "local c\n"
        "if ARGV[2] == '1' then\n"
        "  c = redis.call('INCR', k)\n"
        "  if c == 1 then redis.call('EXPIRE', k, w * 2) end\n"
        "else\n"
        "  c = tonumber(redis.call('GET', k) or '0')\n"
        "end\n"
        "return {c, now}\n";

typedef struct bucket {
        long long start;        /* window start, Unix seconds */
        long long count;
} bucket;

struct oa_rl {
        oa_rds *rds;            /* borrowed; NULL: in process only */
        oa_map *local;          /* id -> bucket */
        size_t local_max;
        bool degraded;
};

void oa_rl_decide(long long count, long long limit, long long now_s, long long window_s,
                        oa_rl_result *ret) {
        long long start = now_s - now_s % window_s;

        ret->limit = limit;
        ret->allowed = count <= limit;
        ret->remaining = count >= limit ? 0 : limit - count;
        ret->reset = start + window_s;
        ret->retry_after = ret->allowed ? 0 : (ret->reset - now_s > 0 ? ret->reset - now_s : 1);
        ret->local = false;
}

int oa_rl_new(oa_rds *rds, size_t local_max, oa_rl **ret_rl) {
        oa_rl *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return -ENOMEM;
        rl->local = oa_map_new();
        if (!rl->local) {
                free(rl);
                return -ENOMEM;
        }
        rl->rds = rds;
        rl->local_max = local_max ? local_max : 1;
        *ret_rl = rl;
        return 0;
}

static int free_bucket(const void *k, size_t kl, void *v, void *ud) {
        free(v);
        return 0;
}

oa_rl *oa_rl_free(oa_rl *rl) {
        if (!rl)
                return NULL;
        oa_map_foreach(rl->local, free_bucket, NULL);
        oa_map_free(rl->local);
        free(rl);
        return NULL;
}

struct evict_ctx {
        oa_map *keep;
        long long start;
};

/* Move a bucket of the current window into the new table; free the others. */
static int evict_one(const void *k, size_t kl, void *v, void *ud) {
        struct evict_ctx *e = ud;
        bucket *b = v;

        if (b->start != e->start || oa_map_put(e->keep, k, kl, b, NULL) < 0)
                free(b);
        return 0;
}

/* Drop every bucket of an earlier window; when that frees too little, drop them all (a
 * flood of distinct ids then costs their counts, never unbounded memory). */
static void evict(oa_rl *rl, long long start) {
        struct evict_ctx e = { .keep = oa_map_new(), .start = start };

        if (!e.keep)
                return;
        oa_map_foreach(rl->local, evict_one, &e);
        oa_map_free(rl->local);
        rl->local = e.keep;
        if (oa_map_size(rl->local) >= rl->local_max) {
                oa_map_foreach(rl->local, free_bucket, NULL);
                oa_map_free(rl->local);
                rl->local = oa_map_new();
        }
}

/* Count (incr) or read one bucket of the fallback table. */
static int local_bucket(oa_rl *rl, const char *id, long long limit, long long window_s,
                        long long now_s, bool incr, oa_rl_result *ret) {
        long long start = now_s - now_s % window_s;
        size_t idlen = strlen(id);
        bucket *b;

        if (!rl->local)
                return -ENOMEM;
        b = oa_map_get(rl->local, id, idlen);
        if (!b) {
                if (oa_map_size(rl->local) >= rl->local_max) {
                        evict(rl, start);
                        if (!rl->local)
                                return -ENOMEM;
                }
                b = calloc(1, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                if (oa_map_put(rl->local, id, idlen, b, NULL) < 0) {
                        free(b);
                        return -ENOMEM;
                }
                b->start = start;
        }
        if (b->start != start) {
                b->start = start;
                b->count = 0;
        }
        if (incr)
                b->count++;
        oa_rl_decide(incr ? b->count : b->count + 1, limit, now_s, window_s, ret);
        ret->local = true;
        return 0;
}

int oa_rl_hit_local(oa_rl *rl, const char *id, long long limit, long long window_s,
                    long long now_s, oa_rl_result *ret) {
        return local_bucket(rl, id, limit, window_s, now_s, true, ret);
}

/* Count or read a bucket in Redis, falling back to the table. */
static int count_bucket(oa_rl *rl, const char *id, long long limit, long long window_s, bool incr,
                        oa_rl_result *ret) {
        char key[300], win[24];
        const char *keys[1] = { key }, *args[2] = { win, incr ? "1" : "0" };
        long long count, now;
        int r;

        if (rl->rds) {
                snprintf(key, sizeof(key), "oa:rl:{%.256s}", id);
                snprintf(win, sizeof(win), "%lld", window_s);
                r = oa_rds_eval_ll2(rl->rds, rl_script, 1, keys, 2, args, &count, &now);
                if (r == 0) {
                        rl->degraded = false;
                        /* A read asks "would one more request pass?". */
                        oa_rl_decide(incr ? count : count + 1, limit, now, window_s, ret);
                        return 0;
                }
                rl->degraded = true;
        }
        return local_bucket(rl, id, limit, window_s, (long long) time(NULL), incr, ret);
}

int oa_rl_hit(oa_rl *rl, const char *id, long long limit, long long window_s, oa_rl_result *ret) {
        return count_bucket(rl, id, limit, window_s, true, ret);
}

int oa_rl_peek(oa_rl *rl, const char *id, long long limit, long long window_s, oa_rl_result *ret) {
        return count_bucket(rl, id, limit, window_s, false, ret);
}

bool oa_rl_degraded(const oa_rl *rl) {
        return rl->degraded;
}

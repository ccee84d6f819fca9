/* Fixed-window rate limiting with leases.
 *
 * Redis holds one counter per bucket and window; one Lua script reads Redis's own clock
 * (so replicas with skewed clocks share one window) and grants up to `want` requests of
 * the window's budget at once, never past the limit. A process then spends what it was
 * granted in memory, with no round trip. The lease size follows what is left: one 64th of
 * it, between 1 and 10,000. So while much of the budget is left a busy key costs one
 * round trip per many requests, and near the limit
 * every request asks Redis (leases of 1): the limit is never exceeded, and the last
 * requests of a window are decided exactly. Granted but unspent requests are handed back
 * by oa_rl_tick once a lease has been idle for a moment, so a replica that stops getting
 * traffic does not hold another's budget.
 *
 * The key carries a hash tag, so a window's keys stay in one slot under Redis Cluster.
 * When Redis does not answer, a fallback table counts in process with the same limits:
 * one bucket per id for the current window, cleared of old windows when it fills. */
#include "oa/rl.h"

#include "oa/map.h"
#include "oa/rds.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* KEYS[1]: the bucket's key prefix. ARGV[1]: window seconds; ARGV[2]: requests wanted (0:
 * only read); ARGV[3]: the limit; ARGV[4] (optional): the window start of requests handed
 * back, ARGV[5]: how many. Returns {count after the grant, Redis's clock in seconds,
 * granted}. */
static const char rl_script[] =
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1])\n"
        "local w = tonumber(ARGV[1])\n"
        "local start = now - (now % w)\n"
        "if ARGV[5] then\n"
        "  if tonumber(ARGV[4]) == start then\n"
        "    local kb = KEYS[1] .. ':' .. start\n"
        "    if tonumber(redis.call('GET', kb) or '0') >= tonumber(ARGV[5]) then\n"
        "      redis.call('DECRBY', kb, ARGV[5])\n"
        "    end\n"
        "  end\n"
        "  return {0, now, 0}\n"
        "end\n"
        "local k = KEYS[1] .. ':' .. start\n"
        "local c = tonumber(redis.call('GET', k) or '0')\n"
        "local want = tonumber(ARGV[2])\n"
        "local limit = tonumber(ARGV[3])\n"
        "local grant = want\n"
        "if c + grant > limit then grant = limit - c end\n"
        "if grant > 0 then\n"
        "  c = redis.call('INCRBY', k, grant)\n"
        "  redis.call('EXPIRE', k, w * 2)\n"
        "else\n"
        "  grant = 0\n"
        "end\n"
        "return {c, now, grant}\n";

#define LEASE_MAX 10000         /* most requests granted at once */
#define LEASE_DIVISOR 64        /* lease = what is left / 64 */
#define LEASE_IDLE_MS 100       /* unspent requests go back after this long idle */
#define TICK_EVERY_MS 50        /* oa_rl_tick looks at the leases this often at most */

typedef struct bucket {
        long long start;        /* window start, Unix seconds */
        long long count;
} bucket;

/* What this process holds of one bucket's window in Redis. */
typedef struct lease {
        long long start;        /* window start (Redis's clock) */
        long long limit;
        long long window_s;
        long long count;        /* the window's count in Redis after our last grant */
        long long granted;      /* requests granted to us in this window, in all */
        long long spent;        /* of those, used */
        long long idle_mark;    /* monotonic ms of the last use */
} lease;

struct oa_rl {
        oa_rds *rds;            /* borrowed; NULL: in process only */
        oa_map *local;          /* id -> bucket (the fallback) */
        oa_map *leases;         /* id -> lease */
        size_t local_max;
        long long clock_skew;   /* Redis's clock minus ours, seconds */
        long long last_tick;    /* monotonic ms */
        bool degraded;
};

static long long mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
        rl->leases = oa_map_new();
        if (!rl->local || !rl->leases) {
                oa_map_free(rl->local);
                oa_map_free(rl->leases);
                free(rl);
                return -ENOMEM;
        }
        rl->rds = rds;
        rl->local_max = local_max ? local_max : 1;
        *ret_rl = rl;
        return 0;
}

static int free_value(const void *k, size_t kl, void *v, void *ud) {
        free(v);
        return 0;
}

/* Run the script for bucket id. Returns 0 and {count, now, granted}, or an rds error. */
static int script(oa_rl *rl, const char *id, long long window_s, long long want, long long limit,
                  const lease *giveback, long long out[3]) {
        char key[300], win[24], wantb[24], limb[24], startb[24], backb[24];
        const char *keys[1] = { key };
        const char *args[5] = { win, wantb, limb, startb, backb };

        snprintf(key, sizeof(key), "oa:rl:{%.256s}", id);
        snprintf(win, sizeof(win), "%lld", window_s);
        snprintf(wantb, sizeof(wantb), "%lld", want);
        snprintf(limb, sizeof(limb), "%lld", limit);
        if (giveback) {
                snprintf(startb, sizeof(startb), "%lld", giveback->start);
                snprintf(backb, sizeof(backb), "%lld", giveback->granted - giveback->spent);
        }
        return oa_rds_eval_lln(rl->rds, rl_script, 1, keys, giveback ? 5 : 3, args, out, 3);
}

/* Hand back what a lease did not spend (Redis errors are ignored: the requests are then
 * lost for the rest of the window, never granted twice). */
static void give_back(oa_rl *rl, const char *id, const lease *l) {
        long long out[3];

        if (l->granted > l->spent)
                script(rl, id, l->window_s, 0, l->limit, l, out);
}

struct tick_ctx {
        oa_rl *rl;
        long long now;
        bool all;
        char **drop;
        size_t n_drop, cap;
};

static int tick_one(const void *k, size_t kl, void *v, void *ud) {
        struct tick_ctx *t = ud;
        lease *l = v;
        char **nd;

        if (!t->all && t->now - l->idle_mark < LEASE_IDLE_MS)
                return 0;
        give_back(t->rl, k, l);
        if (t->n_drop == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 16;
                nd = realloc(t->drop, t->cap * sizeof(*nd));
                if (!nd)
                        return 1;
                t->drop = nd;
        }
        t->drop[t->n_drop++] = strndup(k, kl);
        return 0;
}

static void tick(oa_rl *rl, bool all) {
        struct tick_ctx t = { .rl = rl, .now = mono_ms(), .all = all };

        if (!rl->rds || oa_map_size(rl->leases) == 0)
                return;
        oa_map_foreach(rl->leases, tick_one, &t);
        /* The map must not change during the walk: remove afterwards. */
        for (size_t i = 0; i < t.n_drop; i++) {
                if (t.drop[i])
                        free(oa_map_del(rl->leases, t.drop[i], strlen(t.drop[i])));
                free(t.drop[i]);
        }
        free(t.drop);
}

void oa_rl_tick(oa_rl *rl) {
        long long now = mono_ms();

        if (now - rl->last_tick < TICK_EVERY_MS)
                return;
        rl->last_tick = now;
        tick(rl, false);
}

oa_rl *oa_rl_free(oa_rl *rl) {
        if (!rl)
                return NULL;
        tick(rl, true);
        oa_map_foreach(rl->local, free_value, NULL);
        oa_map_foreach(rl->leases, free_value, NULL);
        oa_map_free(rl->local);
        oa_map_free(rl->leases);
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
                oa_map_foreach(rl->local, free_value, NULL);
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

/* Spend one request of a lease. The count Redis holds includes our whole lease, so what
 * the window has really used is that count minus what we have not spent yet. */
static void spend(lease *l, long long now_s, oa_rl_result *ret) {
        long long used;

        l->spent++;
        l->idle_mark = mono_ms();
        used = l->count - (l->granted - l->spent);
        oa_rl_decide(used, l->limit, now_s, l->window_s, ret);
}

/* Ask Redis for requests of bucket id's window and spend one; or read it (want 0). */
static int from_redis(oa_rl *rl, const char *id, long long limit, long long window_s, bool incr,
                      oa_rl_result *ret) {
        size_t idlen = strlen(id);
        lease *l = oa_map_get(rl->leases, id, idlen);
        long long now_s = (long long) time(NULL) + rl->clock_skew;
        long long start = now_s - now_s % window_s, want = 0, out[3];
        int r;

        if (incr && l && l->start == start && l->window_s == window_s && l->limit == limit &&
            l->spent < l->granted) {
                spend(l, now_s, ret);
                return 0;
        }
        if (incr) {
                long long left = l && l->start == start ? limit - l->count : limit;

                want = left / LEASE_DIVISOR;
                want = want < 1 ? 1 : want > LEASE_MAX ? LEASE_MAX : want;
        }
        if (l && (l->start != start || l->window_s != window_s || l->limit != limit)) {
                /* A new window, or a changed plan: what is left of the old lease goes back. */
                give_back(rl, id, l);
                free(oa_map_del(rl->leases, id, idlen));
                l = NULL;
        }
        r = script(rl, id, window_s, want, limit, NULL, out);
        if (r < 0)
                return r;
        rl->clock_skew = out[1] - (long long) time(NULL);
        now_s = out[1];
        start = now_s - now_s % window_s;
        if (!incr) {
                /* A read asks "would one more request pass?". */
                oa_rl_decide(out[0] + 1, limit, now_s, window_s, ret);
                return 0;
        }
        if (out[2] == 0) {
                oa_rl_decide(limit + 1, limit, now_s, window_s, ret);
                return 0;
        }
        if (!l || l->start != start) {
                if (l)
                        free(oa_map_del(rl->leases, id, idlen));
                l = calloc(1, sizeof(*l));
                if (!l)
                        return -ENOMEM;
                if (oa_map_put(rl->leases, id, idlen, l, NULL) < 0) {
                        free(l);
                        return -ENOMEM;
                }
                l->start = start;
                l->limit = limit;
                l->window_s = window_s;
        }
        l->count = out[0];
        l->granted += out[2];
        spend(l, now_s, ret);
        return 0;
}

/* Count or read a bucket in Redis, falling back to the table. */
static int count_bucket(oa_rl *rl, const char *id, long long limit, long long window_s, bool incr,
                        oa_rl_result *ret) {
        int r;

        if (rl->rds) {
                r = from_redis(rl, id, limit, window_s, incr, ret);
                if (r == 0) {
                        rl->degraded = false;
                        return 0;
                }
                if (r == -ENOMEM)
                        return r;
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

/* Token buckets, GCRA (oa/tb.h): a Lua script on Redis's clock, or the same arithmetic in
 * a bounded table in process. */
#include "oa/tb.h"

#include "oa/map.h"
#include "oa/rds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* KEYS[1]: the bucket's key; ARGV: microseconds per token, burst times that, tokens to
 * take. Returns {allowed, microseconds until they would be there, whole tokens left}.
 * Redis's Lua numbers are doubles: microseconds since 1970 fit exactly (< 2^53). */
static const char tb_script[] =
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
        "local per = tonumber(ARGV[1])\n"
        "local tau = tonumber(ARGV[2])\n"
        "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
        "if tat < now then tat = now end\n"
        "local new_tat = tat + tonumber(ARGV[3]) * per\n"
        "local allow_at = new_tat - tau\n"
        "if now < allow_at then\n"
        "  return {0, allow_at - now, math.floor((now - (tat - tau)) / per)}\n"
        "end\n"
        "redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)\n"
        "return {1, 0, math.floor((now - allow_at) / per)}\n";

struct oa_tb {
        oa_rds *rds;
        oa_map *local;          /* id -> long long TAT */
        size_t local_max;
        bool degraded;
};

static long long per_token_us(long long rate) {
        return rate >= 1000000 ? 1 : 1000000 / rate;
}

static long long clamp_tokens(long long v, long long burst) {
        return v < 0 ? 0 : v > burst ? burst : v;
}

void oa_tb_gcra(long long *tat_us, long long now_us, long long rate, long long burst,
                long long n, oa_tb_result *ret) {
        long long per = per_token_us(rate), tau = burst * per;
        long long tat = *tat_us > now_us ? *tat_us : now_us;
        long long new_tat = tat + n * per, allow_at = new_tat - tau;

        ret->local = false;
        if (now_us < allow_at) {
                ret->allowed = false;
                ret->retry_after_ms = (allow_at - now_us + 999) / 1000;
                ret->remaining = clamp_tokens((now_us - (tat - tau)) / per, burst);
                return;
        }
        *tat_us = new_tat;
        ret->allowed = true;
        ret->retry_after_ms = 0;
        ret->remaining = clamp_tokens((now_us - allow_at) / per, burst);
}

int oa_tb_new(oa_rds *rds, size_t local_max, oa_tb **ret) {
        oa_tb *tb = calloc(1, sizeof(*tb));

        if (!tb)
                return -ENOMEM;
        tb->local = oa_map_new();
        if (!tb->local) {
                free(tb);
                return -ENOMEM;
        }
        tb->rds = rds;
        tb->local_max = local_max ? local_max : 1;
        *ret = tb;
        return 0;
}

static int free_value(const void *k, size_t kl, void *v, void *ud) {
        free(v);
        return 0;
}

oa_tb *oa_tb_free(oa_tb *tb) {
        if (!tb)
                return NULL;
        if (tb->local) {
                oa_map_foreach(tb->local, free_value, NULL);
                oa_map_free(tb->local);
        }
        free(tb);
        return NULL;
}

struct keep_ctx {
        oa_map *keep;
        long long now_us;
};

/* Keep a bucket that is not full; a full one (its TAT has passed) is the same as none. */
static int keep_busy(const void *k, size_t kl, void *v, void *ud) {
        struct keep_ctx *e = ud;

        if (*(long long *) v <= e->now_us || oa_map_put(e->keep, k, kl, v, NULL) < 0)
                free(v);
        return 0;
}

/* Make room for one more bucket. */
static int make_room(oa_tb *tb, long long now_us) {
        struct keep_ctx e = { .keep = oa_map_new(), .now_us = now_us };

        if (!e.keep)
                return -ENOMEM;
        oa_map_foreach(tb->local, keep_busy, &e);
        oa_map_free(tb->local);
        tb->local = e.keep;
        if (oa_map_size(tb->local) >= tb->local_max) {
                /* a flood of distinct ids costs their state, never unbounded memory */
                oa_map_foreach(tb->local, free_value, NULL);
                oa_map_free(tb->local);
                tb->local = oa_map_new();
                if (!tb->local)
                        return -ENOMEM;
        }
        return 0;
}

int oa_tb_take_local(oa_tb *tb, const char *id, long long rate, long long burst, long long n,
                     long long now_us, oa_tb_result *ret) {
        size_t idlen = strlen(id);
        long long *tat;

        if (rate < 1 || burst < 1 || n < 1)
                return -EINVAL;
        if (!tb->local)
                return -ENOMEM;
        tat = oa_map_get(tb->local, id, idlen);
        if (!tat) {
                if (oa_map_size(tb->local) >= tb->local_max && make_room(tb, now_us) < 0)
                        return -ENOMEM;
                tat = calloc(1, sizeof(*tat));
                if (!tat)
                        return -ENOMEM;
                if (oa_map_put(tb->local, id, idlen, tat, NULL) < 0) {
                        free(tat);
                        return -ENOMEM;
                }
        }
        oa_tb_gcra(tat, now_us, rate, burst, n, ret);
        ret->local = true;
        return 0;
}

static long long clock_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Ask Redis; 0 and *ret, or -EIO when it did not answer as the script does. */
static int take_redis(oa_tb *tb, const char *id, long long rate, long long burst, long long n,
                      oa_tb_result *ret) {
        char key[300], per[24], tau[24], num[24];
        const char *keys[1] = { key }, *args[3] = { per, tau, num };
        redisReply *rep;
        int r = -EIO;

        snprintf(key, sizeof(key), "oa:tb:{%.256s}", id);
        snprintf(per, sizeof(per), "%lld", per_token_us(rate));
        snprintf(tau, sizeof(tau), "%lld", burst * per_token_us(rate));
        snprintf(num, sizeof(num), "%lld", n);
        rep = oa_rds_eval(tb->rds, tb_script, 1, keys, 3, args);
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
            rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[1]->type == REDIS_REPLY_INTEGER &&
            rep->element[2]->type == REDIS_REPLY_INTEGER) {
                ret->allowed = rep->element[0]->integer == 1;
                ret->retry_after_ms = 0;
                if (!ret->allowed) {
                        ret->retry_after_ms = (rep->element[1]->integer + 999) / 1000;
                        if (ret->retry_after_ms < 1)
                                ret->retry_after_ms = 1;
                }
                ret->remaining = clamp_tokens(rep->element[2]->integer, burst);
                ret->local = false;
                r = 0;
        }
        if (rep)
                freeReplyObject(rep);
        return r;
}

int oa_tb_take(oa_tb *tb, const char *id, long long rate, long long burst, long long n,
               oa_tb_result *ret) {
        if (rate < 1 || burst < 1 || n < 1)
                return -EINVAL;
        if (tb->rds) {
                if (take_redis(tb, id, rate, burst, n, ret) == 0) {
                        tb->degraded = false;
                        return 0;
                }
                tb->degraded = true;
        }
        return oa_tb_take_local(tb, id, rate, burst, n, clock_us(), ret);
}

bool oa_tb_degraded(const oa_tb *tb) {
        return tb->degraded;
}

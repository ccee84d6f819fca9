/* The Redis side of oa-edge. Nothing here is on a request's critical path except the
 * idempotency marks of /v1 (one pipelined round trip per request with event ids):
 *
 *  - Daily salts: oa:salt:{YYYY-MM-DD} (UTC) holds 32 random bytes, created by whichever
 *    replica asks first (SET NX) and read back by all, kept 48 hours so yesterday's
 *    outlives midnight (a DSAR or a replica that started late can still use it) and
 *    older ones vanish by themselves. The key in use is cached; the day's salt is asked
 *    for once when the UTC date changes. Redis away: the salt in hand stays in use; with
 *    none at all, a process-local random one (oa_edge_salt_local 1), offered to Redis
 *    with SET NX once it answers so the replicas converge on one salt.
 *  - Drop counts: HINCRBY oa:drops:{project}:{YYYY-MM-DD} {reason} n, with the key
 *    expiring after 35 days, accumulated in memory and written in one pipeline every
 *    OA_EDGE_DROPS_FLUSH_MS, so /collect never waits on Redis.
 *  - Idempotency marks: oa:idem:{project}:{event_id}, "p" while the event is being
 *    written (SET NX, 2 minutes), "1" once Kafka acknowledged it (24 hours); see v1.c. */
#include "edge.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SALT_TTL_S (48 * 3600)
#define SALT_RETRY_MS 5000

static const char *const drop_names[OA_EDGE_N_DROPS] = {
        [OA_EDGE_DROP_BOT] = "bot",
        [OA_EDGE_DROP_INVALID] = "invalid",
        [OA_EDGE_DROP_UNKNOWN_SITE] = "unknown_site",
        [OA_EDGE_DROP_RATE_LIMITED] = "rate_limited",
        [OA_EDGE_DROP_TOO_LARGE] = "too_large",
        [OA_EDGE_DROP_QUEUE_FULL] = "queue_full",
        [OA_EDGE_DROP_UNDELIVERED] = "undelivered",
};

const char *oa_edge_drop_name(oa_edge_drop_reason d) {
        return (unsigned) d < OA_EDGE_N_DROPS ? drop_names[d] : "unknown";
}

/* ---- drop counts ---- */

int oa_edge_drops_init(oa_edge_drops *d, size_t max_keys) {
        memset(d, 0, sizeof(*d));
        d->counts = oa_map_new();
        d->max_keys = max_keys;
        return d->counts ? 0 : -ENOMEM;
}

static int free_value(const void *k, size_t kl, void *v, void *ud) {
        free(v);
        return 0;
}

void oa_edge_drops_done(oa_edge_drops *d) {
        if (d->counts) {
                oa_map_foreach(d->counts, free_value, NULL);
                oa_map_free(d->counts);
        }
        d->counts = NULL;
}

int oa_edge_drops_add(oa_edge_drops *d, const char *date, const char *project, oa_edge_drop_reason reason,
                      uint64_t n) {
        char key[160];
        int klen;
        uint64_t *c;

        klen = snprintf(key, sizeof(key), "%s%c%s%c%s", date, 0, project ? project : OA_EDGE_UNATTRIBUTED,
                        0, oa_edge_drop_name(reason));
        if (klen < 0 || (size_t) klen >= sizeof(key))
                return -EINVAL;
        c = oa_map_get(d->counts, key, (size_t) klen);
        if (c) {
                *c += n;
                return 0;
        }
        if (oa_map_size(d->counts) >= d->max_keys) {
                d->lost += n;
                return -E2BIG;
        }
        c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = n;
        if (oa_map_put(d->counts, key, (size_t) klen, c, NULL) < 0) {
                free(c);
                return -ENOMEM;
        }
        return 0;
}

size_t oa_edge_drops_pending(const oa_edge_drops *d) {
        return oa_map_size(d->counts);
}

typedef struct flush_ctx {
        oa_rds *rds;
        int err;
        size_t n;
} flush_ctx;

static int append_one(const void *k, size_t kl, void *v, void *ud) {
        flush_ctx *f = ud;
        const char *date = k, *project = date + strlen(date) + 1, *reason = project + strlen(project) + 1;
        char key[160];

        snprintf(key, sizeof(key), "oa:drops:%s:%s", project, date);
        f->err = oa_rds_append(f->rds, "HINCRBY %s %s %llu", key, reason, (unsigned long long) *(uint64_t *) v);
        if (f->err == 0)
                f->err = oa_rds_append(f->rds, "EXPIRE %s %d", key, OA_EDGE_DROPS_TTL_S);
        if (f->err == 0)
                f->n++;
        return f->err != 0;
}

int oa_edge_drops_flush(oa_edge_drops *d, oa_rds *rds) {
        flush_ctx f = { .rds = rds };
        oa_map *sent;
        int r = 0;

        if (oa_map_size(d->counts) == 0)
                return 0;
        oa_map_foreach(d->counts, append_one, &f);
        /* read every reply queued, even after an append failed */
        for (size_t i = 0; i < 2 * f.n; i++) {
                redisReply *rep = NULL;
                int e = oa_rds_get_reply(rds, &rep);

                if (e < 0 && r == 0)
                        r = e;
                else if (rep && rep->type == REDIS_REPLY_ERROR && r == 0)
                        r = -EPROTO;
                if (rep)
                        freeReplyObject(rep);
        }
        if (f.err < 0 && r == 0)
                r = f.err;
        if (r < 0)
                return r;       /* kept for the next flush */
        sent = d->counts;
        d->counts = oa_map_new();
        if (!d->counts) {
                d->counts = sent;       /* keep counting into the old table */
                return -ENOMEM;
        }
        oa_map_foreach(sent, free_value, NULL);
        oa_map_free(sent);
        return (int) f.n;
}

void oa_edge_drop(oa_edge *e, const char *project_id, oa_edge_drop_reason reason) {
        oa_metrics_counter_inc(e->m.drop[reason], 1);
        oa_edge_drops_add(&e->drops, e->date, project_id, reason, 1);
}

void oa_edge_drops_tick(oa_edge *e, int64_t mono_ms, bool force) {
        int r;

        if (!force && mono_ms < e->next_flush_ms)
                return;
        e->next_flush_ms = mono_ms + e->cfg->drops_flush_ms;
        if (oa_edge_drops_pending(&e->drops) == 0)
                return;
        r = oa_edge_drops_flush(&e->drops, e->rds);
        if (r < 0) {
                oa_metrics_counter_inc(e->m.drops_flush_failures, 1);
                if (e->log_debug)
                        oa_log_debug("drop counts not written to Redis", "error", oa_rds_errstr(e->rds));
        }
}

/* ---- idempotency ---- */

char *oa_edge_idem_key(oa_arena *a, const char *project_id, const char *event_id) {
        size_t pl = strlen(project_id), el = strlen(event_id);
        char *k = oa_arena_alloc(a, 8 + pl + 1 + el + 1);

        if (!k)
                return NULL;
        memcpy(k, "oa:idem:", 8);
        memcpy(k + 8, project_id, pl);
        k[8 + pl] = ':';
        memcpy(k + 9 + pl, event_id, el + 1);
        return k;
}

/* Read the replies of `queued` commands; a failure or an error reply is reported. */
static int drain_replies(oa_rds *rds, size_t queued, int r) {
        for (size_t i = 0; i < queued; i++) {
                redisReply *rep = NULL;
                int e = oa_rds_get_reply(rds, &rep);

                if (e < 0 && r == 0)
                        r = e;
                else if (rep && rep->type == REDIS_REPLY_ERROR && r == 0)
                        r = -EPROTO;
                if (rep)
                        freeReplyObject(rep);
        }
        return r;
}

static int redis_mark(void *ctx, const char *const *keys, size_t n, oa_edge_mark *ret) {
        oa_rds *rds = ctx;
        size_t queued = 0;
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++) {
                r = oa_rds_append(rds, "SET %s p NX PX %d", keys[i], OA_EDGE_IDEM_PENDING_MS);
                if (r == 0)
                        r = oa_rds_append(rds, "GET %s", keys[i]);
                if (r == 0)
                        queued++;
        }
        if (r < 0)
                return drain_replies(rds, 2 * queued, r);
        for (size_t i = 0; i < n; i++) {
                redisReply *set = NULL, *get = NULL;
                int e = oa_rds_get_reply(rds, &set);

                if (e == 0)
                        e = oa_rds_get_reply(rds, &get);
                if (e < 0 && r == 0)
                        r = e;
                if (r == 0 && set && set->type == REDIS_REPLY_STATUS)
                        ret[i] = OA_EDGE_MARK_NEW;              /* OK: ours now */
                else if (r == 0 && set && set->type == REDIS_REPLY_NIL)
                        /* marked before: "1" acknowledged; "p", or gone meanwhile, is
                         * being written by someone: not a duplicate yet */
                        ret[i] = get && get->type == REDIS_REPLY_STRING && get->len == 1 && get->str[0] == '1'
                                 ? OA_EDGE_MARK_DONE : OA_EDGE_MARK_PENDING;
                else if (r == 0)
                        r = -EPROTO;
                if (set)
                        freeReplyObject(set);
                if (get)
                        freeReplyObject(get);
        }
        return r;
}

static int redis_confirm(void *ctx, const char *const *keys, size_t n) {
        oa_rds *rds = ctx;
        size_t queued = 0;
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = oa_rds_append(rds, "SET %s 1 EX %d", keys[i], OA_EDGE_IDEM_TTL_S)) == 0)
                        queued++;
        return drain_replies(rds, queued, r);
}

static int redis_unmark(void *ctx, const char *const *keys, size_t n) {
        oa_rds *rds = ctx;
        size_t queued = 0;
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = oa_rds_append(rds, "DEL %s", keys[i])) == 0)
                        queued++;
        return drain_replies(rds, queued, r);
}

oa_edge_idem_ops oa_edge_idem_redis(oa_rds *rds) {
        return (oa_edge_idem_ops) {
                .mark = redis_mark, .confirm = redis_confirm, .unmark = redis_unmark, .ctx = rds,
        };
}

/* ---- daily salts ---- */

static void salt_key(int64_t day, char *buf, size_t len) {
        time_t s = (time_t) (day * 86400);
        struct tm tm;

        gmtime_r(&s, &tm);
        strftime(buf, len, "oa:salt:%Y-%m-%d", &tm);
}

/* SET NX our candidate, GET the winner, in one round trip. 0 and the salt in out. */
static int salt_fetch(oa_rds *rds, int64_t day, const unsigned char *candidate, unsigned char *out) {
        char key[48];
        redisReply *rep = NULL;
        int r;

        salt_key(day, key, sizeof(key));
        r = oa_rds_append(rds, "SET %s %b NX EX %d", key, (const char *) candidate, (size_t) 32, SALT_TTL_S);
        if (r == 0)
                r = oa_rds_append(rds, "GET %s", key);
        if (r < 0)
                return r;
        r = oa_rds_get_reply(rds, &rep);
        if (rep)
                freeReplyObject(rep);
        rep = NULL;
        if (r == 0)
                r = oa_rds_get_reply(rds, &rep);
        if (r == 0 && !(rep && rep->type == REDIS_REPLY_STRING && rep->len == 32))
                r = -EPROTO;    /* someone stored something else there */
        if (r == 0)
                memcpy(out, rep->str, 32);
        if (rep)
                freeReplyObject(rep);
        return r;
}

static int salt_use(oa_edge *e, int64_t day, const unsigned char *bytes, bool local) {
        oa_visitor_key *k = NULL;
        int r = oa_visitor_key_new(bytes, 32, &k);

        if (r < 0)
                return r;
        oa_visitor_key_free(e->salt.key);
        e->salt.key = k;
        e->salt.day = day;
        e->salt.local = local;
        memcpy(e->salt.bytes, bytes, 32);
        oa_metrics_gauge_set(e->m.salt_local, local ? 1 : 0);
        return 0;
}

void oa_edge_salt_refresh(oa_edge *e, int64_t now_ms, int64_t mono_ms) {
        int64_t day = now_ms / 86400000;
        unsigned char cand[32], got[32];
        bool was_local = e->salt.local;
        int r;

        if ((day == e->salt.day && !e->salt.local) || mono_ms < e->salt.retry_ms)
                return;
        /* A local salt of today is offered as the candidate: if no replica set one, it
         * becomes the shared one and visitor ids do not change. */
        if (e->salt.local && e->salt.day == day)
                memcpy(cand, e->salt.bytes, 32);
        else if (getrandom(cand, sizeof(cand), 0) != (ssize_t) sizeof(cand))
                return;
        r = salt_fetch(e->rds, day, cand, got);
        if (r == 0 && salt_use(e, day, got, false) == 0) {
                e->salt.retry_ms = 0;
                if (was_local)
                        oa_log_info("visitor ids use the shared salt from Redis again");
                e->salt.failing = false;
                return;
        }
        oa_metrics_counter_inc(e->m.salt_failures, 1);
        e->salt.retry_ms = mono_ms + SALT_RETRY_MS;
        if (e->salt.key && e->salt.day == day)
                return;         /* today's local one stays */
        if (e->salt.key) {
                /* Yesterday's stays in use (ids keep their day) until Redis answers. */
                if (!e->salt.failing)
                        oa_log_warn("today's salt not readable from Redis; keeping yesterday's",
                                    "error", oa_rds_errstr(e->rds));
                e->salt.failing = true;
                return;
        }
        if (salt_use(e, day, cand, true) == 0)
                oa_log_warn("no shared salt (Redis does not answer): visitor ids use a process-local "
                            "salt until it does", "error", oa_rds_errstr(e->rds));
        e->salt.failing = true;
}

void oa_edge_salt_done(oa_edge *e) {
        e->salt.key = oa_visitor_key_free(e->salt.key);
        OPENSSL_cleanse(e->salt.bytes, sizeof(e->salt.bytes));
}

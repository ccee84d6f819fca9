/* The door of authenticated /v1 requests (oa/gate.h): failed-authentication budget per
 * address, oa_auth_check (through the cache of recognised keys), the key's budget per
 * minute, in that order; and the rate-limit headers of the answer. */
#include "oa/gate.h"

#include "oa/entity.h"
#include "oa/http.h"
#include "oa/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The daemons copy key_id whole into their own OA_ENTITY_ID_MAX bytes. */
_Static_assert(OA_GATE_KEY_ID_MAX == OA_ENTITY_ID_MAX, "a key id fits both");

typedef struct suspect {
        uint64_t hash;
        int64_t until_s;
} suspect;

struct oa_gate {
        oa_rl *rl;
        oa_auth_cache *keys;            /* recognised keys (oa/auth.h) */
        long long auth_fail_limit;
        suspect suspects[OA_GATE_SUSPECTS];
};

int oa_gate_new(oa_rl *rl, long long auth_fail_limit, oa_gate **ret) {
        oa_gate *g = calloc(1, sizeof(*g));

        if (!g)
                return -ENOMEM;
        if (oa_auth_cache_new(OA_GATE_KEY_CACHE, &g->keys) < 0) {
                free(g);
                return -ENOMEM;
        }
        g->rl = rl;
        g->auth_fail_limit = auth_fail_limit;
        *ret = g;
        return 0;
}

oa_gate *oa_gate_free(oa_gate *g) {
        if (!g)
                return NULL;
        oa_auth_cache_free(g->keys);
        free(g);
        return NULL;
}

static uint64_t fnv1a(const char *s) {
        uint64_t h = 1469598103934665603ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

static bool is_suspect(const oa_gate *g, const char *bucket, int64_t now) {
        uint64_t h = fnv1a(bucket);
        const suspect *s = &g->suspects[h % OA_GATE_SUSPECTS];

        /* A collision only costs a Redis question. */
        return s->hash == h && s->until_s > now;
}

static void add_suspect(oa_gate *g, const char *bucket, int64_t now) {
        uint64_t h = fnv1a(bucket);
        suspect *s = &g->suspects[h % OA_GATE_SUSPECTS];

        s->hash = h;
        s->until_s = now + OA_GATE_SUSPECT_S;
}

/* Count (or only read) bucket id; false when the limiter itself failed. */
static bool limit(oa_gate *g, bool count, const char *id, long long n, oa_rl_result *ret,
                  bool *ret_local) {
        int r = count ? oa_rl_hit(g->rl, id, n, OA_GATE_WINDOW_S, ret)
                      : oa_rl_peek(g->rl, id, n, OA_GATE_WINDOW_S, ret);

        if (r < 0)
                return false;
        *ret_local |= ret->local;
        return true;
}

static void refuse(oa_gate_result *ret, oa_gate_outcome o, int status, const char *error,
                   const char *message) {
        ret->outcome = o;
        ret->status = status;
        ret->error = error;
        ret->message = message;
}

static const char blocked_msg[] = "too many failed authentications from this address; retry later";

void oa_gate_check(oa_gate *g, const oa_catalog *c, const char *client, const char *authz,
                   size_t authz_len, unsigned scope, const char *project_id, int64_t now_s,
                   oa_gate_result *ret) {
        static const char authfail[] = "authfail:", unknown[] = "unknown", keyp[] = "key:";
        const size_t alen = sizeof(authfail) - 1;
        char bucket[96];
        oa_rl_result res;
        size_t n;

        memset(ret, 0, sizeof(*ret));
        memcpy(bucket, authfail, alen);
        if (!client || oa_proxies_client_bucket(client, bucket + alen, sizeof(bucket) - alen) < 0)
                memcpy(bucket + alen, unknown, sizeof(unknown));

        /* An address over its failed-authentication budget: refused before its key is
         * looked at. */
        if (is_suspect(g, bucket, now_s) &&
            limit(g, false, bucket, g->auth_fail_limit, &res, &ret->authfail_local) && !res.allowed) {
                ret->limit = res;
                ret->has_limit = true;
                ret->retry_after = res.retry_after;
                ret->authfail = OA_GATE_REFUSED;
                refuse(ret, OA_GATE_BLOCKED, 429, "rate_limited", blocked_msg);
                return;
        }

        oa_auth_check_cached(g->keys, c, authz, authz_len, scope, project_id, &ret->auth);
        if (ret->auth.status == 401) {
                add_suspect(g, bucket, now_s);
                if (limit(g, true, bucket, g->auth_fail_limit, &res, &ret->authfail_local)) {
                        ret->limit = res;
                        ret->has_limit = true;
                        if (!res.allowed) {
                                ret->retry_after = res.retry_after;
                                ret->authfail = OA_GATE_REFUSED;
                                refuse(ret, OA_GATE_BLOCKED, 429, "rate_limited", blocked_msg);
                                return;
                        }
                        ret->authfail = OA_GATE_ALLOWED;
                }
                refuse(ret, OA_GATE_UNAUTHORIZED, 401, ret->auth.error, ret->auth.message);
                return;
        }

        /* A key was recognised: everything from here is counted against its plan. */
        n = strnlen(ret->auth.key->id, sizeof(bucket) - sizeof(keyp));
        memcpy(bucket, keyp, sizeof(keyp) - 1);
        memcpy(bucket + sizeof(keyp) - 1, ret->auth.key->id, n);
        bucket[sizeof(keyp) - 1 + n] = '\0';
        n = n < sizeof(ret->key_id) ? n : sizeof(ret->key_id) - 1;
        memcpy(ret->key_id, ret->auth.key->id, n);
        ret->key_id[n] = '\0';
        if (limit(g, true, bucket, oa_catalog_plan_limit(ret->auth.account), &res, &ret->key_local)) {
                ret->limit = res;
                ret->has_limit = true;
                if (!res.allowed) {
                        ret->retry_after = res.retry_after;
                        ret->key = OA_GATE_REFUSED;
                        snprintf(ret->buf, sizeof(ret->buf), "rate limit of %lld requests per minute for "
                                 "this key exceeded; retry after %lld s", res.limit, res.retry_after);
                        refuse(ret, OA_GATE_LIMITED, 429, "rate_limited", ret->buf);
                        return;
                }
                ret->key = OA_GATE_ALLOWED;
        }
        if (ret->auth.status) {
                refuse(ret, ret->auth.status == 403 ? OA_GATE_FORBIDDEN : OA_GATE_NOT_FOUND,
                       ret->auth.status, ret->auth.error, ret->auth.message);
                return;
        }
        ret->outcome = OA_GATE_OK;
}

static const oa_http_name h_limit = OA_HTTP_NAME("x-ratelimit-limit", "X-RateLimit-Limit");
static const oa_http_name h_remaining = OA_HTTP_NAME("x-ratelimit-remaining", "X-RateLimit-Remaining");
static const oa_http_name h_reset = OA_HTTP_NAME("x-ratelimit-reset", "X-RateLimit-Reset");

void oa_gate_add_headers(h2o_req_t *req, const oa_rl_result *limit, long long retry_after, int status) {
        if (limit) {
                oa_http_add_named_u64(req, &h_limit, (uint64_t) limit->limit);
                oa_http_add_named_u64(req, &h_remaining, (uint64_t) limit->remaining);
                oa_http_add_named_u64(req, &h_reset, (uint64_t) limit->reset);
        }
        if (retry_after > 0 && (status == 429 || status == 503))
                oa_http_add_header_u64(req, "Retry-After", (uint64_t) retry_after);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, "Cache-Control",
                       H2O_STRLIT("no-store"));
}

/* ---- metrics ---- */

int oa_gate_counters_init(oa_gate_counters *c, oa_metrics_family *auth, oa_metrics_family *limit,
                          oa_metrics_family *limit_local) {
        int r = 0;

#define CHILD(fam, out, ...) \
        if (r == 0) \
                r = oa_metrics_family_counter(fam, (const char *const[]) { __VA_ARGS__ }, &c->out)
        CHILD(auth, auth_ok, "ok");
        CHILD(auth, auth_unauthorized, "unauthorized");
        CHILD(auth, auth_forbidden, "forbidden");
        CHILD(auth, auth_not_found, "not_found");
        CHILD(auth, auth_blocked, "blocked");
        CHILD(limit, key_allowed, "key", "allowed");
        CHILD(limit, key_limited, "key", "limited");
        CHILD(limit, fail_allowed, "authfail", "allowed");
        CHILD(limit, fail_limited, "authfail", "limited");
        CHILD(limit_local, key_local, "key");
        CHILD(limit_local, fail_local, "authfail");
#undef CHILD
        return r;
}

void oa_gate_count(const oa_gate_counters *c, const oa_gate_result *g) {
        if (g->authfail == OA_GATE_ALLOWED)
                oa_metrics_counter_inc(c->fail_allowed, 1);
        else if (g->authfail == OA_GATE_REFUSED)
                oa_metrics_counter_inc(c->fail_limited, 1);
        if (g->key == OA_GATE_ALLOWED)
                oa_metrics_counter_inc(c->key_allowed, 1);
        else if (g->key == OA_GATE_REFUSED)
                oa_metrics_counter_inc(c->key_limited, 1);
        if (g->authfail_local)
                oa_metrics_counter_inc(c->fail_local, 1);
        if (g->key_local)
                oa_metrics_counter_inc(c->key_local, 1);
        switch (g->outcome) {
        case OA_GATE_OK:
                oa_metrics_counter_inc(c->auth_ok, 1);
                break;
        case OA_GATE_BLOCKED:
                oa_metrics_counter_inc(c->auth_blocked, 1);
                break;
        case OA_GATE_UNAUTHORIZED:
                oa_metrics_counter_inc(c->auth_unauthorized, 1);
                break;
        case OA_GATE_FORBIDDEN:
                oa_metrics_counter_inc(c->auth_forbidden, 1);
                break;
        case OA_GATE_NOT_FOUND:
                oa_metrics_counter_inc(c->auth_not_found, 1);
                break;
        case OA_GATE_LIMITED:
                break;
        }
}

/* The door of every authenticated /v1 request, the same in oa-query and oa-edge: an
 * address over its failed-authentication budget is refused (429) before its key is
 * looked at; then the key is authenticated for the route's scope and project
 * (oa_auth_check: 401, 403, 404); a failed authentication counts against the address; a
 * recognised key's request counts against its plan's budget per minute (429). The
 * result says what to answer and which budget the X-RateLimit-* headers describe: the
 * key's once a key was recognised (also on the 403 and 404 that follow), the address's
 * failed-authentication budget on 401 and on the 429 that refuses an address.
 *
 * The limiter is asked about an address before its key is looked at only when this
 * process saw that address fail lately (a small lossy set of suspects), so a healthy
 * request costs one limiter decision, not two. Failures seen by other replicas still count: the next failure
 * here meets the shared count and is refused, and from then on the address is a suspect
 * here too. Recognised keys are remembered (oa_auth_check_cached), so a key seen lately
 * is not hashed again; any change to the catalogue forgets them all. No logging: the daemon counts and logs from the result. */
#ifndef OA_GATE_H
#define OA_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oa/auth.h"
#include "oa/metrics.h"
#include "oa/rl.h"

#define OA_GATE_WINDOW_S 60             /* the plans' budgets are per minute */
#define OA_GATE_SUSPECTS 4096
#define OA_GATE_SUSPECT_S 120           /* a failure makes an address a suspect this long */
#define OA_GATE_KEY_ID_MAX 32           /* bytes of oa_gate_result.key_id, with its NUL */
#define OA_GATE_KEY_CACHE 512           /* recognised keys remembered (oa_auth_cache) */

typedef struct oa_gate oa_gate;

typedef enum oa_gate_outcome {
        OA_GATE_OK = 0,
        OA_GATE_BLOCKED,                /* 429: the address failed authentication too often */
        OA_GATE_UNAUTHORIZED,           /* 401 (answer with WWW-Authenticate: Bearer) */
        OA_GATE_LIMITED,                /* 429: over the key's budget */
        OA_GATE_FORBIDDEN,              /* 403 */
        OA_GATE_NOT_FOUND,              /* 404 */
} oa_gate_outcome;

/* What a budget said, for metrics. */
typedef enum oa_gate_decision {
        OA_GATE_NOT_COUNTED = 0,
        OA_GATE_ALLOWED,
        OA_GATE_REFUSED,
} oa_gate_decision;

typedef struct oa_gate_result {
        oa_gate_outcome outcome;
        int status;                     /* 0 (go on), 401, 403, 404 or 429 */
        const char *error;              /* the error code of the body, NULL when OK */
        const char *message;            /* its message (may point into this struct) */
        oa_auth_result auth;            /* key and account from 403 on, project when OK */
        bool has_limit;                 /* limit holds what X-RateLimit-* should say */
        oa_rl_result limit;
        long long retry_after;          /* > 0: send Retry-After */
        oa_gate_decision authfail;      /* the address's failed-authentication budget */
        oa_gate_decision key;           /* the key's budget */
        bool authfail_local, key_local; /* decided in process (Redis did not answer) */
        char key_id[OA_GATE_KEY_ID_MAX]; /* the recognised key's id (cut), "" before */
        char buf[160];
} oa_gate_result;

/* A gate counting in rl (borrowed) with auth_fail_limit failed authentications per
 * minute per address. Returns 0 or -ENOMEM. */
int oa_gate_new(oa_rl *rl, long long auth_fail_limit, oa_gate **ret);

/* NULL-safe; returns NULL. */
oa_gate *oa_gate_free(oa_gate *g);

/* Judge one request: client is the client's address as text (oa_http_client_ip;
 * anything else is one shared "unknown" bucket), authz the Authorization header's value
 * (authz_len bytes; NULL when missing), scope the route's OA_SCOPE_* bit (0: any valid
 * key), project_id the project of the path or NULL, now_s the Unix time. Fills *ret;
 * ret->status 0 means the request may proceed. A limiter failure (out of memory) lets
 * the request through without limit headers rather than failing it. */
void oa_gate_check(oa_gate *g, const oa_catalog *c, const char *client, const char *authz,
                   size_t authz_len, unsigned scope, const char *project_id, int64_t now_s,
                   oa_gate_result *ret);

/* The headers every /v1 answer carries, added to req's response: X-RateLimit-Limit,
 * -Remaining and -Reset from limit (NULL: none, as before the catalogue is loaded),
 * Retry-After when retry_after > 0 and status is 429 or 503, and Cache-Control:
 * no-store. Call before sending. */
struct st_h2o_req_t;
void oa_gate_add_headers(struct st_h2o_req_t *req, const oa_rl_result *limit, long long retry_after,
                         int status);

/* The gate's decisions in a daemon's metrics: the children of its families
 * <prog>_auth_total{result}, <prog>_ratelimit_decisions_total{limit, decision} and
 * <prog>_ratelimit_local_total{limit}, looked up once. */
typedef struct oa_gate_counters {
        oa_metrics_counter *auth_ok, *auth_unauthorized, *auth_forbidden, *auth_not_found,
                *auth_blocked;
        oa_metrics_counter *key_allowed, *key_limited, *fail_allowed, *fail_limited;
        oa_metrics_counter *key_local, *fail_local;
} oa_gate_counters;

/* Look the children up in the three families. Returns 0 or an oa_metrics error. */
int oa_gate_counters_init(oa_gate_counters *c, oa_metrics_family *auth, oa_metrics_family *limit,
                          oa_metrics_family *limit_local);

/* Count one decision of oa_gate_check. */
void oa_gate_count(const oa_gate_counters *c, const oa_gate_result *g);

#endif

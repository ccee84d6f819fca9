/* Tests for libshared/src/gate.c: the order of the checks of an authenticated /v1
 * request, which budget the headers describe, and the failed-authentication block. The
 * limiter runs in process (no Redis). */
#include "oa/gate.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oa_catalog *cat;
static oa_rl *rl;
static oa_gate *gate;
static char secret_w[OA_KEY_SECRET_LEN + 1];    /* events:write, every project of a1 */
static char secret_r[OA_KEY_SECRET_LEN + 1];    /* stats:read only */
static char authz_w[80], authz_r[80], authz_bad[80];

static void apply(const char *key, Oa__Record *rec) {
        size_t n;
        uint8_t *buf;
        char err[256];

        rec->version = 1;
        n = oa__record__get_packed_size(rec);
        buf = malloc(n ? n : 1);
        oa__record__pack(rec, buf);
        cr_assert_eq(oa_catalog_apply(cat, key, strlen(key), buf, n, err, sizeof(err)), 0, "%s", err);
        free(buf);
}

static void add_key(const char *id, char *secret, char *scope) {
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        unsigned char hash[OA_KEY_HASH_LEN];
        char key[64], *scopes[1] = { scope };

        cr_assert_eq(oa_key_generate(secret), 0);
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        k.id = (char *) id;
        k.account_id = "acc_a1";
        k.scopes = scopes;
        k.n_scopes = 1;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        snprintf(key, sizeof(key), "key/%s", id);
        apply(key, &rec);
}

static void setup(void) {
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__Project p = OA__PROJECT__INIT, q = OA__PROJECT__INIT;
        Oa__Record rec = OA__RECORD__INIT;

        cat = oa_catalog_new();
        a.id = "acc_a1";
        a.plan = OA__PLAN__PLAN_FREE;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        apply("account/acc_a1", &rec);
        a.id = "acc_a2";
        apply("account/acc_a2", &rec);
        p.id = "prj_p1";
        p.account_id = "acc_a1";
        p.site_id = "site_1";
        rec = (Oa__Record) OA__RECORD__INIT;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        apply("project/prj_p1", &rec);
        q.id = "prj_other";
        q.account_id = "acc_a2";
        q.site_id = "site_2";
        rec.project = &q;
        apply("project/prj_other", &rec);
        add_key("key_w", secret_w, "events:write");
        add_key("key_r", secret_r, "stats:read");
        snprintf(authz_w, sizeof(authz_w), "Bearer %s", secret_w);
        snprintf(authz_r, sizeof(authz_r), "Bearer %s", secret_r);
        snprintf(authz_bad, sizeof(authz_bad), "Bearer oa_live_%s", "0123456789abcdefghijABCDEFGHIJ01");
        cr_assert_eq(oa_rl_new(NULL, 1000, &rl), 0);
        cr_assert_eq(oa_gate_new(rl, 3, &gate), 0);
}

static void teardown(void) {
        gate = oa_gate_free(gate);
        rl = oa_rl_free(rl);
        cat = oa_catalog_free(cat);
}

static void check(const char *client, const char *authz, const char *project, oa_gate_result *g) {
        oa_gate_check(gate, cat, client, authz, authz ? strlen(authz) : 0, OA_SCOPE_EVENTS_WRITE, project,
                      1000000, g);
}

TestSuite(oa_gate, .init = setup, .fini = teardown);

Test(oa_gate, a_good_key_passes_with_its_budget_in_the_headers) {
        oa_gate_result g;

        check("198.51.100.9", authz_w, "prj_p1", &g);
        cr_assert_eq(g.status, 0, "%s", g.message ? g.message : "");
        cr_assert_eq(g.outcome, OA_GATE_OK);
        cr_assert_str_eq(g.auth.project->id, "prj_p1");
        cr_assert(g.has_limit);
        cr_assert_eq(g.limit.limit, 60, "the free plan's budget");
        cr_assert_eq(g.limit.remaining, 59);
        cr_assert_eq(g.key, OA_GATE_ALLOWED);
        cr_assert(g.key_local);
}

Test(oa_gate, missing_or_unknown_keys_are_401_with_the_address_budget) {
        oa_gate_result g;

        check("198.51.100.9", NULL, "prj_p1", &g);
        cr_assert_eq(g.status, 401);
        cr_assert_eq(g.outcome, OA_GATE_UNAUTHORIZED);
        cr_assert_str_eq(g.error, "unauthorized");
        cr_assert(g.has_limit);
        cr_assert_eq(g.limit.limit, 3, "the failed-authentication budget");
        cr_assert_eq(g.authfail, OA_GATE_ALLOWED);
        check("198.51.100.9", authz_bad, "prj_p1", &g);
        cr_assert_eq(g.status, 401);
}

Test(oa_gate, scope_before_project_and_other_accounts_are_404) {
        oa_gate_result g;

        check("198.51.100.9", authz_r, "prj_other", &g);
        cr_assert_eq(g.status, 403, "the scope is checked first: nothing learnt about the project");
        cr_assert_eq(g.outcome, OA_GATE_FORBIDDEN);
        cr_assert(g.has_limit, "counted against the key");
        cr_assert_eq(g.limit.limit, 60);
        check("198.51.100.9", authz_w, "prj_other", &g);
        cr_assert_eq(g.status, 404);
        cr_assert_eq(g.outcome, OA_GATE_NOT_FOUND);
        check("198.51.100.9", authz_w, "prj_nope", &g);
        cr_assert_eq(g.status, 404);
}

Test(oa_gate, over_the_plan_is_429_with_retry_after) {
        oa_gate_result g;

        for (int i = 0; i < 60; i++) {
                check("198.51.100.9", authz_w, "prj_p1", &g);
                cr_assert_eq(g.status, 0, "request %d", i);
        }
        check("198.51.100.9", authz_w, "prj_p1", &g);
        cr_assert_eq(g.status, 429);
        cr_assert_eq(g.outcome, OA_GATE_LIMITED);
        cr_assert_str_eq(g.error, "rate_limited");
        cr_assert(strstr(g.message, "60 requests per minute"), "%s", g.message);
        cr_assert_gt(g.retry_after, 0);
        cr_assert_eq(g.key, OA_GATE_REFUSED);
}

Test(oa_gate, an_address_that_fails_too_often_is_blocked_before_its_key) {
        oa_gate_result g;

        for (int i = 0; i < 3; i++) {
                check("203.0.113.5", authz_bad, "prj_p1", &g);
                cr_assert_eq(g.status, 401, "failure %d", i);
        }
        check("203.0.113.5", authz_bad, "prj_p1", &g);
        cr_assert_eq(g.status, 429, "the 4th failure is over the budget of 3");
        cr_assert_eq(g.outcome, OA_GATE_BLOCKED);
        /* now even a good key from that address is refused, and not counted as the key's */
        check("203.0.113.5", authz_w, "prj_p1", &g);
        cr_assert_eq(g.status, 429);
        cr_assert_eq(g.outcome, OA_GATE_BLOCKED);
        cr_assert_eq(g.key, OA_GATE_NOT_COUNTED);
        cr_assert_eq(g.limit.limit, 3);
        /* another address is not affected; an IPv6 /64 is one address */
        check("203.0.113.6", authz_w, "prj_p1", &g);
        cr_assert_eq(g.status, 0);
        check("not an address", authz_w, "prj_p1", &g);
        cr_assert_eq(g.status, 0);
}

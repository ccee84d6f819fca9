/* Tests for libshared/src/auth.c: the status matrix of /v1 authentication. */
#include "oa/auth.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oa_catalog *cat;
static char secret_a[OA_KEY_SECRET_LEN + 1];    /* account a1, stats:read, every project */
static char secret_b[OA_KEY_SECRET_LEN + 1];    /* account a1, events:write, only p2 */
static char secret_r[OA_KEY_SECRET_LEN + 1];    /* account a1, revoked */
static char secret_x[OA_KEY_SECRET_LEN + 1];    /* account a2, every scope */

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

static void add_account(const char *id) {
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        char key[64];

        a.id = (char *) id;
        a.plan = OA__PLAN__PLAN_FREE;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        snprintf(key, sizeof(key), "account/%s", id);
        apply(key, &rec);
}

static void add_project(const char *id, const char *account) {
        Oa__Project p = OA__PROJECT__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        char key[64];

        p.id = (char *) id;
        p.account_id = (char *) account;
        p.site_id = (char *) id;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        snprintf(key, sizeof(key), "project/%s", id);
        apply(key, &rec);
}

static void add_key(const char *id, const char *account, char *secret, char **scopes, size_t n_scopes,
                    char **projects, size_t n_projects, int revoked) {
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        unsigned char hash[OA_KEY_HASH_LEN];
        char key[64];

        cr_assert_eq(oa_key_generate(secret), 0);
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        k.id = (char *) id;
        k.account_id = (char *) account;
        k.scopes = scopes;
        k.n_scopes = n_scopes;
        k.project_ids = projects;
        k.n_project_ids = n_projects;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        k.revoked = revoked;
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        snprintf(key, sizeof(key), "key/%s", id);
        apply(key, &rec);
}

static void setup(void) {
        char *stats[] = { "stats:read" }, *events[] = { "events:write" }, *all[] = { "*" };
        char *only_p2[] = { "p2" };

        cat = oa_catalog_new();
        add_account("a1");
        add_account("a2");
        add_project("p1", "a1");
        add_project("p2", "a1");
        add_project("p3", "a2");
        add_key("ka", "a1", secret_a, stats, 1, NULL, 0, 0);
        add_key("kb", "a1", secret_b, events, 1, only_p2, 1, 0);
        add_key("kr", "a1", secret_r, all, 1, NULL, 0, 1);
        add_key("kx", "a2", secret_x, all, 1, NULL, 0, 0);
}

static void teardown(void) {
        cat = oa_catalog_free(cat);
}

TestSuite(oa_auth, .init = setup, .fini = teardown);

static int check(const char *secret, unsigned need, const char *project, oa_auth_result *r) {
        char h[128];

        snprintf(h, sizeof(h), "Bearer %s", secret);
        oa_auth_check(cat, h, strlen(h), need, project, r);
        return r->status;
}

Test(oa_auth, valid_key_with_scope_and_own_project_passes) {
        oa_auth_result r;

        cr_assert_eq(check(secret_a, OA_SCOPE_STATS_READ, "p1", &r), 0, "%s", r.message);
        cr_assert_str_eq(r.key->id, "ka");
        cr_assert_str_eq(r.account->id, "a1");
        cr_assert_str_eq(r.project->id, "p1");
        cr_assert_null(r.error);
}

Test(oa_auth, missing_malformed_unknown_revoked_are_401) {
        oa_auth_result r;
        char unknown[OA_KEY_SECRET_LEN + 1];

        oa_auth_check(cat, NULL, 0, OA_SCOPE_STATS_READ, "p1", &r);
        cr_assert_eq(r.status, 401);
        cr_assert_str_eq(r.error, "unauthorized");
        oa_auth_check(cat, "Bearer x", 8, OA_SCOPE_STATS_READ, "p1", &r);
        cr_assert_eq(r.status, 401);
        oa_key_generate(unknown);
        cr_assert_eq(check(unknown, OA_SCOPE_STATS_READ, "p1", &r), 401);
        cr_assert_eq(check(secret_r, OA_SCOPE_STATS_READ, "p1", &r), 401);
        cr_assert_not_null(strstr(r.message, "revoked"));
        cr_assert_null(r.key, "no key is named on a 401");
}

Test(oa_auth, missing_scope_is_403_naming_it) {
        oa_auth_result r;

        cr_assert_eq(check(secret_a, OA_SCOPE_EVENTS_WRITE, "p1", &r), 403);
        cr_assert_str_eq(r.error, "forbidden");
        cr_assert_not_null(strstr(r.message, "events:write"), "%s", r.message);
}

Test(oa_auth, other_account_and_outside_key_list_are_404) {
        oa_auth_result r;

        cr_assert_eq(check(secret_a, OA_SCOPE_STATS_READ, "p3", &r), 404, "another account's project");
        cr_assert_str_eq(r.error, "not_found");
        cr_assert_eq(check(secret_a, OA_SCOPE_STATS_READ, "nope", &r), 404, "no such project");
        cr_assert_eq(check(secret_b, OA_SCOPE_EVENTS_WRITE, "p1", &r), 404, "outside the key's list");
        cr_assert_eq(check(secret_b, OA_SCOPE_EVENTS_WRITE, "p2", &r), 0);
        cr_assert_eq(check(secret_x, OA_SCOPE_STATS_READ, "p1", &r), 404);
        cr_assert_eq(check(secret_x, OA_SCOPE_STATS_READ, "p3", &r), 0);
}

Test(oa_auth, scope_is_checked_before_the_project) {
        oa_auth_result r;

        /* A key without the scope learns nothing about whether a project exists. */
        cr_assert_eq(check(secret_b, OA_SCOPE_STATS_READ, "p3", &r), 403);
        cr_assert_eq(check(secret_b, OA_SCOPE_STATS_READ, "does-not-exist", &r), 403);
}

Test(oa_auth, no_project_and_no_scope_needed) {
        oa_auth_result r;

        cr_assert_eq(check(secret_b, 0, NULL, &r), 0);
        cr_assert_null(r.project);
}

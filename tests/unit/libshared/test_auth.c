/* Tests for libshared/src/auth.c: the status matrix of /v1 authentication, and the cache
 * of recognised keys (same answers; revocation and any catalogue change forget). */
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

/* Write key id with the given secret (its hash). */
static void put_key(const char *id, const char *account, const char *secret, char **scopes, size_t n_scopes,
                    char **projects, size_t n_projects, int revoked) {
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        unsigned char hash[OA_KEY_HASH_LEN];
        char key[64];

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

/* A new secret into secret, and key id with it. */
static void add_key(const char *id, const char *account, char *secret, char **scopes, size_t n_scopes,
                    char **projects, size_t n_projects, int revoked) {
        cr_assert_eq(oa_key_generate(secret), 0);
        put_key(id, account, secret, scopes, n_scopes, projects, n_projects, revoked);
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
TestSuite(oa_auth_cache, .init = setup, .fini = teardown);

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

/* ---- oa_auth_cache ---- */

static int check_cached(oa_auth_cache *ac, const char *secret, unsigned need, const char *project,
                        oa_auth_result *r) {
        char h[128];

        snprintf(h, sizeof(h), "Bearer %s", secret);
        oa_auth_check_cached(ac, cat, h, strlen(h), need, project, r);
        return r->status;
}

/* Revoke (or restore) key ka of setup, keeping its secret. */
static void set_revoked_ka(int revoked) {
        char *stats[] = { "stats:read" };

        put_key("ka", "a1", secret_a, stats, 1, NULL, 0, revoked);
}

Test(oa_auth_cache, answers_as_the_uncached_check_on_a_hit) {
        const char *secrets[] = { secret_a, secret_b, secret_r, secret_x };
        const char *projects[] = { "p1", "p2", "p3", "nope", NULL };
        unsigned needs[] = { 0, OA_SCOPE_STATS_READ, OA_SCOPE_EVENTS_WRITE };
        oa_auth_cache *ac;
        oa_auth_result want, got;

        cr_assert_eq(oa_auth_cache_new(64, &ac), 0);
        /* Twice over, so the second round answers from the cache. */
        for (int round = 0; round < 2; round++)
                for (size_t s = 0; s < 4; s++)
                        for (size_t p = 0; p < 5; p++)
                                for (size_t n = 0; n < 3; n++) {
                                        check(secrets[s], needs[n], projects[p], &want);
                                        check_cached(ac, secrets[s], needs[n], projects[p], &got);
                                        cr_assert_eq(got.status, want.status);
                                        cr_assert_eq(got.key, want.key);
                                        cr_assert_eq(got.account, want.account);
                                        cr_assert_eq(got.project, want.project);
                                        if (want.message)
                                                cr_assert_str_eq(got.message, want.message);
                                }
        oa_auth_cache_free(ac);
}

Test(oa_auth_cache, revocation_invalidates_at_once) {
        oa_auth_cache *ac;
        oa_auth_result r;

        cr_assert_eq(oa_auth_cache_new(64, &ac), 0);
        cr_assert_eq(check_cached(ac, secret_a, OA_SCOPE_STATS_READ, "p1", &r), 0);
        cr_assert_eq(check_cached(ac, secret_a, OA_SCOPE_STATS_READ, "p1", &r), 0);
        set_revoked_ka(1);
        cr_assert_eq(check_cached(ac, secret_a, OA_SCOPE_STATS_READ, "p1", &r), 401);
        cr_assert_not_null(strstr(r.message, "revoked"));
        cr_assert_null(r.key);
        set_revoked_ka(0);
        cr_assert_eq(check_cached(ac, secret_a, OA_SCOPE_STATS_READ, "p1", &r), 0);
        oa_auth_cache_free(ac);
}

Test(oa_auth_cache, any_catalogue_change_forgets_and_deleted_account_is_401) {
        Oa__Record rec = OA__RECORD__INIT;
        oa_auth_cache *ac;
        oa_auth_result r;
        uint64_t g = oa_catalog_generation(cat);

        cr_assert_eq(oa_auth_cache_new(64, &ac), 0);
        cr_assert_eq(check_cached(ac, secret_x, 0, "p3", &r), 0);
        rec.deleted = true;
        apply("account/a2", &rec);
        cr_assert_neq(oa_catalog_generation(cat), g);
        cr_assert_eq(check_cached(ac, secret_x, 0, "p3", &r), 401);
        cr_assert_null(r.account);
        oa_auth_cache_free(ac);
}

Test(oa_auth_cache, different_keys_in_one_slot_never_collide) {
        oa_auth_cache *ac;
        oa_auth_result r;
        char near[OA_KEY_SECRET_LEN + 1];

        /* One slot: every header falls into it. */
        cr_assert_eq(oa_auth_cache_new(1, &ac), 0);
        for (int i = 0; i < 3; i++) {
                cr_assert_eq(check_cached(ac, secret_a, 0, NULL, &r), 0);
                cr_assert_str_eq(r.key->id, "ka");
                cr_assert_eq(check_cached(ac, secret_x, 0, NULL, &r), 0);
                cr_assert_str_eq(r.key->id, "kx");
        }
        /* A header one character away from the cached one is not it. */
        cr_assert_eq(check_cached(ac, secret_x, 0, NULL, &r), 0);
        memcpy(near, secret_x, sizeof(near));
        near[OA_KEY_SECRET_LEN - 1] = near[OA_KEY_SECRET_LEN - 1] == 'a' ? 'b' : 'a';
        cr_assert_eq(check_cached(ac, near, 0, NULL, &r), 401);
        cr_assert_str_eq(r.message, "unknown API key");
        oa_auth_cache_free(ac);
}

Test(oa_auth_cache, entries_of_another_catalogue_never_match) {
        oa_auth_cache *ac;
        oa_auth_result r;
        oa_catalog *first = cat;

        cr_assert_eq(oa_auth_cache_new(64, &ac), 0);
        cr_assert_eq(check_cached(ac, secret_a, 0, NULL, &r), 0);
        cat = oa_catalog_new();         /* empty: knows no key */
        cr_assert_eq(check_cached(ac, secret_a, 0, NULL, &r), 401);
        oa_catalog_free(cat);
        cat = first;
        oa_auth_cache_free(ac);
}

Test(oa_auth_cache, free_of_null_and_null_cache_checks_uncached) {
        oa_auth_result r;

        cr_assert_null(oa_auth_cache_free(NULL));
        cr_assert_eq(check_cached(NULL, secret_a, OA_SCOPE_STATS_READ, "p1", &r), 0);
}

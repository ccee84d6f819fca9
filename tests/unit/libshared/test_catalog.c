/* Tests for libshared/src/catalog.c: materialising oa.projects.v1 records. */
#include "oa/catalog.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oa_catalog *cat;
static char err[256];

static void setup(void) {
        cat = oa_catalog_new();
        cr_assert_not_null(cat);
}

static void teardown(void) {
        cat = oa_catalog_free(cat);
}

TestSuite(oa_catalog, .init = setup, .fini = teardown);

/* Pack rec and apply it under key. */
static int apply(const char *key, Oa__Record *rec) {
        size_t n = oa__record__get_packed_size(rec);
        uint8_t *buf = malloc(n ? n : 1);
        int r;

        oa__record__pack(rec, buf);
        r = oa_catalog_apply(cat, key, strlen(key), buf, n, err, sizeof(err));
        free(buf);
        return r;
}

static int put_project(const char *id, const char *account, const char *site) {
        Oa__Project p = OA__PROJECT__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        char key[64];

        p.id = (char *) id;
        p.account_id = (char *) account;
        p.site_id = (char *) site;
        p.name = "demo";
        rec.version = 1;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        snprintf(key, sizeof(key), "project/%s", id);
        return apply(key, &rec);
}

static int put_key(const char *id, const char *account, const uint8_t *hash, int revoked,
                   char **projects, size_t n_projects) {
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record rec = OA__RECORD__INIT;
        char key[64];

        k.id = (char *) id;
        k.account_id = (char *) account;
        k.secret_sha256.data = (uint8_t *) hash;
        k.secret_sha256.len = 32;
        k.revoked = revoked;
        k.project_ids = projects;
        k.n_project_ids = n_projects;
        rec.version = 1;
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        snprintf(key, sizeof(key), "key/%s", id);
        return apply(key, &rec);
}

Test(oa_catalog, project_indexed_by_id_and_site) {
        cr_assert_eq(put_project("p1", "a1", "site-abc"), 0, "%s", err);
        cr_assert_str_eq(oa_catalog_project(cat, "p1")->site_id, "site-abc");
        cr_assert_str_eq(oa_catalog_project_by_site(cat, "site-abc")->id, "p1");
        cr_assert_null(oa_catalog_project(cat, "p2"));
        cr_assert_eq(oa_catalog_n_projects(cat), 1);
}

Test(oa_catalog, newest_record_wins_and_old_site_is_unindexed) {
        put_project("p1", "a1", "old-site");
        cr_assert_eq(put_project("p1", "a1", "new-site"), 0);
        cr_assert_null(oa_catalog_project_by_site(cat, "old-site"));
        cr_assert_str_eq(oa_catalog_project_by_site(cat, "new-site")->id, "p1");
        cr_assert_eq(oa_catalog_n_projects(cat), 1);
}

Test(oa_catalog, tombstone_and_deleted_flag_remove) {
        Oa__Record del = OA__RECORD__INIT;

        put_project("p1", "a1", "s1");
        put_project("p2", "a1", "s2");
        cr_assert_eq(oa_catalog_apply(cat, "project/p1", 10, NULL, 0, err, sizeof(err)), 0);
        cr_assert_null(oa_catalog_project(cat, "p1"));
        cr_assert_null(oa_catalog_project_by_site(cat, "s1"));
        del.version = 1;
        del.deleted = 1;
        cr_assert_eq(apply("project/p2", &del), 0, "%s", err);
        cr_assert_null(oa_catalog_project(cat, "p2"));
        cr_assert_eq(oa_catalog_n_projects(cat), 0);
        /* Removing what is not there is harmless (replays of a compacted topic). */
        cr_assert_eq(oa_catalog_apply(cat, "project/p1", 10, NULL, 0, err, sizeof(err)), 0);
}

Test(oa_catalog, key_by_hash_sees_revocation) {
        uint8_t h[32];

        memset(h, 7, sizeof(h));
        cr_assert_eq(put_key("k1", "a1", h, 0, NULL, 0), 0, "%s", err);
        cr_assert_not(oa_catalog_key_by_hash(cat, h)->revoked);
        cr_assert_eq(put_key("k1", "a1", h, 1, NULL, 0), 0);
        cr_assert(oa_catalog_key_by_hash(cat, h)->revoked);
        cr_assert_eq(oa_catalog_n_keys(cat), 1);
}

Test(oa_catalog, key_project_scoping) {
        uint8_t h1[32], h2[32];
        char *only_p2[] = { "p2" };

        memset(h1, 1, 32);
        memset(h2, 2, 32);
        put_project("p1", "a1", "s1");
        put_project("p2", "a1", "s2");
        put_project("p3", "a2", "s3");
        put_key("all", "a1", h1, 0, NULL, 0);
        put_key("one", "a1", h2, 0, only_p2, 1);
        const Oa__ApiKey *all = oa_catalog_key(cat, "all"), *one = oa_catalog_key(cat, "one");
        cr_assert(oa_catalog_key_allows_project(all, oa_catalog_project(cat, "p1")));
        cr_assert(oa_catalog_key_allows_project(all, oa_catalog_project(cat, "p2")));
        cr_assert_not(oa_catalog_key_allows_project(all, oa_catalog_project(cat, "p3")), "other account");
        cr_assert_not(oa_catalog_key_allows_project(one, oa_catalog_project(cat, "p1")));
        cr_assert(oa_catalog_key_allows_project(one, oa_catalog_project(cat, "p2")));
}

Test(oa_catalog, rejects_bad_records_without_change) {
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__Record rec = OA__RECORD__INIT;

        put_project("p1", "a1", "s1");
        cr_assert_eq(oa_catalog_apply(cat, "project/p1", 10, "\xff\xff\xff", 3, err, sizeof(err)), -EBADMSG);
        cr_assert_eq(oa_catalog_apply(cat, "widget/x", 8, NULL, 0, err, sizeof(err)), -EBADMSG);
        cr_assert_eq(oa_catalog_apply(cat, "project/", 8, NULL, 0, err, sizeof(err)), -EBADMSG);
        a.id = "a9";
        rec.version = 1;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        cr_assert_eq(apply("project/p1", &rec), -EBADMSG, "kind mismatch");
        cr_assert_eq(apply("account/a8", &rec), -EBADMSG, "id mismatch");
        rec.version = 2;
        cr_assert_eq(apply("account/a9", &rec), -EPROTONOSUPPORT);
        cr_assert_not_null(oa_catalog_project(cat, "p1"), "a bad record leaves the state alone");
        cr_assert_eq(oa_catalog_n_accounts(cat), 0);
}

Test(oa_catalog, plan_limits) {
        Oa__Account a = OA__ACCOUNT__INIT;

        a.plan = OA__PLAN__PLAN_FREE;
        cr_assert_eq(oa_catalog_plan_limit(&a), 60);
        a.plan = OA__PLAN__PLAN_PRO;
        cr_assert_eq(oa_catalog_plan_limit(&a), 600);
        a.plan = OA__PLAN__PLAN_BUSINESS;
        cr_assert_eq(oa_catalog_plan_limit(&a), 6000);
        a.plan = OA__PLAN__PLAN_ENTERPRISE;
        a.custom_limit = 25000;
        cr_assert_eq(oa_catalog_plan_limit(&a), 25000);
}

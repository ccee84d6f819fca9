/* Tests for services/admin/store.c and the commands on top of it, against librdkafka's
 * mock cluster: what is published is what the next command reads, a write the broker
 * refuses or never acknowledges is exit 1, references are checked (exit 4), and the
 * commands' stdout is one JSON value. The real broker is tests/integration's job. */
#include "admin.h"

#include "oa/key.h"

#include "../../libshared/test_kafka_mock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static mock m;
static oa_admin_cfg cfg;

static void setup(void) {
        mock_start(&m, 1);
        mock_topic(&m, OA_TOPIC_PROJECTS, 1);
        cfg = (oa_admin_cfg) {
                .kafka_brokers = (char *) m.brokers,
                .kafka_replication_factor = 1,
                .kafka_timeout_ms = 5000,
                .log_level = "warn",
        };
}

static void teardown(void) {
        mock_stop(&m);
}

TestSuite(oa_admin_store, .init = setup, .fini = teardown, .timeout = 60);

static Oa__Record account_record(Oa__Account *a, const char *id, const char *name) {
        Oa__Record rec = OA__RECORD__INIT;

        oa__account__init(a);
        a->id = (char *) id;
        a->name = (char *) name;
        a->plan = OA__PLAN__PLAN_PRO;
        a->created_ms = 1000;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = a;
        return rec;
}

Test(oa_admin_store, published_records_are_read_back) {
        Oa__Account a1, a2;
        Oa__Record r1 = account_record(&a1, "acc_AAAAAAAAAAAAAAAA", "One");
        Oa__Record r2 = account_record(&a2, "acc_BBBBBBBBBBBBBBBB", "Two");
        Oa__Record *recs[] = { &r1, &r2 };
        const Oa__Account **v = NULL;
        oa_projects *st = NULL;
        size_t n = 0;

        cr_assert_eq(oa_admin_state_load(&cfg, &st), OA_ADMIN_EXIT_OK);
        cr_assert_eq(oa_catalog_n_accounts(oa_projects_catalog(st)), 0);
        oa_projects_free(st);

        cr_assert_eq(oa_admin_publish(&cfg, recs, 2), OA_ADMIN_EXIT_OK);
        cr_assert_eq(oa_admin_state_load(&cfg, &st), OA_ADMIN_EXIT_OK);
        cr_assert_eq(oa_admin_sorted_accounts(oa_projects_catalog(st), &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(v[0]->id, "acc_AAAAAAAAAAAAAAAA");
        cr_assert_str_eq(v[1]->name, "Two");
        cr_assert_eq(v[1]->plan, OA__PLAN__PLAN_PRO);
        free(v);
        oa_projects_free(st);
}

Test(oa_admin_store, refused_write_is_a_failure) {
        Oa__Account a;
        Oa__Record r = account_record(&a, "acc_AAAAAAAAAAAAAAAA", "One");
        Oa__Record *recs[] = { &r };
        oa_projects *st = NULL;

        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        cr_assert_eq(oa_admin_publish(&cfg, recs, 1), OA_ADMIN_EXIT_FAILURE);
        cr_assert_eq(oa_admin_state_load(&cfg, &st), OA_ADMIN_EXIT_OK);
        cr_assert_eq(oa_catalog_n_accounts(oa_projects_catalog(st)), 0);
        oa_projects_free(st);
}

Test(oa_admin_store, unacknowledged_write_fails_within_the_timeout) {
        Oa__Account a;
        Oa__Record r = account_record(&a, "acc_AAAAAAAAAAAAAAAA", "One");
        Oa__Record *recs[] = { &r };
        int64_t t0;

        cfg.kafka_timeout_ms = 1500;
        rd_kafka_mock_broker_set_down(m.mc, -1);
        t0 = mono_ms();
        cr_assert_eq(oa_admin_publish(&cfg, recs, 1), OA_ADMIN_EXIT_FAILURE);
        cr_assert_lt(mono_ms() - t0, 1500 + 2000, "took %lld ms", (long long) (mono_ms() - t0));
}

Test(oa_admin_store, unreachable_broker_fails_the_read) {
        oa_projects *st = NULL;
        int64_t t0;

        cfg.kafka_timeout_ms = 1000;
        rd_kafka_mock_broker_set_down(m.mc, -1);
        t0 = mono_ms();
        cr_assert_eq(oa_admin_state_load(&cfg, &st), OA_ADMIN_EXIT_FAILURE);
        cr_assert_null(st);
        cr_assert_lt(mono_ms() - t0, 1000 + 2000);
}

/* ---- commands, with their stdout captured ------------------------------------------- */

static int saved_stdout = -1;
static FILE *captured;

static void capture_start(void) {
        fflush(stdout);
        captured = tmpfile();
        cr_assert_not_null(captured);
        saved_stdout = dup(STDOUT_FILENO);
        cr_assert_geq(saved_stdout, 0);
        cr_assert_geq(dup2(fileno(captured), STDOUT_FILENO), 0);
}

/* What the command printed (static; valid until the next call). */
static const char *capture_end(void) {
        static char text[1 << 20];
        size_t n;

        fflush(stdout);
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
        rewind(captured);
        n = fread(text, 1, sizeof(text) - 1, captured);
        text[n] = '\0';
        fclose(captured);
        return text;
}

/* Run "cmd" (e.g. "key create") with args "a|b|c" as oa-admin would; *ret_out gets
 * stdout. Returns the exit code. */
static int run(const char *group, const char *name, const char *args, const char **ret_out) {
        static char buf[4096];
        char *argv[32], err[512];
        const oa_admin_usage *u = oa_admin_usage_find(group, name);
        oa_admin_req q;
        int argc = 0, ret;
        static const struct { const char *g, *n; oa_admin_req_fn *fn; } table[] = {
                { "init", NULL, oa_admin_init },
                { "account", "create", oa_admin_account_create },
                { "account", "list", oa_admin_account_list },
                { "account", "set-plan", oa_admin_account_set_plan },
                { "project", "create", oa_admin_project_create },
                { "project", "list", oa_admin_project_list },
                { "project", "update", oa_admin_project_update },
                { "project", "delete", oa_admin_project_delete },
                { "key", "create", oa_admin_key_create },
                { "key", "list", oa_admin_key_list },
                { "key", "revoke", oa_admin_key_revoke },
        };
        oa_admin_req_fn *fn = NULL;

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (strcmp(table[i].g, group) == 0 &&
                    ((!table[i].n && !name) || (table[i].n && name && strcmp(table[i].n, name) == 0)))
                        fn = table[i].fn;
        cr_assert_not_null(u);
        cr_assert_not_null(fn);
        snprintf(buf, sizeof(buf), "%s", args);
        for (char *p = buf; *p && argc < 32;) {
                char *bar = strchr(p, '|');

                argv[argc++] = p;
                if (!bar)
                        break;
                *bar = '\0';
                p = bar + 1;
        }
        cr_assert_eq(oa_admin_req_parse(u, argc, argv, NULL, &q, err, sizeof(err)), 0, "%s", err);
        capture_start();
        ret = fn(&cfg, &q);
        *ret_out = capture_end();
        oa_admin_req_done(&q);
        return ret;
}

static yajl_val parse_json(const char *text) {
        char err[256];
        yajl_val v = yajl_tree_parse(text, err, sizeof(err));

        cr_assert_not_null(v, "not one JSON value (%s): %s", err, text);
        return v;
}

static const char *jstr(yajl_val v, const char *a, const char *b) {
        const char *path[] = { a, b, NULL };
        yajl_val s = yajl_tree_get(v, path, yajl_t_string);

        cr_assert_not_null(s, "no string %s.%s", a, b ? b : "");
        return YAJL_GET_STRING(s);
}

Test(oa_admin_store, init_then_manage_accounts_projects_and_keys) {
        char acc[64], prj[64], key[64], secret[64], other[64], args[512];
        const Oa__ApiKey *k;
        unsigned char hash[OA_KEY_HASH_LEN];
        oa_projects *st = NULL;
        const char *out;
        yajl_val v;

        /* init: the three entities, the secret once */
        cr_assert_eq(run("init", NULL, "--json", &out), OA_ADMIN_EXIT_OK);
        v = parse_json(out);
        snprintf(acc, sizeof(acc), "%s", jstr(v, "account", "id"));
        snprintf(prj, sizeof(prj), "%s", jstr(v, "project", "id"));
        snprintf(key, sizeof(key), "%s", jstr(v, "key", "id"));
        snprintf(secret, sizeof(secret), "%s", jstr(v, "key", "key"));
        cr_assert(oa_entity_id_ok(OA_ENTITY_ACCOUNT, acc, strlen(acc)), "%s", acc);
        cr_assert(oa_entity_id_ok(OA_ENTITY_PROJECT, prj, strlen(prj)), "%s", prj);
        cr_assert(oa_entity_id_ok(OA_ENTITY_KEY, key, strlen(key)), "%s", key);
        cr_assert(oa_entity_id_ok(OA_ENTITY_SITE, jstr(v, "project", "site_id"), 25));
        cr_assert(oa_key_format_ok(secret, strlen(secret)), "%s", secret);
        cr_assert_str_eq(jstr(v, "account", "plan"), "business");
        cr_assert_str_eq(jstr(v, "account", "name"), "Default");
        cr_assert_str_eq(jstr(v, "project", "name"), "Demo");
        cr_assert_str_eq(jstr(v, "project", "timezone"), "UTC");
        cr_assert_str_eq(jstr(v, "key", "name"), "owner");
        yajl_tree_free(v);

        /* only the hash is stored, and it matches */
        cr_assert_eq(oa_admin_state_load(&cfg, &st), OA_ADMIN_EXIT_OK);
        k = oa_catalog_key(oa_projects_catalog(st), key);
        cr_assert_not_null(k);
        cr_assert_eq(k->n_scopes, 7);
        oa_key_hash(secret, strlen(secret), hash);
        cr_assert_not_null(oa_catalog_key_by_hash(oa_projects_catalog(st), hash));
        oa_projects_free(st);

        /* another account and its project */
        cr_assert_eq(run("account", "create", "--name|Other|--plan|enterprise|--limit|5000|--json", &out), 0);
        v = parse_json(out);
        snprintf(other, sizeof(other), "%s", jstr(v, "id", NULL));
        yajl_tree_free(v);

        /* references: unknown ids are 4, a project of another account too */
        cr_assert_eq(run("project", "create", "--account|acc_nope|--name|x|--domain|x.com", &out),
                     OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_str_eq(out, "", "nothing on stdout");
        snprintf(args, sizeof(args), "--account|%s|--name|x|--scopes|all|--projects|%s", other, prj);
        cr_assert_eq(run("key", "create", args, &out), OA_ADMIN_EXIT_NOT_FOUND);
        snprintf(args, sizeof(args), "--account|%s|--name|x|--scopes|all|--projects|prj_nope", acc);
        cr_assert_eq(run("key", "create", args, &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("key", "revoke", "key_nope", &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("project", "delete", "prj_nope", &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("project", "update", "prj_nope|--name|x", &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("account", "set-plan", "acc_nope|--plan|pro", &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("key", "list", "--account|acc_nope", &out), OA_ADMIN_EXIT_NOT_FOUND);
        cr_assert_eq(run("project", "list", "--account|acc_nope", &out), OA_ADMIN_EXIT_NOT_FOUND);

        /* a key limited to one project of its account */
        snprintf(args, sizeof(args), "--account|%s|--name|ci|--scopes|stats:read|--projects|%s|--json", acc, prj);
        cr_assert_eq(run("key", "create", args, &out), 0);
        v = parse_json(out);
        {
                yajl_val ids = yajl_tree_get(v, (const char *[]) { "project_ids", NULL }, yajl_t_array);

                cr_assert_not_null(ids);
                cr_assert_eq(ids->u.array.len, 1);
                cr_assert_str_eq(YAJL_GET_STRING(ids->u.array.values[0]), prj);
        }
        yajl_tree_free(v);

        /* lists: arrays; the secret never appears */
        snprintf(args, sizeof(args), "--account|%s|--json", acc);
        cr_assert_eq(run("key", "list", args, &out), 0);
        cr_assert_null(strstr(out, secret));
        cr_assert_null(strstr(out, "\"key\":"));
        v = parse_json(out);
        cr_assert(YAJL_IS_ARRAY(v));
        cr_assert_eq(v->u.array.len, 2);
        yajl_tree_free(v);

        /* revoke, twice */
        snprintf(args, sizeof(args), "%s|--json", key);
        cr_assert_eq(run("key", "revoke", args, &out), 0);
        v = parse_json(out);
        cr_assert(YAJL_IS_TRUE(yajl_tree_get(v, (const char *[]) { "revoked", NULL }, yajl_t_true)));
        cr_assert_not_null(yajl_tree_get(v, (const char *[]) { "revoked_at", NULL }, yajl_t_string));
        yajl_tree_free(v);
        cr_assert_eq(run("key", "revoke", key, &out), 0);
        cr_assert_not_null(strstr(out, "already revoked"), "%s", out);

        /* update, set-plan, delete */
        snprintf(args, sizeof(args), "%s|--name|Shop|--domain|Shop.Example.com,b.example|--timezone|Europe/Berlin|--json", prj);
        cr_assert_eq(run("project", "update", args, &out), 0);
        v = parse_json(out);
        cr_assert_str_eq(jstr(v, "name", NULL), "Shop");
        cr_assert_str_eq(jstr(v, "timezone", NULL), "Europe/Berlin");
        yajl_tree_free(v);
        snprintf(args, sizeof(args), "%s|--plan|free|--json", other);
        cr_assert_eq(run("account", "set-plan", args, &out), 0);
        v = parse_json(out);
        cr_assert_str_eq(jstr(v, "plan", NULL), "free");
        cr_assert_eq(YAJL_GET_INTEGER(yajl_tree_get(v, (const char *[]) { "limit", NULL }, yajl_t_number)), 60);
        yajl_tree_free(v);
        cr_assert_eq(run("project", "delete", prj, &out), 0);
        cr_assert_eq(run("project", "list", "--json", &out), 0);
        cr_assert_str_eq(out, "[]\n");
        cr_assert_eq(run("project", "delete", prj, &out), OA_ADMIN_EXIT_NOT_FOUND);

        cr_assert_eq(run("account", "list", "--json", &out), 0);
        v = parse_json(out);
        cr_assert_eq(v->u.array.len, 2);
        yajl_tree_free(v);
}

Test(oa_admin_store, failed_write_prints_nothing) {
        const char *out;

        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        cr_assert_eq(run("account", "create", "--name|Shop|--plan|pro|--json", &out), OA_ADMIN_EXIT_FAILURE);
        cr_assert_str_eq(out, "");
}

/* Tests for the pure parts of services/query/config.c and manage.c: the configuration
 * checks, and which keys a key may manage. The client address behind trusted proxies is
 * libshared's oa/proxy.h, tested in tests/unit/libshared/test_proxy.c. */
#include "query.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

/* ---- configuration ---- */

static oa_query_cfg good_cfg(void) {
        return (oa_query_cfg) {
                .listen = "127.0.0.1:8081",
                .log_level = "info",
                .trusted_proxies = "127.0.0.1",
                .export_spool_dir = "/tmp",
        };
}

Test(query_config, check_accepts_the_defaults) {
        oa_query_cfg c = good_cfg();
        oa_proxies p;
        char err[200];

        cr_assert_eq(oa_query_cfg_check(&c, &p, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(p.n, 1);
}

Test(query_config, check_refuses_what_the_table_cannot) {
        oa_query_cfg c = good_cfg();
        char err[200];

        c.log_level = "verbose";
        cr_assert_eq(oa_query_cfg_check(&c, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_LOG_LEVEL"), "%s", err);
        c = good_cfg();
        c.listen = "localhost:8081";
        cr_assert_eq(oa_query_cfg_check(&c, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_QUERY_LISTEN"), "%s", err);
        c = good_cfg();
        c.trusted_proxies = "gateway";
        cr_assert_eq(oa_query_cfg_check(&c, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_QUERY_TRUSTED_PROXIES"), "%s", err);
        c = good_cfg();
        c.export_spool_dir = "/nonexistent/spool";
        cr_assert_eq(oa_query_cfg_check(&c, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_QUERY_EXPORT_SPOOL_DIR"), "%s", err);
}

Test(query_config, load_reads_the_environment_and_checks) {
        char *argv[] = { "oa-query", NULL };
        oa_query_cfg c = { 0 };
        char err[200];

        setenv("OA_QUERY_LISTEN", "127.0.0.1:0", 1);
        setenv("OA_QUERY_AUTH_FAIL_LIMIT", "5", 1);
        cr_assert_eq(oa_query_cfg_load(&c, 1, argv, err, sizeof(err)), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert_str_eq(c.listen, "127.0.0.1:0");
        cr_assert_eq(c.auth_fail_limit, 5);
        cr_assert_str_eq(c.kafka_brokers, "127.0.0.1:9092");
        cr_assert_str_eq(c.redis_url, "redis://127.0.0.1:6379");
        oa_query_cfg_free(&c);
        setenv("OA_QUERY_AUTH_FAIL_LIMIT", "0", 1);
        cr_assert_lt(oa_query_cfg_load(&c, 1, argv, err, sizeof(err)), 0);
        oa_query_cfg_free(&c);
        unsetenv("OA_QUERY_AUTH_FAIL_LIMIT");
        setenv("OA_QUERY_TRUSTED_PROXIES", "nope", 1);
        cr_assert_eq(oa_query_cfg_load(&c, 1, argv, err, sizeof(err)), -EINVAL);
        oa_query_cfg_free(&c);
}

Test(query_config, check_config_runs_our_checks_first) {
        char *argv[] = { "oa-query", "--check-config", NULL };
        oa_query_cfg c = { 0 };
        char err[200];

        setenv("OA_LOG_LEVEL", "loud", 1);
        cr_assert_eq(oa_query_cfg_load(&c, 2, argv, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_LOG_LEVEL"), "%s", err);
        oa_query_cfg_free(&c);
}

/* ---- which keys a key manages ---- */

Test(query_keys, manages_within_its_scopes_and_projects) {
        char *p1[] = { "prj_1" }, *p12[] = { "prj_1", "prj_2" }, *p2[] = { "prj_2" };
        Oa__ApiKey all = OA__API_KEY__INIT, limited = OA__API_KEY__INIT, other = OA__API_KEY__INIT;
        unsigned rw = OA_SCOPE_KEYS_WRITE | OA_SCOPE_PROJECTS_READ;

        all.account_id = limited.account_id = other.account_id = "acc_a";
        limited.project_ids = p1;
        limited.n_project_ids = 1;
        /* an unlimited key manages keys within its scopes */
        cr_assert(oa_query_key_manages(rw, &all, OA_SCOPE_PROJECTS_READ, &other));
        cr_assert(oa_query_key_manages(rw, &all, rw, &other));
        cr_assert_not(oa_query_key_manages(rw, &all, rw | OA_SCOPE_STATS_READ, &other));
        /* a limited key never manages a key for every project */
        cr_assert_not(oa_query_key_manages(rw, &limited, rw, &other));
        other.project_ids = p1;
        other.n_project_ids = 1;
        cr_assert(oa_query_key_manages(rw, &limited, rw, &other));
        other.project_ids = p12;
        other.n_project_ids = 2;
        cr_assert_not(oa_query_key_manages(rw, &limited, rw, &other));
        other.project_ids = p2;
        other.n_project_ids = 1;
        cr_assert_not(oa_query_key_manages(rw, &limited, rw, &other));
        /* another account's key: never */
        other.account_id = "acc_b";
        other.n_project_ids = 0;
        cr_assert_not(oa_query_key_manages(OA_SCOPE_ALL, &all, 0, &other));
        /* itself */
        cr_assert(oa_query_key_manages(rw, &limited, rw, &limited));
}

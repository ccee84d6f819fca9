/* Tests for libshared/src/cfg.c: the declarative configuration loader. */
#include "oa/cfg.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct demo_cfg {
        char *brokers;
        char *password;
        long long port;
        bool verbose;
} demo_cfg;

static const oa_cfg_opt demo_opts[] = {
        { "brokers", "OA_TEST_BROKERS", OA_CFG_STRING, "127.0.0.1:9092", offsetof(demo_cfg, brokers), 0, 0, OA_CFG_REQUIRED, "Kafka bootstrap servers" },
        { "password", "OA_TEST_PASSWORD", OA_CFG_STRING, "", offsetof(demo_cfg, password), 0, 0, OA_CFG_SECRET, "a secret" },
        { "port", "OA_TEST_PORT", OA_CFG_INT, "8080", offsetof(demo_cfg, port), 1, 65535, 0, "listen port" },
        { "verbose", "OA_TEST_VERBOSE", OA_CFG_BOOL, "false", offsetof(demo_cfg, verbose), 0, 0, 0, "more output" },
};

static const oa_cfg_spec demo_spec = {
        .prog = "oa-test", .summary = "a test program", .opts = demo_opts,
        .n_opts = sizeof(demo_opts) / sizeof(demo_opts[0]),
};

static void clear_env(void) {
        unsetenv("OA_TEST_BROKERS");
        unsetenv("OA_TEST_PASSWORD");
        unsetenv("OA_TEST_PORT");
        unsetenv("OA_TEST_VERBOSE");
}

TestSuite(oa_cfg, .init = clear_env, .fini = clear_env);

static int load(demo_cfg *c, int argc, char **argv, char *err) {
        memset(c, 0, sizeof(*c));
        return oa_cfg_load(&demo_spec, c, argc, argv, NULL, err, 256);
}

Test(oa_cfg, defaults_apply) {
        char *argv[] = { "oa-test", NULL };
        char err[256];
        demo_cfg c;

        cr_assert_eq(load(&c, 1, argv, err), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert_str_eq(c.brokers, "127.0.0.1:9092");
        cr_assert_eq(c.port, 8080);
        cr_assert_eq(c.verbose, false);
        oa_cfg_free(&demo_spec, &c);
        cr_assert_null(c.brokers);
}

Test(oa_cfg, environment_beats_default_and_command_line_beats_environment) {
        char *argv[] = { "oa-test", "--port", "9000", "--brokers=k:1", NULL };
        char err[256];
        demo_cfg c;

        setenv("OA_TEST_PORT", "7000", 1);
        setenv("OA_TEST_BROKERS", "env:1", 1);
        setenv("OA_TEST_VERBOSE", "yes", 1);
        cr_assert_eq(load(&c, 4, argv, err), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert_eq(c.port, 9000);
        cr_assert_str_eq(c.brokers, "k:1");
        cr_assert_eq(c.verbose, true);
        oa_cfg_free(&demo_spec, &c);
}

Test(oa_cfg, bare_bool_flag_means_true) {
        char *argv[] = { "oa-test", "--verbose", NULL };
        char err[256];
        demo_cfg c;

        cr_assert_eq(load(&c, 2, argv, err), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert(c.verbose);
        oa_cfg_free(&demo_spec, &c);
}

/* Criterion runs each parameter in a fresh process, so rows hold arrays, not pointers;
 * an empty string means "not set". */
struct bad_row {
        char env_port[32];
        char arg[32];
        char expect[32];        /* substring of the error message */
};

ParameterizedTestParameters(oa_cfg, rejects_bad_values) {
        static struct bad_row rows[] = {
                { "abc", "", "OA_TEST_PORT" },
                { "80x", "", "not a number" },
                { " 80", "", "not a number" },
                { "+80", "", "not a number" },
                { "0", "", "out of range" },
                { "65536", "", "out of range" },
                { "-1", "", "out of range" },
                { "99999999999999999999999", "", "out of range" },
                { "", "--port=", "not a number" },
                { "", "--nosuch=1", "unknown option" },
                { "", "--verbose=maybe", "true or false" },
                { "", "--brokers=", "required" },
                { "", "stray", "unexpected argument" },
                { "", "--port", "needs a value" },
        };
        return cr_make_param_array(struct bad_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_row *row, oa_cfg, rejects_bad_values) {
        char *argv[] = { "oa-test", row->arg, NULL };
        char err[256];
        demo_cfg c;
        int r;

        clear_env();
        if (row->env_port[0])
                setenv("OA_TEST_PORT", row->env_port, 1);
        r = load(&c, row->arg[0] ? 2 : 1, argv, err);
        cr_assert_lt(r, 0);
        cr_assert_not_null(strstr(err, row->expect), "error '%s' should mention '%s'", err, row->expect);
        oa_cfg_free(&demo_spec, &c);
}

Test(oa_cfg, positional_arguments_reported_when_allowed) {
        char *argv[] = { "oa-test", "--port=1", "topics", "ensure", NULL };
        char err[256];
        demo_cfg c = { 0 };
        int argi = -1;

        cr_assert_eq(oa_cfg_load(&demo_spec, &c, 4, argv, &argi, err, sizeof(err)), OA_CFG_LOAD_RUN);
        cr_assert_eq(argi, 2);
        oa_cfg_free(&demo_spec, &c);
}

Test(oa_cfg, help_lists_every_variable, .init = cr_redirect_stdout) {
        char *argv[] = { "oa-test", "--help", NULL };
        char err[256];
        demo_cfg c;

        cr_assert_eq(load(&c, 2, argv, err), OA_CFG_LOAD_EXIT);
        oa_cfg_free(&demo_spec, &c);
        fflush(stdout);
        cr_assert_stdout_neq_str("");
}

Test(oa_cfg, check_config_masks_secrets, .init = cr_redirect_stdout) {
        char *argv[] = { "oa-test", "--check-config", "--password=hunter2", NULL };
        char err[256], out[2048] = "";
        demo_cfg c;
        FILE *f;
        size_t n;

        cr_assert_eq(load(&c, 3, argv, err), OA_CFG_LOAD_EXIT, "%s", err);
        cr_assert_str_eq(c.password, "hunter2");
        oa_cfg_free(&demo_spec, &c);
        fflush(stdout);
        f = cr_get_redirected_stdout();
        n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        cr_assert_not_null(strstr(out, "OA_TEST_PASSWORD=***"), "%s", out);
        cr_assert_null(strstr(out, "hunter2"));
        cr_assert_not_null(strstr(out, "configuration ok"));
}

struct ll_row {
        char s[32];
        int r;
        long long v;
};

ParameterizedTestParameters(oa_cfg, parse_ll_table) {
        static struct ll_row rows[] = {
                { "0", 0, 0 }, { "42", 0, 42 }, { "-5", 0, -5 },
                { "9223372036854775807", 0, 9223372036854775807LL },
                { "9223372036854775808", -ERANGE, 0 }, { "1e3", -EINVAL, 0 },
                { "0x10", -EINVAL, 0 }, { "12 ", -EINVAL, 0 }, { "", -EINVAL, 0 },
                { "-", -EINVAL, 0 }, { "--1", -EINVAL, 0 },
        };
        return cr_make_param_array(struct ll_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ll_row *row, oa_cfg, parse_ll_table) {
        long long v = -777;
        int r = oa_cfg_parse_ll(row->s, LLONG_MIN, LLONG_MAX, &v);

        cr_assert_eq(r, row->r, "'%s' gave %d", row->s, r);
        if (r == 0)
                cr_assert_eq(v, row->v);
        else
                cr_assert_eq(v, -777, "out-parameter untouched on failure");
}

static int port_not_80(const void *cfg, char *errbuf, size_t errlen) {
        if (((const demo_cfg *) cfg)->port == 80) {
                snprintf(errbuf, errlen, "OA_TEST_PORT: 80 is taken");
                return -EINVAL;
        }
        return 0;
}

Test(oa_cfg, the_spec_check_runs_before_check_config_says_ok, .init = cr_redirect_stdout) {
        oa_cfg_spec spec = demo_spec;
        char *argv[] = { "oa-test", "--check-config", "--port=80", NULL };
        char *ok[] = { "oa-test", "--port=81", NULL };
        char err[256] = "";
        demo_cfg c;

        spec.check = port_not_80;
        memset(&c, 0, sizeof(c));
        cr_assert_eq(oa_cfg_load(&spec, &c, 3, argv, NULL, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "OA_TEST_PORT: 80 is taken");
        oa_cfg_free(&spec, &c);
        memset(&c, 0, sizeof(c));
        cr_assert_eq(oa_cfg_load(&spec, &c, 2, ok, NULL, err, sizeof(err)), OA_CFG_LOAD_RUN);
        oa_cfg_free(&spec, &c);
        fflush(stdout);
        cr_assert_stdout_eq_str("");
}

Test(oa_cfg, common_checks_name_the_variable_and_the_reason) {
        struct sockaddr_storage ss;
        char err[256];

        cr_assert_eq(oa_cfg_check_log_level("warn", err, sizeof(err)), 0);
        cr_assert_eq(oa_cfg_check_log_level("loud", err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_LOG_LEVEL: 'loud'"), "%s", err);
        cr_assert_eq(oa_cfg_check_log_level(NULL, err, sizeof(err)), -EINVAL);

        cr_assert_eq(oa_cfg_check_listen("OA_X_LISTEN", "127.0.0.1:8080", &ss, err, sizeof(err)), 0);
        cr_assert_eq(ss.ss_family, AF_INET);
        cr_assert_eq(oa_cfg_check_listen("OA_X_LISTEN", "[::1]:80", NULL, err, sizeof(err)), 0);
        cr_assert_eq(oa_cfg_check_listen("OA_X_LISTEN", "localhost:80", NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_X_LISTEN: 'localhost:80' is not a numeric host:port"), "%s", err);
        cr_assert_eq(oa_cfg_check_listen("OA_X_LISTEN", "1.2.3.4:70000", NULL, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_cfg_check_listen("OA_X_LISTEN", NULL, NULL, err, sizeof(err)), -EINVAL);
}

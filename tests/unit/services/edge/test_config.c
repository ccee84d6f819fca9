/* Tests for services/edge/config.c: the defaults, the environment, and what the table
 * cannot check. */
#include "edge.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

Test(edge_config, defaults_load_and_check) {
        oa_edge_cfg cfg = { 0 };
        oa_proxies p;
        char err[300], *argv[] = { "oa-edge", NULL };

        cr_assert_eq(oa_edge_cfg_load(&cfg, 1, argv, err, sizeof(err)), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert_str_eq(cfg.listen, "127.0.0.1:8080");
        cr_assert_eq(cfg.collect_max_body, 16384);
        cr_assert_eq(cfg.ip_rate, 50);
        cr_assert_eq(cfg.ip_burst, 100);
        cr_assert_eq(cfg.ts_past_ms, 31LL * 24 * 3600 * 1000);
        cr_assert_eq(cfg.ts_future_ms, 10LL * 60 * 1000);
        cr_assert_eq(cfg.ua_cache, 10000);
        cr_assert_str_eq(cfg.uap_regexes, "/usr/share/uap-core/regexes.yaml");
        cr_assert_geq(cfg.ack_timeout_ms, 1000);
        cr_assert_eq(oa_edge_cfg_check(&cfg, &p, err, sizeof(err)), 0, "%s", err);
        cr_assert(oa_proxies_match(&p, "127.0.0.1"), "the gateway is trusted by default");
        oa_edge_cfg_free(&cfg);
}

Test(edge_config, environment_and_command_line) {
        oa_edge_cfg cfg = { 0 };
        char err[300], *argv[] = { "oa-edge", "--ip-burst=7", NULL };

        setenv("OA_EDGE_IP_RATE", "5", 1);
        setenv("OA_EDGE_TRUSTED_PROXIES", "10.0.0.0/8", 1);
        cr_assert_eq(oa_edge_cfg_load(&cfg, 2, argv, err, sizeof(err)), OA_CFG_LOAD_RUN, "%s", err);
        cr_assert_eq(cfg.ip_rate, 5);
        cr_assert_eq(cfg.ip_burst, 7);
        cr_assert_str_eq(cfg.trusted_proxies, "10.0.0.0/8");
        oa_edge_cfg_free(&cfg);
        unsetenv("OA_EDGE_IP_RATE");
        unsetenv("OA_EDGE_TRUSTED_PROXIES");
}

Test(edge_config, refuses_what_the_table_cannot) {
        oa_edge_cfg cfg = { .listen = "127.0.0.1:8080", .log_level = "info", .trusted_proxies = "" };
        char err[300];

        cr_assert_eq(oa_edge_cfg_check(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
        cfg.listen = "localhost:8080";
        cr_assert_eq(oa_edge_cfg_check(&cfg, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_EDGE_LISTEN"), "%s", err);
        cfg.listen = "127.0.0.1:8080";
        cfg.log_level = "loud";
        cr_assert_eq(oa_edge_cfg_check(&cfg, NULL, err, sizeof(err)), -EINVAL);
        cfg.log_level = "debug";
        cfg.trusted_proxies = "gateway";
        cr_assert_eq(oa_edge_cfg_check(&cfg, NULL, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "OA_EDGE_TRUSTED_PROXIES"), "%s", err);
}

Test(edge_config, limits_are_checked) {
        oa_edge_cfg cfg = { 0 };
        char err[300], *argv[] = { "oa-edge", "--collect-max-body=100000", NULL };

        cr_assert_lt(oa_edge_cfg_load(&cfg, 2, argv, err, sizeof(err)), 0, "above the parser's 16 KB");
        oa_edge_cfg_free(&cfg);
}

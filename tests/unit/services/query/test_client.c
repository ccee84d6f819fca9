/* Tests for the pure parts of services/query/config.c and manage.c, and for the client
 * addresses as oa-query sees them: OA_QUERY_TRUSTED_PROXIES and the address behind them
 * (libshared's oa/proxy.h, X-Forwarded-For walked from the right), the failed-
 * authentication bucket of an address, the configuration checks, and which keys a key
 * may manage. */
#include "query.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

Test(query_proxies, parse_lists_and_networks) {
        oa_proxies p;
        char err[200];

        cr_assert_eq(oa_proxies_parse(" 127.0.0.1 , ::1,10.0.0.0/8,fd00::/8 ", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(p.n, 4);
        cr_assert_eq(p.net[2].bits, 8);
        cr_assert(oa_proxies_match(&p, "127.0.0.1"));
        cr_assert(oa_proxies_match(&p, "10.200.3.4"));
        cr_assert(oa_proxies_match(&p, "::1"));
        cr_assert(oa_proxies_match(&p, "fd12::1"));
        cr_assert(oa_proxies_match(&p, "::ffff:10.1.1.1"));       /* IPv4-mapped */
        cr_assert_not(oa_proxies_match(&p, "127.0.0.2"));
        cr_assert_not(oa_proxies_match(&p, "11.0.0.1"));
        cr_assert_not(oa_proxies_match(&p, "fe80::1"));
        cr_assert_not(oa_proxies_match(&p, "garbage"));
        cr_assert_eq(oa_proxies_parse("", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert_eq(p.n, 0);
        cr_assert_eq(oa_proxies_parse(",,", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert_eq(p.n, 0);
}

Test(query_proxies, odd_prefix_lengths) {
        oa_proxies p;
        char err[200];

        cr_assert_eq(oa_proxies_parse("192.168.4.0/22", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert(oa_proxies_match(&p, "192.168.7.255"));
        cr_assert_not(oa_proxies_match(&p, "192.168.8.0"));
        cr_assert_eq(oa_proxies_parse("0.0.0.0/0", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert(oa_proxies_match(&p, "8.8.8.8"));
        cr_assert_not(oa_proxies_match(&p, "::1"));
}

struct bad_proxy {
        char csv[80];
};

ParameterizedTestParameters(query_proxies, bad_items_are_refused) {
        static struct bad_proxy rows[] = {
                { "localhost" }, { "127.0.0.1/33" }, { "::1/129" }, { "10.0.0.0/-1" }, { "10.0.0.0/" },
                { "10.0.0.0/8x" }, { "1.2.3" }, { "1.2.3.4:80" }, { "[::1]" }, { "127.0.0.1;rm" },
        };
        return cr_make_param_array(struct bad_proxy, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_proxy *row, query_proxies, bad_items_are_refused) {
        oa_proxies p;
        char err[200] = "";

        cr_assert_eq(oa_proxies_parse(row->csv, "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), -EINVAL, "%s", row->csv);
        cr_assert(strstr(err, "OA_QUERY_TRUSTED_PROXIES"), "%s", err);
}

Test(query_proxies, at_most_32) {
        char csv[1024] = "", err[200];
        oa_proxies p;

        for (int i = 0; i < 33; i++)
                sprintf(csv + strlen(csv), "%s10.0.0.%d", i ? "," : "", i);
        cr_assert_eq(oa_proxies_parse(csv, "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), -EINVAL);
}

struct xff_row {
        char peer[48];
        char xff[200];
        char client[48];
};

ParameterizedTestParameters(query_client, xff_rows) {
        /* trusted: 127.0.0.1, ::1, 10.0.0.0/8 */
        static struct xff_row rows[] = {
                { "203.0.113.7", "", "203.0.113.7" },
                /* an untrusted peer's header is ignored */
                { "203.0.113.7", "1.2.3.4", "203.0.113.7" },
                /* the gateway appended the client */
                { "127.0.0.1", "198.51.100.9", "198.51.100.9" },
                /* the client's own claim to the left is not believed */
                { "127.0.0.1", "6.6.6.6, 198.51.100.9", "198.51.100.9" },
                /* through two trusted proxies */
                { "127.0.0.1", "6.6.6.6, 198.51.100.9, 10.1.2.3", "198.51.100.9" },
                /* every hop trusted: the leftmost */
                { "127.0.0.1", "10.0.0.5, 10.0.0.6", "10.0.0.5" },
                /* trusted peer, no header */
                { "127.0.0.1", "", "127.0.0.1" },
                /* garbage where the trusted hop's peer should be: the walk stops at that hop */
                { "127.0.0.1", "198.51.100.9, not-an-ip", "127.0.0.1" },
                { "127.0.0.1", "not-an-ip, 10.0.0.5", "10.0.0.5" },
                /* empty items are skipped */
                { "127.0.0.1", "198.51.100.9,, ", "198.51.100.9" },
                /* ports and brackets as some proxies write them */
                { "127.0.0.1", "198.51.100.9:4711", "198.51.100.9" },
                { "127.0.0.1", "[2001:db8::7]:4711", "2001:db8::7" },
                { "127.0.0.1", "2001:db8::7", "2001:db8::7" },
                /* IPv4-mapped IPv6 is IPv4 */
                { "::ffff:127.0.0.1", "::ffff:198.51.100.9", "198.51.100.9" },
                { "::1", "198.51.100.9", "198.51.100.9" },
                /* hostile */
                { "127.0.0.1", "198.51.100.9\r\nX: y", "127.0.0.1" },
                { "127.0.0.1", ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,", "127.0.0.1" },
                { "127.0.0.1", "999.1.1.1", "127.0.0.1" },
        };
        return cr_make_param_array(struct xff_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct xff_row *row, query_client, xff_rows) {
        oa_proxies p;
        char err[200], out[64] = "";

        cr_assert_eq(oa_proxies_parse("127.0.0.1,::1,10.0.0.0/8", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert_eq(oa_proxies_client_ip(&p, row->peer, row->xff[0] ? row->xff : NULL, strlen(row->xff),
                                          out, sizeof(out)), 0);
        cr_assert_str_eq(out, row->client, "peer %s, X-Forwarded-For '%s'", row->peer, row->xff);
}

Test(query_client, xff_is_not_nul_terminated) {
        oa_proxies p;
        char err[200], out[64];
        const char xff[] = "198.51.100.9, 6.6.6.6";

        cr_assert_eq(oa_proxies_parse("127.0.0.1", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        /* only the first 12 bytes are the header */
        cr_assert_eq(oa_proxies_client_ip(&p, "127.0.0.1", xff, 12, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "198.51.100.9");
        cr_assert_eq(oa_proxies_client_ip(&p, "nonsense", NULL, 0, out, sizeof(out)), -EINVAL);
}

Test(query_client, no_trusted_proxies_means_the_peer) {
        oa_proxies p;
        char err[200], out[64];

        cr_assert_eq(oa_proxies_parse("", "OA_QUERY_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
        cr_assert_eq(oa_proxies_client_ip(&p, "127.0.0.1", "1.2.3.4", 7, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "127.0.0.1");
}

Test(query_client, bucket_is_the_v4_address_or_the_v6_64) {
        char b[64];

        cr_assert_eq(oa_proxies_client_bucket("198.51.100.9", b, sizeof(b)), 0);
        cr_assert_str_eq(b, "198.51.100.9");
        cr_assert_eq(oa_proxies_client_bucket("2001:db8:1:2:3:4:5:6", b, sizeof(b)), 0);
        cr_assert_str_eq(b, "2001:db8:1:2::/64");
        cr_assert_eq(oa_proxies_client_bucket("2001:db8:1:2:ffff::1", b, sizeof(b)), 0);
        cr_assert_str_eq(b, "2001:db8:1:2::/64");
        cr_assert_eq(oa_proxies_client_bucket("::ffff:198.51.100.9", b, sizeof(b)), 0);
        cr_assert_str_eq(b, "198.51.100.9");
        cr_assert_eq(oa_proxies_client_bucket("unknown", b, sizeof(b)), -EINVAL);
        cr_assert_eq(oa_proxies_client_bucket("2001:db8:1:2::1", b, 10), -ENOSPC);
}

/* ---- configuration ---- */

static oa_query_cfg good_cfg(void) {
        return (oa_query_cfg) {
                .listen = "127.0.0.1:8081",
                .log_level = "info",
                .trusted_proxies = "127.0.0.1",
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

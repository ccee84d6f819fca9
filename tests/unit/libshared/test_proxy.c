/* Tests for libshared/src/proxy.c: trusted proxies, the client address behind them
 * (X-Forwarded-For walked from the right), and the bucket of an address. */
#include "oa/proxy.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

Test(oa_proxies, parse_lists_and_networks) {
        oa_proxies p;
        char err[200];

        cr_assert_eq(oa_proxies_parse(" 127.0.0.1 , ::1,10.0.0.0/8,fd00::/8 ", "X", &p, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(p.n, 4);
        cr_assert_eq(p.net[2].bits, 8);
        cr_assert(oa_proxies_match(&p, "127.0.0.1"));
        cr_assert(oa_proxies_match(&p, "10.200.3.4"));
        cr_assert(oa_proxies_match(&p, "::1"));
        cr_assert(oa_proxies_match(&p, "fd12::1"));
        cr_assert(oa_proxies_match(&p, "::ffff:10.1.1.1"));      /* IPv4-mapped */
        cr_assert_not(oa_proxies_match(&p, "127.0.0.2"));
        cr_assert_not(oa_proxies_match(&p, "11.0.0.1"));
        cr_assert_not(oa_proxies_match(&p, "fe80::1"));
        cr_assert_not(oa_proxies_match(&p, "garbage"));
        cr_assert_eq(oa_proxies_parse("", "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(p.n, 0);
        cr_assert_eq(oa_proxies_parse(NULL, "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(p.n, 0);
        cr_assert_eq(oa_proxies_parse(",,", "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(p.n, 0);
}

Test(oa_proxies, odd_prefix_lengths) {
        oa_proxies p;
        char err[200];

        cr_assert_eq(oa_proxies_parse("192.168.4.0/22", "X", &p, err, sizeof(err)), 0);
        cr_assert(oa_proxies_match(&p, "192.168.7.255"));
        cr_assert_not(oa_proxies_match(&p, "192.168.8.0"));
        cr_assert_eq(oa_proxies_parse("0.0.0.0/0", "X", &p, err, sizeof(err)), 0);
        cr_assert(oa_proxies_match(&p, "8.8.8.8"));
        cr_assert_not(oa_proxies_match(&p, "::1"));
}

struct bad_proxy {
        char csv[80];
};

ParameterizedTestParameters(oa_proxies, bad_items_are_refused_naming_the_setting) {
        static struct bad_proxy rows[] = {
                { "localhost" }, { "127.0.0.1/33" }, { "::1/129" }, { "10.0.0.0/-1" }, { "10.0.0.0/" },
                { "10.0.0.0/8x" }, { "1.2.3" }, { "1.2.3.4:80" }, { "[::1]" }, { "127.0.0.1;rm" },
        };
        return cr_make_param_array(struct bad_proxy, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_proxy *row, oa_proxies, bad_items_are_refused_naming_the_setting) {
        oa_proxies p;
        char err[200] = "";

        cr_assert_eq(oa_proxies_parse(row->csv, "OA_X_TRUSTED_PROXIES", &p, err, sizeof(err)), -EINVAL, "%s", row->csv);
        cr_assert(strstr(err, "OA_X_TRUSTED_PROXIES"), "%s", err);
}

Test(oa_proxies, at_most_32) {
        char csv[1024] = "", err[200];
        oa_proxies p;

        for (int i = 0; i < 33; i++)
                sprintf(csv + strlen(csv), "%s10.0.0.%d", i ? "," : "", i);
        cr_assert_eq(oa_proxies_parse(csv, "X", &p, err, sizeof(err)), -EINVAL);
}

struct xff_row {
        char peer[48];
        char xff[200];
        char client[48];
};

ParameterizedTestParameters(oa_proxies, client_ip_rows) {
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
                { "127.0.0.1", "", "127.0.0.1" },
                /* garbage where the trusted hop's peer should be: the walk stops at that hop */
                { "127.0.0.1", "198.51.100.9, not-an-ip", "127.0.0.1" },
                { "127.0.0.1", "not-an-ip, 10.0.0.5", "10.0.0.5" },
                { "127.0.0.1", "198.51.100.9,, ", "198.51.100.9" },
                { "127.0.0.1", "198.51.100.9:4711", "198.51.100.9" },
                { "127.0.0.1", "[2001:db8::7]:4711", "2001:db8::7" },
                { "127.0.0.1", "2001:db8::7", "2001:db8::7" },
                { "::ffff:127.0.0.1", "::ffff:198.51.100.9", "198.51.100.9" },
                { "::1", "198.51.100.9", "198.51.100.9" },
                /* hostile */
                { "127.0.0.1", "198.51.100.9\r\nX: y", "127.0.0.1" },
                { "127.0.0.1", ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,", "127.0.0.1" },
                { "127.0.0.1", "999.1.1.1", "127.0.0.1" },
        };
        return cr_make_param_array(struct xff_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct xff_row *row, oa_proxies, client_ip_rows) {
        oa_proxies p;
        char err[200], out[64] = "";

        cr_assert_eq(oa_proxies_parse("127.0.0.1,::1,10.0.0.0/8", "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(oa_proxies_client_ip(&p, row->peer, row->xff[0] ? row->xff : NULL, strlen(row->xff),
                                          out, sizeof(out)), 0);
        cr_assert_str_eq(out, row->client, "peer %s, X-Forwarded-For '%s'", row->peer, row->xff);
}

Test(oa_proxies, xff_is_not_nul_terminated) {
        oa_proxies p;
        char err[200], out[64];
        const char xff[] = "198.51.100.9, 6.6.6.6";

        cr_assert_eq(oa_proxies_parse("127.0.0.1", "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(oa_proxies_client_ip(&p, "127.0.0.1", xff, 12, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "198.51.100.9");
        cr_assert_eq(oa_proxies_client_ip(&p, "nonsense", NULL, 0, out, sizeof(out)), -EINVAL);
}

Test(oa_proxies, no_trusted_proxies_means_the_peer) {
        oa_proxies p;
        char err[200], out[64];

        cr_assert_eq(oa_proxies_parse("", "X", &p, err, sizeof(err)), 0);
        cr_assert_eq(oa_proxies_client_ip(&p, "127.0.0.1", "1.2.3.4", 7, out, sizeof(out)), 0);
        cr_assert_str_eq(out, "127.0.0.1");
}

Test(oa_proxies, bucket_is_the_v4_address_or_the_v6_64) {
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

/* IPv4 in inet_ntop's form is copied as it is; anything else goes through parsing, so
 * every spelling of one address lands in one bucket. */
struct bucket_row {
        char ip[24];
        int r;
        char want[24];          /* "" with an error */
};

ParameterizedTestParameters(oa_proxies, bucket_rows) {
        static struct bucket_row rows[] = {
                { "0.0.0.0", 0, "0.0.0.0" },
                { "255.255.255.255", 0, "255.255.255.255" },
                { "10.0.0.1", 0, "10.0.0.1" },
                { " 10.0.0.1", 0, "10.0.0.1" },
                { "10.0.0.1:8080", 0, "10.0.0.1" },
                { "[::ffff:10.0.0.1]", 0, "10.0.0.1" },
                { "256.0.0.1", -EINVAL, "" },
                { "1.2.3", -EINVAL, "" },
                { "1.2.3.4.5", -EINVAL, "" },
                { "01.2.3.4", -EINVAL, "" },
                { "1.2.3.0004", -EINVAL, "" },
                { "1..2.3", -EINVAL, "" },
                { "", -EINVAL, "" },
        };

        return cr_make_param_array(struct bucket_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bucket_row *row, oa_proxies, bucket_rows) {
        char b[64];

        cr_assert_eq(oa_proxies_client_bucket(row->ip, b, sizeof(b)), row->r, "%s", row->ip);
        if (row->r == 0)
                cr_assert_str_eq(b, row->want);
}

Test(oa_proxies, bucket_of_v4_too_long_for_the_buffer_is_enospc) {
        char b[8];

        cr_assert_eq(oa_proxies_client_bucket("10.0.0.1", b, sizeof(b)), -ENOSPC);
}

/* oa_ip_format writes what inet_ntop writes. */
Test(oa_proxies, ip_format_is_inet_ntop) {
        static const char *const ips[] = { "0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.7",
                                           "1.20.199.9", "2001:db8::1", "::1" };
        unsigned char addr[16];
        char want[64], got[64];

        for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
                int family = strchr(ips[i], ':') ? AF_INET6 : AF_INET;

                cr_assert_eq(inet_pton(family, ips[i], addr), 1);
                cr_assert_not_null(inet_ntop(family, addr, want, sizeof(want)));
                cr_assert_eq(oa_ip_format(family, addr, got, sizeof(got)), 0);
                cr_assert_str_eq(got, want);
        }
        cr_assert_eq(inet_pton(AF_INET, "255.255.255.255", addr), 1);
        cr_assert_eq(oa_ip_format(AF_INET, addr, got, 15), -ENOSPC);
        cr_assert_eq(oa_ip_format(AF_INET, addr, got, 16), 0);
}

/* Tests for oa_geo_ (include/oa/geo.h) against Debian's location database. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oa/geo.h"

static oa_geo *new_geo(void) {
        oa_geo *g = NULL;
        char err[256] = "";
        int r = oa_geo_new(NULL, &g, err, sizeof(err));

        cr_assert_eq(r, 0, "oa_geo_new: %d %s", r, err);
        return g;
}

struct geo_row {
        char ip[64];
        int want;               /* 0, -ENOENT, -EINVAL */
        char cc[3];             /* for 0: the country, or "" for "any two letters" */
};

ParameterizedTestParameters(oa_geo, country) {
        static struct geo_row rows[] = {
                /* well-known public addresses */
                { "8.8.8.8", 0, "US" },
                { "2001:4860:4860::8888", 0, "US" },
                { "1.1.1.1", 0, "" },           /* anycast: whatever the database says */
                { "9.9.9.9", 0, "" },
                { "81.2.69.142", 0, "GB" },
                { "193.0.6.139", 0, "NL" },     /* RIPE NCC */
                /* IPv4 carried in IPv6 */
                { "::ffff:8.8.8.8", 0, "US" },
                { "64:ff9b::808:808", 0, "US" },        /* NAT64 */
                { "2002:808:808::1", 0, "US" },         /* 6to4 */
                /* ranges that name no place */
                { "127.0.0.1", -ENOENT, "" },
                { "10.0.0.1", -ENOENT, "" },
                { "172.16.5.4", -ENOENT, "" },
                { "172.31.255.255", -ENOENT, "" },
                { "192.168.1.1", -ENOENT, "" },
                { "100.64.0.1", -ENOENT, "" },          /* CGNAT */
                { "169.254.1.1", -ENOENT, "" },
                { "192.0.2.1", -ENOENT, "" },           /* documentation */
                { "198.51.100.7", -ENOENT, "" },
                { "203.0.113.9", -ENOENT, "" },
                { "198.18.0.1", -ENOENT, "" },          /* benchmarking */
                { "224.0.0.1", -ENOENT, "" },
                { "240.1.2.3", -ENOENT, "" },
                { "255.255.255.255", -ENOENT, "" },
                { "0.0.0.0", -ENOENT, "" },
                { "::1", -ENOENT, "" },
                { "::", -ENOENT, "" },
                { "fe80::1", -ENOENT, "" },
                { "fe80::1%eth0", -ENOENT, "" },
                { "fc00::1", -ENOENT, "" },
                { "fd12:3456::1", -ENOENT, "" },
                { "ff02::1", -ENOENT, "" },
                { "2001:db8::1", -ENOENT, "" },
                { "2001::1", -ENOENT, "" },             /* Teredo */
                { "3fff::1", -ENOENT, "" },
                { "::ffff:10.0.0.1", -ENOENT, "" },
                { "::ffff:127.0.0.1", -ENOENT, "" },
                { "64:ff9b::a00:1", -ENOENT, "" },      /* NAT64 of 10.0.0.1 */
                { "2002:a00:1::", -ENOENT, "" },        /* 6to4 of 10.0.0.1 */
                /* not addresses */
                { "not-an-ip", -EINVAL, "" },
                { "999.1.1.1", -EINVAL, "" },
                { "", -EINVAL, "" },
                { "1.2.3", -EINVAL, "" },
                { "1.2.3.4.5", -EINVAL, "" },
                { "01.2.3.4", -EINVAL, "" },
                { " 8.8.8.8", -EINVAL, "" },
                { "8.8.8.8 ", -EINVAL, "" },
                { "8.8.8.8/32", -EINVAL, "" },
                { "[::1]", -EINVAL, "" },
                { "::g", -EINVAL, "" },
                { "fe80::1%", -EINVAL, "" },
                { "1:2:3:4:5:6:7:8:9", -EINVAL, "" },
        };
        return cr_make_param_array(struct geo_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct geo_row *row, oa_geo, country) {
        oa_geo *g = new_geo();
        char cc[3] = "--";

        for (int round = 0; round < 2; round++) {      /* the second answer is cached */
                int r = oa_geo_country(g, row->ip, cc);

                cr_assert_eq(r, row->want, "%s: %d", row->ip, r);
                if (r != 0) {
                        cr_assert_str_eq(cc, "--", "%s: written on failure", row->ip);
                        continue;
                }
                cr_assert_eq(strlen(cc), 2, "%s", row->ip);
                cr_assert(cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z', "%s", cc);
                if (row->cc[0])
                        cr_assert_str_eq(cc, row->cc, "%s", row->ip);
        }
        oa_geo_free(g);
}

Test(oa_geo, unterminated_text) {
        oa_geo *g = new_geo();
        char cc[3];

        cr_assert_eq(oa_geo_country_n(g, "8.8.8.8garbage", 7, cc), 0);
        cr_assert_str_eq(cc, "US");
        cr_assert_eq(oa_geo_country_n(g, "8.8.8.8\0", 8, cc), -EINVAL);
        cr_assert_eq(oa_geo_country_n(g, "8.8.8.8", 0, cc), -EINVAL);
        oa_geo_free(g);
}

Test(oa_geo, long_input_is_einval) {
        oa_geo *g = new_geo();
        char big[4096], cc[3];

        memset(big, '1', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert_eq(oa_geo_country(g, big, cc), -EINVAL);
        /* a zone id may make a valid address long */
        snprintf(big, sizeof(big), "fe80::1%%%s", "a-very-long-interface-name-for-a-zone-id-0123456789");
        cr_assert_eq(oa_geo_country(g, big, cc), -ENOENT);
        oa_geo_free(g);
}

Test(oa_geo, many_addresses_through_the_cache) {
        oa_geo *g = new_geo();
        char ip[32], cc[3];
        int found = 0;

        /* more addresses than cache slots: collisions replace entries, answers stay right */
        for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 6000; i++) {
                        snprintf(ip, sizeof(ip), "8.%d.%d.%d", (i >> 8) & 255, i & 255, i % 7);
                        int r = oa_geo_country(g, ip, cc);
                        cr_assert(r == 0 || r == -ENOENT, "%s: %d", ip, r);
                        found += r == 0;
                }
                cr_assert_eq(oa_geo_country(g, "8.8.8.8", cc), 0);
                cr_assert_str_eq(cc, "US");
                cr_assert_eq(oa_geo_country(g, "10.1.2.3", cc), -ENOENT);
        }
        cr_assert_gt(found, 0);
        oa_geo_free(g);
}

Test(oa_geo, invalid_arguments) {
        oa_geo *g = new_geo();
        char cc[3];

        cr_assert_eq(oa_geo_country(NULL, "8.8.8.8", cc), -EINVAL);
        cr_assert_eq(oa_geo_country(g, NULL, cc), -EINVAL);
        cr_assert_eq(oa_geo_country(g, "8.8.8.8", NULL), -EINVAL);
        cr_assert_eq(oa_geo_new(NULL, NULL, NULL, 0), -EINVAL);
        cr_assert_null(oa_geo_free(g));
        cr_assert_null(oa_geo_free(NULL));
}

Test(oa_geo, explicit_paths) {
        oa_geo *g = NULL;
        char err[256] = "", cc[3];

        cr_assert_eq(oa_geo_new(OA_GEO_FALLBACK_DB, &g, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_geo_country(g, "8.8.8.8", cc), 0);
        g = oa_geo_free(g);

        cr_assert_eq(oa_geo_new("/nonexistent/location.db", &g, err, sizeof(err)), -ENOENT);
        cr_assert(strstr(err, "/nonexistent/location.db"), "%s", err);
        cr_assert_null(g);

        cr_assert_eq(oa_geo_new("/usr/share/uap-core/regexes.yaml", &g, err, sizeof(err)), -EBADMSG);
        cr_assert(strstr(err, "not a readable libloc database"), "%s", err);
        cr_assert_null(g);
}

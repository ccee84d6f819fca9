/* Tests for libshared/src/key.c: secrets, hashes, Bearer parsing and scopes. */
#include "oa/key.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

Test(oa_key, generate_has_exact_format_and_differs) {
        char a[OA_KEY_SECRET_LEN + 1], b[OA_KEY_SECRET_LEN + 1];

        cr_assert_eq(oa_key_generate(a), 0);
        cr_assert_eq(oa_key_generate(b), 0);
        cr_assert_eq(strlen(a), OA_KEY_SECRET_LEN);
        cr_assert(oa_key_format_ok(a, strlen(a)), "%s", a);
        cr_assert_str_neq(a, b);
        cr_assert_eq(strncmp(a, "oa_live_", 8), 0);
}

Test(oa_key, generate_uses_whole_alphabet_evenly) {
        /* 2,000 keys = 64,000 characters; each of 62 should appear about 1,032 times. A
         * biased or truncated alphabet fails this by a wide margin. */
        unsigned counts[128] = { 0 };
        char s[OA_KEY_SECRET_LEN + 1];

        for (int i = 0; i < 2000; i++) {
                cr_assert_eq(oa_key_generate(s), 0);
                for (int j = OA_KEY_PREFIX_LEN; j < OA_KEY_SECRET_LEN; j++)
                        counts[(unsigned char) s[j]]++;
        }
        for (int c = 0; c < 128; c++) {
                bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
                if (alnum)
                        cr_assert(counts[c] > 800 && counts[c] < 1300, "'%c' seen %u times", c, counts[c]);
                else
                        cr_assert_eq(counts[c], 0);
        }
}

Test(oa_key, hash_is_sha256) {
        unsigned char h[OA_KEY_HASH_LEN];
        static const unsigned char abc[OA_KEY_HASH_LEN] = {
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
        };

        oa_key_hash("abc", 3, h);
        cr_assert(oa_key_hash_eq(h, abc));
        h[31] ^= 1;
        cr_assert_not(oa_key_hash_eq(h, abc));
}

/* Criterion runs each parameter in a fresh process, so rows hold arrays, not pointers. */
struct header_row {
        char value[80];
        size_t len;             /* 0: strlen(value) */
        int expect;
};

ParameterizedTestParameters(oa_key, bearer_table) {
        static struct header_row rows[] = {
                { "Bearer oa_live_0123456789abcdefghijABCDEFGHIJ01", 0, 0 },
                { "", 0, -EINVAL },
                { "Bearer", 0, -EINVAL },
                { "Bearer ", 0, -EINVAL },
                { "bearer oa_live_0123456789abcdefghijABCDEFGHIJ01", 0, -EINVAL },
                { "BEARER oa_live_0123456789abcdefghijABCDEFGHIJ01", 0, -EINVAL },
                { "Basic dXNlcjpwYXNz", 0, -EINVAL },
                { "Token oa_live_0123456789abcdefghijABCDEFGHIJ01", 0, -EINVAL },
                { "Bearer  oa_live_0123456789abcdefghijABCDEFGHIJ0", 0, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghijABCDEFGHIJ0", 0, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghijABCDEFGHIJ012", 0, -EINVAL },
                { "Bearer oa_test_0123456789abcdefghijABCDEFGHIJ0123", 0, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghij-BCDEFGHIJ01", 0, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghij\xc3\xa9" "CDEFGHIJ0", 0, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghij\0BCDEFGHIJ01", 47, -EINVAL },
                { "Bearer oa_live_0123456789abcdefghijABCDEFGHIJ01 ", 0, -EINVAL },
                { " Bearer oa_live_0123456789abcdefghijABCDEFGHIJ01", 0, -EINVAL },
        };
        return cr_make_param_array(struct header_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct header_row *row, oa_key, bearer_table) {
        const char *secret = NULL;
        size_t n = row->len ? row->len : strlen(row->value);
        int r = oa_key_parse_bearer(row->value, n, &secret);

        cr_assert_eq(r, row->expect, "'%s' gave %d", row->value, r);
        if (r == 0)
                cr_assert_eq(secret, row->value + 7);
        else
                cr_assert_null(secret);
}

Test(oa_key, bearer_rejects_10kb_header) {
        static char big[10240];

        memcpy(big, "Bearer ", 7);
        memset(big + 7, 'a', sizeof(big) - 7);
        const char *secret = NULL;
        cr_assert_eq(oa_key_parse_bearer(big, sizeof(big), &secret), -EINVAL);
        cr_assert_eq(oa_key_parse_bearer(NULL, 0, &secret), -EINVAL);
}

Test(oa_key, hint_shows_prefix_and_last_four) {
        char hint[OA_KEY_HINT_MAX];

        oa_key_hint("oa_live_0123456789abcdefghijABCDEFGHWXYZ", hint);
        cr_assert_str_eq(hint, "oa_live_0123...WXYZ");
}

Test(oa_scope, parse_and_format_round_trip) {
        char err[128], buf[256];
        unsigned m = 0;

        cr_assert_eq(oa_scope_parse("stats:read,events:write", &m, err, sizeof(err)), 0);
        cr_assert_eq(m, OA_SCOPE_STATS_READ | OA_SCOPE_EVENTS_WRITE);
        cr_assert_eq(oa_scope_format(m, buf, sizeof(buf)), (int) strlen("events:write,stats:read"));
        cr_assert_str_eq(buf, "events:write,stats:read");
        cr_assert_eq(oa_scope_parse("*", &m, err, sizeof(err)), 0);
        cr_assert_eq(m, OA_SCOPE_ALL);
        cr_assert_eq(oa_scope_format(OA_SCOPE_ALL, buf, 10), -E2BIG);
}

Test(oa_scope, parse_rejects_unknown_and_empty) {
        char err[128];
        unsigned m = 12345;

        cr_assert_eq(oa_scope_parse("stats:read,stats:write", &m, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "stats:write"));
        cr_assert_eq(oa_scope_parse("", &m, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_scope_parse("stats:read,", &m, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_scope_parse(",stats:read", &m, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_scope_parse("STATS:READ", &m, err, sizeof(err)), -EINVAL);
        cr_assert_eq(m, 12345, "untouched on failure");
}

Test(oa_scope, name_of_single_bits_only) {
        cr_assert_str_eq(oa_scope_name(OA_SCOPE_PRIVACY_WRITE), "privacy:write");
        cr_assert_null(oa_scope_name(OA_SCOPE_PRIVACY_WRITE | OA_SCOPE_STATS_READ));
        cr_assert_null(oa_scope_name(0));
}

Test(oa_key, random_base62_fills_exactly_n_and_terminates) {
        char buf[40];

        memset(buf, 'X', sizeof(buf));
        cr_assert_eq(oa_key_random_base62(buf, 16), 0);
        cr_assert_eq(strlen(buf), 16);
        for (int i = 0; i < 16; i++)
                cr_assert(isalnum((unsigned char) buf[i]), "'%c' at %d", buf[i], i);
        cr_assert_eq(buf[17], 'X', "wrote past n + 1 bytes");
        cr_assert_eq(oa_key_random_base62(buf, 0), 0);
        cr_assert_str_eq(buf, "");
}

Test(oa_key, random_base62_uses_whole_alphabet_evenly) {
        /* 62,000 characters in one call (more than one getrandom buffer): each of 62 should
         * appear about 1,000 times. */
        enum { N = 62000 };
        static char s[N + 1];
        unsigned counts[256] = { 0 };

        cr_assert_eq(oa_key_random_base62(s, N), 0);
        cr_assert_eq(strlen(s), N);
        for (int j = 0; j < N; j++)
                counts[(unsigned char) s[j]]++;
        for (int c = 0; c < 256; c++) {
                if (isalnum(c) && c < 128)
                        cr_assert(counts[c] > 800 && counts[c] < 1200, "'%c' seen %u times", c, counts[c]);
                else
                        cr_assert_eq(counts[c], 0);
        }
}

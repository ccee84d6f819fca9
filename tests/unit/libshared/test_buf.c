/* Tests for libshared/src/buf.c: the bounded buffer and JSON string escaping. */
#include "oa/buf.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

Test(oa_buf, add_appends_and_terminates) {
        oa_buf b;

        oa_buf_init(&b, 100);
        cr_assert_eq(oa_buf_add(&b, "abc", 3), 0);
        cr_assert_eq(oa_buf_adds(&b, "def"), 0);
        cr_assert_eq(oa_buf_addc(&b, 'g'), 0);
        cr_assert_eq(b.len, 7);
        cr_assert_str_eq(b.data, "abcdefg");
        oa_buf_done(&b);
        cr_assert_null(b.data);
}

Test(oa_buf, add_beyond_max_returns_e2big) {
        oa_buf b;

        oa_buf_init(&b, 5);
        cr_assert_eq(oa_buf_add(&b, "abcd", 4), 0);
        cr_assert_eq(oa_buf_add(&b, "ef", 2), -E2BIG);
        cr_assert_eq(b.len, 4, "a failed add must leave the content as it was");
        cr_assert_str_eq(b.data, "abcd");
        cr_assert_eq(oa_buf_addc(&b, 'e'), 0);
        cr_assert_eq(oa_buf_addc(&b, 'f'), -E2BIG);
        cr_assert_leq(b.cap, 6, "never allocates past max + NUL");
        oa_buf_done(&b);
}

Test(oa_buf, huge_length_does_not_overflow) {
        oa_buf b;

        oa_buf_init(&b, (size_t) -1);
        cr_assert_eq(oa_buf_add(&b, "x", 1), 0);
        cr_assert_eq(oa_buf_add(&b, "y", (size_t) -1), -E2BIG);
        oa_buf_done(&b);
}

Test(oa_buf, addf_formats_and_respects_max) {
        oa_buf b;

        oa_buf_init(&b, 10);
        cr_assert_eq(oa_buf_addf(&b, "%d-%s", 42, "ok"), 0);
        cr_assert_str_eq(b.data, "42-ok");
        cr_assert_eq(oa_buf_addf(&b, "%s", "too long!"), -E2BIG);
        cr_assert_str_eq(b.data, "42-ok");
        oa_buf_done(&b);
}

Test(oa_buf, grows_across_many_adds) {
        oa_buf b;

        oa_buf_init(&b, 1 << 20);
        for (int i = 0; i < 10000; i++)
                cr_assert_eq(oa_buf_add(&b, "0123456789", 10), 0);
        cr_assert_eq(b.len, 100000);
        cr_assert_eq(b.data[99999], '9');
        cr_assert_eq(b.data[100000], '\0');
        oa_buf_done(&b);
}

Test(oa_buf, reset_keeps_memory_steal_hands_over) {
        oa_buf b;
        size_t n;
        char *p;

        oa_buf_init(&b, 100);
        oa_buf_adds(&b, "hello");
        oa_buf_reset(&b);
        cr_assert_eq(b.len, 0);
        cr_assert_str_eq(b.data, "");
        oa_buf_adds(&b, "world");
        p = oa_buf_steal(&b, &n);
        cr_assert_eq(n, 5);
        cr_assert_str_eq(p, "world");
        cr_assert_null(b.data);
        cr_assert_eq(b.len, 0);
        free(p);
}

/* Criterion runs each parameter in a fresh process, so rows hold arrays, not pointers. */
struct json_row {
        char in[16];
        size_t len;
        char out[32];
};

ParameterizedTestParameters(oa_buf, json_str_escapes) {
        static struct json_row rows[] = {
                { "plain", 5, "plain" },
                { "", 0, "" },
                { "q\"b\\", 4, "q\\\"b\\\\" },
                { "a\nb\rc\td", 7, "a\\nb\\rc\\td" },
                { "nul\0mid", 7, "nul\\u0000mid" },
                { "\x01\x1f", 2, "\\u0001\\u001f" },
                { "caf\xc3\xa9", 5, "caf\xc3\xa9" },                 /* valid UTF-8 kept */
                { "\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\xe2\x82\xac\xf0\x9f\x98\x80" },
                { "bad\xff", 4, "bad\xef\xbf\xbd" },                  /* invalid byte */
                { "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },        /* overlong '/' */
                { "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
                { "\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd" },        /* truncated */
                { "</script>", 9, "</script>" },
        };
        return cr_make_param_array(struct json_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct json_row *row, oa_buf, json_str_escapes) {
        oa_buf b;

        oa_buf_init(&b, 1000);
        cr_assert_eq(oa_buf_add_json_str(&b, row->in, row->len), 0);
        cr_assert_eq(b.len, strlen(row->out), "input %s", row->out);
        cr_assert_eq(memcmp(b.data ? b.data : "", row->out, b.len), 0);
        oa_buf_done(&b);
}

Test(oa_buf, json_str_failure_leaves_content) {
        oa_buf b;

        oa_buf_init(&b, 8);
        oa_buf_adds(&b, "ab");
        cr_assert_eq(oa_buf_add_json_str(&b, "\"\"\"\"", 4), -E2BIG);
        cr_assert_str_eq(b.data, "ab");
        oa_buf_done(&b);
}

Test(oa_buf, json_quoted) {
        oa_buf b;

        oa_buf_init(&b, 8);
        cr_assert_eq(oa_buf_add_json_quoted(&b, "a\"b"), 0);
        cr_assert_str_eq(b.data, "\"a\\\"b\"");
        cr_assert_eq(oa_buf_add_json_quoted(&b, "toolong"), -E2BIG);
        cr_assert_str_eq(b.data, "\"a\\\"b\"");         /* unchanged on failure */
        oa_buf_reset(&b);
        cr_assert_eq(oa_buf_add_json_quoted(&b, NULL), 0);
        cr_assert_str_eq(b.data, "\"\"");
        oa_buf_done(&b);
}

Test(oa_buf, json_quotedn_takes_n_bytes) {
        oa_buf b;

        oa_buf_init(&b, 64);
        cr_assert_eq(oa_buf_add_json_quotedn(&b, "a\"bcd", 3), 0);
        cr_assert_str_eq(b.data, "\"a\\\"b\"");
        oa_buf_reset(&b);
        cr_assert_eq(oa_buf_add_json_quotedn(&b, "a\0b", 3), 0);
        cr_assert_str_eq(b.data, "\"a\\u0000b\"");
        oa_buf_done(&b);
}

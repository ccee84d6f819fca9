/* Tests for libshared/src/ch_escape.c: the one string-literal quoting function, the
 * identifier whitelist and the request URL. A small decoder that follows ClickHouse's
 * literal rules checks that every quoted string means exactly its input bytes. */
#include "oa/ch.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

/* Decode a quoted literal the way ClickHouse's parser does. Returns the number of bytes
 * decoded into out, or -1 when the literal is malformed or ends before its last byte. */
static long decode_literal(const char *lit, size_t n, char *out) {
        size_t i = 1, o = 0;

        if (n < 2 || lit[0] != '\'' || lit[n - 1] != '\'')
                return -1;
        while (i < n - 1) {
                char c = lit[i++];

                if (c == '\'')
                        return -1;              /* an unescaped quote ends the literal early */
                if (c != '\\') {
                        out[o++] = c;
                        continue;
                }
                if (i >= n - 1)
                        return -1;
                c = lit[i++];
                switch (c) {
                case '0': out[o++] = '\0'; break;
                case 'b': out[o++] = '\b'; break;
                case 'f': out[o++] = '\f'; break;
                case 'n': out[o++] = '\n'; break;
                case 'r': out[o++] = '\r'; break;
                case 't': out[o++] = '\t'; break;
                case 'x': {
                        unsigned v = 0;

                        for (int k = 0; k < 2; k++, i++) {
                                if (i >= n - 1)
                                        return -1;
                                v = v * 16 + (unsigned) (lit[i] >= 'A' ? lit[i] - 'A' + 10 : lit[i] - '0');
                        }
                        out[o++] = (char) v;
                        break;
                }
                default: out[o++] = c; break;    /* \\ and \' and unknown escapes */
                }
        }
        return (long) o;
}

/* The literal is printable ASCII only, so no byte of it can confuse a log or the URL. */
static void assert_printable(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                cr_assert(s[i] >= 0x20 && s[i] < 0x7f, "byte %zu is 0x%02x", i, (unsigned char) s[i]);
}

/* Criterion runs each row in a fresh process: rows hold their bytes, not pointers. */
struct quote_row {
        char in[32];
        size_t len;
        char want[64];
};

ParameterizedTestParameters(oa_ch, quote_hostile_strings) {
        static struct quote_row rows[] = {
                { "", 0, "''" },
                { "plain", 5, "'plain'" },
                { "it's", 4, "'it\\'s'" },
                { "back\\slash", 10, "'back\\\\slash'" },
                { "nul\0mid", 7, "'nul\\0mid'" },
                { "\0", 1, "'\\0'" },
                { "a\nb\rc\td", 7, "'a\\nb\\rc\\td'" },
                { "\b\f", 2, "'\\b\\f'" },
                { "\x01\x1b\x1f\x7f", 4, "'\\x01\\x1B\\x1F\\x7F'" },
                { "'; DROP TABLE x; --", 19, "'\\'; DROP TABLE x; --'" },
                { "\\' OR 1=1", 9, "'\\\\\\' OR 1=1'" },
                { "' OR '1'='1", 11, "'\\' OR \\'1\\'=\\'1'" },
                { "/* c */ -- d # e", 16, "'/* c */ -- d # e'" },
                { "\\", 1, "'\\\\'" },
                { "\\x41", 4, "'\\\\x41'" },
                { "''", 2, "'\\'\\''" },
                { "caf\xc3\xa9", 5, "'caf\\xC3\\xA9'" },
                { "bad\xff\xfe", 5, "'bad\\xFF\\xFE'" },
                { "\xc0\xaf", 2, "'\\xC0\\xAF'" },
                { "{x:String}", 10, "'{x:String}'" },
                { "\"dq\" `bq`", 9, "'\"dq\" `bq`'" },
        };

        return cr_make_param_array(struct quote_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct quote_row *row, oa_ch, quote_hostile_strings) {
        char decoded[64];
        oa_buf b;
        long n;

        oa_buf_init(&b, 1000);
        cr_assert_eq(oa_ch_quote(&b, row->in, row->len), 0);
        cr_assert_str_eq(b.data, row->want);
        assert_printable(b.data, b.len);
        n = decode_literal(b.data, b.len, decoded);
        cr_assert_eq(n, (long) row->len, "decodes to %ld bytes, not %zu", n, row->len);
        cr_assert_eq(memcmp(decoded, row->in, row->len), 0);
        oa_buf_done(&b);
}

Test(oa_ch, quote_escapes_nul) {
        oa_buf b;

        oa_buf_init(&b, 100);
        cr_assert_eq(oa_ch_quote(&b, "a\0b", 3), 0);
        cr_assert_eq(b.len, 6);
        cr_assert_eq(memcmp(b.data, "'a\\0b'", 6), 0);
        oa_buf_done(&b);
}

Test(oa_ch, quote_round_trips_every_byte) {
        char in[256], decoded[256];
        oa_buf b;

        for (int i = 0; i < 256; i++)
                in[i] = (char) i;
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_quote(&b, in, sizeof(in)), 0);
        assert_printable(b.data, b.len);
        cr_assert_eq(decode_literal(b.data, b.len, decoded), 256);
        cr_assert_eq(memcmp(decoded, in, sizeof(in)), 0);
        oa_buf_done(&b);
}

Test(oa_ch, quote_long_string) {
        static char in[3000], decoded[3000];
        oa_buf b;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = "ab'\\\n\0\xe9z"[i % 8];
        oa_buf_init(&b, 20000);
        cr_assert_eq(oa_ch_quote(&b, in, sizeof(in)), 0);
        assert_printable(b.data, b.len);
        cr_assert_eq(decode_literal(b.data, b.len, decoded), (long) sizeof(in));
        cr_assert_eq(memcmp(decoded, in, sizeof(in)), 0);
        oa_buf_done(&b);
}

Test(oa_ch, quote_appends_after_existing_text) {
        oa_buf b;

        oa_buf_init(&b, 100);
        oa_buf_adds(&b, "SELECT count() FROM t WHERE s = ");
        cr_assert_eq(oa_ch_quote(&b, "x'y", 3), 0);
        cr_assert_str_eq(b.data, "SELECT count() FROM t WHERE s = 'x\\'y'");
        oa_buf_done(&b);
}

Test(oa_ch, quote_beyond_max_leaves_buffer_unchanged) {
        oa_buf b;

        oa_buf_init(&b, 12);
        oa_buf_adds(&b, "s = ");
        cr_assert_eq(oa_ch_quote(&b, "\x01\x02\x03", 3), -E2BIG);
        cr_assert_eq(b.len, 4);
        cr_assert_str_eq(b.data, "s = ");
        oa_buf_done(&b);
}

struct ident_row {
        char s[32];
        bool ok;
};

ParameterizedTestParameters(oa_ch, ident_ok_whitelist) {
        static struct ident_row rows[] = {
                { "events", true },
                { "_x", true },
                { "A1_b2", true },
                { "x", true },
                { "", false },
                { "1abc", false },
                { "a-b", false },
                { "a b", false },
                { "a.b", false },
                { "a;b", false },
                { "a`b", false },
                { "a\"b", false },
                { "a'b", false },
                { "events; DROP TABLE x", false },
                { "x--", false },
                { "x/*", false },
                { "caf\xc3\xa9", false },
                { "a\n", false },
                { "tab\t", false },
        };

        return cr_make_param_array(struct ident_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ident_row *row, oa_ch, ident_ok_whitelist) {
        cr_assert_eq(oa_ch_ident_ok(row->s), row->ok, "\"%s\"", row->s);
}

Test(oa_ch, ident_ok_rejects_null) {
        cr_assert_not(oa_ch_ident_ok(NULL));
}

Test(oa_ch, ident_ok_length_limit_is_128) {
        char s[130];

        memset(s, 'a', sizeof(s));
        s[128] = '\0';
        cr_assert(oa_ch_ident_ok(s));
        s[128] = 'a';
        s[129] = '\0';
        cr_assert_not(oa_ch_ident_ok(s));
}

Test(oa_ch, url_carries_our_settings) {
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_url_build(&b, "http://127.0.0.1:8123", "oa", 30, NULL, NULL, 0), 0);
        cr_assert_str_eq(b.data, "http://127.0.0.1:8123/?wait_end_of_query=1"
                         "&output_format_json_quote_64bit_integers=0&max_execution_time=30&database=oa");
        oa_buf_done(&b);
}

Test(oa_ch, url_trailing_slash_and_no_database) {
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_url_build(&b, "http://h:1/", "", 0, NULL, NULL, 0), 0);
        cr_assert_str_eq(b.data, "http://h:1/?wait_end_of_query=1&output_format_json_quote_64bit_integers=0");
        oa_buf_done(&b);
}

Test(oa_ch, url_call_settings_replace_ours) {
        const oa_ch_setting s[] = { { "wait_end_of_query", "0" }, { "max_block_size", "1000" } };
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_url_build(&b, "http://h", NULL, 5, NULL, s, 2), 0);
        cr_assert_str_eq(b.data, "http://h/?output_format_json_quote_64bit_integers=0"
                         "&max_execution_time=5&wait_end_of_query=0&max_block_size=1000");
        oa_buf_done(&b);
}

Test(oa_ch, url_encodes_values_and_query) {
        const oa_ch_setting s[] = { { "format_csv_delimiter", "&x=1 #'" } };
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_url_build(&b, "http://h", NULL, 0, "INSERT INTO t FORMAT RowBinary", s, 1), 0);
        cr_assert_str_eq(b.data, "http://h/?wait_end_of_query=1&output_format_json_quote_64bit_integers=0"
                         "&format_csv_delimiter=%26x%3D1%20%23%27"
                         "&query=INSERT%20INTO%20t%20FORMAT%20RowBinary");
        oa_buf_done(&b);
}

Test(oa_ch, url_rejects_bad_setting_name) {
        const oa_ch_setting s[] = { { "max_threads&user=admin", "1" } };
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_ch_url_build(&b, "http://h", NULL, 0, NULL, s, 1), -EINVAL);
        cr_assert_eq(b.len, 0);
        oa_buf_done(&b);
}

Test(oa_ch, url_rejects_reserved_names) {
        const char *names[] = { "query", "user", "password" };
        oa_buf b;

        oa_buf_init(&b, 4096);
        for (size_t i = 0; i < 3; i++) {
                const oa_ch_setting s[] = { { names[i], "x" } };

                cr_assert_eq(oa_ch_url_build(&b, "http://h", NULL, 0, NULL, s, 1), -EINVAL, "%s", names[i]);
        }
        oa_buf_done(&b);
}

Test(oa_ch, url_too_long_leaves_buffer_unchanged) {
        oa_buf b;

        oa_buf_init(&b, 40);
        oa_buf_adds(&b, "x");
        cr_assert_eq(oa_ch_url_build(&b, "http://h", "oa", 1, NULL, NULL, 0), -E2BIG);
        cr_assert_str_eq(b.data, "x");
        oa_buf_done(&b);
}

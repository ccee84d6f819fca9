/* Tests for libshared/src/event_json.c: the strict JSON tokenizer under the event
 * parsers, as a trace of tokens per body, with the hostile rows. */
#include "../../../libshared/src/event_json.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokens of body as text: "{ k:a s:x n:1 t f z [ ] } $" ($ = end), or the trace so
 * far then "ERR(<why>)". String flags show as !u (bad UTF-8), !0 (NUL), !c (a control
 * character) and !w (tab, LF or CR). */
static void trace(const char *body, size_t len, char *out, size_t outlen) {
        oa_ej *j = malloc(sizeof(*j));
        size_t o = 0;

        cr_assert_not_null(j);
        oa_ej_init(j, body, len);
        out[0] = '\0';
        for (int guard = 0; guard < 1000; guard++) {
                oa_ej_tok t = oa_ej_next(j);
                char tok[80];

                switch (t) {
                case OA_EJ_ERROR: snprintf(tok, sizeof(tok), "ERR(%s)", j->err); break;
                case OA_EJ_END: snprintf(tok, sizeof(tok), "$"); break;
                case OA_EJ_OBJ: snprintf(tok, sizeof(tok), "{"); break;
                case OA_EJ_OBJ_END: snprintf(tok, sizeof(tok), "}"); break;
                case OA_EJ_ARR: snprintf(tok, sizeof(tok), "["); break;
                case OA_EJ_ARR_END: snprintf(tok, sizeof(tok), "]"); break;
                case OA_EJ_KEY:
                case OA_EJ_STR:
                        snprintf(tok, sizeof(tok), "%c:%.*s%s%s%s%s", t == OA_EJ_KEY ? 'k' : 's',
                                 (int) (j->slen < 20 ? j->slen : 20), j->str,
                                 j->flags & OA_EJ_BAD_UTF8 ? "!u" : "", j->flags & OA_EJ_HAS_NUL ? "!0" : "",
                                 j->flags & OA_EJ_HAS_CTRL ? "!c" : "", j->flags & OA_EJ_HAS_WS ? "!w" : "");
                        break;
                case OA_EJ_NUM: snprintf(tok, sizeof(tok), "n%s:%.*s", j->is_int ? "" : "f", (int) j->slen, j->str); break;
                case OA_EJ_TRUE: snprintf(tok, sizeof(tok), "t"); break;
                case OA_EJ_FALSE: snprintf(tok, sizeof(tok), "f"); break;
                case OA_EJ_NULL: snprintf(tok, sizeof(tok), "z"); break;
                }
                o += (size_t) snprintf(out + o, outlen - o, "%s%s", o ? " " : "", tok);
                if (t == OA_EJ_ERROR || t == OA_EJ_END)
                        break;
        }
        /* sticky */
        cr_assert_eq(oa_ej_next(j), strstr(out, "ERR(") ? OA_EJ_ERROR : OA_EJ_END);
        free(j);
}

struct lex_row {
        char body[80];
        size_t len;             /* 0: strlen */
        char want[160];
};

ParameterizedTestParameters(oa_ej, tokens) {
        static struct lex_row rows[] = {
                { "{}", 0, "{ } $" },
                { " \t\r\n{ \"a\" : 1 , \"b\":[true,false,null]}\n", 0, "{ k:a n:1 k:b [ t f z ] } $" },
                { "[]", 0, "[ ] $" },
                { "\"x\"", 0, "s:x $" },
                { "-0", 0, "n:-0 $" },
                { "[0.5,1e400,-1E-2,9007199254740993]", 0, "[ nf:0.5 nf:1e400 nf:-1E-2 n:9007199254740993 ] $" },
                { "{\"a\":\"\\u00e9\\n\\/\\\"\"}", 0, "{ k:a s:\xc3\xa9\n/\"!w } $" },
                { "{\"a\":\"\\ud83d\\ude00\"}", 0, "{ k:a s:\xf0\x9f\x98\x80 } $" },
                { "\"\xe2\x82\xac\"", 0, "s:\xe2\x82\xac $" },
                /* flagged, not fatal: the field is rejected, the parse goes on */
                { "[\"a\\u0000b\",1]", 0, "[ s:a!0!c n:1 ] $" },
                { "[\"\\t\",\"\\r\\n\",\"\\b\",\"\\f\",\"\\u0001\",\"\\u007f\",\"\\u0085\",\"\\u00a0\"]", 0,
                  "[ s:\t!w s:\r\n!w s:\b!c s:\f!c s:\x01!c s:\x7f!c s:\xc2\x85!c s:\xc2\xa0 ] $" },
                { "[\"a\x7f\",\"\xc2\x80\",\"\xc2\x9f\",\"\xc2\xa0\"]", 0,
                  "[ s:a\x7f!c s:\xc2\x80!c s:\xc2\x9f!c s:\xc2\xa0 ] $" },
                { "\"\\ud800x\"", 0, "s:x!u $" },
                { "\"\\udc00\"", 0, "s:!u $" },
                { "\"\\ud800\\u0041\"", 0, "s:A!u $" },
                { "\"\xff\"", 0, "s:\xff!u $" },
                { "\"\xc0\x80\"", 0, "s:\xc0\x80!u $" },                      /* overlong NUL */
                { "\"\xed\xa0\x80\"", 0, "s:\xed\xa0\x80!u $" },              /* raw surrogate */
                { "\"\xf4\x90\x80\x80\"", 0, "s:\xf4\x90\x80\x80!u $" },      /* past U+10FFFF */
                { "\"\xe2\x82\"", 0, "s:\xe2\x82!u $" },                      /* truncated */
                /* fatal */
                { "", 0, "ERR(empty body)" },
                { "   ", 0, "ERR(empty body)" },
                { "{", 0, "{ ERR(unexpected end of input)" },
                { "{\"a\"}", 0, "{ k:a ERR(expected ':')" },
                { "{\"a\":1,}", 0, "{ k:a n:1 ERR(expected a member name)" },
                { "[1,]", 0, "[ n:1 ERR(unexpected character)" },
                { "[1 2]", 0, "[ n:1 ERR(expected ',' or a closing bracket)" },
                { "{\"a\":1]", 0, "{ k:a n:1 ERR(mismatched bracket)" },
                { "{} x", 0, "{ } ERR(trailing bytes after the JSON value)" },
                { "{}{}", 0, "{ } ERR(trailing bytes after the JSON value)" },
                { "01", 0, "n:0 ERR(trailing bytes after the JSON value)" },
                { "NaN", 0, "ERR(unexpected character)" },
                { "-", 0, "ERR(invalid number)" },
                { "1.", 0, "ERR(invalid number)" },
                { "1e", 0, "ERR(invalid number)" },
                { ".5", 0, "ERR(unexpected character)" },
                { "+1", 0, "ERR(unexpected character)" },
                { "tru", 0, "ERR(invalid literal)" },
                { "\"abc", 0, "ERR(unterminated string)" },
                { "\"a\tb\"", 0, "ERR(control character in a string)" },
                { "\"a\0b\"", 5, "ERR(control character in a string)" },     /* raw NUL */
                { "{\"a\":1}\0", 8, "{ k:a n:1 } ERR(trailing bytes after the JSON value)" },
                { "\"\\x\"", 0, "ERR(invalid escape in a string)" },
                { "\"\\u12\"", 0, "ERR(invalid escape in a string)" },
                { "\"\\u12g4\"", 0, "ERR(invalid escape in a string)" },
                { "'a'", 0, "ERR(unexpected character)" },
                { "{a:1}", 0, "{ ERR(expected a member name)" },
                { "\xef\xbb\xbf{}", 0, "ERR(unexpected character)" },         /* BOM */
                { "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", 0,
                  "[ [ [ [ [ [ [ [ [ [ [ [ [ [ [ [ ] ] ] ] ] ] ] ] ] ] ] ] ] ] ] ] $" },
                { "[[[[[[[[[[[[[[[[[", 0,
                  "[ [ [ [ [ [ [ [ [ [ [ [ [ [ [ [ ERR(nested deeper than 16 levels)" },
        };
        return cr_make_param_array(struct lex_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct lex_row *row, oa_ej, tokens) {
        char got[600];

        trace(row->body, row->len ? row->len : strlen(row->body), got, sizeof(got));
        cr_assert_str_eq(got, row->want, "body %s", row->body);
}

Test(oa_ej, escaped_string_longer_than_scratch_reports_full_length_and_keeps_prefix) {
        size_t n = 3 * OA_EJ_SCRATCH, len = 0;
        char *body = malloc(n * 2 + 4);
        oa_ej *j = malloc(sizeof(*j));

        body[len++] = '"';
        for (size_t i = 0; i < n; i++) {
                body[len++] = '\\';
                body[len++] = 'n';
        }
        body[len++] = '"';
        oa_ej_init(j, body, len);
        cr_assert_eq(oa_ej_next(j), OA_EJ_STR);
        cr_assert_eq(j->slen, n);
        cr_assert_eq(j->str, j->scratch);
        cr_assert_eq(j->scratch[OA_EJ_SCRATCH - 1], '\n');
        cr_assert_eq(oa_ej_next(j), OA_EJ_END);
        free(body);
        free(j);
}

Test(oa_ej, plain_string_points_into_body_without_copy) {
        const char body[] = "{\"key\":\"value\"}";
        oa_ej j;

        oa_ej_init(&j, body, strlen(body));
        cr_assert_eq(oa_ej_next(&j), OA_EJ_OBJ);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_KEY);
        cr_assert_eq(j.str, body + 2);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_STR);
        cr_assert_eq(j.str, body + 8);
        cr_assert_eq(j.slen, 5);
        cr_assert_eq(j.tok_off, 7);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_OBJ_END);
        cr_assert_eq(j.pos, strlen(body));
}

Test(oa_ej, skip_consumes_nested_value_and_leaves_the_rest) {
        const char body[] = "{\"a\":{\"b\":[1,{\"c\":[]}]},\"d\":2}";
        oa_ej j;

        oa_ej_init(&j, body, strlen(body));
        cr_assert_eq(oa_ej_next(&j), OA_EJ_OBJ);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_KEY);
        cr_assert_eq(oa_ej_skip(&j, oa_ej_next(&j)), OA_EJ_OBJ);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_KEY);
        cr_assert_eq(j.slen, 1);
        cr_assert_eq(j.str[0], 'd');
        cr_assert_eq(oa_ej_skip(&j, oa_ej_next(&j)), OA_EJ_NUM);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_OBJ_END);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_END);
}

Test(oa_ej, ten_megabyte_string_is_one_scan) {
        size_t n = 10u << 20;
        char *body = malloc(n + 2);
        oa_ej j;

        body[0] = '"';
        memset(body + 1, 'a', n);
        body[n + 1] = '"';
        oa_ej_init(&j, body, n + 2);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_STR);
        cr_assert_eq(j.slen, n);
        cr_assert_eq(oa_ej_next(&j), OA_EJ_END);
        free(body);
}

/* Strings are scanned 8 bytes at a time: each byte that ends the plain run is seen at
 * every offset, in a whole word and in the tail, with the same flags and lengths. */
Test(oa_ej, string_bytes_are_found_at_every_offset) {
        static const struct {
                const char *bytes;
                const char *flags;      /* as trace() shows them */
                size_t decoded;         /* bytes the insert decodes to */
        } inserts[] = {
                { "\x7f", "!c", 1 }, { "\xc3\xa9", "", 2 }, { "\xc2\x85", "!c", 2 }, { "\xff", "!u", 1 },
                { "\\n", "!w", 1 }, { "\\u0000", "!0!c", 1 }, { "\\\"", "", 1 },
        };
        char body[64], want[64], got[256];
        oa_ej *j = malloc(sizeof(*j));

        cr_assert_not_null(j);
        for (size_t len = 0; len < 20; len++) {
                for (size_t at = 0; at <= len; at++) {
                        for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
                                size_t ilen = strlen(inserts[k].bytes), n = 0;

                                body[n++] = '"';
                                memset(body + n, 'a', at);
                                n += at;
                                memcpy(body + n, inserts[k].bytes, ilen);
                                n += ilen;
                                memset(body + n, 'b', len - at);
                                n += len - at;
                                body[n++] = '"';
                                oa_ej_init(j, body, n);
                                cr_assert_eq(oa_ej_next(j), OA_EJ_STR, "%zu/%zu/%zu", len, at, k);
                                cr_assert_eq(j->slen, len + inserts[k].decoded, "%zu/%zu/%zu", len, at, k);
                                snprintf(got, sizeof(got), "%s%s%s%s", j->flags & OA_EJ_BAD_UTF8 ? "!u" : "",
                                         j->flags & OA_EJ_HAS_NUL ? "!0" : "", j->flags & OA_EJ_HAS_CTRL ? "!c" : "",
                                         j->flags & OA_EJ_HAS_WS ? "!w" : "");
                                cr_assert_str_eq(got, inserts[k].flags, "%zu/%zu/%zu", len, at, k);
                                cr_assert_eq(oa_ej_next(j), OA_EJ_END);
                        }
                        /* a raw control character stops the parse; an unterminated string too */
                        snprintf(want, sizeof(want), "\"%.*s\x01%.*s\"", (int) at, "aaaaaaaaaaaaaaaaaaaa",
                                 (int) (len - at), "bbbbbbbbbbbbbbbbbbbb");
                        oa_ej_init(j, want, strlen(want));
                        cr_assert_eq(oa_ej_next(j), OA_EJ_ERROR);
                        cr_assert_str_eq(j->err, "control character in a string");
                        cr_assert_eq(j->err_off, at + 1);
                        oa_ej_init(j, want, at + 1);
                        cr_assert_eq(oa_ej_next(j), OA_EJ_ERROR);
                        cr_assert_str_eq(j->err, "unterminated string");
                }
        }
        free(j);
}

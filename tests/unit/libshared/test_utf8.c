/* Tests for oa/utf8.h: the one UTF-8 validator and decoder of every parser and writer,
 * on the sequences RFC 3629 allows and the ones it forbids. */
#include "oa/utf8.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct row {
        const char *bytes;
        size_t n;
        size_t len;             /* oa_utf8_seq */
        long cp;                /* oa_utf8_next; -1 invalid */
} row;

#define R(s, l, c) { s, sizeof(s) - 1, l, c }

static const row rows[] = {
        R("A", 1, 0x41),
        R("\x7f", 1, 0x7f),
        R("\xc2\x80", 2, 0x80),
        R("\xdf\xbf", 2, 0x7ff),
        R("\xe0\xa0\x80", 3, 0x800),
        R("\xed\x9f\xbf", 3, 0xd7ff),
        R("\xee\x80\x80", 3, 0xe000),
        R("\xef\xbf\xbf", 3, 0xffff),
        R("\xf0\x90\x80\x80", 4, 0x10000),
        R("\xf4\x8f\xbf\xbf", 4, 0x10ffff),
        R("\xe2\x82\xac", 3, 0x20ac),                   /* € */
        /* forbidden */
        R("\x80", 0, -1),                               /* a stray continuation */
        R("\xc0\xaf", 0, -1),                           /* overlong '/' */
        R("\xc1\xbf", 0, -1),
        R("\xe0\x9f\xbf", 0, -1),                       /* overlong 3 bytes */
        R("\xed\xa0\x80", 0, -1),                       /* surrogate D800 */
        R("\xed\xbf\xbf", 0, -1),                       /* surrogate DFFF */
        R("\xf0\x8f\xbf\xbf", 0, -1),                   /* overlong 4 bytes */
        R("\xf4\x90\x80\x80", 0, -1),                   /* past U+10FFFF */
        R("\xf5\x80\x80\x80", 0, -1),
        R("\xff", 0, -1),
        R("\xe2\x82", 0, -1),                           /* truncated */
        R("\xc3(", 0, -1),                              /* not a continuation */
        R("\xf0\x90\x80(", 0, -1),
};

Test(oa_utf8, every_row_validates_and_decodes_as_rfc_3629_says) {
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
                const unsigned char *s = (const unsigned char *) rows[r].bytes;
                size_t i = 0;
                long cp;

                cr_assert_eq(oa_utf8_seq(s, rows[r].n), rows[r].len, "row %zu", r);
                cp = oa_utf8_next(s, rows[r].n, &i);
                cr_assert_eq(cp, rows[r].cp, "row %zu: %ld", r, cp);
                cr_assert_eq(i, cp < 0 ? 0 : rows[r].len, "row %zu: moved %zu", r, i);
        }
}

Test(oa_utf8, a_sequence_cut_by_n_is_invalid) {
        const unsigned char euro[] = "\xe2\x82\xac";

        cr_assert_eq(oa_utf8_seq(euro, 3), 3);
        cr_assert_eq(oa_utf8_seq(euro, 2), 0);
        cr_assert_eq(oa_utf8_seq(euro, 1), 0);
}

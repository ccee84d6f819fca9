/* UTF-8, one definition for every parser and writer: a valid sequence is the shortest
 * form of a code point up to U+10FFFF that is not a surrogate (RFC 3629). Inline: the
 * JSON lexer asks once per non-ASCII character. */
#ifndef OA_UTF8_H
#define OA_UTF8_H

#include <stddef.h>

/* Length of the valid sequence at s[0..n) (1 to 4), or 0 when it is not one (a stray or
 * truncated byte, an overlong form, a surrogate, past U+10FFFF). n >= 1. */
static inline size_t oa_utf8_seq(const unsigned char *s, size_t n) {
        unsigned char c = s[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                /* E0 needs A0.. (no overlong), ED ..9F (no surrogate) */
                unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

                return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                /* F0 needs 90.. (no overlong), F4 ..8F (no more than U+10FFFF) */
                unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

                return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80 ? 4 : 0;
        }
        return 0;
}

/* The code point of the valid sequence of len bytes at s (len from oa_utf8_seq). */
static inline long oa_utf8_cp(const unsigned char *s, size_t len) {
        static const unsigned char lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
        long cp = s[0] & lead_mask[len];

        for (size_t k = 1; k < len; k++)
                cp = cp << 6 | (s[k] & 0x3f);
        return cp;
}

/* Decode the character at s[*i] (s holds n bytes, *i < n) and move *i past it. Returns
 * the code point, or -1 for an invalid sequence (*i unchanged). */
static inline long oa_utf8_next(const unsigned char *s, size_t n, size_t *i) {
        size_t len = oa_utf8_seq(s + *i, n - *i);
        long cp;

        if (len == 0)
                return -1;
        cp = oa_utf8_cp(s + *i, len);
        *i += len;
        return cp;
}

#endif

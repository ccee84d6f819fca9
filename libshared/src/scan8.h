/* Scanning text 8 bytes at a time (SWAR) for the JSON tokenizer and the URL splitter,
 * internal to libshared: each word is tested for the bytes that end a run with a few
 * integer operations instead of a loop and a table look-up per byte. */
#ifndef OA_SCAN8_H
#define OA_SCAN8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OA_SCAN8_ONES (~(uint64_t) 0 / 255)     /* 0x0101010101010101 */
#define OA_SCAN8_HIGHS (OA_SCAN8_ONES * 0x80)

/* The high bit of each byte of v equal to x, and maybe of bytes after one, where a
 * borrow runs on; never of a byte before the first one. */
static inline uint64_t oa_scan8_eq(uint64_t v, unsigned char x) {
        uint64_t d = v ^ (OA_SCAN8_ONES * x);

        return (d - OA_SCAN8_ONES) & ~d & OA_SCAN8_HIGHS;
}

/* Offset of the first byte at or after i in b[0..n) that is below lim (at most 0x80),
 * DEL, x or y, or (when high) 0x80 and up; n when there is none. Bytes are read as a
 * little-endian word, so the lowest bit of the mask is the first byte that stops; the
 * last word is padded with zeros, which lim > 0 stops at, past n. */
static inline size_t oa_scan8(const unsigned char *b, size_t i, size_t n, unsigned char lim, unsigned char x,
                              unsigned char y, bool high) {
        while (i < n) {
                uint64_t v = 0, m;
                size_t at;

                if (n - i >= 8) {
                        memcpy(&v, b + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                        v = __builtin_bswap64(v);
#endif
                } else {
                        for (size_t j = 0; j < n - i; j++)
                                v |= (uint64_t) b[i + j] << (8 * j);
                }
                m = ((v - OA_SCAN8_ONES * lim) & ~v & OA_SCAN8_HIGHS) | oa_scan8_eq(v, 0x7f) |
                    oa_scan8_eq(v, x) | oa_scan8_eq(v, y) | (high ? v & OA_SCAN8_HIGHS : 0);
                if (m) {
                        at = i + (size_t) __builtin_ctzll(m) / 8;
                        return at < n ? at : n;
                }
                i += 8;
        }
        return n;
}

#endif

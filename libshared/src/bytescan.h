/* Finding the next byte that ends a run of ordinary text, for the JSON tokenizer and the
 * URL splitter, internal to libshared: 16 bytes per step with SSE2 (every x86-64), else
 * 8 per step in plain C (SWAR), instead of a loop and a table look-up per byte. Both
 * variants are here so that the unit test holds each to a byte-by-byte reference. */
#ifndef OA_BYTESCAN_H
#define OA_BYTESCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The contract of all three functions below: the offset of the first byte at or after i
 * in b[0..n) that is below lim (0 < lim <= 0x80), DEL (0x7f), x or y, or, when high,
 * 0x80 and up; n when there is none. The last step reads a copy padded with zeros,
 * which lim > 0 stops at, past n. */

#ifdef __SSE2__
static inline size_t oa_bytescan_sse2(const unsigned char *b, size_t i, size_t n, unsigned char lim,
                                      unsigned char x, unsigned char y, bool high) {
        const __m128i below = _mm_set1_epi8((char) (lim - 1)), del = _mm_set1_epi8(0x7f);
        const __m128i vx = _mm_set1_epi8((char) x), vy = _mm_set1_epi8((char) y);

        while (i < n) {
                unsigned char pad[16] = { 0 };
                __m128i v, m;
                unsigned bits;
                size_t at;

                if (n - i >= 16) {
                        v = _mm_loadu_si128((const __m128i *) (const void *) (b + i));
                } else {
                        memcpy(pad, b + i, n - i);
                        v = _mm_loadu_si128((const __m128i *) (const void *) pad);
                }
                /* below lim as unsigned bytes: min(v, lim - 1) == v; 0x80 and up: the sign */
                m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, below), v), _mm_cmpeq_epi8(v, del));
                m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, vx), _mm_cmpeq_epi8(v, vy)));
                if (high)
                        m = _mm_or_si128(m, v);
                bits = (unsigned) _mm_movemask_epi8(m);
                if (bits) {
                        at = i + (size_t) __builtin_ctz(bits);
                        return at < n ? at : n;
                }
                i += 16;
        }
        return n;
}
#endif

#define OA_BYTESCAN_ONES (~(uint64_t) 0 / 255)  /* 0x0101010101010101 */
#define OA_BYTESCAN_HIGHS (OA_BYTESCAN_ONES * 0x80)

/* The high bit of each byte of v equal to x, and maybe of bytes after one, where a
 * borrow runs on; never of a byte before the first one. */
static inline uint64_t oa_bytescan_eq(uint64_t v, unsigned char x) {
        uint64_t d = v ^ (OA_BYTESCAN_ONES * x);

        return (d - OA_BYTESCAN_ONES) & ~d & OA_BYTESCAN_HIGHS;
}

/* Bytes are read as a little-endian word, so the lowest bit of the mask, which a borrow
 * never reaches from above, is the first byte that stops. */
static inline size_t oa_bytescan_swar(const unsigned char *b, size_t i, size_t n, unsigned char lim,
                                      unsigned char x, unsigned char y, bool high) {
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
                m = ((v - OA_BYTESCAN_ONES * lim) & ~v & OA_BYTESCAN_HIGHS) | oa_bytescan_eq(v, 0x7f) |
                    oa_bytescan_eq(v, x) | oa_bytescan_eq(v, y) | (high ? v & OA_BYTESCAN_HIGHS : 0);
                if (m) {
                        at = i + (size_t) __builtin_ctzll(m) / 8;
                        return at < n ? at : n;
                }
                i += 8;
        }
        return n;
}

static inline size_t oa_bytescan(const unsigned char *b, size_t i, size_t n, unsigned char lim, unsigned char x,
                                 unsigned char y, bool high) {
#ifdef __SSE2__
        return oa_bytescan_sse2(b, i, n, lim, x, y, high);
#else
        return oa_bytescan_swar(b, i, n, lim, x, y, high);
#endif
}

#endif

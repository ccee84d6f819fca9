/* Tests for libshared/src/bytescan.h: the SSE2 and the plain C (SWAR) scans against a
 * byte-by-byte reference, for the two uses (JSON strings, URL parts) and random ones, at
 * every start and end offset, so each block size and the padded tail are crossed. */
#include "bytescan.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

static size_t reference(const unsigned char *b, size_t i, size_t n, unsigned char lim, unsigned char x,
                        unsigned char y, bool high) {
        for (; i < n; i++)
                if (b[i] < lim || b[i] == 0x7f || b[i] == x || b[i] == y || (high && b[i] >= 0x80))
                        return i;
        return n;
}

typedef size_t (*scan_fn)(const unsigned char *, size_t, size_t, unsigned char, unsigned char, unsigned char, bool);

static void check_all(const unsigned char *b, size_t len, unsigned char lim, unsigned char x, unsigned char y,
                      bool high) {
        static const struct {
                const char *name;
                scan_fn fn;
        } variants[] = {
#ifdef __SSE2__
                { "sse2", oa_bytescan_sse2 },
#endif
                { "swar", oa_bytescan_swar },
                { "default", oa_bytescan },
        };

        for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++)
                for (size_t n = 0; n <= len; n++)
                        for (size_t i = 0; i <= n; i++)
                                cr_assert_eq(variants[v].fn(b, i, n, lim, x, y, high), reference(b, i, n, lim, x, y, high),
                                             "%s: [%zu, %zu) lim 0x%02x x 0x%02x y 0x%02x high %d", variants[v].name, i,
                                             n, lim, x, y, high);
}

Test(oa_bytescan, one_stop_byte_at_every_offset) {
        static const unsigned char stops[] = { 0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '?', '\\', 0x7f, 0x80, 0xc3, 0xff };
        unsigned char b[40];

        for (size_t at = 0; at < sizeof(b); at++) {
                for (size_t k = 0; k < sizeof(stops); k++) {
                        memset(b, 'a', sizeof(b));
                        b[at] = stops[k];
                        check_all(b, sizeof(b), 0x20, '"', '\\', true);         /* JSON strings */
                        check_all(b, sizeof(b), 0x21, '?', '#', false);         /* URL path */
                }
        }
}

Test(oa_bytescan, random_bytes_and_parameters) {
        uint64_t s = 0x9e3779b97f4a7c15ULL;
        unsigned char b[48];

        for (int round = 0; round < 300; round++) {
                unsigned char lim, x, y;

                for (size_t k = 0; k < sizeof(b); k++) {
                        s ^= s << 13, s ^= s >> 7, s ^= s << 17;        /* xorshift64 */
                        /* mostly ordinary text, so that runs are long enough to cross blocks */
                        b[k] = (unsigned char) (s % 8 == 0 ? s >> 8 : 'a' + (s >> 8) % 26);
                }
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                lim = (unsigned char) (1 + s % 0x80);
                x = (unsigned char) (s >> 8);
                y = (unsigned char) (s >> 16);
                check_all(b, sizeof(b), lim, x, y, (s >> 24) & 1);
        }
}

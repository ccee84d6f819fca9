/* UUIDv7 generation and UUID normalisation (oa/uuid.h). Random bytes are drawn from
 * getrandom(2) 4 KiB at a time into a per-thread buffer: one system call per 409 ids. */
#include "oa/uuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#define POOL 4096

static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left;

static int random_bytes(unsigned char *out, size_t n) {
        if (pool_left < n) {
                size_t got = 0;

                while (got < POOL) {
                        ssize_t r = getrandom(pool + got, POOL - got, 0);

                        if (r < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        got += (size_t) r;
                }
                pool_left = POOL;
        }
        memcpy(out, pool + POOL - pool_left, n);
        /* never hand out the same bytes twice */
        memset(pool + POOL - pool_left, 0, n);
        pool_left -= n;
        return 0;
}

static void hex(const unsigned char *b, char *out) {
        static const char digits[] = "0123456789abcdef";
        size_t o = 0;

        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                out[o++] = digits[b[i] >> 4];
                out[o++] = digits[b[i] & 15];
        }
        out[o] = '\0';
}

void oa_uuid_v7_from(int64_t unix_ms, const unsigned char *rnd, char *ret) {
        uint64_t ms = (uint64_t) unix_ms & 0xffffffffffffULL;
        unsigned char b[16];

        for (int i = 0; i < 6; i++)
                b[i] = (unsigned char) (ms >> (40 - 8 * i));
        memcpy(b + 6, rnd, 10);
        b[6] = (unsigned char) (0x70 | (b[6] & 0x0f));  /* version 7 */
        b[8] = (unsigned char) (0x80 | (b[8] & 0x3f));  /* variant 10 */
        hex(b, ret);
}

int oa_uuid_v7(int64_t unix_ms, char *ret) {
        unsigned char rnd[10];
        int r = random_bytes(rnd, sizeof(rnd));

        if (r < 0)
                return r;
        oa_uuid_v7_from(unix_ms, rnd, ret);
        return 0;
}

int oa_uuid_normalize(const char *s, size_t n, char *ret) {
        char out[OA_UUID_LEN + 1];
        bool all0 = true, allf = true;

        if (!s || n != OA_UUID_LEN)
                return -EINVAL;
        for (size_t i = 0; i < OA_UUID_LEN; i++) {
                char c = s[i];

                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return -EINVAL;
                } else if (c >= 'A' && c <= 'F') {
                        c = (char) (c - 'A' + 'a');
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                        return -EINVAL;
                }
                if (c != '-') {
                        all0 = all0 && c == '0';
                        allf = allf && c == 'f';
                }
                out[i] = c;
        }
        if (all0 || allf)
                return -EINVAL;
        out[OA_UUID_LEN] = '\0';
        memcpy(ret, out, sizeof(out));
        return 0;
}

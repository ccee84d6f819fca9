/* UUIDs (RFC 9562): new version 7 ids for events the server names, and the check and
 * normalisation of ids clients send (any version, canonical 8-4-4-4-12 hex). */
#ifndef OA_UUID_H
#define OA_UUID_H

#include <stddef.h>
#include <stdint.h>

#define OA_UUID_LEN 36          /* text form without its NUL */

/* Write a new UUIDv7 for unix_ms (48-bit Unix milliseconds, version 7, variant 10, 74
 * random bits) and a NUL into ret (OA_UUID_LEN + 1 bytes), lower-case. Randomness comes
 * from getrandom(2), buffered per thread. Returns 0 or a negative errno. */
int oa_uuid_v7(int64_t unix_ms, char *ret);

/* The same from given random bytes (rnd: 10 bytes, of which 74 bits are used): the pure
 * part of oa_uuid_v7, for tests. unix_ms is taken modulo 2^48. */
void oa_uuid_v7_from(int64_t unix_ms, const unsigned char *rnd, char *ret);

/* Check that s (n bytes) is a UUID in canonical form (8-4-4-4-12 hex digits of either
 * case, any version and variant, not the nil or the max UUID) and write it lower-cased
 * with a NUL into ret (OA_UUID_LEN + 1 bytes). Returns 0 or -EINVAL. */
int oa_uuid_normalize(const char *s, size_t n, char *ret);

#endif

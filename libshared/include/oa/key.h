/* API keys and scopes. A secret is "oa_live_" + 32 base62 characters from the OS's random
 * source; it is shown once and only its SHA-256 is kept. Hashes are compared in constant
 * time. Scopes are a bit set; a key carries the scopes it was created with. */
#ifndef OA_KEY_H
#define OA_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define OA_KEY_PREFIX "oa_live_"
#define OA_KEY_PREFIX_LEN 8
#define OA_KEY_RANDOM_LEN 32
#define OA_KEY_SECRET_LEN (OA_KEY_PREFIX_LEN + OA_KEY_RANDOM_LEN)     /* 40 */
#define OA_KEY_HASH_LEN 32
#define OA_KEY_HINT_MAX 24

typedef enum oa_scope {
        OA_SCOPE_EVENTS_WRITE = 1u << 0,
        OA_SCOPE_STATS_READ = 1u << 1,
        OA_SCOPE_PROJECTS_READ = 1u << 2,
        OA_SCOPE_PROJECTS_WRITE = 1u << 3,
        OA_SCOPE_KEYS_WRITE = 1u << 4,
        OA_SCOPE_PRIVACY_READ = 1u << 5,
        OA_SCOPE_PRIVACY_WRITE = 1u << 6,
} oa_scope;

#define OA_SCOPE_ALL 0x7fu

/* Write a new secret (OA_KEY_SECRET_LEN characters and a NUL) into ret_secret, which must
 * hold OA_KEY_SECRET_LEN + 1 bytes. Uses getrandom(2) without modulo bias. Returns 0 or a
 * negative errno. */
int oa_key_generate(char *ret_secret);

/* Write n random base62 characters ([0-9A-Za-z], each equally likely: getrandom(2) with
 * rejection sampling, no modulo bias) and a NUL into out, which must hold n + 1 bytes. For
 * secrets and for random ids (acc_, prj_, key_, site_). Returns 0 or a negative errno (out
 * is then unspecified). */
int oa_key_random_base62(char *out, size_t n);

/* True when s (n bytes) has the exact shape of a secret: the prefix and 32 base62
 * characters, nothing else. */
bool oa_key_format_ok(const char *s, size_t n);

/* SHA-256 of the n bytes at s into ret_hash (OA_KEY_HASH_LEN bytes). */
void oa_key_hash(const char *s, size_t n, unsigned char *ret_hash);

/* Constant-time comparison of two hashes. */
bool oa_key_hash_eq(const unsigned char *a, const unsigned char *b);

/* Extract the secret from an Authorization header value (n bytes, not NUL-terminated):
 * exactly "Bearer " followed by a well-formed secret, nothing before or after. Returns 0
 * and points *ret_secret into header (OA_KEY_SECRET_LEN bytes), or -EINVAL. */
int oa_key_parse_bearer(const char *header, size_t n, const char **ret_secret);

/* Write the display hint "oa_live_AbCd...wxyz" of a secret into ret_hint
 * (OA_KEY_HINT_MAX bytes). */
void oa_key_hint(const char *secret, char *ret_hint);

/* Parse a comma-separated scope list ("stats:read,events:write"); "*" or "all" means every
 * scope. Returns 0 and sets *ret_mask, or -EINVAL naming the bad scope in errbuf. */
int oa_scope_parse(const char *csv, unsigned *ret_mask, char *errbuf, size_t errlen);

/* The name of one scope bit ("stats:read"), or NULL if it is not exactly one known bit. */
const char *oa_scope_name(unsigned scope);

/* Write the comma-separated names of mask into buf (always NUL-terminated). Returns the
 * length, or -E2BIG when it does not fit. */
int oa_scope_format(unsigned mask, char *buf, size_t len);

#endif

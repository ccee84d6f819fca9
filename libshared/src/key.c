/* API key secrets, hashes and scopes. Nothing here logs or keeps a secret: callers hash
 * what they get and forget the clear text. */
#include "oa/key.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char base62[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static const struct {
        unsigned bit;
        const char *name;
} scope_names[] = {
        { OA_SCOPE_EVENTS_WRITE, "events:write" },
        { OA_SCOPE_STATS_READ, "stats:read" },
        { OA_SCOPE_PROJECTS_READ, "projects:read" },
        { OA_SCOPE_PROJECTS_WRITE, "projects:write" },
        { OA_SCOPE_KEYS_WRITE, "keys:write" },
        { OA_SCOPE_PRIVACY_READ, "privacy:read" },
        { OA_SCOPE_PRIVACY_WRITE, "privacy:write" },
};

#define N_SCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

int oa_key_random_base62(char *out, size_t n) {
        unsigned char rnd[64];
        size_t have = 0, used = sizeof(rnd);

        while (have < n) {
                if (used == sizeof(rnd)) {
                        ssize_t got = getrandom(rnd, sizeof(rnd), 0);

                        if (got < 0) {
                                int e = errno;

                                if (e == EINTR)
                                        continue;
                                OPENSSL_cleanse(rnd, sizeof(rnd));
                                return -e;
                        }
                        if ((size_t) got != sizeof(rnd))
                                continue;
                        used = 0;
                }
                /* 248 = 4 * 62: rejecting bytes >= 248 leaves every character equally likely. */
                if (rnd[used] < 248)
                        out[have++] = base62[rnd[used] % 62];
                used++;
        }
        out[n] = '\0';
        OPENSSL_cleanse(rnd, sizeof(rnd));
        return 0;
}

int oa_key_generate(char *ret_secret) {
        char out[OA_KEY_SECRET_LEN + 1];
        int r;

        memcpy(out, OA_KEY_PREFIX, OA_KEY_PREFIX_LEN);
        r = oa_key_random_base62(out + OA_KEY_PREFIX_LEN, OA_KEY_RANDOM_LEN);
        if (r == 0)
                memcpy(ret_secret, out, sizeof(out));
        OPENSSL_cleanse(out, sizeof(out));
        return r;
}

static bool is_base62(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool oa_key_format_ok(const char *s, size_t n) {
        if (!s || n != OA_KEY_SECRET_LEN || memcmp(s, OA_KEY_PREFIX, OA_KEY_PREFIX_LEN) != 0)
                return false;
        for (size_t i = OA_KEY_PREFIX_LEN; i < n; i++)
                if (!is_base62(s[i]))
                        return false;
        return true;
}

/* OpenSSL 3 looks EVP_sha256() up in its providers on every use (locks included), which
 * costs more than hashing a secret; fetched once per process it does not (about 0.9 us
 * against 0.2 us per hash, bench/auth/micro.c). Never freed: one per process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void oa_key_hash(const char *s, size_t n, unsigned char *ret_hash) {
        unsigned int len = OA_KEY_HASH_LEN;

        pthread_once(&sha256_once, sha256_fetch);
        EVP_Digest(s, n, ret_hash, &len, sha256_md ? sha256_md : EVP_sha256(), NULL);
}

bool oa_key_hash_eq(const unsigned char *a, const unsigned char *b) {
        return CRYPTO_memcmp(a, b, OA_KEY_HASH_LEN) == 0;
}

int oa_key_parse_bearer(const char *header, size_t n, const char **ret_secret) {
        static const char scheme[] = "Bearer ";
        const size_t slen = sizeof(scheme) - 1;

        if (!header || n != slen + OA_KEY_SECRET_LEN || memcmp(header, scheme, slen) != 0)
                return -EINVAL;
        if (!oa_key_format_ok(header + slen, OA_KEY_SECRET_LEN))
                return -EINVAL;
        *ret_secret = header + slen;
        return 0;
}

void oa_key_hint(const char *secret, char *ret_hint) {
        snprintf(ret_hint, OA_KEY_HINT_MAX, "%s%.4s...%.4s", OA_KEY_PREFIX,
                 secret + OA_KEY_PREFIX_LEN, secret + OA_KEY_SECRET_LEN - 4);
}

int oa_scope_parse(const char *csv, unsigned *ret_mask, char *errbuf, size_t errlen) {
        unsigned mask = 0;
        const char *p = csv;

        if (!csv || !*csv) {
                snprintf(errbuf, errlen, "no scopes given");
                return -EINVAL;
        }
        while (*p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                size_t i;

                if (len == 1 && *p == '*')
                        mask |= OA_SCOPE_ALL;
                else if (len == 3 && memcmp(p, "all", 3) == 0)
                        mask |= OA_SCOPE_ALL;
                else {
                        for (i = 0; i < N_SCOPES; i++)
                                if (strlen(scope_names[i].name) == len && memcmp(scope_names[i].name, p, len) == 0)
                                        break;
                        if (i == N_SCOPES) {
                                snprintf(errbuf, errlen, "unknown scope '%.*s'", (int) (len > 64 ? 64 : len), p);
                                return -EINVAL;
                        }
                        mask |= scope_names[i].bit;
                }
                if (!end)
                        break;
                p = end + 1;
                if (!*p) {
                        snprintf(errbuf, errlen, "empty scope after ','");
                        return -EINVAL;
                }
        }
        *ret_mask = mask;
        return 0;
}

const char *oa_scope_name(unsigned scope) {
        for (size_t i = 0; i < N_SCOPES; i++)
                if (scope_names[i].bit == scope)
                        return scope_names[i].name;
        return NULL;
}

int oa_scope_format(unsigned mask, char *buf, size_t len) {
        size_t used = 0;

        if (len == 0)
                return -E2BIG;
        buf[0] = '\0';
        for (size_t i = 0; i < N_SCOPES; i++) {
                int n;

                if (!(mask & scope_names[i].bit))
                        continue;
                n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", scope_names[i].name);
                if (n < 0 || (size_t) n >= len - used) {
                        buf[used] = '\0';
                        return -E2BIG;
                }
                used += (size_t) n;
        }
        return (int) used;
}

/* Request authentication. The secret is hashed at once and only the hash is looked up and
 * compared (in constant time); nothing here prints the clear text. The cache of recognised
 * keys (oa_auth_cache) is the one place that keeps it: the last headers that named a valid
 * key, in process memory, to be compared in constant time instead of hashed again, and
 * wiped when the cache is freed. */
#include "oa/auth.h"

#include "oa/key.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned oa_auth_key_scopes(const Oa__ApiKey *k) {
        unsigned mask = 0, m;
        char err[8];

        for (size_t i = 0; i < k->n_scopes; i++)
                if (oa_scope_parse(k->scopes[i], &m, err, sizeof(err)) == 0)
                        mask |= m;
        return mask;
}

static void deny(oa_auth_result *ret, int status, const char *error, const char *message) {
        ret->status = status;
        ret->error = error;
        ret->message = message;
}

/* The key of the header: parsed, hashed, looked up and compared in constant time, not
 * revoked, of an existing account. Sets ret->key and ret->account, or denies (401). */
static void recognise(const oa_catalog *c, const char *authz, size_t authz_len, oa_auth_result *ret) {
        unsigned char hash[OA_KEY_HASH_LEN];
        const Oa__ApiKey *k;
        const Oa__Account *a;
        const char *secret;

        if (!authz) {
                deny(ret, 401, "unauthorized", "missing Authorization header: send 'Authorization: Bearer oa_live_...'");
                return;
        }
        if (oa_key_parse_bearer(authz, authz_len, &secret) < 0) {
                deny(ret, 401, "unauthorized", "malformed Authorization header: expected 'Bearer oa_live_' and 32 letters or digits");
                return;
        }
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        k = oa_catalog_key_by_hash(c, hash);
        /* The map found it by hash; compare again in constant time all the same, so the
         * check does not rest on the map's byte comparison. */
        if (!k || k->secret_sha256.len != OA_KEY_HASH_LEN || !oa_key_hash_eq(k->secret_sha256.data, hash)) {
                deny(ret, 401, "unauthorized", "unknown API key");
                return;
        }
        if (k->revoked) {
                deny(ret, 401, "unauthorized", "this API key has been revoked");
                return;
        }
        a = oa_catalog_account(c, k->account_id);
        if (!a) {
                deny(ret, 401, "unauthorized", "the account of this API key no longer exists");
                return;
        }
        ret->key = k;
        ret->account = a;
}

/* What a recognised key (ret->key, with the scope bits scopes) may do: the route's scope
 * (403), the project of the path (404). */
static void authorise(const oa_catalog *c, unsigned scopes, unsigned need, const char *project_id,
                      oa_auth_result *ret) {
        const Oa__Project *p;

        if (need && !(scopes & need)) {
                const char *name = oa_scope_name(need);

                snprintf(ret->buf, sizeof(ret->buf), "this API key lacks the scope %s%s%s",
                         name ? "'" : "this route needs", name ? name : "", name ? "'" : "");
                deny(ret, 403, "forbidden", ret->buf);
                return;
        }
        if (project_id) {
                p = oa_catalog_project(c, project_id);
                if (!p || !oa_catalog_key_allows_project(ret->key, p)) {
                        deny(ret, 404, "not_found", "project not found");
                        return;
                }
                ret->project = p;
        }
}

void oa_auth_check(const oa_catalog *c, const char *authz, size_t authz_len, unsigned need,
                   const char *project_id, oa_auth_result *ret) {
        memset(ret, 0, sizeof(*ret));
        recognise(c, authz, authz_len, ret);
        if (!ret->status)
                authorise(c, oa_auth_key_scopes(ret->key), need, project_id, ret);
}

/* ---- the cache of recognised keys ---- */

/* "Bearer " and a secret: the only header oa_key_parse_bearer accepts. */
#define AUTHZ_LEN (7 + OA_KEY_SECRET_LEN)

typedef struct slot {
        uint64_t generation;            /* of the catalogue the pointers come from; 0: empty */
        const Oa__ApiKey *key;
        const Oa__Account *account;
        unsigned scopes;
        unsigned char authz[AUTHZ_LEN];
} slot;

struct oa_auth_cache {
        size_t mask;
        slot slots[];
};

int oa_auth_cache_new(size_t slots, oa_auth_cache **ret) {
        oa_auth_cache *ac;
        size_t n = 1;

        while (n < slots && n < ((size_t) 1 << 20))
                n <<= 1;
        ac = calloc(1, sizeof(*ac) + n * sizeof(slot));
        if (!ac)
                return -ENOMEM;
        ac->mask = n - 1;
        *ret = ac;
        return 0;
}

oa_auth_cache *oa_auth_cache_free(oa_auth_cache *ac) {
        if (!ac)
                return NULL;
        OPENSSL_cleanse(ac->slots, (ac->mask + 1) * sizeof(slot));
        free(ac);
        return NULL;
}

/* The slot of a header: 8 bytes of the secret's random part, mixed. An attacker who picks
 * headers that share a slot only makes them miss (and pay the hash again). */
static slot *slot_of(oa_auth_cache *ac, const char *authz) {
        uint64_t v;

        memcpy(&v, authz + 7 + OA_KEY_PREFIX_LEN, sizeof(v));
        return &ac->slots[((v * 0x9e3779b97f4a7c15ULL) >> 32) & ac->mask];
}

void oa_auth_check_cached(oa_auth_cache *ac, const oa_catalog *c, const char *authz, size_t authz_len,
                          unsigned need, const char *project_id, oa_auth_result *ret) {
        uint64_t gen = oa_catalog_generation(c);
        slot *s;

        if (!ac || !authz || authz_len != AUTHZ_LEN) {
                oa_auth_check(c, authz, authz_len, need, project_id, ret);
                return;
        }
        memset(ret, 0, sizeof(*ret));
        s = slot_of(ac, authz);
        /* Every byte compared, in constant time: the time says nothing of how much of a
         * guess was right. */
        if (s->generation == gen && CRYPTO_memcmp(s->authz, authz, AUTHZ_LEN) == 0) {
                ret->key = s->key;
                ret->account = s->account;
                authorise(c, s->scopes, need, project_id, ret);
                return;
        }
        recognise(c, authz, authz_len, ret);
        if (ret->status)
                return;
        s->generation = gen;
        s->key = ret->key;
        s->account = ret->account;
        s->scopes = oa_auth_key_scopes(ret->key);
        memcpy(s->authz, authz, AUTHZ_LEN);
        authorise(c, s->scopes, need, project_id, ret);
}

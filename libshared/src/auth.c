/* Request authentication. The secret is hashed at once and only the hash is looked up and
 * compared (in constant time); nothing here keeps or prints the clear text. */
#include "oa/auth.h"

#include "oa/key.h"

#include <stdio.h>
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

void oa_auth_check(const oa_catalog *c, const char *authz, size_t authz_len, unsigned need,
                   const char *project_id, oa_auth_result *ret) {
        unsigned char hash[OA_KEY_HASH_LEN];
        const Oa__ApiKey *k;
        const Oa__Account *a;
        const Oa__Project *p;
        const char *secret;

        memset(ret, 0, sizeof(*ret));
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
        if (need && !(oa_auth_key_scopes(k) & need)) {
                const char *name = oa_scope_name(need);

                snprintf(ret->buf, sizeof(ret->buf), "this API key lacks the scope %s%s%s",
                         name ? "'" : "this route needs", name ? name : "", name ? "'" : "");
                deny(ret, 403, "forbidden", ret->buf);
                return;
        }
        if (project_id) {
                p = oa_catalog_project(c, project_id);
                if (!p || !oa_catalog_key_allows_project(k, p)) {
                        deny(ret, 404, "not_found", "project not found");
                        return;
                }
                ret->project = p;
        }
}

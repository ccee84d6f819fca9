/* `oa-admin key create | list | revoke`. A key's secret ("oa_live_" + 32 base62 from
 * getrandom) exists in clear only in this process's memory and on stdout, once: the
 * record carries its SHA-256 and a hint, nothing here logs it, and the buffers that held
 * it are wiped. Revoking publishes the key again with revoked set; every daemon refuses it
 * within a second. */
#include "admin.h"

#include "oa/key.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* The scope names of mask, in the canonical order, into v (room for every scope). */
static size_t scope_names(unsigned mask, char **v) {
        size_t n = 0;

        for (unsigned bit = 1; bit <= OA_SCOPE_ALL; bit <<= 1)
                if ((mask & bit) && oa_scope_name(bit))
                        v[n++] = (char *) oa_scope_name(bit);
        return n;
}

/* Every project of the list exists and belongs to account. Returns an exit code. */
static int check_projects(const oa_catalog *cat, const char *account_id, char *const *ids, size_t n) {
        char shown[300];

        for (size_t i = 0; i < n; i++) {
                const Oa__Project *p = oa_catalog_project(cat, ids[i]);

                if (!p)
                        return oa_admin_not_found("project", ids[i]);
                if (strcmp(p->account_id, account_id) != 0) {
                        fprintf(stderr, "oa-admin: project %s belongs to another account, not to %s\n",
                                oa_admin_printable(ids[i], shown, sizeof(shown)), account_id);
                        return OA_ADMIN_EXIT_NOT_FOUND;
                }
        }
        return OA_ADMIN_EXIT_OK;
}

int oa_admin_key_create(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        char id[OA_ENTITY_ID_MAX], secret[OA_KEY_SECRET_LEN + 1], hint[OA_KEY_HINT_MAX];
        unsigned char hash[OA_KEY_HASH_LEN];
        char *scopes[16];
        const Oa__Account *acc;
        const oa_catalog *cat;
        oa_projects *st = NULL;
        int ret, r;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        cat = oa_projects_catalog(st);
        acc = oa_catalog_account(cat, q->account_id);
        if (!acc) {
                ret = oa_admin_not_found("account", q->account_id);
                goto out;
        }
        ret = check_projects(cat, acc->id, q->project_ids, q->n_project_ids);
        if (ret != OA_ADMIN_EXIT_OK)
                goto out;
        if (oa_admin_id_fresh(cat, OA_ENTITY_KEY, id) < 0) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        r = oa_key_generate(secret);
        if (r < 0) {
                fprintf(stderr, "oa-admin: cannot make a secret: %s\n", strerror(-r));
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        oa_key_hint(secret, hint);
        k.id = id;
        k.account_id = acc->id;
        k.name = (char *) q->name;
        k.n_scopes = scope_names(q->scopes, scopes);
        k.scopes = scopes;
        k.project_ids = q->project_ids;
        k.n_project_ids = q->n_project_ids;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        k.hint = hint;
        k.created_ms = oa_entity_now_ms();
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK) {
                ret = oa_admin_show_key(q, &k, secret);
                if (ret == OA_ADMIN_EXIT_OK && !q->json)
                        fprintf(stderr, "oa-admin: the key is shown this once; only its SHA-256 is kept\n");
        }
out:
        OPENSSL_cleanse(secret, sizeof(secret));
        oa_projects_free(st);
        return ret;
}

int oa_admin_key_list(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        const Oa__ApiKey **v = NULL;
        const oa_catalog *cat;
        oa_projects *st = NULL;
        size_t n = 0;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        cat = oa_projects_catalog(st);
        if (!oa_catalog_account(cat, q->account_id)) {
                ret = oa_admin_not_found("account", q->account_id);
        } else if (oa_admin_sorted_keys(cat, q->account_id, &v, &n) < 0) {
                fprintf(stderr, "oa-admin: out of memory\n");
                ret = OA_ADMIN_EXIT_FAILURE;
        } else {
                ret = oa_admin_show_keys(q, v, n);
        }
        free(v);
        oa_projects_free(st);
        return ret;
}

/* "revoked key key_... (name)" or, with --json, the key. */
static int show_revoked(const oa_admin_req *q, const Oa__ApiKey *k, bool already) {
        char t[OA_ENTITY_TIME_MAX];
        oa_buf b;
        int r;

        if (q->json)
                return oa_admin_show_key(q, k, NULL);
        oa_buf_init(&b, 4096);
        r = oa_buf_addf(&b, "%s key %s (", already ? "already revoked:" : "revoked", k->id);
        if (r == 0)
                r = oa_buf_add_json_str(&b, k->name, strlen(k->name));
        if (r == 0)
                r = oa_buf_addf(&b, ") at %s\n", oa_admin_time_iso(k->revoked_ms, t));
        return oa_admin_emit(&b, r, false);
}

int oa_admin_key_revoke(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        const Oa__ApiKey *old;
        oa_projects *st = NULL;
        Oa__ApiKey k;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        old = oa_catalog_key(oa_projects_catalog(st), q->id);
        if (!old) {
                ret = oa_admin_not_found("key", q->id);
                goto out;
        }
        /* Revoking twice changes nothing: the first revocation time stays. */
        if (old->revoked) {
                ret = show_revoked(q, old, true);
                goto out;
        }
        k = *old;
        k.revoked = true;
        k.revoked_ms = oa_entity_now_ms();
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = show_revoked(q, &k, false);
out:
        oa_projects_free(st);
        return ret;
}

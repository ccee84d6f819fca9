/* `oa-admin init`: what a fresh installation needs to be tried at once: an account
 * "Default" (plan business, or --plan), a project "Demo" (domain localhost, or --domain;
 * timezone UTC, or --timezone) and a key "owner" with every scope. The three records are
 * published together and reported only once Kafka acknowledged all of them. It is not
 * idempotent: `make up` runs it once and keeps what it printed in .run/demo.env. */
#include "admin.h"

#include "oa/key.h"

#include <openssl/crypto.h>
#include <string.h>

/* {"account": {...}, "project": {...}, "key": {..., "key": "oa_live_..."}} or three
 * titled text blocks. */
static int show_all(const oa_admin_req *q, const Oa__Account *a, const Oa__Project *p,
                    const Oa__ApiKey *k, const char *secret) {
        oa_buf b;
        int r;

        oa_buf_init(&b, 1 << 20);
        if (q->json) {
                r = oa_buf_adds(&b, "{\"account\":");
                if (r == 0)
                        r = oa_admin_json_account(&b, a);
                if (r == 0)
                        r = oa_buf_adds(&b, ",\n \"project\":");
                if (r == 0)
                        r = oa_admin_json_project(&b, p);
                if (r == 0)
                        r = oa_buf_adds(&b, ",\n \"key\":");
                if (r == 0)
                        r = oa_admin_json_key(&b, k, secret);
                if (r == 0)
                        r = oa_buf_adds(&b, "}\n");
        } else {
                r = oa_buf_adds(&b, "account\n");
                if (r == 0)
                        r = oa_admin_text_account(&b, "  ", a);
                if (r == 0)
                        r = oa_buf_adds(&b, "project\n");
                if (r == 0)
                        r = oa_admin_text_project(&b, "  ", p);
                if (r == 0)
                        r = oa_buf_adds(&b, "key (shown this once; only its SHA-256 is kept)\n");
                if (r == 0)
                        r = oa_admin_text_key(&b, "  ", k, secret);
        }
        return oa_admin_emit(&b, r, true);
}

int oa_admin_init(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__Project p = OA__PROJECT__INIT;
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Record ra = OA__RECORD__INIT, rp = OA__RECORD__INIT, rk = OA__RECORD__INIT;
        Oa__Record *recs[] = { &ra, &rp, &rk };
        char acc_id[OA_ENTITY_ID_MAX], prj_id[OA_ENTITY_ID_MAX], site_id[OA_ENTITY_ID_MAX];
        char key_id[OA_ENTITY_ID_MAX], secret[OA_KEY_SECRET_LEN + 1], hint[OA_KEY_HINT_MAX];
        static char localhost[] = "localhost";
        char *default_domains[] = { localhost };
        unsigned char hash[OA_KEY_HASH_LEN];
        char *scopes[16];
        const oa_catalog *cat;
        oa_projects *st = NULL;
        int64_t now = oa_entity_now_ms();
        int ret, r;

        memset(secret, 0, sizeof(secret));
        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        cat = oa_projects_catalog(st);
        if (oa_admin_id_fresh(cat, OA_ENTITY_ACCOUNT, acc_id) < 0 ||
            oa_admin_id_fresh(cat, OA_ENTITY_PROJECT, prj_id) < 0 ||
            oa_admin_id_fresh(cat, OA_ENTITY_SITE, site_id) < 0 ||
            oa_admin_id_fresh(cat, OA_ENTITY_KEY, key_id) < 0) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        r = oa_key_generate(secret);
        if (r < 0) {
                fprintf(stderr, "oa-admin: cannot make a secret: %s\n", strerror(-r));
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }

        a.id = acc_id;
        a.name = (char *) "Default";
        a.plan = (q->given & OA_ADMIN_F_PLAN) ? q->plan : OA__PLAN__PLAN_BUSINESS;
        a.custom_limit = q->limit;
        a.created_ms = now;
        ra.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        ra.account = &a;

        p.id = prj_id;
        p.account_id = acc_id;
        p.site_id = site_id;
        p.name = (char *) "Demo";
        p.domains = q->n_domains ? q->domains : default_domains;
        p.n_domains = q->n_domains ? q->n_domains : 1;
        p.timezone = (char *) (q->timezone ? q->timezone : "UTC");
        p.created_ms = now;
        rp.entity_case = OA__RECORD__ENTITY_PROJECT;
        rp.project = &p;

        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        oa_key_hint(secret, hint);
        k.id = key_id;
        k.account_id = acc_id;
        k.name = (char *) "owner";
        for (unsigned bit = 1; bit <= OA_SCOPE_ALL; bit <<= 1)
                if (oa_scope_name(bit))
                        scopes[k.n_scopes++] = (char *) oa_scope_name(bit);
        k.scopes = scopes;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        k.hint = hint;
        k.created_ms = now;
        rk.entity_case = OA__RECORD__ENTITY_API_KEY;
        rk.api_key = &k;

        ret = oa_admin_publish(cfg, recs, 3);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = show_all(q, &a, &p, &k, secret);
out:
        OPENSSL_cleanse(secret, sizeof(secret));
        oa_projects_free(st);
        return ret;
}

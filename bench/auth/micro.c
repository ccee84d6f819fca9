/* The pieces of authentication and limiting on their own, in nanoseconds per call, without
 * HTTP or wrk (bench/auth/run.sh prints them next to the wrk figures, so the cost of a
 * request can be taken apart): the key's SHA-256, the whole oa_auth_check on a catalogue
 * of one account, the same through the cache of recognised keys (what oa_gate does), and oa_rl_hit counting in process, with Redis unreachable, and with
 * Redis answering (OA_REDIS_URL; the budget is taken from Redis in leases, so most calls
 * make no round trip). Built by bench/meson.build; never installed. */
#include "oa/auth.h"
#include "oa/catalog.h"
#include "oa/entity.h"
#include "oa/key.h"
#include "oa/projects.h"
#include "oa/rds.h"
#include "oa/rl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Apply one packed record to the catalogue. */
static void apply(oa_catalog *c, Oa__Record *rec) {
        char key[64], err[128];
        size_t n;
        uint8_t *buf;
        int kl;

        rec->version = 1;
        kl = oa_projects_record_key(rec, key, sizeof(key));
        n = oa__record__get_packed_size(rec);
        buf = malloc(n);
        oa__record__pack(rec, buf);
        if (oa_catalog_apply(c, key, (size_t) kl, buf, n, err, sizeof(err)) < 0) {
                fprintf(stderr, "micro: %s\n", err);
                exit(1);
        }
        free(buf);
}

int main(void) {
        char acc[OA_ENTITY_ID_MAX], kid[OA_ENTITY_ID_MAX], prj[OA_ENTITY_ID_MAX], secret[OA_KEY_SECRET_LEN + 1];
        char authz[64], *scopes[] = { "projects:read" }, err[256];
        unsigned char hash[OA_KEY_HASH_LEN];
        Oa__Record rec = OA__RECORD__INIT;
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__ApiKey k = OA__API_KEY__INIT;
        Oa__Project p = OA__PROJECT__INIT;
        oa_catalog *c = oa_catalog_new();
        oa_auth_result res;
        oa_rl_result rr;
        oa_rl *rl = NULL;
        oa_auth_cache *ac = NULL;
        oa_rds *rds = NULL;
        const char *url = getenv("OA_REDIS_URL");
        const int n = 200000, nr = 20000;
        double t;

        oa_entity_id_new(OA_ENTITY_ACCOUNT, acc);
        oa_entity_id_new(OA_ENTITY_KEY, kid);
        oa_entity_id_new(OA_ENTITY_PROJECT, prj);
        oa_key_generate(secret);
        a.id = acc;
        a.name = "bench";
        a.plan = OA__PLAN__PLAN_ENTERPRISE;
        a.custom_limit = 1000000000;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        apply(c, &rec);
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        k.id = kid;
        k.account_id = acc;
        k.name = "bench";
        k.scopes = scopes;
        k.n_scopes = 1;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        rec = (Oa__Record) OA__RECORD__INIT;
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        apply(c, &rec);
        p.id = prj;
        p.account_id = acc;
        rec = (Oa__Record) OA__RECORD__INIT;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        apply(c, &rec);
        snprintf(authz, sizeof(authz), "Bearer %s", secret);

        t = now_s();
        for (int i = 0; i < n; i++)
                oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        printf("sha256 of the secret (oa_key_hash)         %7.0f ns\n", (now_s() - t) / n * 1e9);

        t = now_s();
        for (int i = 0; i < n; i++)
                oa_auth_check(c, authz, strlen(authz), OA_SCOPE_PROJECTS_READ, prj, &res);
        if (res.status != 0) {
                fprintf(stderr, "micro: auth refused: %s\n", res.message);
                return 1;
        }
        printf("oa_auth_check (hash, key, scope, project)  %7.0f ns\n", (now_s() - t) / n * 1e9);

        /* What the gate does: the same check through its cache of recognised keys. */
        if (oa_auth_cache_new(512, &ac) < 0)
                return 1;
        t = now_s();
        for (int i = 0; i < n; i++)
                oa_auth_check_cached(ac, c, authz, strlen(authz), OA_SCOPE_PROJECTS_READ, prj, &res);
        if (res.status != 0)
                return 1;
        printf("oa_auth_check_cached, a key seen lately    %7.0f ns\n", (now_s() - t) / n * 1e9);
        ac = oa_auth_cache_free(ac);

        oa_rl_new(NULL, 1000, &rl);
        t = now_s();
        for (int i = 0; i < n; i++)
                oa_rl_hit(rl, "key:bench", 1000000000, 60, &rr);
        printf("oa_rl_hit, in process                      %7.0f ns\n", (now_s() - t) / n * 1e9);
        rl = oa_rl_free(rl);

        /* Redis unreachable: the fallback as a request meets it (a closed port). */
        if (oa_rds_new("redis://127.0.0.1:1", 100, &rds, err, sizeof(err)) == 0) {
                oa_rl_new(rds, 1000, &rl);
                t = now_s();
                for (int i = 0; i < n; i++)
                        oa_rl_hit(rl, "key:bench", 1000000000, 60, &rr);
                printf("oa_rl_hit, Redis unreachable (fallback)    %7.0f ns\n", (now_s() - t) / n * 1e9);
                rl = oa_rl_free(rl);
                rds = oa_rds_free(rds);
        }

        if (url && oa_rds_new(url, 1000, &rds, err, sizeof(err)) == 0 && oa_rds_ping(rds) == 0) {
                oa_rl_new(rds, 1000, &rl);
                t = now_s();
                for (int i = 0; i < nr; i++)
                        oa_rl_hit(rl, "key:bench-micro", 1000000000, 60, &rr);
                printf("oa_rl_hit, Redis answering                 %7.0f ns%s\n", (now_s() - t) / nr * 1e9,
                       rr.local ? " (fell back in process!)" : "");
                rl = oa_rl_free(rl);
        } else {
                printf("oa_rl_hit, in Redis: OA_REDIS_URL not set or not answering\n");
        }
        oa_rds_free(rds);
        oa_catalog_free(c);
        return 0;
}

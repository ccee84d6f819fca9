/* `oa-admin project create | list | update | delete`. A project belongs to an account,
 * has a random public site_id (what the browser snippet sends), its domains and its
 * timezone (dates in the read API are days in that zone). Deleting publishes the record
 * with deleted set: every catalogue drops the project, and compaction later keeps only
 * that record. */
#include "admin.h"

#include "oa/buf.h"

#include <stdlib.h>
#include <string.h>

int oa_admin_project_create(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Project p = OA__PROJECT__INIT;
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        char id[OA_ENTITY_ID_MAX], site[OA_ENTITY_ID_MAX];
        const Oa__Account *acc;
        const oa_catalog *cat;
        oa_projects *st = NULL;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        cat = oa_projects_catalog(st);
        acc = oa_catalog_account(cat, q->account_id);
        if (!acc) {
                ret = oa_admin_not_found("account", q->account_id);
                goto out;
        }
        if (oa_admin_id_fresh(cat, OA_ENTITY_PROJECT, id) < 0 ||
            oa_admin_id_fresh(cat, OA_ENTITY_SITE, site) < 0) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        p.id = id;
        p.account_id = acc->id;
        p.site_id = site;
        p.name = (char *) q->name;
        p.domains = q->domains;
        p.n_domains = q->n_domains;
        p.timezone = (char *) (q->timezone ? q->timezone : "UTC");
        p.created_ms = oa_entity_now_ms();
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = oa_admin_show_project(q, &p);
out:
        oa_projects_free(st);
        return ret;
}

int oa_admin_project_list(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        const Oa__Project **v = NULL;
        const oa_catalog *cat;
        oa_projects *st = NULL;
        size_t n = 0;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        cat = oa_projects_catalog(st);
        if (q->account_id && !oa_catalog_account(cat, q->account_id)) {
                ret = oa_admin_not_found("account", q->account_id);
        } else if (oa_admin_sorted_projects(cat, q->account_id, &v, &n) < 0) {
                fprintf(stderr, "oa-admin: out of memory\n");
                ret = OA_ADMIN_EXIT_FAILURE;
        } else {
                ret = oa_admin_show_projects(q, v, n);
        }
        free(v);
        oa_projects_free(st);
        return ret;
}

int oa_admin_project_update(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        const Oa__Project *old;
        oa_projects *st = NULL;
        Oa__Project p;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        old = oa_catalog_project(oa_projects_catalog(st), q->id);
        if (!old) {
                ret = oa_admin_not_found("project", q->id);
                goto out;
        }
        /* The current record with the fields given replaced (--domain replaces the whole
         * list); everything else, unknown fields included, is kept as it is. */
        p = *old;
        if (q->given & OA_ADMIN_F_NAME)
                p.name = (char *) q->name;
        if (q->given & OA_ADMIN_F_DOMAIN) {
                p.domains = q->domains;
                p.n_domains = q->n_domains;
        }
        if (q->given & OA_ADMIN_F_TIMEZONE)
                p.timezone = (char *) q->timezone;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = oa_admin_show_project(q, &p);
out:
        oa_projects_free(st);
        return ret;
}

int oa_admin_project_delete(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        const Oa__Project *old;
        oa_projects *st = NULL;
        Oa__Project p;
        oa_buf b;
        int ret, r;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        old = oa_catalog_project(oa_projects_catalog(st), q->id);
        if (!old) {
                ret = oa_admin_not_found("project", q->id);
                goto out;
        }
        /* The whole project goes with the deletion, so a follower that keeps something
         * per site (Redis counters, caches) knows which site_id went away. */
        p = *old;
        rec.deleted = true;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret != OA_ADMIN_EXIT_OK)
                goto out;
        oa_buf_init(&b, 4096);
        if (q->json) {
                r = oa_buf_adds(&b, "{\"id\":\"");
                if (r == 0)
                        r = oa_buf_add_json_str(&b, p.id, strlen(p.id));
                if (r == 0)
                        r = oa_buf_adds(&b, "\",\"deleted\":true}\n");
        } else {
                r = oa_buf_addf(&b, "deleted project %s (", p.id);
                if (r == 0)
                        r = oa_buf_add_json_str(&b, p.name, strlen(p.name));
                if (r == 0)
                        r = oa_buf_adds(&b, ")\n");
        }
        ret = oa_admin_emit(&b, r, false);
out:
        oa_projects_free(st);
        return ret;
}

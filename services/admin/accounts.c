/* `oa-admin account create | list | set-plan`: accounts own projects and keys; the plan
 * sets each key's budget of requests per minute (free 60, pro 600, business 6,000,
 * enterprise its own --limit). A plan change is the account's record published again,
 * and every daemon applies it within a second. */
#include "admin.h"

#include <stdlib.h>

int oa_admin_account_create(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Account a = OA__ACCOUNT__INIT;
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        oa_projects *st = NULL;
        char id[OA_ENTITY_ID_MAX];
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        if (oa_admin_id_fresh(oa_projects_catalog(st), OA_ENTITY_ACCOUNT, id) < 0) {
                ret = OA_ADMIN_EXIT_FAILURE;
                goto out;
        }
        a.id = id;
        a.name = (char *) q->name;
        a.plan = q->plan;
        a.custom_limit = q->limit;
        a.created_ms = oa_entity_now_ms();
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = oa_admin_show_account(q, &a);
out:
        oa_projects_free(st);
        return ret;
}

int oa_admin_account_list(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        const Oa__Account **v = NULL;
        oa_projects *st = NULL;
        size_t n = 0;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        if (oa_admin_sorted_accounts(oa_projects_catalog(st), &v, &n) < 0) {
                fprintf(stderr, "oa-admin: out of memory\n");
                ret = OA_ADMIN_EXIT_FAILURE;
        } else {
                ret = oa_admin_show_accounts(q, v, n);
        }
        free(v);
        oa_projects_free(st);
        return ret;
}

int oa_admin_account_set_plan(const oa_admin_cfg *cfg, const oa_admin_req *q) {
        Oa__Record rec = OA__RECORD__INIT, *recs[] = { &rec };
        const Oa__Account *old;
        oa_projects *st = NULL;
        Oa__Account a;
        int ret;

        ret = oa_admin_state_load(cfg, &st);
        if (ret != OA_ADMIN_EXIT_OK)
                return ret;
        old = oa_catalog_account(oa_projects_catalog(st), q->id);
        if (!old) {
                ret = oa_admin_not_found("account", q->id);
                goto out;
        }
        /* A copy of the current record (unknown fields included, so a newer writer's
         * fields survive), with the new plan; its strings stay owned by the catalogue. */
        a = *old;
        a.plan = q->plan;
        a.custom_limit = q->plan == OA__PLAN__PLAN_ENTERPRISE ? q->limit : 0;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        ret = oa_admin_publish(cfg, recs, 1);
        if (ret == OA_ADMIN_EXIT_OK)
                ret = oa_admin_show_account(q, &a);
out:
        oa_projects_free(st);
        return ret;
}

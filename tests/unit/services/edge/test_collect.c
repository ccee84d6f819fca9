/* Tests for the pure parts of services/edge/collect.c, enrich.c and store.c: the
 * Content-Types /collect takes, the site id of a body that did not parse, the per-site
 * budget from the plan, the lease size, and the table of drop counts. */
#include "edge.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/parameterized.h>
#include <string.h>

struct ct_row {
        char ct[64];
        bool ok;
};

ParameterizedTestParameters(edge_collect, content_types) {
        static struct ct_row rows[] = {
                { "", true },
                { "application/json", true },
                { "application/json; charset=utf-8", true },
                { "Application/JSON", true },
                { "text/plain;charset=UTF-8", true },           /* navigator.sendBeacon */
                { " text/plain", true },
                { "application/x-www-form-urlencoded", false },
                { "multipart/form-data; boundary=x", false },
                { "application/jsonp", false },
                { "text/plainx", false },
                { "text/html", false },
        };
        return cr_make_param_array(struct ct_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ct_row *row, edge_collect, content_types) {
        cr_assert_eq(oa_edge_collect_type_ok(row->ct, strlen(row->ct)), row->ok, "'%s'", row->ct);
}

struct sniff_row {
        char body[160];
        char site[40];          /* "" : none found */
};

ParameterizedTestParameters(edge_collect, sniff_site) {
        static struct sniff_row rows[] = {
                { "{\"site_id\":\"site_abc\",\"type\":\"pageview\"", "site_abc" },   /* truncated */
                { "{\"type\":1, \"site_id\" :\n \"site_x1\"}", "site_x1" },
                { "{\"url\":\"\\\"site_id\\\"\",\"site_id\":\"site_2\"}", "site_2" },
                { "{\"site_id\":123}", "" },
                { "{\"site_id\":\"site_$$\"}", "" },
                { "{\"site_id\":\"\"}", "" },
                { "{\"site_id\":\"site_unterminated", "" },
                { "garbage", "" },
                { "", "" },
        };
        return cr_make_param_array(struct sniff_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct sniff_row *row, edge_collect, sniff_site) {
        char out[72] = "";
        int r = oa_edge_sniff_site(row->body, strlen(row->body), out, sizeof(out));

        if (row->site[0]) {
                cr_assert_eq(r, 0, "%s", row->body);
                cr_assert_str_eq(out, row->site);
        } else {
                cr_assert_eq(r, -ENOENT, "%s gave %s", row->body, out);
        }
}

Test(edge_collect, sniff_is_bounded_by_the_length) {
        const char body[] = "{\"site_id\":\"site_abcdef\"}";
        char out[72];

        /* only "site_abc" is inside the length: no closing quote, nothing found */
        cr_assert_eq(oa_edge_sniff_site(body, 20, out, sizeof(out)), -ENOENT);
        cr_assert_eq(oa_edge_sniff_site(body, strlen(body), out, 5), -ENOENT, "does not fit");
}

Test(edge_collect, site_budget_follows_the_plan) {
        Oa__Account a = OA__ACCOUNT__INIT;
        long long rate, burst;

        a.plan = OA__PLAN__PLAN_FREE;
        oa_edge_site_budget(&a, 1, &rate, &burst);
        cr_assert_eq(rate, 60);
        cr_assert_eq(burst, 120);
        a.plan = OA__PLAN__PLAN_PRO;
        oa_edge_site_budget(&a, 1, &rate, &burst);
        cr_assert_eq(rate, 600);
        a.plan = OA__PLAN__PLAN_BUSINESS;
        oa_edge_site_budget(&a, 1, &rate, &burst);
        cr_assert_eq(rate, 6000);
        cr_assert_eq(burst, 12000);
        a.plan = OA__PLAN__PLAN_ENTERPRISE;
        a.custom_limit = 20;
        oa_edge_site_budget(&a, 1, &rate, &burst);
        cr_assert_eq(rate, 20);
        cr_assert_eq(burst, 100, "at least 100");
        oa_edge_site_budget(&a, 10, &rate, &burst);
        cr_assert_eq(rate, 200, "scaled");
        oa_edge_site_budget(NULL, 1, &rate, &burst);
        cr_assert_eq(rate, 60, "no account: the free plan");
}

Test(edge_collect, lease_size) {
        cr_assert_eq(oa_edge_lease_size(1), 1);
        cr_assert_eq(oa_edge_lease_size(60), 3);
        cr_assert_eq(oa_edge_lease_size(6000), 300);
        cr_assert_eq(oa_edge_lease_size(1000000), 500);
}

Test(edge_collect, drop_names) {
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_BOT), "bot");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_INVALID), "invalid");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_UNKNOWN_SITE), "unknown_site");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_RATE_LIMITED), "rate_limited");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_TOO_LARGE), "too_large");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_QUEUE_FULL), "queue_full");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_DROP_UNDELIVERED), "undelivered");
        cr_assert_str_eq(oa_edge_drop_name(OA_EDGE_N_DROPS), "unknown");
}

Test(edge_collect, drops_accumulate_per_date_project_and_reason) {
        oa_edge_drops d;

        cr_assert_eq(oa_edge_drops_init(&d, 3), 0);
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-28", "prj_a", OA_EDGE_DROP_BOT, 1), 0);
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-28", "prj_a", OA_EDGE_DROP_BOT, 2), 0);
        cr_assert_eq(oa_edge_drops_pending(&d), 1, "one triple");
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-28", NULL, OA_EDGE_DROP_INVALID, 1), 0);
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-29", "prj_a", OA_EDGE_DROP_BOT, 1), 0);
        cr_assert_eq(oa_edge_drops_pending(&d), 3);
        /* full: a new triple is lost (counted), a known one still adds up */
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-29", "prj_b", OA_EDGE_DROP_BOT, 5), -E2BIG);
        cr_assert_eq(d.lost, 5);
        cr_assert_eq(oa_edge_drops_add(&d, "2026-11-28", "prj_a", OA_EDGE_DROP_BOT, 1), 0);
        cr_assert_eq(oa_edge_drops_pending(&d), 3);
        oa_edge_drops_done(&d);
}

Test(edge_collect, drops_flush_keeps_counts_when_redis_is_away) {
        oa_edge_drops d;
        oa_rds *rds = NULL;
        char err[200];

        /* nothing listens on port 1: the pipeline fails and everything is kept */
        cr_assert_eq(oa_rds_new("redis://127.0.0.1:1", 50, &rds, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_edge_drops_init(&d, 10), 0);
        oa_edge_drops_add(&d, "2026-11-28", "prj_a", OA_EDGE_DROP_BOT, 4);
        cr_assert_lt(oa_edge_drops_flush(&d, rds), 0);
        cr_assert_eq(oa_edge_drops_pending(&d), 1);
        oa_edge_drops_done(&d);
        oa_rds_free(rds);
}

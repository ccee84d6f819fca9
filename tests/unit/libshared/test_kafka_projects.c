/* Tests for oa_projects_follow (libshared/src/projects.c) against librdkafka's mock
 * cluster: a turn applies what arrived, says once that the start-up read completed, and
 * reports no reader error while there is none. */
#include "test_kafka_mock.h"

#include "oa/projects.h"

#include <errno.h>
#include <string.h>

TestSuite(oa_projects_follow, .timeout = 60);

static const char *const fetch_fast[] = { "fetch.wait.max.ms", "10", NULL };

/* Publish account acc_<i> for i < n on topic. */
static void publish_accounts(const char *brokers, const char *topic, int n) {
        oa_kafka_cfg c = { .brokers = brokers, .client_id = "test-publish", .envp = no_env };
        reports rs = { 0 };
        oa_kprod *kp = NULL;
        char err[256], id[32];

        cr_assert_eq(oa_kprod_new(&c, collect_report, &rs, &kp, err, sizeof(err)), 0, "%s", err);
        for (int i = 0; i < n; i++) {
                Oa__Account a = OA__ACCOUNT__INIT;
                Oa__Record rec = OA__RECORD__INIT;

                snprintf(id, sizeof(id), "acc_%d", i);
                a.id = id;
                a.plan = OA__PLAN__PLAN_FREE;
                rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
                rec.account = &a;
                cr_assert_eq(oa_projects_publish(kp, topic, &rec, NULL), 0);
        }
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert_eq(rs.ok, n);
        oa_kprod_free(kp);
}

Test(oa_projects_follow, applies_what_arrived_and_says_ready_once) {
        oa_kafka_cfg c = { .client_id = "test-projects", .envp = no_env, .props = fetch_fast };
        oa_projects *p = NULL;
        oa_projects_turn t;
        char err[256];
        int read = 0, ready = 0;
        mock m;

        mock_start(&m, 1);
        mock_topic(&m, "p", 1);
        c.brokers = m.brokers;
        publish_accounts(m.brokers, "p", 3);
        cr_assert_eq(oa_projects_new(&c, "p", 10000, NULL, NULL, &p, err, sizeof(err)), 0, "%s", err);
        for (int i = 0; i < 500 && (read < 3 || !ready); i++) {
                oa_projects_follow(p, mono_ms(), &t);
                cr_assert_eq(t.err, 0, "%s", t.errstr);
                cr_assert_null(t.errstr);
                cr_assert_not(t.err_is_news);
                read += t.read;
                ready += t.became_ready;
                usleep(10 * 1000);
        }
        cr_assert_eq(read, 3);
        cr_assert_eq(ready, 1);
        cr_assert_eq(oa_catalog_n_accounts(oa_projects_catalog(p)), 3);
        oa_projects_follow(p, mono_ms(), &t);
        cr_assert_not(t.became_ready, "said once");
        cr_assert_null(oa_projects_recent_error(p, mono_ms()));
        oa_projects_free(p);
        mock_stop(&m);
}

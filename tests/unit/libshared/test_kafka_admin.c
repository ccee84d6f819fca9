/* Tests for libshared/src/kafka_admin.c and kafka_topics.c: the catalogue's contents, a
 * broker that never answers, and existing topics compared with their specs (the mock
 * cluster has no CreateTopics, so creation itself is covered by the integration tests). */
#include "test_kafka_mock.h"

#include <errno.h>
#include <string.h>

TestSuite(oa_kafka_admin, .timeout = 60);

static const char *config_of(const oa_kafka_topic_spec *t, const char *name) {
        for (size_t i = 0; t->configs && t->configs[i]; i += 2)
                if (strcmp(t->configs[i], name) == 0)
                        return t->configs[i + 1];
        return NULL;
}

Test(oa_kafka_admin, catalogue_has_the_four_topics) {
        size_t n;
        const oa_kafka_topic_spec *c = oa_kafka_catalogue(&n);
        const oa_kafka_topic_spec *ev = oa_kafka_catalogue_find(OA_TOPIC_EVENTS);
        const oa_kafka_topic_spec *pr = oa_kafka_catalogue_find(OA_TOPIC_PROJECTS);
        const oa_kafka_topic_spec *de = oa_kafka_catalogue_find(OA_TOPIC_DELETIONS);
        const oa_kafka_topic_spec *dl = oa_kafka_catalogue_find(OA_TOPIC_DEADLETTER);

        cr_assert_eq(n, 4);
        cr_assert_not_null(c);
        cr_assert(ev && pr && de && dl);
        cr_assert_eq(ev->partitions, 12);
        cr_assert_eq(pr->partitions, 1);
        cr_assert_eq(de->partitions, 3);
        cr_assert_eq(dl->partitions, 3);
        cr_assert_str_eq(config_of(pr, "cleanup.policy"), "compact");
        cr_assert_not_null(config_of(pr, "min.cleanable.dirty.ratio"));
        cr_assert_not_null(config_of(pr, "segment.ms"));
        cr_assert_null(config_of(pr, "retention.ms"), "a compacted source of truth has no age limit");
        cr_assert_str_eq(config_of(dl, "retention.ms"), "2592000000", "30 days");
        cr_assert_null(oa_kafka_catalogue_find("oa.nosuch.v1"));
        cr_assert_null(oa_kafka_catalogue_find(NULL));
}

Test(oa_kafka_admin, catalogue_configs_come_in_pairs) {
        size_t n;
        const oa_kafka_topic_spec *c = oa_kafka_catalogue(&n);

        for (size_t i = 0; i < n; i++) {
                cr_assert_not_null(c[i].purpose);
                for (size_t k = 0; c[i].configs && c[i].configs[k]; k += 2)
                        cr_assert_not_null(c[i].configs[k + 1], "%s %s", c[i].name, c[i].configs[k]);
        }
}

Test(oa_kafka_admin, unreachable_broker_is_etimedout_within_the_timeout) {
        oa_kafka_cfg c = { .brokers = "127.0.0.1:1", .envp = no_env };
        oa_kafka_topic_status st[4];
        rd_kafka_t *rk = NULL;
        size_t n;
        const oa_kafka_topic_spec *specs = oa_kafka_catalogue(&n);
        char err[512];
        int64_t t0;

        quiet_logs();
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);
        t0 = mono_ms();
        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, n, 1, 1500, st, err, sizeof(err)), -ETIMEDOUT);
        cr_assert_lt(mono_ms() - t0, 5000);
        cr_assert_not_null(strstr(err, "127.0.0.1:1"), "%s", err);
        cr_assert_not_null(strstr(err, "no Kafka broker answered"), "%s", err);
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_FAILED);
        rd_kafka_destroy(rk);
}

Test(oa_kafka_admin, existing_topics_are_compared_with_their_spec) {
        static const oa_kafka_topic_spec specs[] = {
                { "same", 3, NULL, "as specified" },
                { "fewer", 4, NULL, "has 2 partitions" },
        };
        oa_kafka_cfg c = { .envp = no_env };
        oa_kafka_topic_status st[2];
        rd_kafka_t *rk = NULL;
        char err[512];
        mock m;

        mock_start(&m, 1);
        mock_topic(&m, "same", 3);
        mock_topic(&m, "fewer", 2);
        c.brokers = m.brokers;
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, 2, 1, 10000, st, err, sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(st[0].name, "same");
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_EXISTS, "%s", st[0].detail);
        cr_assert_eq(st[0].partitions, 3);
        cr_assert_eq(st[1].state, OA_KAFKA_TOPIC_MISMATCH);
        cr_assert_eq(st[1].partitions, 2);
        cr_assert_not_null(strstr(st[1].detail, "partitions: 2, spec says 4"), "%s", st[1].detail);
        rd_kafka_destroy(rk);
        mock_stop(&m);
}

Test(oa_kafka_admin, metadata_lists_the_topics) {
        oa_kafka_cfg c = { .envp = no_env };
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_t *rk = NULL;
        char err[512];
        bool found = false;
        mock m;

        mock_start(&m, 1);
        mock_topic(&m, "listed", 5);
        c.brokers = m.brokers;
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kafka_metadata(rk, 10000, &md, err, sizeof(err)), 0, "%s", err);
        for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, "listed") == 0)
                        found = md->topics[i].partition_cnt == 5;
        cr_assert(found);
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        mock_stop(&m);
}

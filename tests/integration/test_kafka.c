/* Integration tests of libshared's Kafka wrappers (oa/kafka.h) against the real broker at
 * OA_KAFKA_BROKERS: oa.Event protobuf messages through a producer and a consumer group with
 * committed offsets, and topic creation that is idempotent and notices drift. Every topic
 * and group name is unique to the run. */
#include "test_kafka_it.h"

#include "event.pb-c.h"

#include <errno.h>

#define N_FIRST 20
#define N_SECOND 5

TestSuite(kafka_integration, .init = it_logs, .timeout = 120);

typedef struct delivery {
        int ok, failed;
        int reported[N_FIRST + N_SECOND];       /* reports per message opaque (batches) */
} delivery;

static void on_report(const oa_kprod_report *r, void *cb_opaque) {
        delivery *d = cb_opaque;
        int *slot = r->msg_opaque;

        if (r->err == 0)
                d->ok++;
        else
                d->failed++;
        if (slot)
                (*slot)++;
}

/* Produce events number from..to-1 of one project, four visitors, key project/visitor:
 * one oa_kprod_produce each, or all in one oa_kprod_produce_batch (each message's
 * opaque must come back in exactly one report). */
static void produce_events(const char *topic, int from, int to, bool batch) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-producer", .envp = no_env };
        static uint8_t bufs[N_FIRST + N_SECOND][512];
        static char keys[N_FIRST + N_SECOND][64];
        oa_kprod_msg msgs[N_FIRST + N_SECOND];
        delivery d = { 0 };
        oa_kprod *kp = NULL;
        char err[512];

        cr_assert(to <= N_FIRST + N_SECOND);
        cr_assert_eq(oa_kprod_new(&c, on_report, &d, &kp, err, sizeof(err)), 0, "%s", err);
        for (int i = from; i < to; i++) {
                Oa__Event ev = OA__EVENT__INIT;
                char id[32], visitor[16], url[64];
                char *key = keys[i];
                uint8_t *buf = bufs[i];
                size_t len;

                snprintf(id, sizeof(id), "e%d", i);
                snprintf(visitor, sizeof(visitor), "v%d", i % 4);
                snprintf(key, sizeof(keys[i]), "p1/%s", visitor);
                snprintf(url, sizeof(url), "https://example.com/page/%d", i);
                ev.version = 1;
                ev.event_id = id;
                ev.project_id = "p1";
                ev.visitor_id = visitor;
                ev.source = OA__EVENT_SOURCE__EVENT_SOURCE_API;
                ev.event_type = "pageview";
                ev.url = url;
                ev.timestamp_ms = 1700000000000LL + i;
                len = oa__event__get_packed_size(&ev);
                cr_assert_leq(len, sizeof(bufs[i]));
                oa__event__pack(&ev, buf);
                msgs[i - from] = (oa_kprod_msg) { .key = key, .key_len = strlen(key), .value = buf,
                                                  .value_len = len, .msg_opaque = &d.reported[i],
                                                  .err = 1 };
                if (!batch)
                        cr_assert_eq(oa_kprod_produce(kp, topic, key, strlen(key), buf, len, NULL), 0);
        }
        if (batch) {
                cr_assert_eq(oa_kprod_produce_batch(kp, topic, msgs, (size_t) (to - from)), (size_t) (to - from));
                for (int i = 0; i < to - from; i++)
                        cr_assert_eq(msgs[i].err, 0, "message %d: %d", i, msgs[i].err);
        }
        cr_assert_eq(oa_kprod_flush(kp, 30000), 0);
        cr_assert_eq(d.ok, to - from, "delivered %d, failed %d", d.ok, d.failed);
        for (int i = from; batch && i < to; i++)
                cr_assert_eq(d.reported[i], 1, "message %d reported %d times", i, d.reported[i]);
        oa_kprod_free(kp);
}

/* Consume until want events arrived (plus quiet_ms of nothing more); store each after
 * "processing" it. seen[i] counts event e<i>; per-visitor order is checked. */
static int consume_events(oa_kcons *kc, int want, int quiet_ms, int *seen, int nseen) {
        int last_of_visitor[4] = { -1, -1, -1, -1 }, got = 0;
        int64_t end = mono_ms() + 60000, quiet_end = 0;
        char err[512];

        while (mono_ms() < end) {
                Oa__Event *ev;
                oa_kmsg m;
                int r = oa_kcons_poll(kc, 100, &m, err, sizeof(err)), n, v;

                if (r == 0) {
                        if (got >= want && !quiet_end)
                                quiet_end = mono_ms() + quiet_ms;
                        if (quiet_end && mono_ms() >= quiet_end)
                                break;
                        continue;
                }
                cr_assert_eq(r, 1, "consumer error %d: %s", r, err);
                ev = oa__event__unpack(NULL, m.value_len, m.value);
                cr_assert_not_null(ev, "not an oa.Event at offset %lld", (long long) m.offset);
                cr_assert_eq(ev->version, 1);
                cr_assert_str_eq(ev->project_id, "p1");
                cr_assert_str_eq(ev->event_type, "pageview");
                cr_assert_eq(sscanf(ev->event_id, "e%d", &n), 1);
                cr_assert_eq(sscanf(ev->visitor_id, "v%d", &v), 1);
                cr_assert(n >= 0 && n < nseen && v >= 0 && v < 4);
                cr_assert_eq(ev->timestamp_ms, 1700000000000LL + n);
                cr_assert_eq(m.key_len, 3 + strlen(ev->visitor_id));
                cr_assert_eq(memcmp(m.key, "p1/", 3), 0, "key is project/visitor");
                cr_assert_gt(n, last_of_visitor[v], "one visitor's events stay in order");
                last_of_visitor[v] = n;
                seen[n]++;
                got++;
                oa__event__free_unpacked(ev, NULL);
                cr_assert_eq(oa_kcons_store_msg(kc, &m), 0);
                oa_kmsg_done(&m);
        }
        return got;
}

static oa_kcons *group_consumer(const char *group, const char *topic) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-consumer", .group_id = group,
                           .envp = no_env };
        const char *topics[] = { topic };
        oa_kcons *kc = NULL;
        char err[512];

        cr_assert_eq(oa_kcons_new(&c, &kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kcons_subscribe(kc, topics, 1, err, sizeof(err)), 0, "%s", err);
        return kc;
}

Test(kafka_integration, protobuf_events_round_trip_and_group_resumes_after_commit) {
        char topic[128], group[128], err[512];
        int seen[N_FIRST + N_SECOND] = { 0 };
        oa_kafka_topic_spec spec = { topic, 3, NULL, "it events" };
        oa_kcons *kc;

        unique_name(topic, sizeof(topic), "it.events");
        unique_name(group, sizeof(group), "it.group");
        create_topics(&spec, 1);

        produce_events(topic, 0, N_FIRST, false);
        kc = group_consumer(group, topic);
        cr_assert_eq(consume_events(kc, N_FIRST, 500, seen, N_FIRST + N_SECOND), N_FIRST);
        for (int i = 0; i < N_FIRST; i++)
                cr_assert_eq(seen[i], 1, "event e%d seen %d times", i, seen[i]);
        cr_assert_eq(oa_kcons_close(kc, err, sizeof(err)), 0, "%s", err);
        kc = oa_kcons_free(kc);

        /* a second member of the same group, after the first closed: only what is new */
        produce_events(topic, N_FIRST, N_FIRST + N_SECOND, true);
        kc = group_consumer(group, topic);
        cr_assert_eq(consume_events(kc, N_SECOND, 3000, seen, N_FIRST + N_SECOND), N_SECOND,
                     "the restarted member got old events again, or missed new ones");
        for (int i = 0; i < N_FIRST + N_SECOND; i++)
                cr_assert_eq(seen[i], 1, "event e%d seen %d times", i, seen[i]);
        oa_kcons_free(kc);
}

Test(kafka_integration, ensure_topics_is_idempotent_and_reports_drift) {
        static const char *const compact[] = { "cleanup.policy", "compact", NULL };
        static const char *const deleting[] = { "cleanup.policy", "delete", NULL };
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-admin", .envp = no_env };
        char a[128], b[128], err[512];
        oa_kafka_topic_spec specs[2] = { { a, 2, compact, "a" }, { b, 1, NULL, "b" } };
        oa_kafka_topic_status st[2];
        rd_kafka_t *rk = NULL;

        unique_name(a, sizeof(a), "it.ensure.a");
        unique_name(b, sizeof(b), "it.ensure.b");
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);

        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, 2, 1, 30000, st, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_CREATED, "%s", st[0].detail);
        cr_assert_eq(st[1].state, OA_KAFKA_TOPIC_CREATED, "%s", st[1].detail);

        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, 2, 1, 30000, st, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_EXISTS, "%s", st[0].detail);
        cr_assert_eq(st[0].partitions, 2);
        cr_assert_eq(st[1].state, OA_KAFKA_TOPIC_EXISTS, "%s", st[1].detail);

        specs[0].partitions = 4;
        specs[0].configs = deleting;
        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, 2, 1, 30000, st, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_MISMATCH);
        cr_assert_not_null(strstr(st[0].detail, "partitions: 2, spec says 4"), "%s", st[0].detail);
        cr_assert_not_null(strstr(st[0].detail, "cleanup.policy is compact, spec says delete"),
                           "%s", st[0].detail);
        cr_assert_eq(st[1].state, OA_KAFKA_TOPIC_EXISTS);
        rd_kafka_destroy(rk);
}

Test(kafka_integration, ensure_reports_a_topic_the_broker_refuses) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-admin", .envp = no_env };
        static const char *const bad[] = { "cleanup.policy", "sometimes", NULL };
        char ok[128], err[512];
        oa_kafka_topic_spec specs[2] = { { "it.bad.config.topic", 1, bad, "bad" }, { ok, 1, NULL, "ok" } };
        oa_kafka_topic_status st[2];
        rd_kafka_t *rk = NULL;
        int r;

        unique_name(ok, sizeof(ok), "it.ensure.ok");
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);
        r = oa_kafka_ensure_topics(rk, specs, 2, 1, 30000, st, err, sizeof(err));
        cr_assert_lt(r, 0);
        cr_assert_not_null(strstr(err, "it.bad.config.topic"), "%s", err);
        cr_assert_eq(st[0].state, OA_KAFKA_TOPIC_FAILED);
        cr_assert_eq(st[1].state, OA_KAFKA_TOPIC_CREATED, "the good one is still created: %s",
                     st[1].detail);
        rd_kafka_destroy(rk);
}

Test(kafka_integration, reader_of_missing_topic_is_enoent) {
        oa_kafka_cfg c = { .brokers = brokers(), .envp = no_env };
        oa_kcons *kc = NULL;
        char topic[128], err[512];
        int r;

        unique_name(topic, sizeof(topic), "it.missing");
        r = oa_kcons_new_reader(&c, topic, 10000, &kc, err, sizeof(err));
        cr_assert_eq(r, -ENOENT, "got %d: %s", r, err);
        cr_assert_null(kc);
}

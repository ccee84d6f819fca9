/* Tests for libshared/src/kafka_consumer.c against librdkafka's mock cluster: only stored
 * offsets are committed (by commit, by close, in the background), a restarted member of
 * the group resumes after them, commit errors come back, and the whole-topic reader knows
 * when it has caught up and keeps following. */
#include "test_kafka_mock.h"

#include <errno.h>
#include <string.h>

static mock m;

static void setup(void) {
        mock_start(&m, 1);
        mock_topic(&m, "t", 1);
}

static void teardown(void) {
        mock_stop(&m);
}

TestSuite(oa_kcons, .init = setup, .fini = teardown, .timeout = 90);

/* The mock cluster keeps a group rebalancing after a member left until the session
 * timeout passes (a real broker does not), so keep it at the broker's minimum. */
static const char *const group_props[] = { "session.timeout.ms", "6000", NULL };

static oa_kcons *new_consumer(const char *group, bool manual_commit) {
        oa_kafka_cfg c = { .brokers = m.brokers, .client_id = "test-consumer", .group_id = group,
                           .manual_commit = manual_commit, .props = group_props,
                           .envp = no_env };
        const char *topics[] = { "t" };
        oa_kcons *kc = NULL;
        char err[512];

        cr_assert_eq(oa_kcons_new(&c, &kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kcons_subscribe(kc, topics, 1, err, sizeof(err)), 0, "%s", err);
        return kc;
}

/* The committed offset of t[0] for kc's group, or a negative value. */
static int64_t committed(oa_kcons *kc) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        int64_t off;

        rd_kafka_topic_partition_list_add(l, "t", 0);
        cr_assert_eq(rd_kafka_committed(oa_kcons_rk(kc), l, 5000), 0);
        off = l->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(l);
        return off;
}

/* The first offset a new member of group receives. */
static int64_t first_offset_for(const char *group) {
        oa_kcons *kc = new_consumer(group, true);
        int64_t off = -1;

        cr_assert_eq(poll_msgs(kc, 1, 20000, &off), 1, "a restarted member got nothing");
        oa_kcons_free(kc);
        return off;
}

Test(oa_kcons, free_null_returns_null) {
        cr_assert_null(oa_kcons_free(NULL));
        oa_kmsg_done(NULL);
}

Test(oa_kcons, group_is_required) {
        oa_kafka_cfg c = { .brokers = m.brokers, .envp = no_env };
        oa_kcons *kc = NULL;
        char err[256];

        cr_assert_eq(oa_kcons_new(&c, &kc, err, sizeof(err)), -EINVAL);
        cr_assert_null(kc);
        cr_assert_not_null(strstr(err, "group.id"));
}

Test(oa_kcons, auto_offset_store_cannot_be_turned_on) {
        char *envp[] = { "OA_KAFKA_X_ENABLE_AUTO_OFFSET_STORE=true", NULL };
        oa_kafka_cfg c = { .brokers = m.brokers, .group_id = "g", .envp = envp };
        oa_kcons *kc = NULL;
        char err[256];

        cr_assert_eq(oa_kcons_new(&c, &kc, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "enable.auto.offset.store"), "%s", err);
}

Test(oa_kcons, message_view_has_key_value_and_position) {
        oa_kcons *kc;
        oa_kmsg msg;
        char err[256];
        int r = 0;

        produce_n(m.brokers, "t", 1);
        kc = new_consumer("g-view", true);
        for (int64_t end = mono_ms() + 20000; r == 0 && mono_ms() < end;)
                r = oa_kcons_poll(kc, 100, &msg, err, sizeof(err));
        cr_assert_eq(r, 1, "%s", err);
        cr_assert_str_eq(msg.topic, "t");
        cr_assert_eq(msg.partition, 0);
        cr_assert_eq(msg.offset, 0);
        cr_assert_eq(msg.key_len, 2);
        cr_assert_eq(memcmp(msg.key, "k0", 2), 0);
        cr_assert_eq(msg.value_len, 2);
        cr_assert_eq(memcmp(msg.value, "v0", 2), 0);
        cr_assert_gt(msg.timestamp_ms, 0);
        cr_assert_not(oa_kcons_caught_up(kc), "a group consumer is never 'caught up'");
        oa_kmsg_done(&msg);
        oa_kmsg_done(&msg);
        oa_kcons_free(kc);
}

Test(oa_kcons, store_then_commit_moves_committed_offset) {
        int64_t offs[10];
        oa_kcons *kc;
        char err[256];

        produce_n(m.brokers, "t", 10);
        kc = new_consumer("g-commit", true);
        cr_assert_eq(poll_msgs(kc, 10, 20000, offs), 10);
        cr_assert_eq(offs[3], 3);
        cr_assert_eq(oa_kcons_store(kc, "t", 0, offs[3]), 0);
        cr_assert_eq(oa_kcons_commit(kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(committed(kc), 4, "committed = last processed + 1");
        cr_assert_eq(oa_kcons_commit(kc, err, sizeof(err)), 0, "nothing new stored is fine");
        cr_assert_eq(oa_kcons_close(kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kcons_poll(kc, 0, &(oa_kmsg) { 0 }, err, sizeof(err)), -ESHUTDOWN);
        oa_kcons_free(kc);

        cr_assert_eq(first_offset_for("g-commit"), 4, "resumes after the processed ones");
}

Test(oa_kcons, unstored_messages_are_not_committed) {
        oa_kcons *kc;
        char err[256];

        produce_n(m.brokers, "t", 5);
        kc = new_consumer("g-unstored", false);         /* auto commit on */
        cr_assert_eq(poll_msgs(kc, 5, 20000, NULL), 5);
        usleep(300 * 1000);
        cr_assert_eq(oa_kcons_close(kc, err, sizeof(err)), 0, "%s", err);
        oa_kcons_free(kc);

        cr_assert_eq(first_offset_for("g-unstored"), 0, "polled but unprocessed: redelivered");
}

Test(oa_kcons, close_commits_stored_offsets) {
        int64_t offs[8];
        oa_kcons *kc;

        produce_n(m.brokers, "t", 8);
        kc = new_consumer("g-close", false);
        cr_assert_eq(poll_msgs(kc, 8, 20000, offs), 8);
        cr_assert_eq(oa_kcons_store(kc, "t", 0, offs[6]), 0);
        oa_kcons_free(kc);                              /* closes: commit + leave */

        cr_assert_eq(first_offset_for("g-close"), 7);
}

Test(oa_kcons, auto_commit_commits_stored_offsets_in_background) {
        const char *props[] = { "auto.commit.interval.ms", "200", NULL };
        oa_kafka_cfg c = { .brokers = m.brokers, .group_id = "g-auto", .props = props,
                           .envp = no_env };
        const char *topics[] = { "t" };
        int64_t offs[4], end;
        oa_kcons *kc = NULL;
        char err[256];

        produce_n(m.brokers, "t", 4);
        cr_assert_eq(oa_kcons_new(&c, &kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kcons_subscribe(kc, topics, 1, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(poll_msgs(kc, 4, 20000, offs), 4);
        cr_assert_eq(oa_kcons_store(kc, "t", 0, offs[1]), 0);
        for (end = mono_ms() + 10000; committed(kc) != 2 && mono_ms() < end;)
                poll_msgs(kc, 1, 100, NULL);
        cr_assert_eq(committed(kc), 2, "stored offset committed without oa_kcons_commit");
        oa_kcons_free(kc);
}

Test(oa_kcons, commit_error_is_returned) {
        int64_t offs[2];
        oa_kcons *kc;
        char err[256] = "";
        int r;

        produce_n(m.brokers, "t", 2);
        kc = new_consumer("g-err", true);
        cr_assert_eq(poll_msgs(kc, 2, 20000, offs), 2);
        cr_assert_eq(oa_kcons_store(kc, "t", 0, offs[1]), 0);
        rd_kafka_mock_push_request_errors(m.mc, API_OFFSET_COMMIT, 1,
                                          RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
        r = oa_kcons_commit(kc, err, sizeof(err));
        cr_assert_eq(r, -EACCES, "got %d (%s)", r, err);
        cr_assert_not_null(strstr(err, "commit"), "%s", err);
        cr_assert_eq(oa_kcons_commit(kc, err, sizeof(err)), 0, "the next commit succeeds: %s", err);
        cr_assert_eq(committed(kc), 2);
        oa_kcons_free(kc);
}

Test(oa_kcons, store_for_unassigned_partition_is_estale) {
        oa_kcons *kc;

        produce_n(m.brokers, "t", 1);
        kc = new_consumer("g-stale", true);
        cr_assert_eq(poll_msgs(kc, 1, 20000, NULL), 1);
        cr_assert_eq(oa_kcons_store(kc, "t", 7, 0), -ESTALE);
        cr_assert_eq(oa_kcons_store(kc, "other", 0, 0), -ESTALE);
        cr_assert_eq(oa_kcons_store(kc, "t", 0, -1), -EINVAL);
        oa_kcons_free(kc);
}

/* ---- the whole-topic reader ---- */

static oa_kcons *new_reader(const char *topic, int *ret_err) {
        oa_kafka_cfg c = { .brokers = m.brokers, .client_id = "test-reader",
                           .group_id = "ignored", .envp = no_env };
        oa_kcons *kc = NULL;
        char err[512];

        *ret_err = oa_kcons_new_reader(&c, topic, 10000, &kc, err, sizeof(err));
        return kc;
}

Test(oa_kcons, reader_reads_to_end_offsets_then_follows) {
        oa_kcons *kc;
        int r, n = 0;

        mock_topic(&m, "r3", 3);
        produce_n(m.brokers, "r3", 30);
        kc = new_reader("r3", &r);
        cr_assert_eq(r, 0);
        cr_assert_not(oa_kcons_caught_up(kc));
        for (int64_t end = mono_ms() + 20000; !oa_kcons_caught_up(kc) && mono_ms() < end;)
                n += poll_msgs(kc, 1, 100, NULL);
        cr_assert(oa_kcons_caught_up(kc));
        cr_assert_eq(n, 30, "caught up exactly when all 30 were returned, got %d", n);
        cr_assert_eq(oa_kcons_store(kc, "r3", 0, 0), -EINVAL, "a reader stores nothing");

        produce_n(m.brokers, "r3", 2);                  /* and it follows */
        cr_assert_eq(poll_msgs(kc, 2, 20000, NULL), 2);
        cr_assert(oa_kcons_caught_up(kc));
        oa_kcons_free(kc);
}

Test(oa_kcons, reader_of_empty_topic_is_caught_up_at_once) {
        oa_kcons *kc;
        int r;

        mock_topic(&m, "empty", 2);
        kc = new_reader("empty", &r);
        cr_assert_eq(r, 0);
        cr_assert(oa_kcons_caught_up(kc));
        oa_kcons_free(kc);
}

Test(oa_kcons, reader_of_unknown_topic_is_enoent) {
        oa_kcons *kc;
        int r;

        /* the mock creates topics on any metadata request; a real broker (auto-creation
         * off) answers this, and tests/integration covers that */
        rd_kafka_mock_topic_set_error(m.mc, "no-such-topic",
                                      RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
        kc = new_reader("no-such-topic", &r);
        cr_assert_eq(r, -ENOENT, "got %d", r);
        cr_assert_null(kc);
}

Test(oa_kcons, reader_sees_tombstones_as_null_values) {
        oa_kafka_cfg c = { .brokers = m.brokers, .envp = no_env };
        oa_kprod *kp = NULL;
        oa_kcons *kc;
        oa_kmsg msg;
        char err[256];
        int r = 0;

        mock_topic(&m, "compact", 1);
        cr_assert_eq(oa_kprod_new(&c, NULL, NULL, &kp, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kprod_produce(kp, "compact", "k3", 2, NULL, 0, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        oa_kprod_free(kp);

        kc = new_reader("compact", &r);
        cr_assert_eq(r, 0);
        r = 0;
        for (int64_t end = mono_ms() + 20000; r == 0 && mono_ms() < end;)
                r = oa_kcons_poll(kc, 100, &msg, err, sizeof(err));
        cr_assert_eq(r, 1);
        cr_assert_null(msg.value);
        cr_assert_eq(msg.value_len, 0);
        cr_assert_eq(memcmp(msg.key, "k3", 2), 0);
        cr_assert(oa_kcons_caught_up(kc));
        oa_kmsg_done(&msg);
        oa_kcons_free(kc);
}

/* What the rebalance hook saw, and what it stores when partitions are revoked. */
struct hook_seen {
        int assigned, revoked;
        int32_t partition;
        oa_kcons *kc;
        int64_t store_on_revoke;
};

static void on_rebalance(bool assigned, rd_kafka_topic_partition_list_t *parts, void *opaque) {
        struct hook_seen *h = opaque;

        if (assigned) {
                h->assigned++;
                h->partition = parts->cnt == 1 ? parts->elems[0].partition : -1;
        } else {
                h->revoked++;
                if (h->store_on_revoke >= 0)
                        oa_kcons_store(h->kc, "t", 0, h->store_on_revoke);
        }
}

Test(oa_kcons, rebalance_hook_sees_assignment_and_stores_on_revoke_are_committed) {
        struct hook_seen h = { .partition = -2, .store_on_revoke = 5 };
        int64_t offs[8];
        char err[256];

        produce_n(m.brokers, "t", 8);
        h.kc = new_consumer("g-hook", true);
        oa_kcons_on_rebalance(h.kc, on_rebalance, &h);
        cr_assert_eq(poll_msgs(h.kc, 8, 20000, offs), 8);
        cr_assert_eq(h.assigned, 1);
        cr_assert_eq(h.partition, 0);
        cr_assert_eq(h.revoked, 0);
        cr_assert_eq(oa_kcons_close(h.kc, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(h.revoked, 1, "close revokes through the hook");
        oa_kcons_free(h.kc);
        cr_assert_eq(first_offset_for("g-hook"), 6, "the offset stored in the hook was committed");
}

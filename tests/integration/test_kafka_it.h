/* Shared by the Kafka integration tests (test_kafka*.c): the real broker's address from
 * OA_KAFKA_BROKERS (as written by tests/integration/run.sh; missing is a failure, not a
 * skip), names unique to this run, and topic creation through oa_kafka_ensure_topics. */
#ifndef TEST_KAFKA_IT_H
#define TEST_KAFKA_IT_H

#include "oa/kafka.h"
#include "oa/log.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The tests read no OA_KAFKA_X_* of whoever runs them. */
static char *no_env[] = { NULL };

static inline const char *brokers(void) {
        const char *v = getenv("OA_KAFKA_BROKERS");

        cr_assert(v && *v, "OA_KAFKA_BROKERS is not set: run the integration tests with "
                  "tests/integration/run.sh (or export the address of a Kafka broker)");
        return v;
}

static inline int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<prefix>.<pid>.<time>.<counter>": topics and groups of this run only. */
static inline void unique_name(char *buf, size_t len, const char *prefix) {
        static int counter;
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(buf, len, "%s.%ld.%lld%03ld.%d", prefix, (long) getpid(), (long long) ts.tv_sec,
                 ts.tv_nsec / 1000000, counter++);
}

/* librdkafka's own lines only when OA_TEST_LOG is set; warnings and errors otherwise. */
static inline void it_logs(void) {
        oa_log_init("it-kafka", getenv("OA_TEST_LOG") ? OA_LOG_DEBUG : OA_LOG_WARN);
}

/* Create topics from specs (broker's default replication factor); fails the test unless
 * every one was created. */
static inline void create_topics(const oa_kafka_topic_spec *specs, size_t n) {
        oa_kafka_cfg c = { .brokers = brokers(), .client_id = "it-admin", .envp = no_env };
        oa_kafka_topic_status st[8];
        rd_kafka_t *rk = NULL;
        char err[512];

        cr_assert_leq(n, 8);
        cr_assert_eq(oa_kafka_admin_new(&c, &rk, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kafka_ensure_topics(rk, specs, n, -1, 30000, st, err, sizeof(err)), 0,
                     "%s", err);
        for (size_t i = 0; i < n; i++)
                cr_assert_eq(st[i].state, OA_KAFKA_TOPIC_CREATED, "%s: %d %s", st[i].name,
                             st[i].state, st[i].detail);
        rd_kafka_destroy(rk);
}

#endif

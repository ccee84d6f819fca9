/* Shared by the Kafka unit tests: a librdkafka mock cluster (rdkafka_mock.h) per test,
 * so producers and consumers run against a real protocol peer with fault injection, and
 * small helpers to wait for messages. Header-only: each test_kafka_*.c is one program. */
#ifndef TEST_KAFKA_MOCK_H
#define TEST_KAFKA_MOCK_H

#include "oa/kafka.h"
#include "oa/log.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Kafka protocol request types (ApiKey) used with rd_kafka_mock_push_request_errors. */
#define API_PRODUCE 0
#define API_OFFSET_COMMIT 8

/* An empty environment, so the tests see no OA_KAFKA_X_* of whoever runs them. */
static char *no_env[] = { NULL };

typedef struct mock {
        rd_kafka_t *rk;                 /* the handle the cluster needs for bookkeeping */
        rd_kafka_mock_cluster_t *mc;
        const char *brokers;
} mock;

static inline int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's log lines go to /dev/null unless OA_TEST_LOG is set. */
static inline void quiet_logs(void) {
        oa_log_init("test", OA_LOG_DEBUG);
        if (!getenv("OA_TEST_LOG")) {
                int fd = open("/dev/null", O_WRONLY);
                cr_assert_geq(fd, 0);
                oa_log_set_fd(fd);
        }
}

static inline void mock_start(mock *m, int brokers) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256];

        quiet_logs();
        cr_assert_eq(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
        m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        cr_assert_not_null(m->rk, "%s", err);
        m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
        cr_assert_not_null(m->mc);
        m->brokers = rd_kafka_mock_cluster_bootstraps(m->mc);
}

static inline void mock_topic(mock *m, const char *topic, int partitions) {
        cr_assert_eq(rd_kafka_mock_topic_create(m->mc, topic, partitions, 1), 0);
}

static inline void mock_stop(mock *m) {
        if (m->mc)
                rd_kafka_mock_cluster_destroy(m->mc);
        if (m->rk)
                rd_kafka_destroy(m->rk);
        *m = (mock) { 0 };
}

/* Delivery reports, collected. */
typedef struct reports {
        int n, ok;
        int last_err;
        int64_t last_offset;
        void *last_opaque;
} reports;

static inline void collect_report(const oa_kprod_report *r, void *cb_opaque) {
        reports *rs = cb_opaque;

        rs->n++;
        if (r->err == 0)
                rs->ok++;
        rs->last_err = r->err;
        rs->last_offset = r->offset;
        rs->last_opaque = r->msg_opaque;
}

/* Produce n messages "k<i>" = "v<i>" to topic and wait until all are delivered. */
static inline void produce_n(const char *brokers, const char *topic, int n) {
        oa_kafka_cfg c = { .brokers = brokers, .client_id = "test-producer", .envp = no_env };
        reports rs = { 0 };
        oa_kprod *kp = NULL;
        char err[512], k[32], v[32];

        cr_assert_eq(oa_kprod_new(&c, collect_report, &rs, &kp, err, sizeof(err)), 0, "%s", err);
        for (int i = 0; i < n; i++) {
                int kl = snprintf(k, sizeof(k), "k%d", i), vl = snprintf(v, sizeof(v), "v%d", i);
                cr_assert_eq(oa_kprod_produce(kp, topic, k, (size_t) kl, v, (size_t) vl, NULL), 0);
        }
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert_eq(rs.ok, n, "delivered %d of %d (last error %d)", rs.ok, n, rs.last_err);
        oa_kprod_free(kp);
}

/* Poll until max messages arrived or timeout_ms passed; offsets[i] of each (may be
 * NULL). Stores nothing. Returns how many arrived. */
static inline int poll_msgs(oa_kcons *kc, int max, int timeout_ms, int64_t *offsets) {
        const int64_t end = mono_ms() + timeout_ms;
        char err[512];
        int n = 0;

        while (n < max && mono_ms() < end) {
                oa_kmsg m;
                int r = oa_kcons_poll(kc, 100, &m, err, sizeof(err));

                if (r == 1) {
                        if (offsets)
                                offsets[n] = m.offset;
                        n++;
                        oa_kmsg_done(&m);
                }
        }
        return n;
}

#endif

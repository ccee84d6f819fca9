/* Tests for libshared/src/kafka_producer.c against librdkafka's mock cluster: delivery
 * reports with their opaques, a broker going down, a full queue answered at once, and
 * request errors injected into the Produce path. */
#include "test_kafka_mock.h"

#include <errno.h>
#include <string.h>

static mock m;

static void setup(void) {
        mock_start(&m, 1);
        mock_topic(&m, "t", 3);
}

static void teardown(void) {
        mock_stop(&m);
}

TestSuite(oa_kprod, .init = setup, .fini = teardown, .timeout = 60);

static oa_kprod *new_producer(oa_kafka_cfg *c, reports *rs) {
        oa_kprod *kp = NULL;
        char err[512];

        c->brokers = m.brokers;
        if (!c->envp)
                c->envp = no_env;
        cr_assert_eq(oa_kprod_new(c, collect_report, rs, &kp, err, sizeof(err)), 0, "%s", err);
        return kp;
}

Test(oa_kprod, free_null_returns_null) {
        cr_assert_null(oa_kprod_free(NULL));
}

Test(oa_kprod, produce_reports_delivery_with_opaque) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);
        int tag = 42;

        cr_assert_eq(oa_kprod_produce(kp, "t", "key", 3, "value", 5, &tag), 0);
        cr_assert_eq(oa_kprod_outq_len(kp), 1);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert_eq(rs.n, 1);
        cr_assert_eq(rs.last_err, 0);
        cr_assert_eq(rs.last_opaque, &tag);
        cr_assert_geq(rs.last_offset, 0);
        cr_assert_eq(oa_kprod_outq_len(kp), 0);
        cr_assert_eq(oa_kprod_fatal_error(kp, NULL, 0), 0);
        oa_kprod_free(kp);
}

Test(oa_kprod, defaults_are_idempotent_acks_all) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);
        const rd_kafka_conf_t *conf = rd_kafka_conf(oa_kprod_rk(kp));
        char v[64];
        size_t vlen = sizeof(v);

        cr_assert_eq(rd_kafka_conf_get(conf, "enable.idempotence", v, &vlen), RD_KAFKA_CONF_OK);
        cr_assert_str_eq(v, "true");
        vlen = sizeof(v);
        cr_assert_eq(rd_kafka_conf_get(conf, "acks", v, &vlen), RD_KAFKA_CONF_OK);
        cr_assert_str_eq(v, "-1");      /* librdkafka's spelling of all */
        oa_kprod_free(kp);
}

Test(oa_kprod, conflicting_config_fails_new_with_reason) {
        char *envp[] = { "OA_KAFKA_X_ACKS=1", NULL };     /* idempotence needs acks=all */
        oa_kafka_cfg c = { .brokers = "127.0.0.1:9", .envp = envp };
        oa_kprod *kp = NULL;
        char err[512] = "";

        cr_assert_eq(oa_kprod_new(&c, NULL, NULL, &kp, err, sizeof(err)), -EINVAL);
        cr_assert_null(kp);
        cr_assert_not_null(strstr(err, "acks"), "%s", err);
}

Test(oa_kprod, produce_rejects_missing_topic_argument) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);

        cr_assert_eq(oa_kprod_produce(kp, NULL, "k", 1, "v", 1, NULL), -EINVAL);
        cr_assert_eq(oa_kprod_produce(kp, "", "k", 1, "v", 1, NULL), -EINVAL);
        oa_kprod_free(kp);
}

Test(oa_kprod, broker_down_delivery_fails_after_message_timeout) {
        oa_kafka_cfg c = { .message_timeout_ms = 1500 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);
        int64_t t0;

        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "1", 1, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert_eq(rs.ok, 1);

        cr_assert_eq(rd_kafka_mock_broker_set_down(m.mc, -1), 0);
        t0 = mono_ms();
        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "2", 1, NULL), 0, "queued while down");
        while (rs.n < 2 && mono_ms() - t0 < 10000)
                oa_kprod_flush(kp, 100);
        cr_assert_eq(rs.n, 2, "the report came");
        cr_assert_eq(rs.last_err, -ETIMEDOUT);
        cr_assert_lt(mono_ms() - t0, 5000, "failed after message.timeout.ms, not later");
        oa_kprod_free(kp);
}

Test(oa_kprod, full_queue_returns_enobufs_at_once) {
        const char *props[] = { "queue.buffering.max.messages", "5", NULL };
        oa_kafka_cfg c = { .props = props, .close_timeout_ms = 200, .message_timeout_ms = 60000 };
        reports rs = { 0 };
        oa_kprod *kp;
        int64_t t0, took;

        rd_kafka_mock_broker_set_down(m.mc, -1);        /* nothing leaves the queue */
        kp = new_producer(&c, &rs);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(oa_kprod_produce(kp, "t", "k", 1, "v", 1, NULL), 0, "message %d", i);
        t0 = mono_ms();
        cr_assert_eq(oa_kprod_produce(kp, "t", "k", 1, "v", 1, NULL), -ENOBUFS);
        took = mono_ms() - t0;
        cr_assert_lt(took, 100, "answered, not waited on (%lld ms)", (long long) took);
        cr_assert_geq(oa_kprod_outq_len(kp), 5, "plus any error event not yet served");
        cr_assert_eq(oa_kprod_flush(kp, 100), -ETIMEDOUT);
        cr_assert_eq(rs.n, 0, "nothing reported while the broker is down");

        /* free gives up after close_timeout_ms and still reports every message */
        t0 = mono_ms();
        oa_kprod_free(kp);
        cr_assert_lt(mono_ms() - t0, 3000);
        cr_assert_eq(rs.n, 5);
        cr_assert_eq(rs.ok, 0);
        cr_assert_eq(rs.last_err, -ECANCELED);
}

Test(oa_kprod, retriable_produce_errors_are_retried) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);

        /* make sure the producer is connected and has its producer id first */
        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "1", 1, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 3,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                          RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "2", 1, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 20000), 0);
        cr_assert_eq(rs.n, 2);
        cr_assert_eq(rs.ok, 2, "delivered despite the errors (last %d)", rs.last_err);
        oa_kprod_free(kp);
}

Test(oa_kprod, permanent_produce_error_fails_the_message) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);

        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "1", 1, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        cr_assert_eq(oa_kprod_produce(kp, "t", "a", 1, "2", 1, NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert_eq(rs.n, 2);
        cr_assert_eq(rs.ok, 1);
        cr_assert_eq(rs.last_err, -EACCES);
        cr_assert_eq(rs.last_offset, -1);
        oa_kprod_free(kp);
}

/* Regression: the report's errstr came from rd_kafka_message_errstr, which for a producer
 * is the message payload, not NUL-terminated (ASan: heap-buffer-overflow in a report
 * callback formatting it), and could put message content into error text. */
static char failed_errstr[256];

static void keep_errstr(const oa_kprod_report *r, void *cb_opaque) {
        if (r->err)
                snprintf(failed_errstr, sizeof(failed_errstr), "%s", r->errstr);
}

Test(oa_kprod, failed_report_errstr_is_the_error_not_the_payload) {
        oa_kafka_cfg c = { .brokers = m.brokers, .client_id = "errstr", .envp = no_env };
        static const char payload[8] = { 'P', 'A', 'Y', 'L', 'O', 'A', 'D', '!' };    /* no NUL */
        oa_kprod *kp = NULL;
        char err[512];

        cr_assert_eq(oa_kprod_new(&c, keep_errstr, NULL, &kp, err, sizeof(err)), 0, "%s", err);
        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        cr_assert_eq(oa_kprod_produce(kp, "t", "k", 1, payload, sizeof(payload), NULL), 0);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        cr_assert(failed_errstr[0], "no failed report");
        cr_assert_null(strstr(failed_errstr, "PAYLOAD"), "errstr is the payload: %s", failed_errstr);
        cr_assert_str_eq(failed_errstr, rd_kafka_err2str(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
        oa_kprod_free(kp);
}

Test(oa_kprod, poll_serves_reports_without_blocking) {
        oa_kafka_cfg c = { 0 };
        reports rs = { 0 };
        oa_kprod *kp = new_producer(&c, &rs);
        int64_t t0 = mono_ms(), t1;

        cr_assert_eq(oa_kprod_produce(kp, "t", NULL, 0, "no key", 6, NULL), 0);
        while (rs.n == 0 && mono_ms() - t0 < 10000) {
                t1 = mono_ms();
                oa_kprod_poll(kp);
                cr_assert_lt(mono_ms() - t1, 200, "poll blocked");
                usleep(2000);
        }
        cr_assert_eq(rs.ok, 1);
        oa_kprod_free(kp);
}

Test(oa_kprod, client_errors_reach_the_log_as_json) {
        char path[] = "/tmp/oa-kprod-log-XXXXXX", text[65536];
        oa_kafka_cfg c = { .client_id = "errlog" };
        reports rs = { 0 };
        oa_kprod *kp;
        ssize_t n = 0;
        int fd;

        fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        rd_kafka_mock_broker_set_down(m.mc, -1);
        oa_log_set_fd(fd);
        kp = new_producer(&c, &rs);
        /* the error callback runs from poll: all brokers down, transport failures */
        for (int64_t end = mono_ms() + 10000; mono_ms() < end; usleep(50 * 1000)) {
                oa_kprod_poll(kp);
                n = pread(fd, text, sizeof(text) - 1, 0);
                cr_assert_geq(n, 0);
                text[n] = '\0';
                if (strstr(text, "\"msg\":\"kafka client error\""))
                        break;
        }
        oa_kprod_free(kp);
        oa_log_set_fd(2);
        close(fd);
        cr_assert_not_null(strstr(text, "\"msg\":\"kafka client error\""), "%s", text);
        cr_assert_not_null(strstr(text, "\"client\":\"errlog#producer-"), "%s", text);
        cr_assert_not_null(strstr(text, "\"error\":\"_"), "librdkafka's error name: %s", text);
}

/* oa-privacy: the skeleton. Configuration, logging, signals, the clients (metrics, the
 * consumer of oa.deletions.v1, the dead-letter producer, the handle that reads oa-sink's
 * offsets, ClickHouse, Redis), the metrics listener, the loop until SIGTERM (a request in
 * hand is left where it is: its offset is not stored, so it resumes after a restart). */
#include "privacy.h"

#include "oa/sig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CH_PING_EVERY_MS 2000

int64_t oa_privacy_mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int metrics_setup(oa_privacy *p) {
        static const char *const outcome[] = { "outcome" };
        static const char *const table[] = { "table" };
        static const double secs[] = { 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800 };
        oa_metrics *m = p->metrics;
        int r = 0;

        r = r ? r : oa_metrics_counter_family(m, "oa_privacy_requests_total",
                                              "Deletion requests finished, by outcome (completed, failed).",
                                              outcome, 1, &p->m.requests);
        r = r ? r : oa_metrics_counter_family(m, "oa_privacy_rows_deleted_total",
                                              "Rows deleted, by table (events, sessions, recent).",
                                              table, 1, &p->m.rows);
        r = r ? r : oa_metrics_counter_new(m, "oa_privacy_dead_letters_total",
                                           "Records of oa.deletions.v1 sent to oa.deadletter.v1.",
                                           &p->m.dead_letters);
        r = r ? r : oa_metrics_counter_new(m, "oa_privacy_sink_waits_timed_out_total",
                                           "Requests that stopped waiting for oa-sink to catch up.",
                                           &p->m.suppress_waits_timed_out);
        r = r ? r : oa_metrics_histogram_new(m, "oa_privacy_request_seconds",
                                             "Time from taking a request to its final status.",
                                             secs, sizeof(secs) / sizeof(secs[0]), &p->m.seconds);
        r = r ? r : oa_metrics_gauge_new(m, "oa_privacy_ready", "1 when /readyz answers 200.",
                                         &p->m.ready);
        r = r ? r : oa_metrics_gauge_new(m, "oa_privacy_active",
                                         "1 while a request is being carried out.", &p->m.active);
        r = r ? r : oa_metrics_gauge_new(m, "oa_privacy_clickhouse_up",
                                         "1 when ClickHouse answered the last ping.",
                                         &p->m.clickhouse_up);
        return r;
}

static int ready(void *userdata, char *errbuf, size_t errlen) {
        oa_privacy *p = userdata;
        int r = 0;

        if (!p->ch_up) {
                snprintf(errbuf, errlen, "clickhouse does not answer");
                r = -ENOTCONN;
        } else if (p->kafka_err_until_ms > oa_privacy_mono_ms()) {
                snprintf(errbuf, errlen, "kafka: the consumer reported an error recently");
                r = -EIO;
        }
        oa_metrics_gauge_set(p->m.ready, r == 0 ? 1 : 0);
        return r;
}

/* Each turn: ClickHouse's health now and then, then the job. */
static void on_turn(void *userdata) {
        static int64_t next_ping;
        oa_privacy *p = userdata;
        char err[256];

        if (oa_privacy_mono_ms() >= next_ping) {
                p->ch_up = oa_ch_ping(p->ch, err, sizeof(err)) == 0;
                oa_metrics_gauge_set(p->m.clickhouse_up, p->ch_up ? 1 : 0);
                next_ping = oa_privacy_mono_ms() + CH_PING_EVERY_MS;
        }
        oa_privacy_on_turn(p);
}

/* A consumer handle in oa-sink's group that never subscribes: it only reads the
 * group's committed offsets and the topic's ends. */
static int sink_reader(oa_privacy *p, char *err, size_t errlen) {
        static const char *const defaults[] = { "enable.auto.commit", "false", NULL };
        oa_kafka_cfg kc = { .brokers = p->cfg->kafka_brokers, .client_id = "oa-privacy-sink-offsets",
                            .group_id = p->cfg->sink_group };
        rd_kafka_conf_t *conf;
        int r = oa_kafka_conf_build_ex(&kc, defaults, &conf, err, errlen);

        if (r < 0)
                return r;
        p->sink_rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
        if (!p->sink_rk) {
                rd_kafka_conf_destroy(conf);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const char *const topics[] = { OA_TOPIC_DELETIONS };
        /* a request is taken within 100 ms of its record, not librdkafka's 500 */
        static const char *const cons_props[] = { "fetch.wait.max.ms", "100", NULL };
        oa_privacy_cfg cfg = { 0 };
        oa_privacy p = { 0 };
        oa_http_server_cfg hc;
        oa_kafka_cfg kc;
        oa_ch_cfg cc;
        oa_log_level level = OA_LOG_INFO;
        char err[512] = "";
        int ret = 1, r;

        oa_log_init("oa-privacy", OA_LOG_INFO);
        r = oa_privacy_cfg_load(&cfg, argc, argv, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = 0;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "oa-privacy: %s\n", err);
                ret = 2;
                goto out;
        }
        oa_log_level_parse(cfg.log_level, &level);
        oa_log_init("oa-privacy", level);
        oa_privacy_cfg_log(&cfg);
        p.cfg = &cfg;
        p.job.stage = STAGE_IDLE;

        r = oa_sig_setup();
        if (r < 0) {
                oa_log_error("signal handlers", "error", strerror(-r));
                goto out;
        }
        r = oa_metrics_new(&p.metrics);
        if (r == 0)
                r = metrics_setup(&p);
        if (r < 0) {
                oa_log_error("metrics registry", "error", strerror(-r));
                goto out;
        }
        cc = (oa_ch_cfg) { .url = cfg.clickhouse_url, .user = cfg.clickhouse_user,
                           .password = cfg.clickhouse_password,
                           .query_timeout_ms = cfg.clickhouse_timeout_ms };
        r = oa_ch_new(&cc, &p.ch, err, sizeof(err));
        if (r < 0) {
                oa_log_error("clickhouse client", "error", err);
                goto out;
        }
        r = oa_rds_new(cfg.redis_url, (long) cfg.redis_timeout_ms, &p.rds, err, sizeof(err));
        if (r < 0) {
                oa_log_error("redis client", "error", err);
                goto out;
        }
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-privacy",
                              .group_id = cfg.group_id, .props = cons_props };
        r = oa_kcons_new(&kc, &p.kcons, err, sizeof(err));
        if (r == 0)
                r = oa_kcons_subscribe(p.kcons, topics, 1, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka consumer", "error", err);
                goto out;
        }
        kc.group_id = NULL;
        kc.props = NULL;
        r = oa_kprod_new(&kc, NULL, NULL, &p.kprod, err, sizeof(err));
        if (r == 0 && cfg.sink_group[0])
                r = sink_reader(&p, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka clients", "error", err);
                goto out;
        }
        oa_http_server_cfg_init(&hc);
        hc.listen = cfg.listen;
        hc.metrics = p.metrics;
        hc.loop_wait_ms = 50;
        r = oa_http_server_new(&hc, &p.srv, err, sizeof(err));
        if (r == 0)
                r = oa_http_server_mount_builtin(p.srv, ready, &p);
        if (r < 0) {
                oa_log_error("http server", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        oa_log_info("listening", "listen", cfg.listen);
        r = oa_http_server_run(p.srv, on_turn, &p);
        ret = r < 0 ? 1 : 0;
        if (r < 0)
                oa_log_error("event loop failed", "error", strerror(-r));
out:
        if (p.job.stage != STAGE_IDLE)
                oa_log_info("stopping with a request in hand; it resumes after a restart",
                            "request_id", p.job.st.request_id);
        oa_privacy_job_clear(&p.job);
        p.srv = oa_http_server_free(p.srv);
        p.kcons = oa_kcons_free(p.kcons);
        p.kprod = oa_kprod_free(p.kprod);
        if (p.sink_rk)
                rd_kafka_destroy(p.sink_rk);
        p.rds = oa_rds_free(p.rds);
        p.ch = oa_ch_free(p.ch);
        p.metrics = oa_metrics_free(p.metrics);
        if (p.cfg)
                oa_log_info("stopped", "exit", ret ? "failure" : "ok");
        oa_privacy_cfg_free(&cfg);
        return ret;
}

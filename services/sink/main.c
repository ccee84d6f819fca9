/* oa-sink: the skeleton every daemon shares. Configuration, logging, signals, the
 * clients (metrics, ClickHouse, the dead-letter producer, the group consumer, the HTTP
 * server of /healthz /readyz /metrics), the loop until SIGTERM, the last flush and commit,
 * and everything destroyed in the reverse order. The work is in consume.c, part.c and
 * session.c. */
#include "sink.h"

#include "oa/log.h"
#include "oa/sig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_WAIT_MS 20                 /* the first message of a turn */
#define TURN_MESSAGES 2000              /* then without waiting, up to this many */
#define STOP_FLUSH_MS 10000             /* on SIGTERM: how long ClickHouse may take */

/* A message came while stuck (fetched before the pause): send its partition back to it. */
static void rewind_to(oa_sink *s, const oa_kmsg *m) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *e;

        rd_kafka_topic_partition_list_add(l, m->topic, m->partition)->offset = m->offset;
        e = rd_kafka_seek_partitions(oa_kcons_rk(s->kc), l, 1000);
        if (e)
                rd_kafka_error_destroy(e);
        rd_kafka_topic_partition_list_destroy(l);
}

static void turn(oa_sink *s) {
        char err[512];
        oa_kmsg m = { 0 };
        int r;

        /* the deletions first: no event is written before the list of deleted users
         * present at start is loaded */
        oa_sink_suppress_poll(s);
        if (!oa_sink_suppress_ready(s)) {
                oa_http_server_run_once(s->srv, 20);
                return;
        }
        for (int i = 0; i < TURN_MESSAGES && !oa_sig_stop_requested(); i++) {
                r = oa_kcons_poll(s->kc, i == 0 ? POLL_WAIT_MS : 0, &m, err, sizeof(err));
                if (r == 0 || r == -ESHUTDOWN)
                        break;
                if (r < 0) {
                        oa_log_warn("kafka consumer", "error", err);
                        break;
                }
                if (s->stuck) {
                        rewind_to(s, &m);
                        oa_kmsg_done(&m);
                        break;
                }
                r = oa_sink_handle(s, &m);
                if (r == -EAGAIN) {
                        s->parked = m;          /* kept until ClickHouse answers */
                        s->parked_valid = true;
                        oa_sink_get_stuck(s);
                        break;
                }
                if (r < 0) {
                        oa_log_error("handling a message failed; stopping", "error", strerror(-r));
                        s->exit_code = 1;
                        oa_sig_request_stop();
                }
                oa_kmsg_done(&m);
                if (s->batch.rows >= (size_t) s->cfg->batch_rows ||
                    s->batch.events.len >= (size_t) s->cfg->batch_bytes)
                        break;
        }
        oa_sink_tick(s);
        oa_kprod_poll(s->dlq);
}

int main(int argc, char **argv) {
        static const char *const consumer_props[] = { "session.timeout.ms", "10000", NULL };
        oa_sink_cfg cfg = { 0 };
        oa_sink *s = NULL;
        oa_http_server_cfg hc;
        oa_kafka_cfg kc;
        oa_log_level level = OA_LOG_INFO;
        const char *topics[] = { OA_TOPIC_EVENTS };
        char err[512] = "";
        bool print_sql = false;
        int ret = 1, r;

        /* configuration and logging */
        oa_log_init("oa-sink", OA_LOG_INFO);
        r = oa_sink_cfg_load(&cfg, argc, argv, &print_sql, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = print_sql && oa_sink_sql_print() < 0 ? 1 : 0;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "oa-sink: %s\n", err);
                ret = 2;
                goto out;
        }
        oa_log_level_parse(cfg.log_level, &level);
        oa_log_init("oa-sink", level);
        oa_sink_cfg_log(&cfg);
        s = calloc(1, sizeof(*s));
        if (!s)
                goto out;
        s->cfg = &cfg;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                oa_sink_part_reset(s, p);
        oa_arena_init(&s->arena, 64u << 20);
        oa_sink_batch_init(&s->batch, &cfg);
        oa_buf_init(&s->flight.events, s->batch.events.max);      /* swapped with it */

        /* signals */
        r = oa_sig_setup();
        if (r < 0) {
                oa_log_error("signal handlers", "error", strerror(-r));
                goto out;
        }

        /* clients */
        r = oa_metrics_new(&s->metrics);
        if (r == 0)
                r = oa_sink_metrics_setup(s);
        if (r < 0) {
                oa_log_error("metrics registry", "error", strerror(-r));
                goto out;
        }
        r = oa_ch_new(&(oa_ch_cfg) { .url = cfg.clickhouse_url, .user = cfg.clickhouse_user,
                                     .password = cfg.clickhouse_password,
                                     .query_timeout_ms = (long) cfg.clickhouse_timeout_ms },
                      &s->ch, err, sizeof(err));
        if (r < 0) {
                oa_log_error("clickhouse client", "error", err);
                ret = 2;
                goto out;
        }
        r = oa_sink_ins_new(&(oa_ch_cfg) { .url = cfg.clickhouse_url, .user = cfg.clickhouse_user,
                                           .password = cfg.clickhouse_password,
                                           .query_timeout_ms = (long) cfg.clickhouse_timeout_ms },
                            &s->ins, err, sizeof(err));
        if (r < 0) {
                oa_log_error("clickhouse insert worker", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        r = oa_ch_ping(s->ch, s->ch_err, sizeof(s->ch_err));
        s->ch_ok = true;                /* so that a failure is logged once */
        oa_sink_note_ch(s, r, s->ch_err);
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-sink-deadletter" };
        r = oa_kprod_new(&kc, oa_sink_on_dl_report, s, &s->dlq, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka producer", "error", err);
                goto out;
        }
        /* a member that died (kill -9) gives its partitions back after 10 s, not 45 */
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-sink",
                              .group_id = cfg.group_id, .props = consumer_props };
        r = oa_kcons_new(&kc, &s->kc, err, sizeof(err));
        if (r == 0) {
                oa_kcons_on_rebalance(s->kc, oa_sink_on_rebalance, s);
                r = oa_kcons_subscribe(s->kc, topics, 1, err, sizeof(err));
        }
        if (r < 0) {
                oa_log_error("kafka consumer", "error", err);
                goto out;
        }
        r = oa_sink_suppress_start(s, err, sizeof(err));
        if (r < 0) {
                oa_log_error("reading oa.deletions.v1", "error", err);
                goto out;
        }
        oa_http_server_cfg_init(&hc);
        hc.listen = cfg.listen;
        hc.metrics = s->metrics;
        hc.max_connections = 64;
        r = oa_http_server_new(&hc, &s->srv, err, sizeof(err));
        if (r == 0)
                r = oa_http_server_mount_builtin(s->srv, oa_sink_ready, s);
        if (r < 0) {
                oa_log_error("http server", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        oa_log_info("listening", "listen", cfg.listen);

        /* the loop, until SIGTERM */
        while (!oa_sig_stop_requested()) {
                oa_http_server_run_once(s->srv, 0);
                turn(s);
        }
        ret = s->exit_code;

        /* the drain: the last batch into ClickHouse while it answers, then the commit */
        for (int64_t end = oa_sink_mono_ms() + STOP_FLUSH_MS;
             (s->batch.first_ms || oa_sink_sessions_waiting(s)) && oa_sink_mono_ms() < end;) {
                if (oa_sink_flush(s, true) == 0)
                        break;
                oa_http_server_run_once(s->srv, 200);
        }
        if (s->batch.first_ms || oa_sink_sessions_waiting(s))
                oa_log_warn("stopping with a batch ClickHouse did not take; it is read again at the next start",
                            "error", s->ch_err);
        if (oa_kcons_close(s->kc, err, sizeof(err)) < 0)
                oa_log_warn("kafka close", "error", err);
out:
        if (s) {
                s->srv = oa_http_server_free(s->srv);
                s->kc = oa_kcons_free(s->kc);
                oa_sink_suppress_stop(s);
                s->dlq = oa_kprod_free(s->dlq);
                s->ins = oa_sink_ins_free(s->ins);     /* waits for an insert in flight */
                s->ch = oa_ch_free(s->ch);
                if (s->parked_valid)
                        oa_kmsg_done(&s->parked);
                for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                        oa_sink_part_reset(s, p);
                oa_sink_batch_done(&s->batch);
                oa_buf_done(&s->flight.events);
                oa_arena_done(&s->arena);
                s->metrics = oa_metrics_free(s->metrics);
                oa_log_info("stopped", "exit", ret ? "failure" : "ok");
                free(s);
        }
        oa_sink_cfg_free(&cfg);
        return ret;
}

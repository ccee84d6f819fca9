/* oa-query: the skeleton every daemon shares. Configuration, logging, signals, the
 * clients (metrics, the projects catalogue, the producer for writes, Redis, ClickHouse
 * and the read cache, the rate limiter, the HTTP server and its routes), the event loop until SIGTERM, the drain, and
 * everything destroyed in the reverse order. The work is in api.c, manage.c and feed.c. */
#include "query.h"

#include "oa/sig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RL_LOCAL_MAX 100000             /* buckets kept in process while Redis is away */
#define MAX_REQUEST_BODY (1u << 20)     /* h2o's own 413 above; the routes answer JSON above 64 KB */

/* Every loop turn: the catalogue and Kafka (feed.c), then the realtime side: forget old
 * cached answers, and end the event streams once a stop was asked for, so the drain does
 * not wait for responses that never end. */
static void on_turn(void *userdata) {
        oa_query *q = userdata;
        struct timespec ts;

        oa_query_on_turn(q);
        clock_gettime(CLOCK_REALTIME, &ts);
        oa_query_rt_sweep(q, (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (q->streams_on && oa_http_server_stopping(q->srv))
                oa_query_streams_end(q);
}

int main(int argc, char **argv) {
        oa_query_cfg cfg = { 0 };
        oa_query q = { .wake = { -1, -1 } };
        oa_http_server_cfg hc;
        oa_kafka_cfg kc;
        oa_ch_cfg chc;
        oa_log_level level = OA_LOG_INFO;
        char err[512] = "";
        int ret = 1, r;

        /* configuration and logging */
        oa_log_init("oa-query", OA_LOG_INFO);
        r = oa_query_cfg_load(&cfg, argc, argv, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = 0;
                goto out;
        }
        if (r < 0 || oa_query_cfg_check(&cfg, &q.proxies, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-query: %s\n", err);
                ret = 2;
                goto out;
        }
        oa_log_level_parse(cfg.log_level, &level);
        oa_log_init("oa-query", level);
        oa_query_cfg_log(&cfg);
        q.cfg = &cfg;
        q.log_debug = level == OA_LOG_DEBUG;
#ifdef OA_QUERY_BENCH_NOAUTH
        oa_log_warn("BENCHMARK BUILD: GET /v1/projects/{id} answers without a key or a limit; "
                    "never deploy this program");
#endif

        /* signals */
        r = oa_sig_setup();
        if (r < 0) {
                oa_log_error("signal handlers", "error", strerror(-r));
                goto out;
        }

        /* clients */
        r = oa_metrics_new(&q.metrics);
        if (r == 0)
                r = oa_query_metrics_setup(&q);
        if (r == 0)
                r = oa_query_rt_setup(&q);
        if (r < 0) {
                oa_log_error("metrics registry", "error", strerror(-r));
                goto out;
        }
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-query" };
        r = oa_projects_new(&kc, NULL, (int) cfg.kafka_timeout_ms, oa_query_on_bad_record, &q,
                            &q.projects, err, sizeof(err));
        if (r < 0) {
                if (r == -ENOENT)
                        oa_log_error("reading the projects topic failed", "error", err,
                                     "hint", "create the topics: oa-admin topics ensure");
                else
                        oa_log_error("reading the projects topic failed", "error", err);
                goto out;
        }
        kc.message_timeout_ms = (int) cfg.write_timeout_ms;
        kc.close_timeout_ms = 5000;
        r = oa_kprod_new(&kc, oa_query_on_delivery, &q, &q.kprod, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka producer", "error", err);
                goto out;
        }
        r = oa_rds_new(cfg.redis_url, (long) cfg.redis_timeout_ms, &q.rds, err, sizeof(err));
        if (r < 0) {
                oa_log_error("redis client", "error", err);
                goto out;
        }
        chc = (oa_ch_cfg) { .url = cfg.clickhouse_url, .user = cfg.clickhouse_user,
                            .password = cfg.clickhouse_password, .database = cfg.clickhouse_database,
                            .query_timeout_ms = (long) cfg.clickhouse_timeout_ms };
        r = oa_ch_new(&chc, &q.ch, err, sizeof(err));
        if (r == 0)
                r = oa_query_cache_new(cfg.cache_ttl_ms, (size_t) cfg.cache_max_entries, &q.cache);
        if (r < 0) {
                oa_log_error("clickhouse client", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        r = oa_rl_new(q.rds, RL_LOCAL_MAX, &q.rl);
        if (r == 0)
                r = oa_gate_new(q.rl, cfg.auth_fail_limit, &q.gate);
        if (r < 0) {
                oa_log_error("rate limiter", "error", strerror(-r));
                goto out;
        }
        oa_http_server_cfg_init(&hc);
        hc.listen = cfg.listen;
        hc.metrics = q.metrics;
        hc.max_connections = (unsigned) cfg.max_connections;
        hc.max_request_body = MAX_REQUEST_BODY;
        hc.drain_timeout_ms = (uint64_t) cfg.drain_timeout_ms;
        r = oa_http_server_new(&hc, &q.srv, err, sizeof(err));
        if (r == 0 && (r = oa_query_api_mount(&q)) == 0)
                r = oa_http_server_mount_builtin(q.srv, oa_query_ready, &q);
        if (r < 0) {
                oa_log_error("http server", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        r = oa_query_feed_start(&q, err, sizeof(err));
        if (r < 0) {
                oa_log_error("event loop wake-ups", "error", err);
                goto out;
        }
        r = oa_query_chpool_start(&q, &chc, (size_t) cfg.clickhouse_workers, (size_t) cfg.clickhouse_queue,
                                  err, sizeof(err));
        if (r == 0 && !(q.reads = oa_map_new()))
                r = -ENOMEM;
        if (r < 0) {
                oa_log_error("clickhouse workers", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        oa_query_streams_start(&q);
        q.answering = true;
        oa_log_info("listening", "listen", cfg.listen);

        /* the loop, until SIGTERM; then the drain: requests in flight, writes waiting for
         * Kafka included, are answered within OA_QUERY_DRAIN_TIMEOUT_MS */
        r = oa_http_server_run(q.srv, on_turn, &q);
        ret = r < 0 ? 1 : q.exit_code;
        if (r < 0)
                oa_log_error("event loop failed", "error", strerror(-r));
out:
        /* destroy in reverse order; the producer's last reports answer nothing */
        q.answering = false;
        oa_query_feed_stop(&q);
        if (q.srv)
                oa_query_streams_end(&q);
        q.srv = oa_http_server_free(q.srv);
        oa_query_chpool_stop(&q);       /* after the server: its requests are gone */
        oa_map_free(q.reads);
        oa_query_rt_free(&q);
        q.gate = oa_gate_free(q.gate);
        q.rl = oa_rl_free(q.rl);
        q.cache = oa_query_cache_free(q.cache);
        q.ch = oa_ch_free(q.ch);
        q.rds = oa_rds_free(q.rds);
        q.kprod = oa_kprod_free(q.kprod);
        q.projects = oa_projects_free(q.projects);
        q.metrics = oa_metrics_free(q.metrics);
        if (q.cfg)
                oa_log_info("stopped", "exit", ret ? "failure" : "ok");
        oa_query_cfg_free(&cfg);
        return ret;
}

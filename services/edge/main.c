/* oa-edge: the skeleton every daemon shares. Configuration, logging, signals, the
 * clients (metrics, Redis and the limiters, the User-Agent and country lookups, the
 * projects catalogue, the two producers, the HTTP server and its routes), the event loop
 * until SIGTERM, the drain, and everything destroyed in the reverse order. The work is in
 * collect.c, v1.c, enrich.c, store.c and feed.c. */
#include "edge.h"

#include "oa/sig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RL_LOCAL_MAX 100000             /* buckets kept in process */
#define DROPS_MAX 10000                 /* (date, project, reason) waiting for Redis */
/* h2o's own (text) 413 above this; /v1 answers JSON 413 above 1 MB, /collect drops
 * above OA_EDGE_COLLECT_MAX_BODY. h2o holds a body in memory while it arrives. */
#define MAX_REQUEST_BODY (4u << 20)

/* The producers: /collect buffers while Kafka is away (its own queue bound and a long
 * message timeout); /v1 waits for acknowledgements, so a message not acknowledged
 * within the ack timeout must fail, never arrive later (see v1.c). Both stay idempotent
 * with acks=all (libshared's defaults). Each gathers events for its linger.ms before
 * sending a batch per partition: Kafka's cost is mostly per request and per partition
 * batch, not per event. /collect has answered before its events are sent, so it waits
 * longer (OA_EDGE_COLLECT_LINGER_MS, 100 ms: a tenth of a realtime dashboard's second);
 * /v1 waits for its acknowledgements, so its wait is added to every 202
 * (OA_EDGE_API_LINGER_MS, 2 ms: against 1 ms, the broker's CPU for the benchmark's
 * batches fell from about 60% of a core to about 50%; 5 ms, librdkafka's default, saved
 * little more and halved what 32 clients sending one event at a time got: 5.4k against
 * 11.4k requests/s). No compression:
 * next to a broker on the same network it cost more CPU than it saved. The key (project
 * "/" visitor) picks the partition with murmur2, as Java clients do, not librdkafka's
 * default CRC-32 (zlib's took 120 ns per key, a twentieth of a /v1 event's work): both
 * producers must agree, so one visitor's events stay in one partition, in order.
 * OA_KAFKA_X_* overrides both. */
static int make_producers(oa_edge *e, char *err, size_t errlen) {
        const oa_edge_cfg *c = e->cfg;
        char queue_max[24], request_timeout[24], collect_linger[24], api_linger[24];
        const char *collect_props[] = { "queue.buffering.max.messages", queue_max, "linger.ms",
                                        collect_linger, "partitioner", "murmur2_random", NULL };
        const char *api_props[] = { "request.timeout.ms", request_timeout, "linger.ms", api_linger,
                                    "partitioner", "murmur2_random", NULL };
        oa_kafka_cfg kc = { .brokers = c->kafka_brokers, .close_timeout_ms = 5000 };
        int r;

        snprintf(queue_max, sizeof(queue_max), "%lld", c->collect_queue_max);
        snprintf(collect_linger, sizeof(collect_linger), "%lld", c->collect_linger_ms);
        snprintf(api_linger, sizeof(api_linger), "%lld", c->api_linger_ms);
        kc.client_id = "oa-edge-collect";
        kc.message_timeout_ms = (int) c->collect_buffer_ms;
        kc.props = collect_props;
        r = oa_kprod_new(&kc, oa_edge_on_delivery, e, &e->kcollect, err, errlen);
        if (r < 0)
                return r;
        kc.client_id = "oa-edge-api";
        kc.message_timeout_ms = (int) c->ack_timeout_ms;
        snprintf(request_timeout, sizeof(request_timeout), "%lld", c->ack_timeout_ms);
        kc.props = api_props;
        return oa_kprod_new(&kc, oa_edge_on_delivery, e, &e->kapi, err, errlen);
}

int main(int argc, char **argv) {
        oa_edge_cfg cfg = { 0 };
        oa_edge e = { .wake = { -1, -1 } };
        oa_http_server_cfg hc;
        oa_kafka_cfg kc;
        oa_log_level level = OA_LOG_INFO;
        char err[512] = "";
        int ret = 1, r;

        /* configuration and logging */
        oa_log_init("oa-edge", OA_LOG_INFO);
        r = oa_edge_cfg_load(&cfg, argc, argv, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = 0;
                goto out;
        }
        if (r < 0 || oa_edge_cfg_check(&cfg, &e.proxies, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-edge: %s\n", err);
                ret = 2;
                goto out;
        }
        oa_log_level_parse(cfg.log_level, &level);
        oa_log_init("oa-edge", level);
        oa_edge_cfg_log(&cfg);
        e.cfg = &cfg;
        e.log_debug = level == OA_LOG_DEBUG;
        oa_event_api_opts_default(&e.api_opts, 0);
        e.api_opts.past_ms = cfg.ts_past_ms;
        e.api_opts.future_ms = cfg.ts_future_ms;

        /* signals */
        r = oa_sig_setup();
        if (r < 0) {
                oa_log_error("signal handlers", "error", strerror(-r));
                goto out;
        }

        /* clients */
        r = oa_metrics_new(&e.metrics);
        if (r == 0)
                r = oa_edge_metrics_setup(&e);
        if (r < 0) {
                oa_log_error("metrics registry", "error", strerror(-r));
                goto out;
        }
        r = oa_rds_new(cfg.redis_url, (long) cfg.redis_timeout_ms, &e.rds, err, sizeof(err));
        if (r < 0) {
                oa_log_error("redis client", "error", err);
                goto out;
        }
        e.idem = oa_edge_idem_redis(e.rds);
        r = oa_rl_new(e.rds, RL_LOCAL_MAX, &e.rl);
        if (r == 0)
                r = oa_tb_new(e.rds, RL_LOCAL_MAX, &e.tb);
        if (r == 0)
                r = oa_gate_new(e.rl, cfg.auth_fail_limit, &e.gate);
        if (r == 0)
                r = oa_edge_drops_init(&e.drops, DROPS_MAX);
        if (r == 0)
                r = (e.leases = oa_map_new()) ? 0 : -ENOMEM;
        if (r < 0) {
                oa_log_error("rate limiter", "error", strerror(-r));
                goto out;
        }
        e.salt.day = -1;
        oa_edge_salt_refresh(&e, oa_edge_now_ms(), oa_edge_mono_ms());
        r = oa_ua_new(cfg.uap_regexes, (size_t) cfg.ua_cache, &e.ua, err, sizeof(err));
        if (r < 0) {
                oa_log_error("user-agent rules", "file", cfg.uap_regexes, "error", err);
                goto out;
        }
        r = oa_geo_new(cfg.geo_db && *cfg.geo_db ? cfg.geo_db : NULL, &e.geo, err, sizeof(err));
        if (r < 0) {
                oa_log_error("location database", "error", err,
                             "hint", "install libloc-database or set OA_EDGE_GEO_DB");
                goto out;
        }
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-edge" };
        r = oa_projects_new(&kc, NULL, (int) cfg.kafka_timeout_ms, oa_edge_on_bad_record, &e,
                            &e.projects, err, sizeof(err));
        if (r < 0) {
                if (r == -ENOENT)
                        oa_log_error("reading the projects topic failed", "error", err,
                                     "hint", "create the topics: oa-admin topics ensure");
                else
                        oa_log_error("reading the projects topic failed", "error", err);
                goto out;
        }
        r = make_producers(&e, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka producer", "error", err);
                goto out;
        }
        oa_http_server_cfg_init(&hc);
        hc.listen = cfg.listen;
        hc.reuseport = cfg.reuseport;
        hc.metrics = e.metrics;
        hc.max_connections = (unsigned) cfg.max_connections;
        hc.max_request_body = MAX_REQUEST_BODY;
        hc.request_timeout_ms = (uint64_t) cfg.request_timeout_ms;
        hc.drain_timeout_ms = (uint64_t) cfg.drain_timeout_ms;
        r = oa_http_server_new(&hc, &e.srv, err, sizeof(err));
        if (r == 0 && (r = oa_edge_collect_mount(&e)) == 0 && (r = oa_edge_v1_mount(&e)) == 0)
                r = oa_http_server_mount_builtin(e.srv, oa_edge_ready, &e);
        if (r < 0) {
                oa_log_error("http server", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        r = oa_edge_feed_start(&e, err, sizeof(err));
        if (r < 0) {
                oa_log_error("event loop wake-ups", "error", err);
                goto out;
        }
        e.answering = true;
        oa_log_info("listening", "listen", cfg.listen);

        /* the loop, until SIGTERM; then the drain: requests in flight, /v1 requests
         * waiting for Kafka included, are answered within OA_EDGE_DRAIN_TIMEOUT_MS */
        r = oa_http_server_run(e.srv, oa_edge_on_turn, &e);
        ret = r < 0 ? 1 : e.exit_code;
        if (r < 0)
                oa_log_error("event loop failed", "error", strerror(-r));
out:
        /* destroy in reverse order; the producers flush (their last reports answer
         * nothing but still clear idempotency marks), then the last drop counts go */
        e.answering = false;
        oa_edge_collect_flush(&e);      /* events answered in the last turn */
        oa_edge_feed_stop(&e);
        e.srv = oa_http_server_free(e.srv);
        e.kapi = oa_kprod_free(e.kapi);
        e.kcollect = oa_kprod_free(e.kcollect);
        e.projects = oa_projects_free(e.projects);
        e.geo = oa_geo_free(e.geo);
        e.ua = oa_ua_free(e.ua);
        oa_edge_salt_done(&e);
        if (e.rds)
                oa_edge_drops_tick(&e, 0, true);
        oa_edge_leases_free(&e);
        oa_arena_done(&e.collect_arena);
        oa_arena_done(&e.collect_out);
        oa_buf_done(&e.held);
        oa_arena_done(&e.v1_arena);
        oa_edge_drops_done(&e.drops);
        e.gate = oa_gate_free(e.gate);
        e.tb = oa_tb_free(e.tb);
        e.rl = oa_rl_free(e.rl);
        e.rds = oa_rds_free(e.rds);
        e.metrics = oa_metrics_free(e.metrics);
        if (e.cfg)
                oa_log_info("stopped", "exit", ret ? "failure" : "ok");
        oa_edge_cfg_free(&cfg);
        return ret;
}

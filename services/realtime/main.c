/* oa-realtime: the skeleton every daemon shares. Configuration, logging, signals, the
 * clients (metrics and their listener, Redis, the consumer group on oa.events.v1), the loop
 * until SIGTERM, and everything destroyed in the reverse order (the consumer's close
 * commits the stored offsets). The work is in consume.c and batch.c. */
#include "realtime.h"

#include "oa/sig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int free_value(const void *k, size_t kl, void *v, void *ud) {
        (void) k;
        (void) kl;
        (void) ud;
        free(v);
        return 0;
}

int main(int argc, char **argv) {
        oa_realtime_cfg cfg = { 0 };
        oa_realtime rt = { 0 };
        oa_http_server_cfg hc;
        oa_kafka_cfg kc;
        oa_log_level level = OA_LOG_INFO;
        const char *topics[] = { OA_TOPIC_EVENTS };
        char err[512] = "";
        int ret = 1, r;

        /* configuration and logging */
        oa_log_init("oa-realtime", OA_LOG_INFO);
        r = oa_realtime_cfg_load(&cfg, argc, argv, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = 0;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "oa-realtime: %s\n", err);
                ret = 2;
                goto out;
        }
        oa_log_level_parse(cfg.log_level, &level);
        oa_log_init("oa-realtime", level);
        oa_realtime_cfg_log(&cfg);
        rt.cfg = &cfg;

        /* signals */
        r = oa_sig_setup();
        if (r < 0) {
                oa_log_error("signal handlers", "error", strerror(-r));
                goto out;
        }

        /* clients */
        r = oa_metrics_new(&rt.metrics);
        if (r == 0)
                r = oa_realtime_metrics_setup(&rt);
        if (r == 0)
                r = oa_rt_batch_init(&rt.batch, cfg.top_max);
        if (r == 0 && !(rt.rewound = oa_map_new()))
                r = -ENOMEM;
        if (r < 0) {
                oa_log_error("metrics and batch", "error", strerror(-r));
                goto out;
        }
        r = oa_rds_new(cfg.redis_url, (long) cfg.redis_timeout_ms, &rt.rds, err, sizeof(err));
        if (r < 0) {
                oa_log_error("redis client", "error", err);
                goto out;
        }
        kc = (oa_kafka_cfg) { .brokers = cfg.kafka_brokers, .client_id = "oa-realtime",
                              .group_id = cfg.group };
        r = oa_kcons_new(&kc, &rt.kc, err, sizeof(err));
        if (r == 0)
                r = oa_kcons_subscribe(rt.kc, topics, 1, err, sizeof(err));
        if (r < 0) {
                oa_log_error("kafka consumer", "error", err);
                goto out;
        }
        oa_http_server_cfg_init(&hc);
        hc.listen = cfg.metrics_listen;
        hc.metrics = rt.metrics;
        hc.max_connections = 100;
        r = oa_http_server_new(&hc, &rt.srv, err, sizeof(err));
        if (r == 0)
                r = oa_http_server_mount_builtin(rt.srv, oa_realtime_ready, &rt);
        if (r < 0) {
                oa_log_error("metrics listener", "error", err[0] ? err : strerror(-r));
                goto out;
        }
        oa_log_info("consuming", "topic", OA_TOPIC_EVENTS, "group", cfg.group, "metrics", cfg.metrics_listen);

        /* the loop, until SIGTERM */
        r = oa_realtime_run(&rt);
        ret = r < 0 ? 1 : 0;
out:
        if (rt.kc) {
                r = oa_kcons_close(rt.kc, err, sizeof(err));
                if (r < 0)
                        oa_log_warn("kafka consumer close", "error", err);
        }
        rt.kc = oa_kcons_free(rt.kc);
        rt.srv = oa_http_server_free(rt.srv);
        rt.rds = oa_rds_free(rt.rds);
        if (rt.rewound) {
                oa_map_foreach(rt.rewound, free_value, NULL);
                rt.rewound = oa_map_free(rt.rewound);
        }
        oa_rt_batch_done(&rt.batch);
        rt.metrics = oa_metrics_free(rt.metrics);
        if (rt.cfg)
                oa_log_info("stopped", "exit", ret ? "failure" : "ok");
        oa_realtime_cfg_free(&cfg);
        return ret;
}

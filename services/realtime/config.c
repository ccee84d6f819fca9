/* oa-realtime's configuration table and the checks it cannot express. Any librdkafka
 * setting comes through OA_KAFKA_X_* (oa/kafka.h). */
#include "realtime.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

static const oa_cfg_opt opts[] = {
        { "metrics-listen", "OA_REALTIME_METRICS_LISTEN", OA_CFG_STRING, "127.0.0.1:9102",
          offsetof(oa_realtime_cfg, metrics_listen), 0, 0, OA_CFG_REQUIRED,
          "address of /healthz, /readyz and /metrics, host:port (numeric)" },
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_realtime_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "redis-url", "OA_REDIS_URL", OA_CFG_STRING, "redis://127.0.0.1:6379",
          offsetof(oa_realtime_cfg, redis_url), 0, 0, OA_CFG_REQUIRED | OA_CFG_SECRET,
          "Redis for the realtime counters, redis://[[user]:password@]host[:port][/db]" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "info",
          offsetof(oa_realtime_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug, info, warn, error" },
        { "group", "OA_REALTIME_GROUP", OA_CFG_STRING, "oa-realtime",
          offsetof(oa_realtime_cfg, group), 0, 0, OA_CFG_REQUIRED,
          "Kafka consumer group on oa.events.v1 (replicas share it and split the partitions)" },
        { "batch-max", "OA_REALTIME_BATCH_MAX", OA_CFG_INT, "1000",
          offsetof(oa_realtime_cfg, batch_max), 1, 100000, 0,
          "events written to Redis in one script call at most" },
        { "batch-ms", "OA_REALTIME_BATCH_MS", OA_CFG_INT, "20",
          offsetof(oa_realtime_cfg, batch_ms), 1, 10000, 0,
          "a batch is written at the latest this long after its first event (freshness)" },
        { "top-max", "OA_REALTIME_TOP_MAX", OA_CFG_INT, "1000",
          offsetof(oa_realtime_cfg, top_max), 10, 1000000, 0,
          "members kept per minute in the pages, referrers and countries sorted sets (the "
          "least counted go first); bounds Redis memory per active project" },
        { "retry-ms", "OA_REALTIME_RETRY_MS", OA_CFG_INT, "500",
          offsetof(oa_realtime_cfg, retry_ms), 10, 60000, 0,
          "while Redis does not answer, the batch is tried again this often (consumption "
          "pauses meanwhile)" },
        { "redis-timeout-ms", "OA_REDIS_TIMEOUT_MS", OA_CFG_INT, "2000",
          offsetof(oa_realtime_cfg, redis_timeout_ms), 1, 60000, 0,
          "connect, read and write timeout of Redis" },
        { "kafka-timeout-ms", "OA_KAFKA_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_realtime_cfg, kafka_timeout_ms), 100, 600000, 0,
          "how long a rewind may wait for the broker (offsets by time, seek)" },
        { "check-ms", "OA_REALTIME_CHECK_MS", OA_CFG_INT, "1000",
          offsetof(oa_realtime_cfg, check_ms), 100, 600000, 0,
          "how often Redis's applied offsets are compared with this process's (one HGETALL), so "
          "a Redis that lost its data is refilled from Kafka" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static int check(const void *cfg, char *errbuf, size_t errlen);

static const oa_cfg_spec spec = {
        .prog = "oa-realtime",
        .summary = "Consume oa.events.v1 and keep the realtime counters (visitors, pageviews, top\n"
                   "pages, referrers, countries, the latest events) in Redis for oa-query.\n"
                   "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>.",
        .opts = opts,
        .n_opts = N_OPTS,
        .check = check,
};

static int check(const void *c, char *errbuf, size_t errlen) {
        const oa_realtime_cfg *cfg = c;
        int r = oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);

        return r < 0 ? r : oa_cfg_check_listen("OA_REALTIME_METRICS_LISTEN", cfg->metrics_listen, NULL,
                                               errbuf, errlen);
}

int oa_realtime_cfg_load(oa_realtime_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen) {
        return oa_cfg_load(&spec, cfg, argc, argv, NULL, errbuf, errlen);
}

void oa_realtime_cfg_free(oa_realtime_cfg *cfg) {
        oa_cfg_free(&spec, cfg);
}

void oa_realtime_cfg_log(const oa_realtime_cfg *cfg) {
        oa_cfg_log(&spec, cfg);
}

/* oa-privacy's configuration table. Any librdkafka setting comes through OA_KAFKA_X_*. */
#include "privacy.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

static const oa_cfg_opt opts[] = {
        { "listen", "OA_PRIVACY_LISTEN", OA_CFG_STRING, "127.0.0.1:9103",
          offsetof(oa_privacy_cfg, listen), 0, 0, OA_CFG_REQUIRED,
          "address of /healthz, /readyz and /metrics, host:port" },
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_privacy_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "group", "OA_PRIVACY_GROUP", OA_CFG_STRING, "oa-privacy",
          offsetof(oa_privacy_cfg, group_id), 0, 0, OA_CFG_REQUIRED,
          "consumer group on oa.deletions.v1" },
        { "sink-group", "OA_PRIVACY_SINK_GROUP", OA_CFG_STRING, "oa-sink",
          offsetof(oa_privacy_cfg, sink_group), 0, 0, 0,
          "oa-sink's consumer group: a request waits until it has written what was on "
          "oa.events.v1 when the request began; empty: do not wait" },
        { "clickhouse-url", "OA_CLICKHOUSE_URL", OA_CFG_STRING, "http://127.0.0.1:8123",
          offsetof(oa_privacy_cfg, clickhouse_url), 0, 0, OA_CFG_REQUIRED,
          "ClickHouse HTTP interface" },
        { "clickhouse-user", "OA_CLICKHOUSE_USER", OA_CFG_STRING, "default",
          offsetof(oa_privacy_cfg, clickhouse_user), 0, 0, 0, "ClickHouse user" },
        { "clickhouse-password", "OA_CLICKHOUSE_PASSWORD", OA_CFG_STRING, "",
          offsetof(oa_privacy_cfg, clickhouse_password), 0, 0, OA_CFG_SECRET,
          "ClickHouse password" },
        { "redis-url", "OA_REDIS_URL", OA_CFG_STRING, "redis://127.0.0.1:6379",
          offsetof(oa_privacy_cfg, redis_url), 0, 0, OA_CFG_REQUIRED | OA_CFG_SECRET,
          "Redis holding the realtime lists of recent events" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "info",
          offsetof(oa_privacy_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug, info, warn, error" },
        { "sink-wait-ms", "OA_PRIVACY_SINK_WAIT_MS", OA_CFG_INT, "120000",
          offsetof(oa_privacy_cfg, sink_wait_ms), 0, 86400000, 0,
          "longest wait for oa-sink to catch up before deleting anyway (oa-sink still "
          "drops the user's events received before the request)" },
        { "mutation-timeout-ms", "OA_PRIVACY_MUTATION_TIMEOUT_MS", OA_CFG_INT, "1800000",
          offsetof(oa_privacy_cfg, mutation_timeout_ms), 1000, 604800000, 0,
          "how long the deletions may take before the request is marked failed" },
        { "check-every-ms", "OA_PRIVACY_CHECK_EVERY_MS", OA_CFG_INT, "500",
          offsetof(oa_privacy_cfg, check_every_ms), 10, 60000, 0,
          "how often a waiting request looks again (sink offsets, rows left)" },
        { "clickhouse-timeout-ms", "OA_CLICKHOUSE_TIMEOUT_MS", OA_CFG_INT, "30000",
          offsetof(oa_privacy_cfg, clickhouse_timeout_ms), 1000, 600000, 0,
          "longest ClickHouse statement" },
        { "redis-timeout-ms", "OA_REDIS_TIMEOUT_MS", OA_CFG_INT, "2000",
          offsetof(oa_privacy_cfg, redis_timeout_ms), 1, 60000, 0,
          "connect, read and write timeout of Redis" },
};

/* What the table cannot express (also run by --check-config). */
static int check(const void *c, char *errbuf, size_t errlen) {
        const oa_privacy_cfg *cfg = c;
        int r = oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);

        return r < 0 ? r : oa_cfg_check_listen("OA_PRIVACY_LISTEN", cfg->listen, NULL, errbuf, errlen);
}

static const oa_cfg_spec spec = {
        .prog = "oa-privacy",
        .summary = "Carry out the DSAR deletions queued on oa.deletions.v1: delete the user's rows\n"
                   "from ClickHouse (oa.events, oa.sessions) and Redis, check that nothing remains,\n"
                   "and record the outcome in oa.privacy_requests.\n"
                   "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>.",
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
        .check = check,
};

int oa_privacy_cfg_load(oa_privacy_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen) {
        return oa_cfg_load(&spec, cfg, argc, argv, NULL, errbuf, errlen);
}

void oa_privacy_cfg_free(oa_privacy_cfg *cfg) {
        oa_cfg_free(&spec, cfg);
}

void oa_privacy_cfg_log(const oa_privacy_cfg *cfg) {
        oa_cfg_log(&spec, cfg);
}

/* oa-admin's configuration table: the Kafka it talks to and how long it waits. Any
 * librdkafka setting comes through OA_KAFKA_X_* (see oa/kafka.h). */
#include "admin.h"

#include "oa/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

static const oa_cfg_opt opts[] = {
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_admin_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "kafka-replication-factor", "OA_KAFKA_REPLICATION_FACTOR", OA_CFG_INT, "1",
          offsetof(oa_admin_cfg, kafka_replication_factor), -1, 32767, 0,
          "copies of each partition when creating topics; -1: the broker's default" },
        { "kafka-timeout-ms", "OA_KAFKA_TIMEOUT_MS", OA_CFG_INT, "30000",
          offsetof(oa_admin_cfg, kafka_timeout_ms), 100, 600000, 0,
          "how long to wait for the brokers before giving up" },
        { "clickhouse-url", "OA_CLICKHOUSE_URL", OA_CFG_STRING, "http://127.0.0.1:8123",
          offsetof(oa_admin_cfg, clickhouse_url), 0, 0, OA_CFG_REQUIRED,
          "ClickHouse HTTP interface, for migrate" },
        { "clickhouse-user", "OA_CLICKHOUSE_USER", OA_CFG_STRING, "default",
          offsetof(oa_admin_cfg, clickhouse_user), 0, 0, 0,
          "ClickHouse user" },
        { "clickhouse-password", "OA_CLICKHOUSE_PASSWORD", OA_CFG_STRING, NULL,
          offsetof(oa_admin_cfg, clickhouse_password), 0, 0, OA_CFG_SECRET,
          "ClickHouse password" },
        { "clickhouse-timeout-ms", "OA_CLICKHOUSE_TIMEOUT_MS", OA_CFG_INT, "300000",
          offsetof(oa_admin_cfg, clickhouse_timeout_ms), 1000, 3600000, 0,
          "longest a ClickHouse statement of migrate may take" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "warn",
          offsetof(oa_admin_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug, info, warn, error" },
};

void oa_admin_spec(oa_cfg_spec *spec, const char *summary) {
        *spec = (oa_cfg_spec) {
                .prog = "oa-admin",
                .summary = summary,
                .usage = "[OPTION]... GROUP [COMMAND] [ARG]...",
                .opts = opts,
                .n_opts = sizeof(opts) / sizeof(opts[0]),
        };
}

int oa_admin_cfg_check(const oa_admin_cfg *cfg, char *errbuf, size_t errlen) {
        if (cfg->kafka_replication_factor == 0) {
                snprintf(errbuf, errlen, "OA_KAFKA_REPLICATION_FACTOR: 0 copies; use 1 or more, "
                         "or -1 for the broker's default");
                return -EINVAL;
        }
        return oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);
}

oa_kafka_cfg oa_admin_kafka_cfg(const oa_admin_cfg *cfg) {
        return (oa_kafka_cfg) {
                .brokers = cfg->kafka_brokers,
                .client_id = "oa-admin",
        };
}

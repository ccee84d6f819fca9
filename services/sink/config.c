/* oa-sink's configuration table, and the checks the table cannot express (the log level,
 * the listen address). Any librdkafka setting comes through OA_KAFKA_X_* (oa/kafka.h): it
 * applies to the consumer and to the dead-letter producer. */
#include "sink.h"

#include "oa/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const oa_cfg_opt opts[] = {
        { "listen", "OA_SINK_LISTEN", OA_CFG_STRING, "127.0.0.1:9101",
          offsetof(oa_sink_cfg, listen), 0, 0, OA_CFG_REQUIRED,
          "address of /healthz, /readyz and /metrics, host:port (numeric)" },
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_sink_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "group-id", "OA_SINK_GROUP_ID", OA_CFG_STRING, "oa-sink",
          offsetof(oa_sink_cfg, group_id), 0, 0, OA_CFG_REQUIRED,
          "Kafka consumer group of the oa-sink replicas" },
        { "clickhouse-url", "OA_CLICKHOUSE_URL", OA_CFG_STRING, "http://127.0.0.1:8123",
          offsetof(oa_sink_cfg, clickhouse_url), 0, 0, OA_CFG_REQUIRED,
          "ClickHouse HTTP interface" },
        { "clickhouse-user", "OA_CLICKHOUSE_USER", OA_CFG_STRING, "default",
          offsetof(oa_sink_cfg, clickhouse_user), 0, 0, 0, "ClickHouse user" },
        { "clickhouse-password", "OA_CLICKHOUSE_PASSWORD", OA_CFG_STRING, NULL,
          offsetof(oa_sink_cfg, clickhouse_password), 0, 0, OA_CFG_SECRET, "ClickHouse password" },
        { "clickhouse-timeout-ms", "OA_CLICKHOUSE_TIMEOUT_MS", OA_CFG_INT, "30000",
          offsetof(oa_sink_cfg, clickhouse_timeout_ms), 1000, 600000, 0,
          "longest an insert or a read may take before it is retried" },
        { "batch-rows", "OA_SINK_BATCH_ROWS", OA_CFG_INT, "100000",
          offsetof(oa_sink_cfg, batch_rows), 1, 10000000, 0,
          "events in a batch at most; a full batch is inserted at once" },
        { "batch-bytes", "OA_SINK_BATCH_BYTES", OA_CFG_INT, "67108864",
          offsetof(oa_sink_cfg, batch_bytes), 65536, 1073741824, 0,
          "RowBinary bytes of a batch at most (64 MiB; with the batch in flight, twice in memory)" },
        { "batch-ms", "OA_SINK_BATCH_MS", OA_CFG_INT, "500",
          offsetof(oa_sink_cfg, batch_ms), 1, 1000, 0,
          "a batch is inserted at the latest this long after its first event (at most 1 s), or "
          "once the insert of the batch before it is acknowledged" },
        { "dedup-window", "OA_SINK_DEDUP_WINDOW", OA_CFG_INT, "100000",
          offsetof(oa_sink_cfg, dedup_window), 1000, 10000000, 0,
          "offsets per partition whose event ids are kept (an event_id seen again within them is "
          "skipped) and whose sessions are rebuilt from ClickHouse at assignment" },
        { "sessions-ms", "OA_SINK_SESSIONS_MS", OA_CFG_INT, "5000",
          offsetof(oa_sink_cfg, sessions_ms), 0, 60000, 0,
          "sessions are written at most this long after a change (and offsets stored with them); "
          "0: with every batch" },
        { "sessions-max", "OA_SINK_SESSIONS_MAX", OA_CFG_INT, "200000",
          offsetof(oa_sink_cfg, sessions_max), 100, 10000000, 0,
          "visitors' sessions kept in memory per partition (the idlest are forgotten first)" },
        { "retry-max-ms", "OA_SINK_RETRY_MAX_MS", OA_CFG_INT, "5000",
          offsetof(oa_sink_cfg, retry_max_ms), 100, 600000, 0,
          "longest wait between two attempts while ClickHouse fails (backoff from 100 ms)" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "info",
          offsetof(oa_sink_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug, info, warn, error" },
};

/* What the table cannot express (also run by --check-config). */
static int check(const void *c, char *errbuf, size_t errlen) {
        const oa_sink_cfg *cfg = c;
        int r = oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);

        return r < 0 ? r : oa_cfg_check_listen("OA_SINK_LISTEN", cfg->listen, NULL, errbuf, errlen);
}

static const oa_cfg_spec spec = {
        .prog = "oa-sink",
        .summary = "Consume oa.events.v1 into ClickHouse (oa.events, oa.sessions), exactly once as\n"
                   "seen through ClickHouse; undecodable messages go to oa.deadletter.v1.\n"
                   "--print-sql prints every SQL text it sends (NUL-separated) and exits.\n"
                   "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>: upper case, "
                   "'_' for '.', '__' for '_'.",
        .opts = opts,
        .n_opts = sizeof(opts) / sizeof(opts[0]),
        .check = check,
};

int oa_sink_cfg_load(oa_sink_cfg *cfg, int argc, char **argv, bool *ret_print_sql,
                     char *errbuf, size_t errlen) {
        *ret_print_sql = false;
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--print-sql") == 0) {
                        *ret_print_sql = true;
                        return OA_CFG_LOAD_EXIT;
                }
        return oa_cfg_load(&spec, cfg, argc, argv, NULL, errbuf, errlen);
}

void oa_sink_cfg_free(oa_sink_cfg *cfg) {
        oa_cfg_free(&spec, cfg);
}

void oa_sink_cfg_log(const oa_sink_cfg *cfg) {
        oa_cfg_log(&spec, cfg);
}

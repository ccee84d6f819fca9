/* oa-query's configuration table, and the checks the table cannot express: the log
 * level, the listen address and the trusted proxies. Any librdkafka setting comes through
 * OA_KAFKA_X_* (see oa/kafka.h). */
#include "query.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const oa_cfg_opt opts[] = {
        { "listen", "OA_QUERY_LISTEN", OA_CFG_STRING, "127.0.0.1:8081",
          offsetof(oa_query_cfg, listen), 0, 0, OA_CFG_REQUIRED,
          "address of the HTTP API, host:port (numeric; [::]:port for IPv6)" },
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_query_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "redis-url", "OA_REDIS_URL", OA_CFG_STRING, "redis://127.0.0.1:6379",
          offsetof(oa_query_cfg, redis_url), 0, 0, OA_CFG_REQUIRED | OA_CFG_SECRET,
          "Redis for the shared rate limits, redis://[[user]:password@]host[:port][/db]" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "info",
          offsetof(oa_query_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug (one line per request), info, "
          "warn, error" },
        { "auth-fail-limit", "OA_QUERY_AUTH_FAIL_LIMIT", OA_CFG_INT, "20",
          offsetof(oa_query_cfg, auth_fail_limit), 1, 1000000, 0,
          "failed authentications per minute per client address; above it the address gets "
          "429 before its key is looked at" },
        { "trusted-proxies", "OA_QUERY_TRUSTED_PROXIES", OA_CFG_STRING, "127.0.0.1,::1",
          offsetof(oa_query_cfg, trusted_proxies), 0, 0, 0,
          "comma list of addresses or networks (10.0.0.0/8) whose X-Forwarded-For is believed; "
          "the client is the last hop that is not one of them; empty: trust none" },
        { "kafka-timeout-ms", "OA_KAFKA_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_query_cfg, kafka_timeout_ms), 100, 600000, 0,
          "how long to wait at start for the projects topic's metadata" },
        { "write-timeout-ms", "OA_QUERY_WRITE_TIMEOUT_MS", OA_CFG_INT, "5000",
          offsetof(oa_query_cfg, write_timeout_ms), 1000, 300000, 0,
          "how long a write may wait for Kafka's acknowledgement before it is answered "
          "503 (librdkafka's message.timeout.ms)" },
        { "redis-timeout-ms", "OA_REDIS_TIMEOUT_MS", OA_CFG_INT, "100",
          offsetof(oa_query_cfg, redis_timeout_ms), 1, 10000, 0,
          "connect, read and write timeout of Redis; slower answers fall back to counting in "
          "process" },
        { "max-connections", "OA_QUERY_MAX_CONNECTIONS", OA_CFG_INT, "10000",
          offsetof(oa_query_cfg, max_connections), 1, 1000000, 0,
          "open client connections above which new ones wait" },
        { "drain-timeout-ms", "OA_QUERY_DRAIN_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_query_cfg, drain_timeout_ms), 0, 600000, 0,
          "on SIGTERM, how long requests in flight (writes waiting for Kafka) may take" },
        { "clickhouse-url", "OA_CLICKHOUSE_URL", OA_CFG_STRING, "http://127.0.0.1:8123",
          offsetof(oa_query_cfg, clickhouse_url), 0, 0, OA_CFG_REQUIRED,
          "ClickHouse HTTP interface the stats routes read oa.events and oa.sessions from" },
        { "clickhouse-user", "OA_CLICKHOUSE_USER", OA_CFG_STRING, "default",
          offsetof(oa_query_cfg, clickhouse_user), 0, 0, 0,
          "ClickHouse user (a read-only user is enough for oa-query)" },
        { "clickhouse-password", "OA_CLICKHOUSE_PASSWORD", OA_CFG_STRING, "",
          offsetof(oa_query_cfg, clickhouse_password), 0, 0, OA_CFG_SECRET,
          "ClickHouse password (HTTP Basic authentication)" },
        { "clickhouse-database", "OA_CLICKHOUSE_DATABASE", OA_CFG_STRING, "oa",
          offsetof(oa_query_cfg, clickhouse_database), 0, 0, 0,
          "ClickHouse database holding events and sessions" },
        { "clickhouse-timeout-ms", "OA_QUERY_CLICKHOUSE_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_query_cfg, clickhouse_timeout_ms), 1000, 600000, 0,
          "time budget of one stats query (ClickHouse's max_execution_time, whole seconds); "
          "past it the route answers 503 with Retry-After" },
        { "clickhouse-workers", "OA_QUERY_CLICKHOUSE_WORKERS", OA_CFG_INT, "4",
          offsetof(oa_query_cfg, clickhouse_workers), 1, 256, 0,
          "threads running stats reads on ClickHouse, each with its own connection (the event "
          "loop never waits on ClickHouse); the most stats reads ClickHouse runs at once per replica" },
        { "clickhouse-queue", "OA_QUERY_CLICKHOUSE_QUEUE", OA_CFG_INT, "256",
          offsetof(oa_query_cfg, clickhouse_queue), 1, 1000000, 0,
          "most stats reads waiting for a worker; past it a read answers 503 with Retry-After" },
        { "realtime-cache-ms", "OA_QUERY_REALTIME_CACHE_MS", OA_CFG_INT, "500",
          offsetof(oa_query_cfg, realtime_cache_ms), 1, 60000, 0,
          "one realtime computation per project is shared by every poller and stream within "
          "a slot of this length" },
        { "stream-interval-ms", "OA_QUERY_STREAM_INTERVAL_MS", OA_CFG_INT, "1000",
          offsetof(oa_query_cfg, stream_interval_ms), 100, 60000, 0,
          "how often /realtime/stream pushes the realtime object" },
        { "max-range-days", "OA_QUERY_MAX_RANGE_DAYS", OA_CFG_INT, "731",
          offsetof(oa_query_cfg, max_range_days), 1, 36600, 0,
          "longest from..to range of a stats read, in days; longer is 400" },
        { "cache-ttl-ms", "OA_QUERY_CACHE_TTL_MS", OA_CFG_INT, "5000",
          offsetof(oa_query_cfg, cache_ttl_ms), 0, 600000, 0,
          "identical stats reads within this time are answered from memory (0: no cache)" },
        { "cache-max-entries", "OA_QUERY_CACHE_MAX_ENTRIES", OA_CFG_INT, "1000",
          offsetof(oa_query_cfg, cache_max_entries), 1, 1000000, 0,
          "most answers the read cache holds" },
        { "export-spool-dir", "OA_QUERY_EXPORT_SPOOL_DIR", OA_CFG_STRING, "/tmp",
          offsetof(oa_query_cfg, export_spool_dir), 0, 0, 0,
          "where /export keeps the day it is sending (an unlinked file per export in flight, "
          "as large as the project's busiest day of events in NDJSON)" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const oa_cfg_spec spec = {
        .prog = "oa-query",
        .summary = "Serve the OpenAnalytics /v1 API (projects, API keys) behind Bearer keys and the\n"
                   "plans' rate limits, from the catalogue in Kafka's oa.projects.v1.\n"
                   "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>: upper case, "
                   "'_' for '.', '__' for '_'\n(e.g. OA_KAFKA_X_SECURITY_PROTOCOL=sasl_ssl).",
        .opts = opts,
        .n_opts = N_OPTS,
};

int oa_query_cfg_load(oa_query_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen) {
        bool check = false;
        int r;

        /* --check-config must also run our own checks before the loader says "ok": load
         * once without it, check, then let the loader print. */
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                check |= strcmp(argv[i], "--check-config") == 0;
        if (check) {
                char **args = calloc((size_t) argc + 1, sizeof(*args));
                oa_query_cfg probe = { 0 };
                int n = 0;

                if (!args)
                        return -ENOMEM;
                for (int i = 0; i < argc; i++)
                        if (strcmp(argv[i], "--check-config") != 0)
                                args[n++] = argv[i];
                r = oa_cfg_load(&spec, &probe, n, args, NULL, errbuf, errlen);
                if (r == OA_CFG_LOAD_RUN)
                        r = oa_query_cfg_check(&probe, NULL, errbuf, errlen);
                oa_cfg_free(&spec, &probe);
                free(args);
                if (r != OA_CFG_LOAD_RUN)
                        return r;       /* an error, or --help answered */
        }
        r = oa_cfg_load(&spec, cfg, argc, argv, NULL, errbuf, errlen);
        if (r == OA_CFG_LOAD_RUN)
                r = oa_query_cfg_check(cfg, NULL, errbuf, errlen);
        return r;
}

void oa_query_cfg_free(oa_query_cfg *cfg) {
        oa_cfg_free(&spec, cfg);
}

void oa_query_cfg_log(const oa_query_cfg *cfg) {
        oa_cfg_log(&spec, cfg);
}

int oa_query_cfg_check(const oa_query_cfg *cfg, oa_proxies *ret_proxies, char *errbuf,
                       size_t errlen) {
        struct sockaddr_storage ss;
        oa_proxies proxies;
        int r;

        r = oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);
        if (r < 0)
                return r;
        r = oa_cfg_check_listen("OA_QUERY_LISTEN", cfg->listen, &ss, errbuf, errlen);
        if (r < 0)
                return r;
        if (!*cfg->export_spool_dir || access(cfg->export_spool_dir, W_OK | X_OK) < 0) {
                snprintf(errbuf, errlen, "OA_QUERY_EXPORT_SPOOL_DIR: '%.200s' is not a directory oa-query can "
                         "write to", cfg->export_spool_dir);
                return -EINVAL;
        }
#ifdef OA_QUERY_BENCH_NOAUTH
        /* The benchmark's build answers one route without a key: never off this host. */
        if (!(ss.ss_family == AF_INET &&
              ((struct sockaddr_in *) &ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))) {
                snprintf(errbuf, errlen, "OA_QUERY_LISTEN: this benchmark build only listens on 127.0.0.1");
                return -EINVAL;
        }
#endif
        r = oa_proxies_parse(cfg->trusted_proxies, "OA_QUERY_TRUSTED_PROXIES", &proxies, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_proxies)
                *ret_proxies = proxies;
        return 0;
}

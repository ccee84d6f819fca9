/* oa-edge's configuration table, and the checks the table cannot express: the log level,
 * the listen address and the trusted proxies. Any librdkafka setting comes through
 * OA_KAFKA_X_* (see oa/kafka.h); it applies to both producers. */
#include "edge.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oa_cfg_opt opts[] = {
        { "listen", "OA_EDGE_LISTEN", OA_CFG_STRING, "127.0.0.1:8080",
          offsetof(oa_edge_cfg, listen), 0, 0, OA_CFG_REQUIRED,
          "address of the ingest API, host:port (numeric; [::]:port for IPv6)" },
        { "reuseport", "OA_EDGE_REUSEPORT", OA_CFG_BOOL, "false",
          offsetof(oa_edge_cfg, reuseport), 0, 0, 0,
          "listen with SO_REUSEPORT, so several oa-edge processes on one host share the port "
          "(one per core: the kernel spreads the connections)" },
        { "kafka-brokers", "OA_KAFKA_BROKERS", OA_CFG_STRING, "127.0.0.1:9092",
          offsetof(oa_edge_cfg, kafka_brokers), 0, 0, OA_CFG_REQUIRED,
          "Kafka bootstrap servers, host:port[,host:port...]" },
        { "redis-url", "OA_REDIS_URL", OA_CFG_STRING, "redis://127.0.0.1:6379",
          offsetof(oa_edge_cfg, redis_url), 0, 0, OA_CFG_REQUIRED | OA_CFG_SECRET,
          "Redis for salts, rate limits, idempotency marks and drop counts, "
          "redis://[[user]:password@]host[:port][/db]" },
        { "log-level", "OA_LOG_LEVEL", OA_CFG_STRING, "info",
          offsetof(oa_edge_cfg, log_level), 0, 0, 0,
          "lowest level of the JSON log lines on stderr: debug (one line per /v1 request), "
          "info, warn, error" },
        { "trusted-proxies", "OA_EDGE_TRUSTED_PROXIES", OA_CFG_STRING, "127.0.0.1,::1",
          offsetof(oa_edge_cfg, trusted_proxies), 0, 0, 0,
          "comma list of addresses or networks (10.0.0.0/8) whose X-Forwarded-For is believed "
          "(the gateway); the client is the last hop that is not one of them; empty: trust none" },
        { "collect-max-body", "OA_EDGE_COLLECT_MAX_BODY", OA_CFG_INT, "16384",
          offsetof(oa_edge_cfg, collect_max_body), 256, OA_EVENT_COLLECT_MAX_BODY, 0,
          "largest POST /collect body in bytes; larger ones are dropped (too_large)" },
        { "ip-rate", "OA_EDGE_IP_RATE", OA_CFG_INT, "50",
          offsetof(oa_edge_cfg, ip_rate), 1, 1000000, 0,
          "POST /collect events per second per client address (IPv6: per /64), per process" },
        { "ip-burst", "OA_EDGE_IP_BURST", OA_CFG_INT, "100",
          offsetof(oa_edge_cfg, ip_burst), 1, 10000000, 0,
          "events a client address may send at once before OA_EDGE_IP_RATE applies" },
        { "site-rate-scale", "OA_EDGE_SITE_RATE_SCALE", OA_CFG_INT, "1",
          offsetof(oa_edge_cfg, site_rate_scale), 1, 100000, 0,
          "POST /collect events per second per site = the plan's requests per minute per key "
          "times this (free 60/s, pro 600/s, business 6000/s); shared by all replicas in Redis" },
        { "ts-past-ms", "OA_EDGE_TS_PAST_MS", OA_CFG_INT, "2678400000",
          offsetof(oa_edge_cfg, ts_past_ms), 0, 366LL * 24 * 3600 * 1000, 0,
          "oldest /v1 timestamp accepted, in ms before now (31 days)" },
        { "ts-future-ms", "OA_EDGE_TS_FUTURE_MS", OA_CFG_INT, "600000",
          offsetof(oa_edge_cfg, ts_future_ms), 0, 7LL * 24 * 3600 * 1000, 0,
          "newest /v1 timestamp accepted, in ms after now (10 minutes)" },
        { "kafka-ack-timeout-ms", "OA_EDGE_KAFKA_ACK_TIMEOUT_MS", OA_CFG_INT, "5000",
          offsetof(oa_edge_cfg, ack_timeout_ms), 1000, 60000, 0,
          "how long a /v1 request waits for Kafka's acknowledgements before 503 unavailable "
          "(the /v1 producer's message.timeout.ms: a message not acknowledged by then is "
          "never delivered later)" },
        { "collect-buffer-ms", "OA_EDGE_COLLECT_BUFFER_MS", OA_CFG_INT, "600000",
          offsetof(oa_edge_cfg, collect_buffer_ms), 1000, 3600000, 0,
          "how long /collect events wait in the producer's queue for Kafka to come back "
          "(message.timeout.ms of the /collect producer); then they are dropped (undelivered)" },
        { "collect-queue-max", "OA_EDGE_COLLECT_QUEUE_MAX", OA_CFG_INT, "100000",
          offsetof(oa_edge_cfg, collect_queue_max), 100, 10000000, 0,
          "events the /collect producer buffers (queue.buffering.max.messages); past it "
          "events are dropped (queue_full)" },
        { "collect-linger-ms", "OA_EDGE_COLLECT_LINGER_MS", OA_CFG_INT, "100",
          offsetof(oa_edge_cfg, collect_linger_ms), 0, 1000, 0,
          "how long the /collect producer gathers events before sending a batch (linger.ms); "
          "nobody waits on it: larger batches cost Kafka and oa-edge less per event" },
        { "api-linger-ms", "OA_EDGE_API_LINGER_MS", OA_CFG_INT, "2",
          offsetof(oa_edge_cfg, api_linger_ms), 0, 1000, 0,
          "how long the /v1 producer gathers events before sending a batch (linger.ms): added "
          "to every 202's wait, and saves Kafka a request per partition per wait" },
        { "ua-cache", "OA_EDGE_UA_CACHE", OA_CFG_INT, "10000",
          offsetof(oa_edge_cfg, ua_cache), 0, OA_UA_MAX_CACHE, 0,
          "User-Agent parse results kept in memory (0: none)" },
        { "geo-db", "OA_EDGE_GEO_DB", OA_CFG_STRING, NULL,
          offsetof(oa_edge_cfg, geo_db), 0, 0, 0,
          "libloc location database for IP -> country; empty: " OA_GEO_DEFAULT_DB " or "
          OA_GEO_FALLBACK_DB },
        { "uap-regexes", "OA_EDGE_UAP_REGEXES", OA_CFG_STRING, OA_UA_DEFAULT_REGEXES,
          offsetof(oa_edge_cfg, uap_regexes), 0, 0, OA_CFG_REQUIRED,
          "uap-core's regexes.yaml for User-Agent -> browser, OS, device" },
        { "auth-fail-limit", "OA_EDGE_AUTH_FAIL_LIMIT", OA_CFG_INT, "20",
          offsetof(oa_edge_cfg, auth_fail_limit), 1, 1000000, 0,
          "failed authentications per minute per client address; above it the address gets "
          "429 before its key is looked at" },
        { "kafka-timeout-ms", "OA_KAFKA_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_edge_cfg, kafka_timeout_ms), 100, 600000, 0,
          "how long to wait at start for the projects topic's metadata" },
        { "redis-timeout-ms", "OA_REDIS_TIMEOUT_MS", OA_CFG_INT, "100",
          offsetof(oa_edge_cfg, redis_timeout_ms), 1, 10000, 0,
          "connect, read and write timeout of Redis; slower answers fall back to process-local "
          "limits and salts, and skip idempotency" },
        { "max-connections", "OA_EDGE_MAX_CONNECTIONS", OA_CFG_INT, "10000",
          offsetof(oa_edge_cfg, max_connections), 1, 1000000, 0,
          "open client connections above which new ones wait" },
        { "request-timeout-ms", "OA_EDGE_REQUEST_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_edge_cfg, request_timeout_ms), 100, 600000, 0,
          "headers and body must arrive within this, and an idle keep-alive connection closes "
          "after it (slow clients are cut off)" },
        { "drain-timeout-ms", "OA_EDGE_DRAIN_TIMEOUT_MS", OA_CFG_INT, "10000",
          offsetof(oa_edge_cfg, drain_timeout_ms), 0, 600000, 0,
          "on SIGTERM, how long requests in flight (/v1 waiting for Kafka) may take" },
        { "drops-flush-ms", "OA_EDGE_DROPS_FLUSH_MS", OA_CFG_INT, "250",
          offsetof(oa_edge_cfg, drops_flush_ms), 10, 60000, 0,
          "how often the counts of dropped /collect events are written to Redis" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const oa_cfg_spec spec = {
        .prog = "oa-edge",
        .summary = "Ingest OpenAnalytics events: POST /collect (the browser snippet; always 204) and\n"
                   "POST /v1/projects/{id}/events (Bearer key with events:write; 202 once Kafka\n"
                   "acknowledged), validated, enriched and produced to oa.events.v1.\n"
                   "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>: upper case, "
                   "'_' for '.', '__' for '_'\n(e.g. OA_KAFKA_X_SECURITY_PROTOCOL=sasl_ssl).",
        .opts = opts,
        .n_opts = N_OPTS,
};

int oa_edge_cfg_load(oa_edge_cfg *cfg, int argc, char **argv, char *errbuf, size_t errlen) {
        bool check = false;
        int r;

        /* --check-config must also run our own checks before the loader says "ok": load
         * once without it, check, then let the loader print. */
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                check |= strcmp(argv[i], "--check-config") == 0;
        if (check) {
                char **args = calloc((size_t) argc + 1, sizeof(*args));
                oa_edge_cfg probe = { 0 };
                int n = 0;

                if (!args)
                        return -ENOMEM;
                for (int i = 0; i < argc; i++)
                        if (strcmp(argv[i], "--check-config") != 0)
                                args[n++] = argv[i];
                r = oa_cfg_load(&spec, &probe, n, args, NULL, errbuf, errlen);
                if (r == OA_CFG_LOAD_RUN)
                        r = oa_edge_cfg_check(&probe, NULL, errbuf, errlen);
                oa_cfg_free(&spec, &probe);
                free(args);
                if (r != OA_CFG_LOAD_RUN)
                        return r;       /* an error, or --help answered */
        }
        r = oa_cfg_load(&spec, cfg, argc, argv, NULL, errbuf, errlen);
        if (r == OA_CFG_LOAD_RUN)
                r = oa_edge_cfg_check(cfg, NULL, errbuf, errlen);
        return r;
}

void oa_edge_cfg_free(oa_edge_cfg *cfg) {
        oa_cfg_free(&spec, cfg);
}

void oa_edge_cfg_log(const oa_edge_cfg *cfg) {
        oa_cfg_log(&spec, cfg);
}

int oa_edge_cfg_check(const oa_edge_cfg *cfg, oa_proxies *ret_proxies, char *errbuf, size_t errlen) {
        oa_proxies proxies;
        int r;

        r = oa_cfg_check_log_level(cfg->log_level, errbuf, errlen);
        if (r < 0)
                return r;
        r = oa_cfg_check_listen("OA_EDGE_LISTEN", cfg->listen, NULL, errbuf, errlen);
        if (r < 0)
                return r;
        r = oa_proxies_parse(cfg->trusted_proxies, "OA_EDGE_TRUSTED_PROXIES", &proxies, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_proxies)
                *ret_proxies = proxies;
        return 0;
}

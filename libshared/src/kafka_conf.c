/* Building librdkafka configurations: the plain oa_kafka_cfg struct, the caller's extra
 * pairs and every OA_KAFKA_X_<PROP> environment variable (kcat's -X), in that order, plus
 * the log and error callbacks that turn librdkafka's messages into oa_log JSON lines.
 * Assumes librdkafka >= 2.0 (its configuration dump at debug=conf redacts secrets; the
 * unit tests check that). */
#include "oa/kafka.h"

#include "oa/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

/* Longest OA_KAFKA_X_ variable name we look at; librdkafka's longest property is ~40. */
#define ENV_NAME_MAX 256

/* Defaults for every client, before the role's and the caller's. Brokers close idle
 * connections every connections.max.idle.ms (10 min), and librdkafka would log each. */
static const char *const base_defaults[] = {
        "log.connection.close", "false",
        NULL,
};

bool oa_kafka_prop_is_secret(const char *name) {
        static const char *const exact[] = { "ssl.key.pem", "ssl_key", "sasl.oauthbearer.config" };

        if (!name)
                return false;
        if (strstr(name, "password") || strstr(name, "secret"))
                return true;
        for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
                if (strcmp(name, exact[i]) == 0)
                        return true;
        return false;
}

int oa_kafka_errno(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
                return 0;
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
                return -ENOBUFS;
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
                return -ETIMEDOUT;
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
                return -EMSGSIZE;
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__NOENT:
                return -ENOENT;
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        case RD_KAFKA_RESP_ERR__AUTHENTICATION:
                return -EACCES;
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
                return -ENOTCONN;
        case RD_KAFKA_RESP_ERR__FATAL:
                return -ENOTRECOVERABLE;
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
        case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
        case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
        case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
                return -EINVAL;
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
                return -EEXIST;
        case RD_KAFKA_RESP_ERR__DESTROY:
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
        case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
                return -ECANCELED;
        default:
                return -EIO;
        }
}

int oa_kafka_env_to_prop(const char *var, char *buf, size_t buflen) {
        const size_t plen = strlen(OA_KAFKA_ENV_PREFIX);
        const char *p;
        size_t o = 0;

        if (!var || strncmp(var, OA_KAFKA_ENV_PREFIX, plen) != 0 || buflen == 0)
                return -EINVAL;
        p = var + plen;
        if (*p == '\0')
                return -EINVAL;
        while (*p) {
                char c = *p;

                if (c == '_' && p[1] == '_') {
                        p += 2;
                } else if (c == '_') {
                        c = '.';
                        p++;
                } else if (c >= 'A' && c <= 'Z') {
                        c = (char) (c - 'A' + 'a');
                        p++;
                } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                        p++;
                } else {
                        return -EINVAL;
                }
                if (o + 1 >= buflen)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        buf[o] = '\0';
        if (buf[0] == '.' || buf[o - 1] == '.' || strstr(buf, ".."))
                return -EINVAL;
        return 0;
}

int oa_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                      char *errbuf, size_t errlen) {
        char rderr[512];
        rd_kafka_conf_res_t res;

        rderr[0] = '\0';
        res = rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr));
        if (res == RD_KAFKA_CONF_OK)
                return 0;
        rderr[strcspn(rderr, "\n")] = '\0';
        /* librdkafka's text names the canonical property (queue.buffering.max.ms for
         * linger.ms) and may quote the value, so name ours and drop theirs for secrets. */
        if (res == RD_KAFKA_CONF_UNKNOWN)
                snprintf(errbuf, errlen, "%s: no such librdkafka property", name);
        else if (oa_kafka_prop_is_secret(name))
                snprintf(errbuf, errlen, "invalid value for %s (not shown: secret)", name);
        else
                snprintf(errbuf, errlen, "invalid value for %s: %s", name, rderr);
        return -EINVAL;
}

/* Set NULL-terminated "name", "value" pairs. */
static int set_pairs(rd_kafka_conf_t *conf, const char *const *pairs, char *errbuf,
                     size_t errlen) {
        int r;

        for (size_t i = 0; pairs && pairs[i]; i += 2) {
                if (!pairs[i + 1]) {
                        snprintf(errbuf, errlen, "%s: property without a value", pairs[i]);
                        return -EINVAL;
                }
                r = oa_kafka_conf_set(conf, pairs[i], pairs[i + 1], errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Apply every OA_KAFKA_X_* entry of envp; the error names the variable and property. */
static int apply_env(rd_kafka_conf_t *conf, char *const *envp, char *errbuf, size_t errlen) {
        const size_t plen = strlen(OA_KAFKA_ENV_PREFIX);
        char var[ENV_NAME_MAX + 1], prop[ENV_NAME_MAX + 1], why[512];
        int r;

        for (size_t i = 0; envp && envp[i]; i++) {
                const char *e = envp[i], *eq;
                size_t n;

                if (strncmp(e, OA_KAFKA_ENV_PREFIX, plen) != 0)
                        continue;
                eq = strchr(e, '=');
                n = eq ? (size_t) (eq - e) : strlen(e);
                if (!eq || n > ENV_NAME_MAX) {
                        snprintf(errbuf, errlen, "%.64s...: malformed or overlong environment variable",
                                 e);
                        return -EINVAL;
                }
                memcpy(var, e, n);
                var[n] = '\0';
                r = oa_kafka_env_to_prop(var, prop, sizeof(prop));
                if (r < 0) {
                        snprintf(errbuf, errlen, "%s: not a librdkafka property name (after "
                                 OA_KAFKA_ENV_PREFIX " use A-Z, 0-9, _ for '.', __ for '_')", var);
                        return -EINVAL;
                }
                r = oa_kafka_conf_set(conf, prop, eq + 1, why, sizeof(why));
                if (r < 0) {
                        snprintf(errbuf, errlen, "%s: %s", var, why);
                        return r;
                }
        }
        return 0;
}

/* librdkafka's level is syslog's: 0..3 error, 4 warning, 5..6 notice/info, 7 debug. */
static oa_log_level map_level(int level) {
        if (level <= 3)
                return OA_LOG_ERROR;
        if (level == 4)
                return OA_LOG_WARN;
        if (level <= 6)
                return OA_LOG_INFO;
        return OA_LOG_DEBUG;
}

/* Called from librdkafka's threads; oa_log writes each line with one write(2). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        oa_log(map_level(level), buf, "facility", fac, "client", rk ? rd_kafka_name(rk) : "",
               "source", "librdkafka", NULL);
}

/* Most errors here are informational (a broker went away; librdkafka reconnects on its
 * own); a fatal one means the client cannot go on. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
        rd_kafka_resp_err_t e = (rd_kafka_resp_err_t) err;

        oa_log(e == RD_KAFKA_RESP_ERR__FATAL ? OA_LOG_ERROR : OA_LOG_WARN, "kafka client error",
               "client", rd_kafka_name(rk), "error", rd_kafka_err2name(e), "reason", reason,
               "source", "librdkafka", NULL);
}

int oa_kafka_conf_build_ex(const oa_kafka_cfg *c, const char *const *defaults,
                           rd_kafka_conf_t **ret_conf, char *errbuf, size_t errlen) {
        rd_kafka_conf_t *conf = NULL;
        char num[32];
        int r;

        if (errlen)
                errbuf[0] = '\0';
        if (!c->brokers || !*c->brokers) {
                snprintf(errbuf, errlen, "no Kafka brokers configured (bootstrap.servers)");
                return -EINVAL;
        }
        conf = rd_kafka_conf_new();
        if (!conf)
                return -ENOMEM;
        r = set_pairs(conf, base_defaults, errbuf, errlen);
        if (r < 0)
                goto out;
        r = set_pairs(conf, defaults, errbuf, errlen);
        if (r < 0)
                goto out;
        r = oa_kafka_conf_set(conf, "bootstrap.servers", c->brokers, errbuf, errlen);
        if (r < 0)
                goto out;
        r = oa_kafka_conf_set(conf, "client.id", c->client_id && *c->client_id ? c->client_id :
                              "openanalytics", errbuf, errlen);
        if (r < 0)
                goto out;
        if (c->group_id) {
                r = oa_kafka_conf_set(conf, "group.id", c->group_id, errbuf, errlen);
                if (r < 0)
                        goto out;
        }
        if (c->message_timeout_ms > 0) {
                snprintf(num, sizeof(num), "%d", c->message_timeout_ms);
                r = oa_kafka_conf_set(conf, "message.timeout.ms", num, errbuf, errlen);
                if (r < 0)
                        goto out;
        }
        r = set_pairs(conf, c->props, errbuf, errlen);
        if (r < 0)
                goto out;
        r = apply_env(conf, c->envp ? c->envp : environ, errbuf, errlen);
        if (r < 0)
                goto out;
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rd_kafka_conf_set_error_cb(conf, error_cb);
        *ret_conf = conf;
        conf = NULL;
        r = 0;
out:
        if (conf)
                rd_kafka_conf_destroy(conf);
        return r;
}

int oa_kafka_conf_build(const oa_kafka_cfg *c, rd_kafka_conf_t **ret_conf, char *errbuf,
                        size_t errlen) {
        return oa_kafka_conf_build_ex(c, NULL, ret_conf, errbuf, errlen);
}

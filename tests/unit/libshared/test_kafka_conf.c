/* Tests for libshared/src/kafka_conf.c: OA_KAFKA_X_* names and values, the order in which
 * settings apply, error texts that name the culprit and keep secrets out, and librdkafka's
 * log lines arriving in oa_log as JSON. */
#include "oa/kafka.h"
#include "oa/log.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static char *no_env[] = { NULL };

TestSuite(oa_kafka);

/* Build with envp and return the value of prop (static buffer), or fail. */
static const char *built_value(const oa_kafka_cfg *c, const char *prop) {
        static char v[512];
        size_t vlen = sizeof(v);
        rd_kafka_conf_t *conf = NULL;
        char err[512];

        cr_assert_eq(oa_kafka_conf_build(c, &conf, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(rd_kafka_conf_get(conf, prop, v, &vlen), RD_KAFKA_CONF_OK, "%s", prop);
        rd_kafka_conf_destroy(conf);
        return v;
}

/* Criterion runs each parameter in a fresh process, so rows hold arrays, not pointers. */
struct name_row {
        char var[64];
        char prop[64];          /* "": rejected */
};

ParameterizedTestParameters(oa_kafka, env_prop_maps_to_dotted_name) {
        static struct name_row rows[] = {
                { "OA_KAFKA_X_QUEUE_BUFFERING_MAX_MS", "queue.buffering.max.ms" },
                { "OA_KAFKA_X_LINGER_MS", "linger.ms" },
                { "OA_KAFKA_X_linger_ms", "linger.ms" },
                { "OA_KAFKA_X_LOG__LEVEL", "log_level" },
                { "OA_KAFKA_X_ENABLED__EVENTS", "enabled_events" },
                { "OA_KAFKA_X_SSL_CERTIFICATE_VERIFY__CB", "ssl.certificate.verify_cb" },
                { "OA_KAFKA_X_SASL_OAUTHBEARER_CLIENT_SECRET", "sasl.oauthbearer.client.secret" },
                { "OA_KAFKA_X_A1", "a1" },
                { "OA_KAFKA_X_", "" },                  /* empty */
                { "OA_KAFKA_X__LINGER_MS", "" },        /* leading '.' */
                { "OA_KAFKA_X_LINGER_MS_", "" },        /* trailing '.' */
                { "OA_KAFKA_X_LINGER___MS", "linger_.ms" },     /* "__" then "_" */
                { "OA_KAFKA_X_A____B", "a__b" },
                { "OA_KAFKA_X_LINGER_.MS", "" },        /* a dot in a variable name */
                { "OA_KAFKA_X_LINGER-MS", "" },
                { "OA_KAFKA_X_LINGER MS", "" },
                { "OA_KAFKA_X_LINGER\xc3\xa9", "" },    /* UTF-8 */
                { "OA_KAFKA_X_\x01", "" },
                { "OA_KAFKA_LINGER_MS", "" },           /* not our prefix */
                { "oa_kafka_x_LINGER_MS", "" },         /* the prefix is case-sensitive */
        };
        return cr_make_param_array(struct name_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct name_row *row, oa_kafka, env_prop_maps_to_dotted_name) {
        char buf[64];
        int r = oa_kafka_env_to_prop(row->var, buf, sizeof(buf));

        if (row->prop[0]) {
                cr_assert_eq(r, 0, "%s", row->var);
                cr_assert_str_eq(buf, row->prop);
        } else {
                cr_assert_eq(r, -EINVAL, "%s gave %d", row->var, r);
        }
}

Test(oa_kafka, env_prop_too_long_for_buffer_is_enametoolong) {
        char buf[8];

        cr_assert_eq(oa_kafka_env_to_prop("OA_KAFKA_X_QUEUE_BUFFERING_MAX_MS", buf, sizeof(buf)),
                     -ENAMETOOLONG);
        cr_assert_eq(oa_kafka_env_to_prop("OA_KAFKA_X_ACKS", buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, "acks");
}

Test(oa_kafka, conf_build_applies_env_property) {
        char *envp[] = { "PATH=/bin", "OA_KAFKA_X_QUEUE_BUFFERING_MAX_MS=5",
                         "OA_KAFKA_X_LOG__LEVEL=3", NULL };
        oa_kafka_cfg c = { .brokers = "127.0.0.1:9", .envp = envp };

        cr_assert_str_eq(built_value(&c, "queue.buffering.max.ms"), "5");
        cr_assert_str_eq(built_value(&c, "log_level"), "3");
        cr_assert_str_eq(built_value(&c, "bootstrap.servers"), "127.0.0.1:9");
        cr_assert_str_eq(built_value(&c, "client.id"), "openanalytics");
}

Test(oa_kafka, env_overrides_struct_and_props) {
        const char *props[] = { "linger.ms", "50", "client.id", "from-props", NULL };
        char *envp[] = { "OA_KAFKA_X_CLIENT_ID=from-env", NULL };
        oa_kafka_cfg c = { .brokers = "b:1", .client_id = "from-struct", .props = props,
                           .envp = envp, .message_timeout_ms = 1234 };

        cr_assert_str_eq(built_value(&c, "client.id"), "from-env");
        cr_assert_str_eq(built_value(&c, "linger.ms"), "50");
        cr_assert_str_eq(built_value(&c, "message.timeout.ms"), "1234");
}

Test(oa_kafka, defaults_are_overridden_by_struct) {
        const char *defaults[] = { "client.id", "from-defaults", "linger.ms", "7", NULL };
        oa_kafka_cfg c = { .brokers = "b:1", .client_id = "from-struct", .envp = no_env };
        rd_kafka_conf_t *conf = NULL;
        char err[256], v[64];
        size_t vlen = sizeof(v);

        cr_assert_eq(oa_kafka_conf_build_ex(&c, defaults, &conf, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(rd_kafka_conf_get(conf, "client.id", v, &vlen), RD_KAFKA_CONF_OK);
        cr_assert_str_eq(v, "from-struct");
        vlen = sizeof(v);
        cr_assert_eq(rd_kafka_conf_get(conf, "linger.ms", v, &vlen), RD_KAFKA_CONF_OK);
        cr_assert_str_eq(v, "7");
        rd_kafka_conf_destroy(conf);
}

Test(oa_kafka, environ_is_used_when_envp_is_null) {
        oa_kafka_cfg c = { .brokers = "b:1" };

        cr_assert_eq(setenv("OA_KAFKA_X_SOCKET_TIMEOUT_MS", "4321", 1), 0);
        cr_assert_str_eq(built_value(&c, "socket.timeout.ms"), "4321");
        unsetenv("OA_KAFKA_X_SOCKET_TIMEOUT_MS");
}

struct bad_row {
        char entry[320];        /* environment entry */
        char needle1[64];       /* must appear in errbuf */
        char needle2[64];
};

ParameterizedTestParameters(oa_kafka, bad_env_is_rejected_naming_it) {
        static struct bad_row rows[] = {
                { "OA_KAFKA_X_NO_SUCH_PROP=1", "OA_KAFKA_X_NO_SUCH_PROP", "no.such.prop" },
                { "OA_KAFKA_X_LINGER__MS=1", "OA_KAFKA_X_LINGER__MS", "linger_ms" },
                { "OA_KAFKA_X_LINGER_MS=abc", "OA_KAFKA_X_LINGER_MS", "linger.ms" },
                { "OA_KAFKA_X_LINGER_MS=-5", "OA_KAFKA_X_LINGER_MS", "linger.ms" },
                { "OA_KAFKA_X_LINGER_MS=99999999999999999999", "OA_KAFKA_X_LINGER_MS", "linger.ms" },
                { "OA_KAFKA_X_ACKS=several", "OA_KAFKA_X_ACKS", "acks" },
                { "OA_KAFKA_X_DEBUG=nonsense", "OA_KAFKA_X_DEBUG", "debug" },
                { "OA_KAFKA_X_=1", "OA_KAFKA_X_", "not a librdkafka property name" },
                { "OA_KAFKA_X_LINGER-MS=1", "OA_KAFKA_X_LINGER-MS", "not a librdkafka property name" },
                { "OA_KAFKA_X_LINGER.MS=1", "OA_KAFKA_X_LINGER.MS", "not a librdkafka property name" },
                { "OA_KAFKA_X__LINGER_MS=1", "OA_KAFKA_X__LINGER_MS", "not a librdkafka property name" },
                { "OA_KAFKA_X_LINGER_MS", "OA_KAFKA_X_LINGER_MS", "malformed" },        /* no '=' */
                { "OA_KAFKA_X_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                  "AAAAAAAAAAAAAAAAAAAAAAAAA=1", "OA_KAFKA_X_AAAA", "overlong" },
        };
        return cr_make_param_array(struct bad_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct bad_row *row, oa_kafka, bad_env_is_rejected_naming_it) {
        char *envp[] = { "HOME=/root", row->entry, NULL };
        oa_kafka_cfg c = { .brokers = "b:1", .envp = envp };
        rd_kafka_conf_t *conf = NULL;
        char err[512];

        cr_assert_eq(oa_kafka_conf_build(&c, &conf, err, sizeof(err)), -EINVAL, "%s", row->entry);
        cr_assert_null(conf, "ret_conf untouched on failure");
        cr_assert_not_null(strstr(err, row->needle1), "error \"%s\" lacks %s", err, row->needle1);
        cr_assert_not_null(strstr(err, row->needle2), "error \"%s\" lacks %s", err, row->needle2);
}

Test(oa_kafka, unrelated_env_entries_are_ignored) {
        char *envp[] = { "OA_KAFKA_XLINGER_MS=abc", "OA_KAFKA_BROKERS=x", "NOEQUALS", "=", "",
                         "OA_KAFKA_X", NULL };
        oa_kafka_cfg c = { .brokers = "b:1", .envp = envp };

        cr_assert_str_eq(built_value(&c, "bootstrap.servers"), "b:1");
}

Test(oa_kafka, missing_brokers_is_einval) {
        oa_kafka_cfg c = { .envp = no_env };
        rd_kafka_conf_t *conf = NULL;
        char err[256];

        cr_assert_eq(oa_kafka_conf_build(&c, &conf, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "bootstrap.servers"));
        c.brokers = "";
        cr_assert_eq(oa_kafka_conf_build(&c, &conf, err, sizeof(err)), -EINVAL);
}

Test(oa_kafka, rejected_secret_value_is_not_echoed) {
        /* ssl_key only takes a pointer, so any text is rejected: the value must not show. */
        char *envp[] = { "OA_KAFKA_X_SSL__KEY=hunter2-secret-value", NULL };
        oa_kafka_cfg c = { .brokers = "b:1", .envp = envp };
        rd_kafka_conf_t *conf = NULL;
        char err[512];

        cr_assert_eq(oa_kafka_conf_build(&c, &conf, err, sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "ssl_key"), "%s", err);
        cr_assert_null(strstr(err, "hunter2"), "%s", err);
}

struct secret_row {
        char name[64];
        bool secret;
};

ParameterizedTestParameters(oa_kafka, secret_properties_are_recognised) {
        static struct secret_row rows[] = {
                { "sasl.password", true }, { "ssl.key.password", true },
                { "ssl.keystore.password", true }, { "ssl.key.pem", true }, { "ssl_key", true },
                { "sasl.oauthbearer.client.secret", true }, { "sasl.oauthbearer.config", true },
                { "sasl.username", false }, { "bootstrap.servers", false },
                { "ssl.key.location", false }, { "ssl.certificate.pem", false }, { "", false },
        };
        return cr_make_param_array(struct secret_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct secret_row *row, oa_kafka, secret_properties_are_recognised) {
        cr_assert_eq(oa_kafka_prop_is_secret(row->name), row->secret, "%s", row->name);
}

Test(oa_kafka, errors_map_to_errno) {
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR_NO_ERROR), 0);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR__QUEUE_FULL), -ENOBUFS);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), -ETIMEDOUT);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), -EMSGSIZE);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), -ENOENT);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), -EACCES);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR__FATAL), -ENOTRECOVERABLE);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR__TRANSPORT), -ENOTCONN);
        cr_assert_eq(oa_kafka_errno(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION), -EIO);
}

/* Read a whole file (small). */
static char *slurp(int fd) {
        static char buf[1 << 20];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        cr_assert_geq(n, 0);
        buf[n] = '\0';
        return buf;
}

Test(oa_kafka, rdkafka_log_goes_to_oa_log_without_secrets) {
        char *envp[] = { "OA_KAFKA_X_DEBUG=conf,generic", "OA_KAFKA_X_SASL_USERNAME=alice",
                         "OA_KAFKA_X_SASL_PASSWORD=hunter2", "OA_KAFKA_X_LOG__LEVEL=7", NULL };
        oa_kafka_cfg c = { .brokers = "127.0.0.1:9", .client_id = "logtest", .envp = envp };
        char path[] = "/tmp/oa-kafka-log-XXXXXX", err[512], *text, *line;
        rd_kafka_conf_t *conf = NULL;
        rd_kafka_t *rk;
        int fd, json_lines = 0;

        fd = mkstemp(path);                     /* a file: debug output can pass a pipe's size */
        cr_assert_geq(fd, 0);
        unlink(path);
        oa_log_init("oa-test", OA_LOG_DEBUG);
        oa_log_set_fd(fd);
        cr_assert_eq(oa_kafka_conf_build(&c, &conf, err, sizeof(err)), 0, "%s", err);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        cr_assert_not_null(rk, "%s", err);
        rd_kafka_destroy(rk);
        oa_log_set_fd(2);

        text = slurp(fd);
        cr_assert_not_null(strstr(text, "sasl.username"), "the configuration was dumped");
        cr_assert_null(strstr(text, "hunter2"), "a secret reached the log");
        for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *fac[] = { "facility", NULL }, *cli[] = { "client", NULL };
                yajl_val v = yajl_tree_parse(line, NULL, 0);
                yajl_val f, cl;
                const char *client;

                cr_assert_not_null(v, "not JSON: %s", line);
                f = yajl_tree_get(v, fac, yajl_t_string);
                cl = yajl_tree_get(v, cli, yajl_t_string);
                cr_assert_not_null(f, "no facility: %s", line);
                cr_assert_not_null(cl, "no client: %s", line);
                client = YAJL_GET_STRING(cl);
                cr_assert_eq(strncmp(client ? client : "", "logtest#producer-", 17), 0, "%s", line);
                yajl_tree_free(v);
                json_lines++;
        }
        cr_assert_gt(json_lines, 5);
        close(fd);
}

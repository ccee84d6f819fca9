/* Topic administration through librdkafka's Admin API: metadata with a clear "no broker"
 * answer, and idempotent creation of topics from specs (the catalogue), which also
 * reports existing topics whose partition count or configs differ from their spec.
 * Assumes a broker >= 2.4 when the replication factor is -1 (KIP-464). */
#include "oa/kafka.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
        int64_t left = deadline - now_ms();

        return left > 0 ? (int) left : 1;
}

/* Append printf text to a status detail, "; "-separated. */
static void detail_add(oa_kafka_topic_status *st, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void detail_add(oa_kafka_topic_status *st, const char *fmt, ...) {
        size_t len = strlen(st->detail);
        va_list ap;

        if (len && len < sizeof(st->detail) - 2) {
                memcpy(st->detail + len, "; ", 3);
                len += 2;
        }
        va_start(ap, fmt);
        vsnprintf(st->detail + len, sizeof(st->detail) - len, fmt, ap);
        va_end(ap);
}

int oa_kafka_admin_new(const oa_kafka_cfg *c, rd_kafka_t **ret_rk, char *errbuf,
                       size_t errlen) {
        rd_kafka_conf_t *conf = NULL;
        rd_kafka_t *rk;
        int r;

        r = oa_kafka_conf_build(c, &conf, errbuf, errlen);
        if (r < 0)
                return r;
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                return -EINVAL;
        }
        *ret_rk = rk;                   /* conf is owned by rk now */
        return 0;
}

int oa_kafka_metadata(rd_kafka_t *rk, int timeout_ms, const rd_kafka_metadata_t **ret_md,
                      char *errbuf, size_t errlen) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err;
        char brokers[512] = "";
        size_t blen = sizeof(brokers);

        err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
        if (!err) {
                *ret_md = md;
                return 0;
        }
        if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", brokers, &blen) !=
            RD_KAFKA_CONF_OK)
                brokers[0] = '\0';
        if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
                snprintf(errbuf, errlen, "no Kafka broker answered at %s within %d ms (%s)",
                         brokers, timeout_ms, rd_kafka_err2str(err));
                return -ETIMEDOUT;
        }
        snprintf(errbuf, errlen, "metadata from %s: %s", brokers, rd_kafka_err2str(err));
        return oa_kafka_errno(err);
}

static const rd_kafka_metadata_topic_t *md_topic(const rd_kafka_metadata_t *md,
                                                 const char *name) {
        for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, name) == 0)
                        return &md->topics[i];
        return NULL;
}

/* Visible: known to the broker, every partition with a leader. */
static bool md_topic_ready(const rd_kafka_metadata_topic_t *t) {
        if (!t || t->err || t->partition_cnt <= 0)
                return false;
        for (int p = 0; p < t->partition_cnt; p++)
                if (t->partitions[p].leader < 0)
                        return false;
        return true;
}

/* Run one admin request already started on q: wait for its result event. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int64_t deadline) {
        /* the broker's own timeout is the deadline; a little more for the answer */
        return rd_kafka_queue_poll(q, left_ms(deadline) + 2000);
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int64_t deadline) {
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
        char e[256];

        if (!o)
                return NULL;
        rd_kafka_AdminOptions_set_request_timeout(o, left_ms(deadline), e, sizeof(e));
        if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
                rd_kafka_AdminOptions_set_operation_timeout(o, left_ms(deadline), e, sizeof(e));
        return o;
}

/* Create specs[i] for every i with todo[i] and set its status (FAILED with the reason, or
 * CREATED); ALREADY_EXISTS (another creator won a race) leaves the topic to be checked as
 * an existing one. Returns 0 or the errno of the first failure, described in errbuf. */
static int create_topics(rd_kafka_t *rk, const oa_kafka_topic_spec *specs, size_t n,
                         bool *todo, int rf, int64_t deadline, oa_kafka_topic_status *status,
                         char *errbuf, size_t errlen) {
        rd_kafka_NewTopic_t **nts = NULL;
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_topic_result_t **res;
        size_t k = 0, cnt;
        char e[256];
        int r = 0;

        nts = calloc(n, sizeof(*nts));
        q = rd_kafka_queue_new(rk);
        opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline);
        if (!nts || !q || !opts) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                if (!todo[i])
                        continue;
                nts[k] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, rf, e, sizeof(e));
                if (!nts[k]) {
                        snprintf(errbuf, errlen, "topic %s: %s", specs[i].name, e);
                        detail_add(&status[i], "%s", e);
                        r = -EINVAL;
                        goto out;
                }
                for (size_t c = 0; specs[i].configs && specs[i].configs[c]; c += 2)
                        rd_kafka_NewTopic_set_config(nts[k], specs[i].configs[c],
                                                     specs[i].configs[c + 1]);
                k++;
        }
        rd_kafka_CreateTopics(rk, nts, k, opts, q);
        ev = admin_wait(q, deadline);
        if (!ev || rd_kafka_event_error(ev)) {
                snprintf(errbuf, errlen, "create topics: %s",
                         ev ? rd_kafka_event_error_string(ev) : "no answer in time");
                r = ev ? oa_kafka_errno(rd_kafka_event_error(ev)) : -ETIMEDOUT;
                for (size_t i = 0; i < n; i++)
                        if (todo[i])
                                detail_add(&status[i], "%s", errbuf);
                goto out;
        }
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t j = 0; j < cnt; j++) {
                const char *name = rd_kafka_topic_result_name(res[j]);
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[j]);

                for (size_t i = 0; i < n; i++) {
                        if (!todo[i] || strcmp(specs[i].name, name) != 0)
                                continue;
                        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                                status[i].state = OA_KAFKA_TOPIC_CREATED;
                                status[i].partitions = specs[i].partitions;
                        } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                                todo[i] = false;
                        } else {
                                status[i].state = OA_KAFKA_TOPIC_FAILED;
                                detail_add(&status[i], "%s", rd_kafka_topic_result_error_string(res[j]));
                                if (r == 0) {
                                        snprintf(errbuf, errlen, "create topic %s: %s", name,
                                                 status[i].detail);
                                        r = oa_kafka_errno(err);
                                }
                        }
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        for (size_t i = 0; nts && i < k; i++)
                rd_kafka_NewTopic_destroy(nts[i]);
        free(nts);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (q)
                rd_kafka_queue_destroy(q);
        return r;
}

/* Compare the configs of the existing topics (check[i]) with their specs; a difference
 * makes the status MISMATCH. Not being able to look is a note, not a failure. */
static void check_configs(rd_kafka_t *rk, const oa_kafka_topic_spec *specs, size_t n,
                          const bool *check, int64_t deadline, oa_kafka_topic_status *status) {
        rd_kafka_ConfigResource_t **crs = calloc(n, sizeof(*crs));
        rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        const rd_kafka_ConfigResource_t **res;
        rd_kafka_event_t *ev = NULL;
        size_t k = 0, cnt;

        if (!crs || !opts || !q)
                goto out;
        for (size_t i = 0; i < n; i++)
                if (check[i] && specs[i].configs)
                        crs[k++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, specs[i].name);
        if (k == 0)
                goto out;
        rd_kafka_DescribeConfigs(rk, crs, k, opts, q);
        ev = admin_wait(q, deadline);
        if (!ev || rd_kafka_event_error(ev)) {
                for (size_t i = 0; i < n; i++)
                        if (check[i] && specs[i].configs)
                                detail_add(&status[i], "configs not checked: %s",
                                           ev ? rd_kafka_event_error_string(ev) : "no answer");
                goto out;
        }
        res = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        for (size_t j = 0; j < cnt; j++) {
                const rd_kafka_ConfigEntry_t **entries;
                size_t ecnt, i;

                for (i = 0; i < n; i++)
                        if (check[i] && strcmp(specs[i].name, rd_kafka_ConfigResource_name(res[j])) == 0)
                                break;
                if (i == n)
                        continue;
                if (rd_kafka_ConfigResource_error(res[j])) {
                        detail_add(&status[i], "configs not checked: %s",
                                   rd_kafka_ConfigResource_error_string(res[j]));
                        continue;
                }
                entries = rd_kafka_ConfigResource_configs(res[j], &ecnt);
                for (size_t c = 0; specs[i].configs[c]; c += 2) {
                        const char *want = specs[i].configs[c + 1], *have = NULL;

                        for (size_t x = 0; x < ecnt; x++)
                                if (strcmp(rd_kafka_ConfigEntry_name(entries[x]), specs[i].configs[c]) == 0)
                                        have = rd_kafka_ConfigEntry_value(entries[x]);
                        if (have && strcmp(have, want) == 0)
                                continue;
                        status[i].state = OA_KAFKA_TOPIC_MISMATCH;
                        detail_add(&status[i], "%s is %s, spec says %s", specs[i].configs[c],
                                   have ? have : "(unset)", want);
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        for (size_t i = 0; crs && i < k; i++)
                rd_kafka_ConfigResource_destroy(crs[i]);
        free(crs);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (q)
                rd_kafka_queue_destroy(q);
}

int oa_kafka_ensure_topics(rd_kafka_t *rk, const oa_kafka_topic_spec *specs, size_t n,
                           int replication_factor, int timeout_ms,
                           oa_kafka_topic_status *status, char *errbuf, size_t errlen) {
        const int64_t deadline = now_ms() + timeout_ms;
        const rd_kafka_metadata_t *md = NULL;
        bool *todo = NULL, *existing = NULL, any = false;
        int r, create_r = 0;

        if (errlen)
                errbuf[0] = '\0';
        for (size_t i = 0; i < n; i++)
                status[i] = (oa_kafka_topic_status) { .name = specs[i].name, .partitions = -1 };
        todo = calloc(n ? n : 1, sizeof(*todo));
        existing = calloc(n ? n : 1, sizeof(*existing));
        if (!todo || !existing) {
                r = -ENOMEM;
                goto out;
        }
        r = oa_kafka_metadata(rk, timeout_ms, &md, errbuf, errlen);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                todo[i] = !md_topic(md, specs[i].name);
                any |= todo[i];
        }
        /* A topic that cannot be created does not stop the others from being checked. */
        if (any)
                create_r = create_topics(rk, specs, n, todo, replication_factor, deadline,
                                         status, errbuf, errlen);
        /* Until every topic is visible with leaders, so that what runs next can use it. */
        for (;;) {
                bool all = true;

                rd_kafka_metadata_destroy(md);
                md = NULL;
                r = oa_kafka_metadata(rk, left_ms(deadline), &md, errbuf, errlen);
                if (r < 0)
                        goto out;
                for (size_t i = 0; i < n; i++)
                        if (!(todo[i] && status[i].state == OA_KAFKA_TOPIC_FAILED))
                                all &= md_topic_ready(md_topic(md, specs[i].name));
                if (all || now_ms() >= deadline)
                        break;
                rd_kafka_poll(rk, 200);
        }
        for (size_t i = 0; i < n; i++) {
                const rd_kafka_metadata_topic_t *t = md_topic(md, specs[i].name);

                if (todo[i] && status[i].state == OA_KAFKA_TOPIC_FAILED)
                        continue;
                if (status[i].state == OA_KAFKA_TOPIC_CREATED) {
                        if (!md_topic_ready(t))
                                detail_add(&status[i], "created, not yet visible with leaders");
                        continue;
                }
                if (!t) {
                        detail_add(&status[i], "not visible after creation");
                        snprintf(errbuf, errlen, "topic %s: not visible after creation", specs[i].name);
                        r = -ETIMEDOUT;
                        goto out;
                }
                existing[i] = true;
                status[i].state = OA_KAFKA_TOPIC_EXISTS;
                status[i].partitions = t->partition_cnt;
                if (t->partition_cnt != specs[i].partitions) {
                        status[i].state = OA_KAFKA_TOPIC_MISMATCH;
                        detail_add(&status[i], "partitions: %d, spec says %d", t->partition_cnt,
                                   specs[i].partitions);
                }
        }
        check_configs(rk, specs, n, existing, deadline, status);
        r = create_r;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        free(todo);
        free(existing);
        return r;
}

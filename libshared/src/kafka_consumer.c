/* The consumer, in two shapes over one handle type:
 *  - a group consumer (subscribe): at-least-once processing. enable.auto.offset.store is
 *    off, so only what the caller marks with oa_kcons_store after processing is ever
 *    committed (in the background, or by oa_kcons_commit, on revocation and on close).
 *  - a reader (assign, no group): the whole of one topic from the beginning, then follows
 *    it; it records each partition's high watermark when made and reports when it has
 *    returned everything up to them (oa_kcons_caught_up). For the compacted
 *    oa.projects.v1, which every daemon materialises in memory.
 * Everything (messages, errors, rebalances) is served by oa_kcons_poll on the caller's
 * thread (rd_kafka_poll_set_consumer). */
#include "oa/kafka.h"

#include "oa/buf.h"
#include "oa/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A reader needs a group.id for rd_kafka_assign, but never joins, fetches or commits. */
#define READER_GROUP_ID "oa.reader"

struct oa_kcons {
        rd_kafka_t *rk;
        bool closed;
        bool manual_commit;
        bool reader;
        /* reader only */
        char *topic;
        int n_parts;
        int64_t *hi;                    /* high watermark per partition when made */
        int64_t *next;                  /* next offset not yet returned, per partition */
        bool caught_up;
        /* group consumer: told of every assignment and revocation */
        oa_kcons_rebalance_fn *on_rebalance;
        void *on_rebalance_opaque;
};

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_partitions(const char *what, rd_kafka_t *rk,
                           const rd_kafka_topic_partition_list_t *parts) {
        oa_buf b;

        oa_buf_init(&b, 2048);
        for (int i = 0; parts && i < parts->cnt; i++)
                oa_buf_addf(&b, "%s%s[%d]", i ? "," : "", parts->elems[i].topic,
                            (int) parts->elems[i].partition);
        oa_log_info(what, "client", rd_kafka_name(rk), "partitions", b.data ? b.data : "");
        oa_buf_done(&b);
}

/* Called from oa_kcons_poll. Commits what was processed before partitions move to
 * another member; librdkafka does that itself only when auto commit is on. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        oa_kcons *kc = opaque;
        bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                log_partitions("kafka partitions assigned", rk, parts);
                if (coop)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        e = rd_kafka_assign(rk, parts);
                if (kc->on_rebalance && !error && !e)
                        kc->on_rebalance(true, parts, kc->on_rebalance_opaque);
        } else {
                log_partitions("kafka partitions revoked", rk, parts);
                /* before the commit, so what the caller stores now is committed */
                if (kc->on_rebalance)
                        kc->on_rebalance(false, parts, kc->on_rebalance_opaque);
                if (kc->manual_commit && !rd_kafka_assignment_lost(rk))
                        rd_kafka_commit(rk, NULL, 0);   /* errors reach the error callback */
                if (coop)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        e = rd_kafka_assign(rk, NULL);
        }
        if (error) {
                e = rd_kafka_error_code(error);
                rd_kafka_error_destroy(error);
        }
        if (e)
                oa_log_warn("kafka rebalance failed", "client", rd_kafka_name(rk), "error",
                            rd_kafka_err2str(e));
}

static int new_handle(oa_kcons *kc, rd_kafka_conf_t **conf, char *errbuf, size_t errlen) {
        rd_kafka_conf_set_opaque(*conf, kc);
        kc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errbuf, errlen);
        if (!kc->rk)
                return -EINVAL;
        *conf = NULL;                   /* owned by kc->rk now */
        rd_kafka_poll_set_consumer(kc->rk);
        return 0;
}

int oa_kcons_new(const oa_kafka_cfg *c, oa_kcons **ret_kc, char *errbuf, size_t errlen) {
        const char *defaults[] = {
                "enable.auto.offset.store", "false",
                "enable.auto.commit", c->manual_commit ? "false" : "true",
                "auto.offset.reset", c->auto_offset_reset ? c->auto_offset_reset : "earliest",
                NULL,
        };
        rd_kafka_conf_t *conf = NULL;
        oa_kcons *kc = NULL;
        char v[16];
        size_t vlen = sizeof(v);
        int r;

        if (!c->group_id || !*c->group_id) {
                snprintf(errbuf, errlen, "a group consumer needs a group.id");
                return -EINVAL;
        }
        kc = calloc(1, sizeof(*kc));
        if (!kc)
                return -ENOMEM;
        r = oa_kafka_conf_build_ex(c, defaults, &conf, errbuf, errlen);
        if (r < 0)
                goto out;
        /* Our default is false; true now means someone overrode it, which would commit
         * messages before they are processed. */
        if (rd_kafka_conf_get(conf, "enable.auto.offset.store", v, &vlen) != RD_KAFKA_CONF_OK ||
            strcmp(v, "false") != 0) {
                snprintf(errbuf, errlen, "enable.auto.offset.store cannot be changed: offsets "
                         "are stored only after processing (oa_kcons_store)");
                r = -EINVAL;
                goto out;
        }
        /* OA_KAFKA_X_ENABLE_AUTO_COMMIT may have changed what c->manual_commit asked for */
        vlen = sizeof(v);
        if (rd_kafka_conf_get(conf, "enable.auto.commit", v, &vlen) == RD_KAFKA_CONF_OK)
                kc->manual_commit = strcmp(v, "false") == 0;
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
        r = new_handle(kc, &conf, errbuf, errlen);
        if (r < 0)
                goto out;
        *ret_kc = kc;
        kc = NULL;
        r = 0;
out:
        if (conf)
                rd_kafka_conf_destroy(conf);
        oa_kcons_free(kc);
        return r;
}

void oa_kcons_on_rebalance(oa_kcons *kc, oa_kcons_rebalance_fn *fn, void *opaque) {
        kc->on_rebalance = fn;
        kc->on_rebalance_opaque = opaque;
}

int oa_kcons_subscribe(oa_kcons *kc, const char *const *topics, size_t n, char *errbuf,
                       size_t errlen) {
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t err;

        if (kc->reader || n == 0) {
                snprintf(errbuf, errlen, "subscribe needs a group consumer and a topic");
                return -EINVAL;
        }
        list = rd_kafka_topic_partition_list_new((int) n);
        if (!list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(kc->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err) {
                snprintf(errbuf, errlen, "subscribe: %s", rd_kafka_err2str(err));
                return oa_kafka_errno(err);
        }
        return 0;
}

static void reader_update(oa_kcons *kc) {
        for (int p = 0; p < kc->n_parts; p++)
                if (kc->next[p] < kc->hi[p])
                        return;
        kc->caught_up = true;
}

/* Note that partition p has been returned up to (not including) next. */
static void reader_advance(oa_kcons *kc, int32_t p, int64_t next) {
        if (!kc->reader || kc->caught_up || p < 0 || p >= kc->n_parts)
                return;
        if (next > kc->next[p])
                kc->next[p] = next;
        reader_update(kc);
}

/* Errors of a partition whose leadership is still settling (a broker just started, a
 * topic just created, a leader just moved): worth asking again until the deadline. */
static bool leader_moving(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
               err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH ||
               err == RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH;
}

/* The topic's partition count, waiting for its leaders to be known. */
static int reader_partitions(oa_kcons *kc, int64_t deadline, char *errbuf, size_t errlen) {
        rd_kafka_topic_t *rkt;
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err;
        int r;

        rkt = rd_kafka_topic_new(kc->rk, kc->topic, NULL);
        if (!rkt)
                return -ENOMEM;
        for (;;) {
                int64_t left = deadline - now_ms();

                err = rd_kafka_metadata(kc->rk, 0, rkt, &md, left > 0 ? (int) left : 1);
                if (err) {
                        snprintf(errbuf, errlen, "metadata for %s: %s", kc->topic,
                                 rd_kafka_err2str(err));
                        r = err == RD_KAFKA_RESP_ERR__TRANSPORT ? -ETIMEDOUT : oa_kafka_errno(err);
                        goto out;
                }
                err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
                if (!err && md->topics[0].partition_cnt > 0) {
                        kc->n_parts = md->topics[0].partition_cnt;
                        r = 0;
                        goto out;
                }
                if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                    err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || now_ms() >= deadline) {
                        snprintf(errbuf, errlen, "topic %s: %s", kc->topic,
                                 err ? rd_kafka_err2str(err) : "no partitions");
                        r = err ? oa_kafka_errno(err) : -ENOENT;
                        goto out;
                }
                /* e.g. LEADER_NOT_AVAILABLE right after the topic was created */
                rd_kafka_metadata_destroy(md);
                md = NULL;
                rd_kafka_poll(kc->rk, 100);
        }
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return r;
}

int oa_kcons_new_reader(const oa_kafka_cfg *c, const char *topic, int timeout_ms,
                        oa_kcons **ret_kc, char *errbuf, size_t errlen) {
        static const char *const defaults[] = { "group.id", READER_GROUP_ID, NULL };
        static const char *const pinned[] = {
                "enable.auto.commit", "false",          /* a reader has no group to commit to */
                "enable.auto.offset.store", "false",
                "enable.partition.eof", "true",         /* how we see the end of a partition */
                NULL,
        };
        const int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        rd_kafka_topic_partition_list_t *list = NULL;
        rd_kafka_conf_t *conf = NULL;
        oa_kafka_cfg rc = *c;
        oa_kcons *kc = NULL;
        rd_kafka_resp_err_t err;
        int r;

        if (!topic || !*topic)
                return -EINVAL;
        kc = calloc(1, sizeof(*kc));
        if (!kc)
                return -ENOMEM;
        kc->reader = true;
        kc->topic = strdup(topic);
        if (!kc->topic) {
                r = -ENOMEM;
                goto out;
        }
        rc.group_id = NULL;
        r = oa_kafka_conf_build_ex(&rc, defaults, &conf, errbuf, errlen);
        if (r < 0)
                goto out;
        for (size_t i = 0; pinned[i]; i += 2) {
                r = oa_kafka_conf_set(conf, pinned[i], pinned[i + 1], errbuf, errlen);
                if (r < 0)
                        goto out;
        }
        r = new_handle(kc, &conf, errbuf, errlen);
        if (r < 0)
                goto out;
        r = reader_partitions(kc, deadline, errbuf, errlen);
        if (r < 0)
                goto out;
        kc->hi = calloc((size_t) kc->n_parts, sizeof(*kc->hi));
        kc->next = calloc((size_t) kc->n_parts, sizeof(*kc->next));
        list = rd_kafka_topic_partition_list_new(kc->n_parts);
        if (!kc->hi || !kc->next || !list) {
                r = -ENOMEM;
                goto out;
        }
        for (int p = 0; p < kc->n_parts; p++) {
                int64_t lo, hi, left;

                for (;;) {
                        left = deadline - now_ms();
                        err = rd_kafka_query_watermark_offsets(kc->rk, topic, p, &lo, &hi,
                                                               left > 0 ? (int) left : 1);
                        if (!err || !leader_moving(err) || now_ms() >= deadline)
                                break;
                        rd_kafka_poll(kc->rk, 100);
                }
                if (err) {
                        snprintf(errbuf, errlen, "watermarks of %s[%d]: %s", topic, p,
                                 rd_kafka_err2str(err));
                        r = err == RD_KAFKA_RESP_ERR__TRANSPORT ? -ETIMEDOUT : oa_kafka_errno(err);
                        goto out;
                }
                kc->hi[p] = hi;
                kc->next[p] = lo;       /* below lo nothing is left to read */
                rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        reader_update(kc);
        err = rd_kafka_assign(kc->rk, list);
        if (err) {
                snprintf(errbuf, errlen, "assign %s: %s", topic, rd_kafka_err2str(err));
                r = oa_kafka_errno(err);
                goto out;
        }
        *ret_kc = kc;
        kc = NULL;
        r = 0;
out:
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        if (conf)
                rd_kafka_conf_destroy(conf);
        oa_kcons_free(kc);
        return r;
}

bool oa_kcons_caught_up(const oa_kcons *kc) {
        return kc && kc->reader && kc->caught_up;
}

void oa_kmsg_done(oa_kmsg *m) {
        if (!m || !m->rkm)
                return;
        rd_kafka_message_destroy(m->rkm);
        m->rkm = NULL;
}

int oa_kcons_poll(oa_kcons *kc, int timeout_ms, oa_kmsg *ret_msg, char *errbuf,
                  size_t errlen) {
        rd_kafka_message_t *rkm;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts;
        int r;

        if (kc->closed)
                return -ESHUTDOWN;
        rkm = rd_kafka_consumer_poll(kc->rk, timeout_ms);
        if (!rkm)
                return 0;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                /* The EOF offset is the partition's end when it was reached: it also covers
                 * offsets that never arrive as messages (compacted away, control records). */
                reader_advance(kc, rkm->partition, rkm->offset);
                rd_kafka_message_destroy(rkm);
                return 0;
        }
        if (rkm->err) {
                snprintf(errbuf, errlen, "%s%s%s", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
                         rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
                r = oa_kafka_errno(rkm->err);
                rd_kafka_message_destroy(rkm);
                return r;
        }
        ts = rd_kafka_message_timestamp(rkm, &tstype);
        *ret_msg = (oa_kmsg) {
                .topic = rd_kafka_topic_name(rkm->rkt),
                .partition = rkm->partition,
                .offset = rkm->offset,
                .key = rkm->key,
                .key_len = rkm->key_len,
                .value = rkm->payload,
                .value_len = rkm->len,
                .timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
                .rkm = rkm,
        };
        reader_advance(kc, rkm->partition, rkm->offset + 1);
        return 1;
}

int oa_kcons_store(oa_kcons *kc, const char *topic, int32_t partition, int64_t offset) {
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t err;

        if (kc->reader || kc->closed || !topic || offset < 0)
                return -EINVAL;
        list = rd_kafka_topic_partition_list_new(1);
        if (!list)
                return -ENOMEM;
        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset + 1;
        err = rd_kafka_offsets_store(kc->rk, list);
        if (!err)
                err = list->elems[0].err;
        rd_kafka_topic_partition_list_destroy(list);
        if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
                return -ESTALE;
        return oa_kafka_errno(err);
}

int oa_kcons_store_msg(oa_kcons *kc, const oa_kmsg *m) {
        return oa_kcons_store(kc, m->topic, m->partition, m->offset);
}

int oa_kcons_commit(oa_kcons *kc, char *errbuf, size_t errlen) {
        rd_kafka_resp_err_t err;

        if (kc->reader || kc->closed)
                return 0;
        err = rd_kafka_commit(kc->rk, NULL, 0);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
                return 0;
        snprintf(errbuf, errlen, "commit: %s", rd_kafka_err2str(err));
        return oa_kafka_errno(err);
}

int oa_kcons_close(oa_kcons *kc, char *errbuf, size_t errlen) {
        rd_kafka_resp_err_t err;
        int r;

        if (kc->closed)
                return 0;
        r = oa_kcons_commit(kc, errbuf, errlen);
        /* closed only afterwards: the revocation inside close may still store offsets
         * (oa_kcons_on_rebalance), and they are committed with it */
        err = rd_kafka_consumer_close(kc->rk);
        kc->closed = true;
        if (err && r == 0) {
                snprintf(errbuf, errlen, "close: %s", rd_kafka_err2str(err));
                r = oa_kafka_errno(err);
        }
        return r;
}

rd_kafka_t *oa_kcons_rk(oa_kcons *kc) {
        return kc ? kc->rk : NULL;
}

oa_kcons *oa_kcons_free(oa_kcons *kc) {
        if (!kc)
                return NULL;
        if (kc->rk) {
                if (!kc->closed)
                        oa_kcons_close(kc, NULL, 0);
                rd_kafka_destroy(kc->rk);
        }
        free(kc->topic);
        free(kc->hi);
        free(kc->next);
        free(kc);
        return NULL;
}

/* The producer: an idempotent librdkafka producer (acks=all, small linger) whose queue is
 * never waited on: a full queue is answered -ENOBUFS at once, so an HTTP daemon can answer
 * 503 instead of stalling its event loop. Delivery reports reach the caller's callback
 * from oa_kprod_poll/flush/free, carrying the per-message opaque given to produce. */
#include "oa/kafka.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_TIMEOUT_MS_DEFAULT 10000

#define TOPICS_MAX 8                    /* topic handles kept; more are looked up per message */

struct oa_kprod {
        rd_kafka_t *rk;
        oa_kprod_dr_fn *dr;
        void *cb_opaque;
        int close_timeout_ms;
        /* Topic handles, made on first use: a topic given by name is looked up by
         * librdkafka under its write lock on every message, a handle is not. */
        pthread_mutex_t topics_mu;
        rd_kafka_topic_t *topics[TOPICS_MAX];
        const char *topic_names[TOPICS_MAX];    /* rd_kafka_topic_name of each */
        size_t n_topics;
};

/* Defaults a caller may override (through props or OA_KAFKA_X_*). Idempotence gives
 * ordered, duplicate-free retries per partition and needs acks=all anyway. */
static const char *const producer_defaults[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "linger.ms", "5",
        NULL,
};

/* Runs on the thread that polls (oa_kprod_poll, flush, free). */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        oa_kprod *kp = opaque;
        oa_kprod_report r;

        if (!kp || !kp->dr)
                return;
        r = (oa_kprod_report) {
                .msg_opaque = m->_private,
                .err = oa_kafka_errno(m->err),
                .rd_err = m->err,
                /* not rd_kafka_message_errstr: for a producer it returns the payload
                 * (not NUL-terminated), which librdkafka documents as a misuse */
                .errstr = m->err ? rd_kafka_err2str(m->err) : "",
                .topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                .partition = m->partition,
                .offset = m->err ? -1 : m->offset,
                .possibly_persisted = m->err &&
                                      rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED,
        };
        kp->dr(&r, kp->cb_opaque);
}

int oa_kprod_new(const oa_kafka_cfg *c, oa_kprod_dr_fn *dr, void *cb_opaque,
                 oa_kprod **ret_kp, char *errbuf, size_t errlen) {
        rd_kafka_conf_t *conf = NULL;
        oa_kprod *kp = NULL;
        int r;

        kp = calloc(1, sizeof(*kp));
        if (!kp)
                return -ENOMEM;
        pthread_mutex_init(&kp->topics_mu, NULL);
        kp->dr = dr;
        kp->cb_opaque = cb_opaque;
        kp->close_timeout_ms = c->close_timeout_ms > 0 ? c->close_timeout_ms :
                               CLOSE_TIMEOUT_MS_DEFAULT;
        r = oa_kafka_conf_build_ex(c, producer_defaults, &conf, errbuf, errlen);
        if (r < 0)
                goto out;
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
        rd_kafka_conf_set_opaque(conf, kp);
        kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
        if (!kp->rk) {
                r = -EINVAL;
                goto out;
        }
        conf = NULL;                    /* owned by kp->rk now */
        *ret_kp = kp;
        kp = NULL;
        r = 0;
out:
        if (conf)
                rd_kafka_conf_destroy(conf);
        oa_kprod_free(kp);
        return r;
}

/* The kept handle of topic, made on first use; NULL when TOPICS_MAX are kept already.
 * Handles are only ever appended: a reader sees n_topics (acquire) and the handles
 * before it without the lock, and only a miss takes it. */
static rd_kafka_topic_t *topic_handle(oa_kprod *kp, const char *topic) {
        rd_kafka_topic_t *rkt = NULL;
        size_t n = __atomic_load_n(&kp->n_topics, __ATOMIC_ACQUIRE);

        for (size_t i = 0; i < n; i++)
                if (kp->topic_names[i] == topic || strcmp(kp->topic_names[i], topic) == 0)
                        return kp->topics[i];
        pthread_mutex_lock(&kp->topics_mu);
        for (size_t i = 0; i < kp->n_topics && !rkt; i++)
                if (strcmp(kp->topic_names[i], topic) == 0)
                        rkt = kp->topics[i];
        if (!rkt && kp->n_topics < TOPICS_MAX) {
                rkt = rd_kafka_topic_new(kp->rk, topic, NULL);
                if (rkt) {
                        kp->topics[kp->n_topics] = rkt;
                        kp->topic_names[kp->n_topics] = rd_kafka_topic_name(rkt);
                        __atomic_store_n(&kp->n_topics, kp->n_topics + 1, __ATOMIC_RELEASE);
                }
        }
        pthread_mutex_unlock(&kp->topics_mu);
        return rkt;
}

int oa_kprod_produce(oa_kprod *kp, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t value_len, void *msg_opaque) {
        rd_kafka_vu_t vu[5];
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t err;
        rd_kafka_topic_t *rkt;
        size_t n = 0;

        if (!kp || !topic || !*topic)
                return -EINVAL;
        /* rd_kafka_produceva, not producev: the V_ macros use GNU statement expressions. */
        rkt = topic_handle(kp, topic);
        if (rkt) {
                vu[n].vtype = RD_KAFKA_VTYPE_RKT;
                vu[n++].u.rkt = rkt;
        } else {
                vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
                vu[n++].u.cstr = topic;
        }
        vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        vu[n++].u.i = RD_KAFKA_MSG_F_COPY;      /* no RD_KAFKA_MSG_F_BLOCK: never wait */
        if (key) {
                vu[n].vtype = RD_KAFKA_VTYPE_KEY;
                vu[n].u.mem.ptr = (void *) key;
                vu[n++].u.mem.size = key_len;
        }
        if (value) {
                vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
                vu[n].u.mem.ptr = (void *) value;
                vu[n++].u.mem.size = value_len;
        }
        vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
        vu[n++].u.ptr = msg_opaque;

        error = rd_kafka_produceva(kp->rk, vu, n);
        if (!error)
                return 0;
        err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        return oa_kafka_errno(err);
}

size_t oa_kprod_produce_batch(oa_kprod *kp, const char *topic, oa_kprod_msg *msgs, size_t n) {
        rd_kafka_message_t stack[64], *rm = stack;
        rd_kafka_topic_t *rkt;
        size_t queued = 0;
        int err;

        if (n == 0)
                return 0;
        rkt = kp && topic && *topic && n <= INT_MAX ? topic_handle(kp, topic) : NULL;
        if (rkt && n > sizeof(stack) / sizeof(stack[0]))
                rm = malloc(n * sizeof(*rm));
        if (!rkt || !rm) {
                /* no handle (or no memory for the batch): one message at a time */
                for (size_t i = 0; i < n; i++) {
                        msgs[i].err = oa_kprod_produce(kp, topic, msgs[i].key, msgs[i].key_len,
                                                       msgs[i].value, msgs[i].value_len, msgs[i].msg_opaque);
                        queued += msgs[i].err == 0;
                }
                return queued;
        }
        memset(rm, 0, n * sizeof(*rm));
        for (size_t i = 0; i < n; i++) {
                rm[i].payload = (void *) msgs[i].value;
                rm[i].len = msgs[i].value_len;
                rm[i].key = (void *) msgs[i].key;
                rm[i].key_len = msgs[i].key ? msgs[i].key_len : 0;
                rm[i]._private = msgs[i].msg_opaque;
        }
        /* RD_KAFKA_PARTITION_UA: the partitioner runs per message, as for produceva */
        rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, rm, (int) n);
        for (size_t i = 0; i < n; i++) {
                err = oa_kafka_errno(rm[i].err);
                msgs[i].err = err;
                queued += err == 0;
        }
        if (rm != stack)
                free(rm);
        return queued;
}

int oa_kprod_poll(oa_kprod *kp) {
        return kp ? rd_kafka_poll(kp->rk, 0) : 0;
}

int oa_kprod_flush(oa_kprod *kp, int timeout_ms) {
        rd_kafka_resp_err_t err;

        if (!kp)
                return 0;
        err = rd_kafka_flush(kp->rk, timeout_ms);
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -ETIMEDOUT;
}

int oa_kprod_outq_len(oa_kprod *kp) {
        return kp ? rd_kafka_outq_len(kp->rk) : 0;
}

int oa_kprod_fatal_error(oa_kprod *kp, char *errbuf, size_t errlen) {
        rd_kafka_resp_err_t err;

        if (errlen)
                errbuf[0] = '\0';
        err = rd_kafka_fatal_error(kp->rk, errbuf, errlen);
        return err ? -ENOTRECOVERABLE : 0;
}

rd_kafka_t *oa_kprod_rk(oa_kprod *kp) {
        return kp ? kp->rk : NULL;
}

oa_kprod *oa_kprod_free(oa_kprod *kp) {
        if (!kp)
                return NULL;
        if (kp->rk) {
                /* Reports for the messages that make it arrive during the flush; what is
                 * left is purged, so dr still hears of it (-ECANCELED) instead of nothing. */
                if (rd_kafka_flush(kp->rk, kp->close_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                        rd_kafka_flush(kp->rk, 1000);
                }
                for (size_t i = 0; i < kp->n_topics; i++)
                        rd_kafka_topic_destroy(kp->topics[i]);
                rd_kafka_destroy(kp->rk);
        }
        pthread_mutex_destroy(&kp->topics_mu);
        free(kp);
        return NULL;
}

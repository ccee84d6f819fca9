/* Kafka's health (oa_kprobe_ in oa/kafka.h): one topic's metadata, asked every few
 * seconds on the daemon's own handle. rd_kafka_metadata blocks, so it runs on a thread of
 * the probe's own; the event loop hands a question over and collects the answer under a
 * mutex, never waiting. Scheduling (when the next question is due, whether Kafka counts
 * as down) stays on the loop's side. */
#include "oa/kafka.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct oa_kprobe {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        bool down;                      /* the loop's side only */
        int64_t next_ms;
        pthread_t thread;
        pthread_mutex_t lock;           /* guards what follows */
        pthread_cond_t cond;
        bool asked;                     /* a question waits for the thread or is in flight */
        bool answered;                  /* an answer waits for oa_kprobe_poll */
        bool stop;
        int wait_ms;
        rd_kafka_resp_err_t err;
};

static void *ask(void *arg) {
        oa_kprobe *p = arg;
        const rd_kafka_metadata_t *md;
        rd_kafka_resp_err_t e;
        int wait_ms;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->stop && (!p->asked || p->answered))
                        pthread_cond_wait(&p->cond, &p->lock);
                if (p->stop)
                        break;
                wait_ms = p->wait_ms;
                pthread_mutex_unlock(&p->lock);
                md = NULL;
                e = rd_kafka_metadata(p->rk, 0, p->rkt, &md, wait_ms);
                if (md)
                        rd_kafka_metadata_destroy(md);
                pthread_mutex_lock(&p->lock);
                p->err = e;
                p->answered = true;
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int oa_kprobe_new(rd_kafka_t *rk, const char *topic, int64_t now_ms, oa_kprobe **ret) {
        oa_kprobe *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        p->rk = rk;
        p->rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!p->rkt) {
                free(p);
                return -ENOMEM;
        }
        p->next_ms = now_ms + OA_KPROBE_EVERY_MS;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        r = pthread_create(&p->thread, NULL, ask, p);
        if (r != 0) {
                pthread_cond_destroy(&p->cond);
                pthread_mutex_destroy(&p->lock);
                rd_kafka_topic_destroy(p->rkt);
                free(p);
                return -r;
        }
        *ret = p;
        return 0;
}

oa_kprobe *oa_kprobe_free(oa_kprobe *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        rd_kafka_topic_destroy(p->rkt);
        free(p);
        return NULL;
}

int oa_kprobe_poll(oa_kprobe *p, int64_t now_ms, char *errbuf, size_t errlen) {
        rd_kafka_resp_err_t e;

        pthread_mutex_lock(&p->lock);
        if (!p->answered) {
                if (!p->asked && now_ms >= p->next_ms) {
                        p->asked = true;
                        p->wait_ms = p->down ? OA_KPROBE_DOWN_WAIT_MS : OA_KPROBE_WAIT_MS;
                        pthread_cond_signal(&p->cond);
                }
                pthread_mutex_unlock(&p->lock);
                return -EAGAIN;
        }
        e = p->err;
        p->answered = false;
        p->asked = false;
        pthread_mutex_unlock(&p->lock);
        p->down = e != RD_KAFKA_RESP_ERR_NO_ERROR;
        if (p->down)
                snprintf(errbuf, errlen, "%s", rd_kafka_err2str(e));
        /* from the end of the question: a slow answer does not make the next one due */
        p->next_ms = now_ms + (p->down ? OA_KPROBE_DOWN_EVERY_MS : OA_KPROBE_EVERY_MS);
        return p->down ? 0 : 1;
}

void oa_kprobe_answered(oa_kprobe *p, int64_t now_ms) {
        p->down = false;
        p->next_ms = now_ms + OA_KPROBE_EVERY_MS;
}

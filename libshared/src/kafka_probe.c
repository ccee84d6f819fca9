/* Kafka's health (oa_kprobe_ in oa/kafka.h): one topic's metadata, asked with a short
 * timeout every few seconds on the daemon's own handle. */
#include "oa/kafka.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct oa_kprobe {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        bool down;
        int64_t next_ms;
};

int oa_kprobe_new(rd_kafka_t *rk, const char *topic, int64_t now_ms, oa_kprobe **ret) {
        oa_kprobe *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->rk = rk;
        p->rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!p->rkt) {
                free(p);
                return -ENOMEM;
        }
        p->next_ms = now_ms + OA_KPROBE_EVERY_MS;
        *ret = p;
        return 0;
}

oa_kprobe *oa_kprobe_free(oa_kprobe *p) {
        if (!p)
                return NULL;
        rd_kafka_topic_destroy(p->rkt);
        free(p);
        return NULL;
}

int oa_kprobe_poll(oa_kprobe *p, int64_t now_ms, char *errbuf, size_t errlen) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e;

        if (now_ms < p->next_ms)
                return -EAGAIN;
        e = rd_kafka_metadata(p->rk, 0, p->rkt, &md, p->down ? OA_KPROBE_DOWN_WAIT_MS : OA_KPROBE_WAIT_MS);
        if (md)
                rd_kafka_metadata_destroy(md);
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

/* Materialising oa.projects.v1. The reader is librdkafka without a consumer group: every
 * process needs every record, and nothing is committed; a restart reads the compacted
 * topic again from the start, which is what makes it the source of truth. */
#include "oa/projects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct oa_projects {
        oa_kcons *reader;
        oa_catalog *catalog;
        oa_projects_bad_fn *bad;
        void *ud;
        uint64_t n_read;
        uint64_t n_bad;
        bool announced;         /* oa_projects_follow said the start-up read is complete */
        int64_t err_ms;         /* when the reader last failed (the caller's clock); 0: never */
        char err[200];
};

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int oa_projects_new(const oa_kafka_cfg *c, const char *topic, int timeout_ms,
                    oa_projects_bad_fn *bad, void *ud, oa_projects **ret, char *errbuf,
                    size_t errlen) {
        oa_projects *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->bad = bad;
        p->ud = ud;
        p->catalog = oa_catalog_new();
        if (!p->catalog) {
                r = -ENOMEM;
                goto out;
        }
        r = oa_kcons_new_reader(c, topic ? topic : OA_TOPIC_PROJECTS, timeout_ms, &p->reader, errbuf, errlen);
        if (r < 0)
                goto out;
        *ret = p;
        p = NULL;
        r = 0;
out:
        oa_projects_free(p);
        return r;
}

oa_projects *oa_projects_free(oa_projects *p) {
        if (!p)
                return NULL;
        oa_kcons_free(p->reader);
        oa_catalog_free(p->catalog);
        free(p);
        return NULL;
}

int oa_projects_poll(oa_projects *p, int timeout_ms, int max, char *errbuf, size_t errlen) {
        char reason[256];
        int n = 0, r;

        while (n < max) {
                oa_kmsg m;

                r = oa_kcons_poll(p->reader, n == 0 ? timeout_ms : 0, &m, errbuf, errlen);
                if (r < 0)
                        return n ? n : r;
                if (r == 0)
                        break;
                n++;
                p->n_read++;
                if (!m.key) {
                        p->n_bad++;
                        if (p->bad)
                                p->bad(&m, -EBADMSG, "record without a key", p->ud);
                } else {
                        r = oa_catalog_apply(p->catalog, m.key, m.key_len, m.value, m.value_len, reason,
                                             sizeof(reason));
                        if (r < 0) {
                                p->n_bad++;
                                if (p->bad)
                                        p->bad(&m, r, reason, p->ud);
                        }
                }
                oa_kmsg_done(&m);
        }
        return n;
}

int oa_projects_sync(oa_projects *p, int timeout_ms, char *errbuf, size_t errlen) {
        struct timespec start, now;
        long elapsed;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!oa_kcons_caught_up(p->reader)) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (elapsed >= timeout_ms) {
                        snprintf(errbuf, errlen, "the projects topic was not read to its end within %d ms", timeout_ms);
                        return -ETIMEDOUT;
                }
                r = oa_projects_poll(p, 100, 10000, errbuf, errlen);
                if (r == -ENOTRECOVERABLE)
                        return r;
        }
        return 0;
}

void oa_projects_follow(oa_projects *p, int64_t now_ms, oa_projects_turn *ret) {
        char err[256];
        int r;

        memset(ret, 0, sizeof(*ret));
        do {
                r = oa_projects_poll(p, 0, OA_PROJECTS_READ_BATCH, err, sizeof(err));
                if (r > 0)
                        ret->read += r;
        } while (r == OA_PROJECTS_READ_BATCH && ret->read < OA_PROJECTS_TURN_MAX);
        if (r < 0) {
                ret->err = r;
                ret->err_is_news = strcmp(err, p->err) != 0 || p->err_ms == 0 ||
                                   now_ms - p->err_ms > OA_PROJECTS_ERR_MS;
                snprintf(p->err, sizeof(p->err), "%.190s", err);
                p->err_ms = now_ms;
                ret->errstr = p->err;
        }
        if (!p->announced && oa_projects_ready(p)) {
                p->announced = true;
                ret->became_ready = true;
        }
}

const char *oa_projects_recent_error(const oa_projects *p, int64_t now_ms) {
        return p->err_ms && now_ms - p->err_ms < OA_PROJECTS_ERR_MS ? p->err : NULL;
}

bool oa_projects_ready(const oa_projects *p) {
        return oa_kcons_caught_up(p->reader);
}

const oa_catalog *oa_projects_catalog(const oa_projects *p) {
        return p->catalog;
}

rd_kafka_t *oa_projects_rk(oa_projects *p) {
        return oa_kcons_rk(p->reader);
}

uint64_t oa_projects_n_read(const oa_projects *p) {
        return p->n_read;
}

uint64_t oa_projects_n_bad(const oa_projects *p) {
        return p->n_bad;
}

int oa_projects_record_key(const Oa__Record *rec, char *buf, size_t len) {
        const char *kind, *id;
        int n;

        switch (rec->entity_case) {
        case OA__RECORD__ENTITY_ACCOUNT:
                kind = "account";
                id = rec->account->id;
                break;
        case OA__RECORD__ENTITY_PROJECT:
                kind = "project";
                id = rec->project->id;
                break;
        case OA__RECORD__ENTITY_API_KEY:
                kind = "key";
                id = rec->api_key->id;
                break;
        default:
                return -EINVAL;
        }
        if (!id || !*id)
                return -EINVAL;
        n = snprintf(buf, len, "%s/%s", kind, id);
        if (n < 0 || (size_t) n >= len)
                return -ENAMETOOLONG;
        return n;
}

int oa_projects_publish(oa_kprod *kp, const char *topic, Oa__Record *rec, void *msg_opaque) {
        char key[300];
        uint8_t *buf;
        size_t n;
        int klen, r;

        klen = oa_projects_record_key(rec, key, sizeof(key));
        if (klen < 0)
                return klen;
        rec->version = 1;
        if (!rec->updated_ms)
                rec->updated_ms = now_ms();
        n = oa__record__get_packed_size(rec);
        buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        oa__record__pack(rec, buf);
        r = oa_kprod_produce(kp, topic ? topic : OA_TOPIC_PROJECTS, key, (size_t) klen, buf, n, msg_opaque);
        free(buf);
        return r;
}

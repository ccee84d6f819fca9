/* The insert worker: one thread with its own ClickHouse connection that runs one insert
 * at a time, so that the loop builds the next batch while ClickHouse takes the previous
 * one. It only sends: what an outcome means (retry, "did it land", offsets) is decided by
 * the loop (consume.c), which hands over at most one insert and waits for its result
 * before the next. The bytes handed over stay untouched by the loop until the result is
 * taken. */
#include "sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IDLE, QUEUED, DONE, QUIT };

struct oa_sink_ins {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        oa_ch *ch;
        int state;
        const char *sql;
        const oa_buf *data;
        int result;
        int64_t ms;
        char err[256];
};

static void *run(void *arg) {
        oa_sink_ins *w = arg;

        pthread_mutex_lock(&w->mu);
        for (;;) {
                while (w->state != QUEUED && w->state != QUIT)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (w->state == QUIT)
                        break;
                pthread_mutex_unlock(&w->mu);
                {
                        oa_ch_req req = { .sql = w->sql, .data = w->data->data, .data_len = w->data->len };
                        int64_t t0 = oa_sink_mono_ms();
                        int r;

                        w->err[0] = '\0';
                        r = oa_ch_request(w->ch, &req, w->err, sizeof(w->err));
                        pthread_mutex_lock(&w->mu);
                        w->result = r;
                        w->ms = oa_sink_mono_ms() - t0;
                }
                w->state = DONE;
                pthread_cond_broadcast(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

int oa_sink_ins_new(const oa_ch_cfg *c, oa_sink_ins **ret_w, char *errbuf, size_t errlen) {
        oa_sink_ins *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        r = oa_ch_new(c, &w->ch, errbuf, errlen);
        if (r < 0) {
                free(w);
                return r;
        }
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        r = -pthread_create(&w->thread, NULL, run, w);
        if (r < 0) {
                pthread_cond_destroy(&w->cv);
                pthread_mutex_destroy(&w->mu);
                oa_ch_free(w->ch);
                free(w);
                return r;
        }
        *ret_w = w;
        return 0;
}

oa_sink_ins *oa_sink_ins_free(oa_sink_ins *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->mu);
        while (w->state == QUEUED)      /* an insert cannot be cut short: let it end */
                pthread_cond_wait(&w->cv, &w->mu);
        w->state = QUIT;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        oa_ch_free(w->ch);
        free(w);
        return NULL;
}

int oa_sink_ins_submit(oa_sink_ins *w, const char *sql, const oa_buf *data) {
        int r = 0;

        pthread_mutex_lock(&w->mu);
        if (w->state != IDLE)
                r = -EBUSY;
        else {
                w->sql = sql;
                w->data = data;
                w->state = QUEUED;
                pthread_cond_broadcast(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        return r;
}

bool oa_sink_ins_busy(oa_sink_ins *w) {
        bool busy;

        pthread_mutex_lock(&w->mu);
        busy = w->state == QUEUED;
        pthread_mutex_unlock(&w->mu);
        return busy;
}

int oa_sink_ins_wait(oa_sink_ins *w, int64_t *ret_ms, char *errbuf, size_t errlen) {
        int r;

        pthread_mutex_lock(&w->mu);
        while (w->state == QUEUED)
                pthread_cond_wait(&w->cv, &w->mu);
        if (w->state != DONE) {
                pthread_mutex_unlock(&w->mu);
                return -ECHILD;         /* nothing was handed over */
        }
        r = w->result;
        *ret_ms = w->ms;
        if (r < 0)
                snprintf(errbuf, errlen, "%s", w->err);
        w->state = IDLE;
        pthread_mutex_unlock(&w->mu);
        return r;
}

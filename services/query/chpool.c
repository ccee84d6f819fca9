/* The ClickHouse workers: threads, each with its own connection, that run the stats
 * reads' queries so the event loop never waits on ClickHouse (a 10-second read does not
 * hold up /realtime, /healthz or the reads answered from the cache meanwhile).
 *
 * A job is submitted on the loop, run on a worker (job->run: ClickHouse only, nothing of
 * the loop's), and handed back to the loop through an eventfd (job->done), in the order
 * the workers finish. The queue is bounded: past OA_QUERY_CLICKHOUSE_QUEUE waiting jobs,
 * submit refuses and the route answers 503 with Retry-After rather than letting
 * requests pile up behind a slow database. */
#include "query.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct worker {
        pthread_t thread;
        bool started;
        oa_ch *ch;
        struct oa_query_chpool *pool;
} worker;

struct oa_query_chpool {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        oa_query_chjob *todo, **todo_tail;      /* waiting for a worker */
        oa_query_chjob *done, **done_tail;      /* finished, for the loop */
        size_t n_todo, max_todo;
        size_t n_running;
        bool stopping;
        int efd;
        size_t n;
        worker w[];
};

static void *work(void *arg) {
        worker *w = arg;
        oa_query_chpool *p = w->pool;

        pthread_mutex_lock(&p->mu);
        for (;;) {
                oa_query_chjob *j;

                while (!p->todo && !p->stopping)
                        pthread_cond_wait(&p->cv, &p->mu);
                if (p->stopping)
                        break;
                j = p->todo;
                p->todo = j->next;
                if (!p->todo)
                        p->todo_tail = &p->todo;
                p->n_todo--;
                p->n_running++;
                pthread_mutex_unlock(&p->mu);

                j->run(j, w->ch);

                pthread_mutex_lock(&p->mu);
                p->n_running--;
                j->next = NULL;
                *p->done_tail = j;
                p->done_tail = &j->next;
                /* the loop's eventfd: a counter, never blocks short of 2^64 - 1 writes */
                (void) !write(p->efd, &(uint64_t) { 1 }, sizeof(uint64_t));
        }
        pthread_mutex_unlock(&p->mu);
        return NULL;
}

/* Take the finished jobs (under the lock), then hand them over (without it). */
static oa_query_chjob *take_done(oa_query_chpool *p) {
        oa_query_chjob *j;

        pthread_mutex_lock(&p->mu);
        j = p->done;
        p->done = NULL;
        p->done_tail = &p->done;
        pthread_mutex_unlock(&p->mu);
        return j;
}

static void on_done(int fd, void *userdata) {
        oa_query *q = userdata;
        uint64_t n;
        oa_query_chjob *j, *next;

        (void) !read(fd, &n, sizeof(n));
        for (j = take_done(q->chpool); j; j = next) {
                next = j->next;
                j->done(j, true);
        }
        oa_metrics_gauge_set(q->m.ch_queued, (double) oa_query_chpool_waiting(q->chpool));
}

int oa_query_chpool_start(oa_query *q, const oa_ch_cfg *c, size_t workers, size_t max_queued,
                          char *errbuf, size_t errlen) {
        oa_query_chpool *p = calloc(1, sizeof(*p) + workers * sizeof(worker));
        int r;

        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->todo_tail = &p->todo;
        p->done_tail = &p->done;
        p->max_todo = max_queued;
        p->n = workers;
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        q->chpool = p;
        if (p->efd < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "eventfd: %s", strerror(-r));
                return r;
        }
        r = oa_http_server_watch_fd(q->srv, p->efd, on_done, q);
        if (r < 0) {
                snprintf(errbuf, errlen, "watching the workers' eventfd: %s", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < workers; i++) {
                worker *w = &p->w[i];

                w->pool = p;
                r = oa_ch_new(c, &w->ch, errbuf, errlen);
                if (r < 0)
                        return r;
                r = -pthread_create(&w->thread, NULL, work, w);
                if (r < 0) {
                        snprintf(errbuf, errlen, "starting a ClickHouse worker: %s", strerror(-r));
                        return r;
                }
                w->started = true;
        }
        return 0;
}

int oa_query_chpool_submit(oa_query_chpool *p, oa_query_chjob *job) {
        pthread_mutex_lock(&p->mu);
        if (p->n_todo >= p->max_todo || p->stopping) {
                pthread_mutex_unlock(&p->mu);
                return -EBUSY;
        }
        job->next = NULL;
        *p->todo_tail = job;
        p->todo_tail = &job->next;
        p->n_todo++;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return 0;
}

size_t oa_query_chpool_waiting(oa_query_chpool *p) {
        size_t n;

        pthread_mutex_lock(&p->mu);
        n = p->n_todo + p->n_running;
        pthread_mutex_unlock(&p->mu);
        return n;
}

void oa_query_chpool_stop(oa_query *q) {
        oa_query_chpool *p = q->chpool;
        oa_query_chjob *j, *next;

        if (!p)
                return;
        /* a worker in a query finishes it (bounded by OA_QUERY_CLICKHOUSE_TIMEOUT_MS);
         * what still waits is not started */
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->n; i++) {
                if (p->w[i].started)
                        pthread_join(p->w[i].thread, NULL);
                oa_ch_free(p->w[i].ch);
        }
        for (j = p->todo; j; j = next) {
                next = j->next;
                j->done(j, false);
        }
        for (j = p->done; j; j = next) {
                next = j->next;
                j->done(j, false);
        }
        if (p->efd >= 0)
                close(p->efd);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        q->chpool = NULL;
}

/* ---- requests seen from work that may outlive them ---- */

static void ref_gone(void *p) {
        oa_query_rq_ref **slot = p;

        if (*slot)
                (*slot)->rq = NULL;
}

void oa_query_rq_ref_set(oa_query_rq_ref *ref, oa_query_req *rq) {
        ref->rq = rq;
        ref->slot = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*ref->slot), ref_gone);
        *ref->slot = ref;
}

void oa_query_rq_ref_drop(oa_query_rq_ref *ref) {
        if (ref->rq)
                *ref->slot = NULL;      /* the request lives on: forget us */
        ref->rq = NULL;
}

/* ---- one statement for a request ---- */

typedef struct call {
        oa_query_chjob job;
        oa_query_rq_ref ref;
        oa_query_ch_answer *fn;
        void *ud;
        char *sql;
        bool json;
        oa_buf out;
        int r, ch_code;
        char err[512];
} call;

static void call_run(oa_query_chjob *job, oa_ch *ch) {
        call *c = (call *) job;
        const oa_ch_req req = { .sql = c->sql, .out = &c->out, .json = c->json };

        c->r = oa_ch_request(ch, &req, c->err, sizeof(c->err));
        c->ch_code = oa_ch_last_code(ch);     /* 0 unless c->r is -EPROTO */
}

static void call_done(oa_query_chjob *job, bool answer) {
        call *c = (call *) job;
        oa_query_req *rq = c->ref.rq;

        oa_query_rq_ref_drop(&c->ref);
        if (answer && rq)
                c->fn(rq, c->ud, c->r, c->ch_code, c->err, &c->out);
        oa_buf_done(&c->out);
        free(c->sql);
        free(c);
}

int oa_query_ch_call(oa_query_req *rq, const char *sql, bool json, size_t out_max, oa_query_ch_answer *fn,
                     void *ud) {
        call *c = calloc(1, sizeof(*c));
        int r;

        if (!c || !(c->sql = strdup(sql))) {
                free(c);
                return -ENOMEM;
        }
        c->job.run = call_run;
        c->job.done = call_done;
        c->fn = fn;
        c->ud = ud;
        c->json = json;
        oa_buf_init(&c->out, out_max);
        r = oa_query_chpool_submit(rq->q->chpool, &c->job);
        if (r < 0) {
                oa_buf_done(&c->out);
                free(c->sql);
                free(c);
                return r;
        }
        oa_query_rq_ref_set(&c->ref, rq);
        return 0;
}

void oa_query_send_busy(oa_query_req *rq) {
        oa_metrics_counter_inc(rq->q->m.reads_refused, 1);
        rq->retry_after = OA_QUERY_RETRY_AFTER_S;
        oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "too many reads are waiting for the database; retry later");
}

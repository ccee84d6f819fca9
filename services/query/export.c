/* GET /v1/projects/{id}/export?from&to: the project's raw events as NDJSON, streamed with
 * chunked transfer encoding, in time order.
 *
 * One ClickHouse read per local day of the project's zone, run on a ClickHouse worker
 * (chpool.c, never on the loop), its answer spooled to an unlinked file in
 * OA_QUERY_EXPORT_SPOOL_DIR as it arrives (oa_ch's sink): oa-query holds no more than
 * SEND_PIECE bytes of an export in memory however large the day. The loop sends the
 * spool a piece at a time when h2o asks for more (proceed), so a slow client holds back
 * the next day's read instead of filling memory; days without events are skipped on the
 * worker. (One read per day, not pages of a day: the table is sorted by visitor, not by
 * time, so every page of a day would read the whole day again.)
 *
 * Raw IP and User-Agent are never selected. Times are milliseconds since the epoch (UTC).
 * The first day is read before the answer starts, so ClickHouse down is still a proper
 * 503; a failure later can only cut the stream (the client sees an unterminated chunked
 * body, never a silent truncation). */
#include "query.h"

#include "qb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEND_PIECE (1u << 20)           /* bytes of the spool per h2o_send */
#define SORT_SPILL "1073741824"         /* ClickHouse sorts a day past 1 GiB on disk */

static const char *const columns =
        "event_id, source, event_type, event_name, ts AS timestamp, received AS received_at, "
        "visitor_id, user_id, sid AS session_id, url, hostname, path, title, referrer, referrer_host, "
        "referrer_source, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, browser, "
        "browser_version, os, os_version, device, screen_width, pk AS property_keys, pv AS property_values, "
        "revenue, currency";

static const char *const inner_columns =
        "event_id, source, event_type, event_name, toUInt64(timestamp) * 1000 + millis AS ts, "
        "toUInt64(received_at) * 1000 + received_millis AS received, visitor_id, user_id, "
        "toString(session_id) AS sid, url, hostname, path, title, referrer, referrer_host, referrer_source, "
        "utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, browser, browser_version, "
        "os, os_version, device, screen_width, properties.key AS pk, properties.value AS pv, revenue, currency";

typedef struct export_gen export_gen;

/* One export, owned by whoever holds it last: the request (through its generator) or a
 * worker running its next day. */
typedef struct export_job {
        oa_query_chjob job;
        oa_query *q;
        oa_query_req *rq;               /* NULL once the request is gone */
        export_gen *gen;                /* in rq's pool, while rq lives */
        const char *spool_dir;
        char project[OA_ENTITY_ID_MAX];
        char tzq[160];                  /* the zone as a quoted literal */
        int day, to;                    /* the next local day to read, the last one */
        bool running;                   /* on a worker */
        bool started;                   /* the response has begun */
        FILE *spool;                    /* the day read, being sent */
        oa_buf sql;
        char *piece;                    /* SEND_PIECE bytes: what h2o is sending */
        /* the worker's */
        unsigned n_ok;
        int r, ch_code;
        char err[512];
} export_job;

struct export_gen {
        h2o_generator_t super;
        export_job *j;                  /* NULL once detached */
};

static void export_free(export_job *j) {
        if (j->spool)
                fclose(j->spool);
        oa_buf_done(&j->sql);
        free(j->piece);
        free(j);
}

/* ---- on a worker ---- */

static int day_sql(export_job *j) {
        oa_buf *b = &j->sql;
        int r;

        oa_buf_reset(b);
        r = oa_buf_addf(b, "SELECT %s FROM (SELECT %s FROM oa.events WHERE project_id = ", columns, inner_columns);
        if (r == 0)
                r = oa_ch_quote(b, j->project, strlen(j->project));
        if (r == 0)
                r = oa_qb_sql_days(b, "timestamp", j->day, j->day, j->tzq);
        if (r == 0)
                r = oa_buf_adds(b, ") ORDER BY timestamp, event_id");
        return r;
}

static int to_spool(const char *p, size_t n, void *ud) {
        return fwrite(p, 1, n, ud) == n ? 0 : -(errno ? errno : EIO);
}

/* A fresh spool: a file nobody else can open, gone when closed. */
static FILE *spool_open(const char *dir, int *ret_err) {
        char path[4096];
        FILE *f;
        int fd;

        snprintf(path, sizeof(path), "%s/oa-query-export-XXXXXX", dir);
        fd = mkstemp(path);
        if (fd < 0) {
                *ret_err = -errno;
                return NULL;
        }
        unlink(path);
        f = fdopen(fd, "w+");
        if (!f) {
                *ret_err = -errno;
                close(fd);
        }
        return f;
}

/* Read days into the spool until one has events or the range ends. */
static void read_days(oa_query_chjob *job, oa_ch *ch) {
        const oa_ch_setting s[] = { { "default_format", "JSONEachRow" },
                                    { "max_bytes_before_external_sort", SORT_SPILL } };
        export_job *j = (export_job *) job;

        while (j->day <= j->to) {
                oa_ch_req req = { .json = true, .settings = s, .n_settings = 2, .sink = to_spool };
                int r;

                if (!j->spool) {
                        j->spool = spool_open(j->spool_dir, &r);
                        if (!j->spool)
                                goto fail;
                }
                r = day_sql(j);
                if (r < 0)
                        goto fail;
                rewind(j->spool);
                if (ftruncate(fileno(j->spool), 0) < 0) {
                        r = -errno;
                        goto fail;
                }
                req.sql = j->sql.data;
                req.sink_ud = j->spool;
                r = oa_ch_request(ch, &req, j->err, sizeof(j->err));
                if (r < 0) {
                        j->r = r;
                        j->ch_code = oa_ch_last_code(ch);      /* 0 unless r is -EPROTO */
                        return;
                }
                j->n_ok++;
                j->day++;
                if (fflush(j->spool) != 0) {
                        r = -errno;
                        goto fail;
                }
                if (ftello(j->spool) > 0) {
                        rewind(j->spool);
                        return;
                }
                continue;
fail:
                j->r = r;
                j->ch_code = 0;
                snprintf(j->err, sizeof(j->err), "export spool in %s: %s", j->spool_dir, strerror(-r));
                return;
        }
        if (j->spool) {                 /* the range ended on empty days */
                fclose(j->spool);
                j->spool = NULL;
        }
}

/* ---- on the loop ---- */

static void detach(export_job *j) {
        if (j->gen)
                j->gen->j = NULL;
        j->gen = NULL;
        j->rq = NULL;
}

static void read_next(export_job *j);

/* Send the next piece of the spool, or the end; when the spool is spent and days are
 * left, read them first. */
static void send_next(export_job *j) {
        oa_query_req *rq = j->rq;
        h2o_iovec_t buf = h2o_iovec_init(j->piece, 0);

        if (j->spool) {
                buf.len = fread(j->piece, 1, SEND_PIECE, j->spool);
                if (buf.len < SEND_PIECE) {
                        if (ferror(j->spool)) {
                                oa_log_error("export cut short", "error", "reading the spool failed");
                                oa_query_log_request(rq, 500);
                                detach(j);
                                h2o_send(rq->req, NULL, 0, H2O_SEND_STATE_ERROR);
                                return;
                        }
                        fclose(j->spool);
                        j->spool = NULL;
                }
        }
        if (!j->spool && j->day > j->to) {
                oa_query_log_request(rq, 200);
                h2o_send(rq->req, &buf, 1, H2O_SEND_STATE_FINAL);      /* may free j */
                return;
        }
        if (buf.len == 0) {
                read_next(j);
                return;
        }
        h2o_send(rq->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req) {
        export_gen *gen = (export_gen *) g;

        (void) req;
        if (gen->j)
                send_next(gen->j);
}

/* The request's pool is being freed, or h2o stops the generator (the client went away):
 * the job is ours to free unless a worker holds it. */
static void on_gone(export_gen *gen) {
        export_job *j = gen->j;

        if (!j)
                return;
        detach(j);
        if (!j->running)
                export_free(j);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req) {
        (void) req;
        on_gone((export_gen *) g);
}

static void dispose(void *p) {
        on_gone(p);
}

static void start_response(export_job *j) {
        oa_query_req *rq = j->rq;

        oa_query_add_headers(rq, 200);
        rq->req->res.status = 200;
        rq->req->res.reason = "OK";
        oa_http_add_header(rq->req, "Content-Type", "application/x-ndjson");
        oa_http_add_header(rq->req, "X-Accel-Buffering", "no");        /* nginx: pass chunks on */
        h2o_start_response(rq->req, &j->gen->super);
        j->started = true;
}

/* A worker finished the next days. */
static void days_read(oa_query_chjob *job, bool answer) {
        export_job *j = (export_job *) job;
        oa_query *q = j->q;
        oa_query_req *rq = j->rq;
        oa_query_ch_verdict v;

        j->running = false;
        if (!answer || !rq) {
                detach(j);
                export_free(j);
                return;
        }
        oa_metrics_counter_inc(q->m.ch_ok, j->n_ok);
        j->n_ok = 0;
        if (j->r < 0) {
                oa_query_ch_judge(q, j->r, j->ch_code, j->err, &v);
                if (!j->started) {
                        oa_query_send_verdict(rq, &v);  /* the pool frees j */
                        return;
                }
                oa_log_error("export cut short", "error", j->err);
                oa_query_log_request(rq, 500);
                detach(j);
                export_free(j);
                h2o_send(rq->req, NULL, 0, H2O_SEND_STATE_ERROR);
                return;
        }
        if (!j->started)
                start_response(j);
        send_next(j);
}

static void read_next(export_job *j) {
        oa_query_req *rq = j->rq;
        int r;

        j->running = true;
        r = oa_query_chpool_submit(j->q->chpool, &j->job);
        if (r == 0)
                return;
        j->running = false;
        if (!j->started) {
                oa_query_send_busy(rq);         /* the pool frees j */
                return;
        }
        oa_metrics_counter_inc(j->q->m.reads_refused, 1);
        oa_log_error("export cut short", "error", "the ClickHouse workers' queue is full");
        oa_query_log_request(rq, 503);
        detach(j);
        export_free(j);
        h2o_send(rq->req, NULL, 0, H2O_SEND_STATE_ERROR);
}

void oa_query_stats_export(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        const Oa__Project *p = auth->project;
        const char *tz = p->timezone && *p->timezone ? p->timezone : "UTC";
        export_gen *gen;
        export_job *j;
        oa_buf t;
        int from, to, r;

        (void) id;
        if (oa_query_date_range(rq, &from, &to) < 0)
                return;
        j = calloc(1, sizeof(*j));
        if (!j || !(j->piece = malloc(SEND_PIECE))) {
                free(j);
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        oa_buf_init(&j->sql, 1u << 16);
        oa_buf_init(&t, sizeof(j->tzq) - 1);
        r = oa_ch_quote(&t, tz, strlen(tz));
        if (r == 0)
                snprintf(j->tzq, sizeof(j->tzq), "%s", t.data);
        oa_buf_done(&t);
        if (r < 0) {
                export_free(j);
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "the project's time zone cannot be quoted");
                return;
        }
        j->job.run = read_days;
        j->job.done = days_read;
        j->q = rq->q;
        j->rq = rq;
        j->spool_dir = rq->q->cfg->export_spool_dir;
        snprintf(j->project, sizeof(j->project), "%s", p->id);
        j->day = from;
        j->to = to;
        gen = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*gen), dispose);
        memset(gen, 0, sizeof(*gen));
        gen->super.proceed = on_proceed;
        gen->super.stop = on_stop;
        gen->j = j;
        j->gen = gen;
        read_next(j);
}

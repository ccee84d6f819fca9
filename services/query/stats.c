/* The stats read routes: GET pageviews, sessions, conversions, timeseries (thin wrappers
 * that fill an oa_qb_spec from their parameters) and POST query (the general form).
 * Each read becomes one to four SELECTs built by qb.c (the rows; totals; the previous
 * period; revenue per currency), run on ClickHouse, and rendered as
 *   {"results":[{<dimension>: value, ..., <metric>: value}], "totals":{...},
 *    "comparison":{"date_range":[from, to], "results":[...], "totals":{...}},
 *    "revenue":[{"currency","revenue","conversions"}],
 *    "meta":{"date_range","timezone","rows_read","total_rows","page","limit","next_page",
 *            "elapsed_ms","cached"}}
 * The rendered answer (all but elapsed_ms and cached) is kept in the read cache under the
 * SQL text, which names the project and nothing of the key that asked.
 *
 * The queries of a read run on a ClickHouse worker (chpool.c), never on the loop; each is
 * bounded by OA_QUERY_CLICKHOUSE_TIMEOUT_MS. With the cache on, a read that finds the same
 * SQL already running waits for that one instead of sending its own (a dashboard opened
 * by many viewers at once costs one query). */
#include "query.h"

#include "qb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define CH_RESULT_MAX (64u << 20)       /* one ClickHouse answer */
#define ANSWER_MAX (64u << 20)

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void oa_query_ch_judge(oa_query *q, int r, int code, const char *errmsg, oa_query_ch_verdict *ret) {
        char c[16];

        snprintf(c, sizeof(c), "%d", code);
        if (r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -EIO ||
            (r == -EPROTO && (code == 159 || oa_ch_code_transient(code)))) {
                oa_metrics_counter_inc(q->m.ch_unavailable, 1);
                oa_log_warn("clickhouse unavailable", "error", errmsg, "code", c);
                *ret = (oa_query_ch_verdict) {
                        503, OA_HTTP_E_UNAVAILABLE,
                        r == -EPROTO || r == -ETIMEDOUT ? "the query took longer than its time budget; retry later" :
                                                          "the analytics database does not answer; retry later",
                        OA_QUERY_RETRY_AFTER_S
                };
                return;
        }
        oa_metrics_counter_inc(q->m.ch_error, 1);
        if (r == -EPROTO && code == 427) {      /* CANNOT_COMPILE_REGEXP */
                *ret = (oa_query_ch_verdict) {
                        400, OA_HTTP_E_VALIDATION, "filters: a matches value is not a valid regular expression (RE2)", 0
                };
                return;
        }
        oa_log_error("clickhouse query failed", "error", errmsg, "code", c);
        *ret = (oa_query_ch_verdict) { 500, OA_HTTP_E_INTERNAL, "the query failed", 0 };
}

void oa_query_send_verdict(oa_query_req *rq, const oa_query_ch_verdict *v) {
        rq->retry_after = v->retry_after;
        oa_query_send_error(rq, v->status, v->code, v->message);
}

void oa_query_ch_failed(oa_query_req *rq, int r, const char *errmsg) {
        oa_query_ch_verdict v;

        oa_query_ch_judge(rq->q, r, r == -EPROTO ? oa_ch_last_code(rq->q->ch) : 0, errmsg, &v);
        oa_query_send_verdict(rq, &v);
}

/* ---- rendering ---- */

/* ClickHouse's row objects with d_/m_ prefixes dropped: [{"path":"/","pageviews":3}]. */
static int render_rows(oa_buf *b, yajl_val data, bool one) {
        int r = oa_buf_adds(b, one ? "" : "[");

        for (size_t i = 0; r == 0 && data && i < data->u.array.len; i++) {
                yajl_val row = data->u.array.values[i];

                if (!YAJL_IS_OBJECT(row))
                        return -EPROTO;
                r = oa_buf_adds(b, i ? ",{" : "{");
                for (size_t k = 0; r == 0 && k < row->u.object.len; k++) {
                        const char *key = row->u.object.keys[k];
                        yajl_val v = row->u.object.values[k];

                        if (strlen(key) > 2 && key[1] == '_')
                                key += 2;
                        r = oa_buf_adds(b, k ? "," : "");
                        if (r == 0)
                                r = oa_buf_add_json_quotedn(b, key, strlen(key));
                        if (r == 0)
                                r = oa_buf_addc(b, ':');
                        if (r < 0)
                                break;
                        if (YAJL_IS_STRING(v))
                                r = oa_buf_add_json_quotedn(b, v->u.string, strlen(v->u.string));
                        else if (YAJL_IS_NUMBER(v))
                                r = oa_buf_adds(b, v->u.number.r);
                        else
                                r = oa_buf_adds(b, YAJL_IS_TRUE(v) ? "true" : YAJL_IS_FALSE(v) ? "false" : "null");
                }
                if (r == 0)
                        r = oa_buf_addc(b, '}');
                if (one)
                        break;
        }
        if (r == 0 && one && (!data || data->u.array.len == 0))
                r = oa_buf_adds(b, "{}");
        return r < 0 ? r : oa_buf_adds(b, one ? "" : "]");
}

/* ---- one read: its queries on a ClickHouse worker, its answer on the loop ---- */

/* A request waiting for a read: the first one asked for it, the others asked for the same
 * SQL while it ran (cache on). */
typedef struct asker {
        struct asker *next;
        oa_query_rq_ref ref;            /* NULL when the request went away first */
        int64_t t0;
} asker;

typedef struct read_job {
        oa_query_chjob job;
        oa_query *q;
        asker *askers;
        bool shared;                    /* in q->reads under key */
        oa_qb_spec s;                   /* a copy: the request may go first */
        char tz[OA_ENTITY_TIMEZONE_MAX + 1];
        oa_buf sql[4], key;
        const char *sqls[4];
        /* the worker's: the answer without its last meta fields, or what failed */
        oa_buf res, body;
        long long rows_read, total_rows, n_rows;
        bool have_total;
        unsigned n_ok;                  /* queries answered */
        int r, ch_code;                 /* a ClickHouse call failed: its error and code */
        const char *fail;               /* else a 500's message */
        char err[512];
} read_job;

/* One SELECT run and parsed: its "data" array into b (rows, or the first row alone when
 * one), rows read and rows before the limit added to the counters. On a worker. */
static int run_one(read_job *j, oa_ch *ch, const char *sql, oa_buf *b, bool one) {
        const char *dp[] = { "data", NULL }, *tp[] = { "rows_before_limit_at_least", NULL },
                   *sp[] = { "statistics", "rows_read", NULL };
        yajl_val v, data, t, s;
        int r;

        r = oa_ch_query(ch, sql, &j->res, j->err, sizeof(j->err));
        if (r < 0) {
                j->r = r;
                j->ch_code = oa_ch_last_code(ch);      /* 0 unless r is -EPROTO */
                return r;
        }
        j->n_ok++;
        v = yajl_tree_parse(j->res.data ? j->res.data : "", j->err, sizeof(j->err));
        data = v ? yajl_tree_get(v, dp, yajl_t_array) : NULL;
        if (!data) {
                yajl_tree_free(v);
                j->fail = "the query failed";
                return -EPROTO;
        }
        t = yajl_tree_get(v, tp, yajl_t_number);
        s = yajl_tree_get(v, sp, yajl_t_number);
        if (s && YAJL_IS_INTEGER(s))
                j->rows_read += YAJL_GET_INTEGER(s);
        if (!j->have_total) {
                j->n_rows = (long long) data->u.array.len;
                j->total_rows = t && YAJL_IS_INTEGER(t) ? YAJL_GET_INTEGER(t) : -1;
                j->have_total = true;
        }
        r = render_rows(b, data, one);
        yajl_tree_free(v);
        if (r < 0)
                j->fail = "rendering the answer failed";
        return r;
}

static int build(const oa_qb_spec *s, oa_qb_shape shape, const char *project, const char *tz,
                 int from, int to, oa_buf *out) {
        oa_buf_reset(out);
        return oa_qb_sql(s, shape, project, tz, from, to, out);
}

/* Run the spec's queries and render the answer without its last meta fields into body.
 * On a worker. */
static void compute(oa_query_chjob *job, oa_ch *ch) {
        read_job *j = (read_job *) job;
        const oa_qb_spec *s = &j->s;
        oa_buf *b = &j->body;
        int days = s->to - s->from + 1;
        char d0[11], d1[11];
        long long total;
        int r;

        r = oa_buf_adds(b, "{\"results\":");
        if (r == 0)
                r = run_one(j, ch, j->sqls[0], b, false);
        if (r == 0 && j->sqls[1]) {
                r = oa_buf_adds(b, ",\"totals\":");
                if (r == 0)
                        r = run_one(j, ch, j->sqls[1], b, true);
        }
        if (r == 0 && j->sqls[2]) {
                oa_qb_date_format(s->from - days, d0);
                oa_qb_date_format(s->from - 1, d1);
                r = oa_buf_addf(b, ",\"comparison\":{\"date_range\":[\"%s\",\"%s\"],\"results\":", d0, d1);
                if (r == 0)
                        r = run_one(j, ch, j->sqls[2], b, false);
                if (r == 0)
                        r = oa_buf_adds(b, "}");
        }
        if (r == 0 && j->sqls[3]) {
                r = oa_buf_adds(b, ",\"revenue\":");
                if (r == 0)
                        r = run_one(j, ch, j->sqls[3], b, false);
        }
        oa_buf_done(&j->res);   /* the last ClickHouse answer: not needed on the loop */
        if (r < 0)
                goto fail;
        oa_qb_date_format(s->from, d0);
        oa_qb_date_format(s->to, d1);
        total = j->total_rows >= 0 ? j->total_rows : (s->page - 1) * s->limit + j->n_rows;
        r = oa_buf_addf(b, ",\"meta\":{\"date_range\":[\"%s\",\"%s\"],\"timezone\":", d0, d1);
        if (r == 0)
                r = oa_buf_add_json_quotedn(b, j->tz, strlen(j->tz));
        if (r == 0)
                r = oa_buf_addf(b, ",\"table\":\"%s\",\"rows_read\":%lld,\"total_rows\":%lld,\"page\":%lld,"
                                "\"limit\":%lld,\"next_page\":", s->table == OA_QB_EVENTS ? "events" : "sessions",
                                j->rows_read, total, s->page, s->limit);
        if (r == 0 && s->page * s->limit < total)
                r = oa_buf_addf(b, "%lld", s->page + 1);
        else if (r == 0)
                r = oa_buf_adds(b, "null");
        if (r == 0)
                return;
fail:
        if (!j->r && !j->fail)
                j->fail = "rendering the answer failed";
}

static void read_job_free(read_job *j) {
        asker *a, *next;

        for (a = j->askers; a; a = next) {
                next = a->next;
                oa_query_rq_ref_drop(&a->ref);
                free(a);
        }
        for (int i = 0; i < 4; i++)
                oa_buf_done(&j->sql[i]);
        oa_buf_done(&j->key);
        oa_buf_done(&j->res);
        oa_buf_done(&j->body);
        free(j);
}

/* The answer of one asker: the shared body, then its own elapsed_ms and cached. */
static void send_answer(oa_query_req *rq, const char *body, size_t len, int64_t t0, bool cached) {
        oa_buf b;
        int r;

        oa_buf_init(&b, ANSWER_MAX);
        r = oa_buf_add(&b, body, len);
        if (r == 0)
                r = oa_buf_addf(&b, ",\"elapsed_ms\":%lld,\"cached\":%s}}", (long long) (now_ms() - t0),
                                cached ? "true" : "false");
        if (r < 0)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
        else
                oa_query_send_json(rq, 200, b.data, b.len);
        oa_buf_done(&b);
}

/* Back on the loop: count, cache, answer every asker still there, free. */
static void read_done(oa_query_chjob *job, bool answer) {
        read_job *j = (read_job *) job;
        oa_query *q = j->q;
        oa_query_ch_verdict v = { 500, OA_HTTP_E_INTERNAL, j->fail, 0 };

        if (j->shared) {
                oa_map_del(q->reads, j->key.data, j->key.len);
                j->shared = false;
        }
        if (!answer) {
                read_job_free(j);
                return;
        }
        oa_metrics_counter_inc(q->m.ch_ok, j->n_ok);
        if (j->r < 0)
                oa_query_ch_judge(q, j->r, j->ch_code, j->err, &v);
        else if (j->fail)
                oa_log_error("stats answer", "error", j->fail, "detail", j->err);
        else
                oa_query_cache_put(q->cache, j->key.data, j->key.len, j->body.data, j->body.len, now_ms());
        for (asker *a = j->askers; a; a = a->next) {
                if (!a->ref.rq)
                        continue;
                if (j->r < 0 || j->fail)
                        oa_query_send_verdict(a->ref.rq, &v);
                else
                        send_answer(a->ref.rq, j->body.data, j->body.len, a->t0, a != j->askers);
        }
        read_job_free(j);
}

/* Add rq to j's askers. Returns 0 or -ENOMEM. */
static int ask(read_job *j, oa_query_req *rq, int64_t t0) {
        asker *a = calloc(1, sizeof(*a)), **tail;

        if (!a)
                return -ENOMEM;
        oa_query_rq_ref_set(&a->ref, rq);
        a->t0 = t0;
        for (tail = &j->askers; *tail; tail = &(*tail)->next)
                ;
        *tail = a;
        return 0;
}

/* Answer a checked spec for the project of auth: from the cache, by joining the same
 * read already running (cache on), or by a ClickHouse worker. */
static void answer(oa_query_req *rq, const oa_auth_result *auth, const oa_qb_spec *s) {
        oa_query *q = rq->q;
        const Oa__Project *p = auth->project;
        const char *tz = p->timezone && *p->timezone ? p->timezone : "UTC";
        int days = s->to - s->from + 1, r = 0;
        read_job *j = calloc(1, sizeof(*j)), *running;
        const char *hit;
        size_t hit_len;
        int64_t t0 = now_ms();

        if (!j) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        j->job.run = compute;
        j->job.done = read_done;
        j->q = q;
        j->s = *s;
        snprintf(j->tz, sizeof(j->tz), "%s", tz);
        oa_buf_init(&j->key, 1u << 20);
        oa_buf_init(&j->body, ANSWER_MAX);
        oa_buf_init(&j->res, CH_RESULT_MAX);
        for (int i = 0; i < 4; i++)
                oa_buf_init(&j->sql[i], 1u << 20);
        r = build(s, OA_QB_ROWS, p->id, tz, s->from, s->to, &j->sql[0]);
        if (r == 0 && s->totals)
                r = build(s, OA_QB_TOTALS, p->id, tz, s->from, s->to, &j->sql[1]);
        if (r == 0 && s->comparison)
                r = build(s, OA_QB_ROWS, p->id, tz, s->from - days, s->from - 1, &j->sql[2]);
        if (r == 0 && s->route == OA_QB_CONVERSIONS)
                r = build(s, OA_QB_REVENUE, p->id, tz, s->from, s->to, &j->sql[3]);
        for (int i = 0; r == 0 && i < 4; i++) {
                if (!j->sql[i].data)
                        continue;
                j->sqls[i] = j->sql[i].data;
                r = oa_buf_addf(&j->key, "%d\n%s\n", i, j->sql[i].data);
        }
        if (r < 0) {
                oa_log_error("building a stats query failed", "error", strerror(-r), "timezone", tz);
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "the query could not be built");
                read_job_free(j);
                return;
        }
        for (int i = 0; q->log_debug && i < 4; i++)
                if (j->sqls[i])
                        oa_log_debug("stats query", "sql", j->sqls[i]);
        hit = oa_query_cache_get(q->cache, j->key.data, j->key.len, t0, &hit_len);
        if (hit) {
                oa_metrics_counter_inc(q->m.cache_hits, 1);
                send_answer(rq, hit, hit_len, t0, true);
                read_job_free(j);
                return;
        }
        /* cache on: an identical read already running answers this one too */
        running = q->cfg->cache_ttl_ms > 0 ? oa_map_get(q->reads, j->key.data, j->key.len) : NULL;
        if (running) {
                r = ask(running, rq, t0);
                read_job_free(j);
                if (r < 0)
                        oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                else
                        oa_metrics_counter_inc(q->m.reads_shared, 1);
                return;
        }
        oa_metrics_counter_inc(q->m.cache_misses, 1);
        r = ask(j, rq, t0);
        if (r == 0 && q->cfg->cache_ttl_ms > 0 && oa_map_put(q->reads, j->key.data, j->key.len, j, NULL) == 0)
                j->shared = true;
        if (r == 0)
                r = oa_query_chpool_submit(q->chpool, &j->job);
        if (r < 0) {
                if (j->shared)
                        oa_map_del(q->reads, j->key.data, j->key.len);
                j->shared = false;
                if (r == -EBUSY)
                        oa_query_send_busy(rq);
                else
                        oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                read_job_free(j);
                return;
        }
        oa_metrics_gauge_set(q->m.ch_queued, (double) oa_query_chpool_waiting(q->chpool));
}

/* ---- the routes ---- */

int oa_query_date_range(oa_query_req *rq, int *ret_from, int *ret_to) {
        oa_http_query hq;
        const char *v;
        size_t len;
        int from = -1, to = -1;

        if (oa_http_req_query(rq->req, &hq) < 0)
                goto bad;
        for (size_t i = 0; i < hq.n; i++)
                if (strcmp(hq.params[i].name, "from") && strcmp(hq.params[i].name, "to")) {
                        oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION,
                                            "unknown parameter (allowed: from, to)");
                        return -EINVAL;
                }
        if (oa_http_query_get(&hq, "from", &v, &len) < 0 || oa_qb_date_parse(v, len, &from) < 0 ||
            oa_http_query_get(&hq, "to", &v, &len) < 0 || oa_qb_date_parse(v, len, &to) < 0)
                goto bad;
        if (from > to) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, "from: after to");
                return -EINVAL;
        }
        if (to - from + 1 > rq->q->cfg->max_range_days) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, "from, to: the range is too long");
                return -EINVAL;
        }
        *ret_from = from;
        *ret_to = to;
        return 0;
bad:
        oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION,
                            "from and to: both required, once each, as dates YYYY-MM-DD");
        return -EINVAL;
}


static void bad_request(oa_query_req *rq, const char *msg) {
        oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, msg);
}

/* A GET route: its parameters into a spec, checked, answered. */
static void get_route(oa_query_req *rq, const oa_auth_result *auth, oa_qb_route route) {
        oa_qb_spec *s = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*s));
        oa_http_query hq;
        char err[512] = "";
        int r;

        oa_qb_spec_init(s, route);
        r = oa_http_req_query(rq->req, &hq);
        if (r < 0) {
                bad_request(rq, r == -E2BIG ? "query string: too long or too many parameters" :
                                "query string: a bad percent escape or %00");
                return;
        }
        for (size_t i = 0; i < hq.n; i++) {
                for (size_t k = 0; k < i; k++)
                        if (strcmp(hq.params[k].name, hq.params[i].name) == 0) {
                                bad_request(rq, "a parameter is given more than once");
                                return;
                        }
                r = oa_qb_parse_param(s, hq.params[i].name, hq.params[i].value, hq.params[i].value_len,
                                      err, sizeof(err));
                if (r < 0) {
                        bad_request(rq, err);
                        return;
                }
        }
        if (oa_qb_check(s, (int) rq->q->cfg->max_range_days, err, sizeof(err)) < 0) {
                bad_request(rq, err);
                return;
        }
        answer(rq, auth, s);
}

void oa_query_stats_pageviews(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        (void) id;
        get_route(rq, auth, OA_QB_PAGEVIEWS);
}

void oa_query_stats_sessions(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        (void) id;
        get_route(rq, auth, OA_QB_SESSIONS_ROUTE);
}

void oa_query_stats_conversions(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        (void) id;
        get_route(rq, auth, OA_QB_CONVERSIONS);
}

void oa_query_stats_timeseries(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        (void) id;
        get_route(rq, auth, OA_QB_TIMESERIES);
}

void oa_query_stats_query(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_qb_spec *s = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*s));
        char err[512] = "";
        h2o_iovec_t body;

        (void) id;
        if (oa_http_body(rq->req, OA_QUERY_BODY_MAX, &body) < 0) {
                snprintf(err, sizeof(err), "body: larger than %d bytes", OA_QUERY_BODY_MAX);
                oa_query_send_error(rq, 413, OA_HTTP_E_TOO_LARGE, err);
                return;
        }
        oa_qb_spec_init(s, OA_QB_QUERY);
        if (oa_qb_parse_body(s, body.base ? body.base : "", body.len, err, sizeof(err)) < 0 ||
            oa_qb_check(s, (int) rq->q->cfg->max_range_days, err, sizeof(err)) < 0) {
                bad_request(rq, err);
                return;
        }
        answer(rq, auth, s);
}

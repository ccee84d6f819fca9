/* GET /v1/projects/{id}/export?from&to: the project's raw events as NDJSON, streamed with
 * chunked transfer encoding. The result is never held whole: events are read in chunks of
 * OA_QUERY_EXPORT_CHUNK_ROWS in (timestamp, millis, event_id) order, one local day of the
 * project's zone at a time (so each read touches one day of the table), with a keyset
 * cursor inside the day; the next chunk is read only when h2o asks for more (proceed),
 * so a slow client holds back the reads instead of filling memory.
 *
 * Raw IP and User-Agent are never selected. Times are milliseconds since the epoch (UTC).
 * The first chunk is read before the answer starts, so ClickHouse down is still a proper
 * 503; a failure later can only cut the stream (the client sees an unterminated chunked
 * body, never a silent truncation). */
#include "query.h"

#include "qb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define CHUNK_MAX (256u << 20)

typedef struct exporter {
        h2o_generator_t super;
        oa_query_req *rq;
        const char *project;
        const char *tz;
        int day, to;                    /* the local day being read, the last one */
        bool have_cursor;
        uint64_t cur_ms;
        char cur_id[256];
        oa_buf sql, chunk;
        bool done, freed;
} exporter;

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

/* The SELECT of the next chunk into e->sql. */
static int chunk_sql(exporter *e) {
        oa_buf *b = &e->sql;
        char tzq[160];
        oa_buf t;
        int r;

        oa_buf_init(&t, sizeof(tzq) - 1);
        r = oa_ch_quote(&t, e->tz, strlen(e->tz));
        if (r < 0) {
                oa_buf_done(&t);
                return r;
        }
        snprintf(tzq, sizeof(tzq), "%s", t.data);
        oa_buf_done(&t);
        oa_buf_reset(b);
        r = oa_buf_addf(b, "SELECT %s FROM (SELECT %s FROM oa.events WHERE project_id = ", columns, inner_columns);
        if (r == 0)
                r = oa_ch_quote(b, e->project, strlen(e->project));
        if (r == 0)
                r = oa_qb_sql_days(b, "timestamp", e->day, e->day, tzq);
        if (r == 0 && e->have_cursor) {
                r = oa_buf_addf(b, " AND (timestamp > toDateTime(%" PRIu64 ") OR (timestamp = toDateTime(%"
                                PRIu64 ") AND (millis > %u OR (millis = %u AND event_id > ",
                                e->cur_ms / 1000, e->cur_ms / 1000, (unsigned) (e->cur_ms % 1000),
                                (unsigned) (e->cur_ms % 1000));
                if (r == 0)
                        r = oa_ch_quote(b, e->cur_id, strlen(e->cur_id));
                if (r == 0)
                        r = oa_buf_adds(b, "))))");
        }
        if (r == 0)
                r = oa_buf_addf(b, " ORDER BY timestamp, millis, event_id LIMIT %lld) ORDER BY timestamp, event_id",
                                e->rq->q->cfg->export_chunk_rows);
        return r;
}

/* Read the next non-empty chunk (or learn that the range is done) into e->chunk.
 * Returns 0 or a ClickHouse error (err filled). */
static int fetch(exporter *e, char *err, size_t errlen) {
        const oa_ch_setting fmt[] = { { "default_format", "JSONEachRow" } };
        const char *tp[] = { "timestamp", NULL }, *ip[] = { "event_id", NULL };

        oa_buf_reset(&e->chunk);
        while (!e->done) {
                oa_ch_req req = { .out = &e->chunk, .json = true, .settings = fmt, .n_settings = 1 };
                const char *last;
                long long rows = 0;
                yajl_val v, ts, id;
                int r = chunk_sql(e);

                if (r < 0)
                        return r;
                req.sql = e->sql.data;
                r = oa_ch_request(e->rq->q->ch, &req, err, errlen);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < e->chunk.len; i++)
                        rows += e->chunk.data[i] == '\n';
                if (rows < e->rq->q->cfg->export_chunk_rows) {
                        /* this day is finished */
                        e->day++;
                        e->have_cursor = false;
                        e->done = e->day > e->to;
                        if (rows)
                                return 0;
                        continue;
                }
                /* a full chunk: the cursor is its last row */
                e->chunk.data[e->chunk.len - 1] = '\0';
                last = strrchr(e->chunk.data, '\n');
                last = last ? last + 1 : e->chunk.data;
                v = yajl_tree_parse(last, NULL, 0);
                e->chunk.data[e->chunk.len - 1] = '\n';
                ts = v ? yajl_tree_get(v, tp, yajl_t_number) : NULL;
                id = v ? yajl_tree_get(v, ip, yajl_t_string) : NULL;
                if (!ts || !id || strlen(id->u.string) >= sizeof(e->cur_id)) {
                        yajl_tree_free(v);
                        snprintf(err, errlen, "export: cannot read the cursor of a chunk");
                        return -EPROTO;
                }
                e->cur_ms = (uint64_t) YAJL_GET_INTEGER(ts);
                snprintf(e->cur_id, sizeof(e->cur_id), "%s", id->u.string);
                e->have_cursor = true;
                yajl_tree_free(v);
                return 0;
        }
        return 0;
}

static void release(exporter *e) {
        if (e->freed)
                return;
        e->freed = true;
        oa_buf_done(&e->sql);
        oa_buf_done(&e->chunk);
}

static void send_chunk(exporter *e) {
        h2o_iovec_t buf = h2o_iovec_init(e->chunk.data ? e->chunk.data : "", e->chunk.len);

        if (e->done) {
                h2o_send(e->rq->req, &buf, 1, H2O_SEND_STATE_FINAL);
                oa_query_log_request(e->rq, 200);
        } else {
                h2o_send(e->rq->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
        }
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req) {
        exporter *e = (exporter *) g;
        char err[512] = "";
        int r;

        (void) req;
        if (e->done) {
                release(e);
                return;
        }
        r = fetch(e, err, sizeof(err));
        if (r < 0) {
                oa_log_error("export cut short", "error", err);
                e->done = true;
                h2o_send(e->rq->req, NULL, 0, H2O_SEND_STATE_ERROR);
                oa_query_log_request(e->rq, 500);
                return;
        }
        send_chunk(e);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req) {
        (void) req;
        release((exporter *) g);
}

static void dispose(void *p) {
        release(p);
}

void oa_query_stats_export(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        exporter *e = h2o_mem_alloc_shared(&rq->req->pool, sizeof(*e), dispose);
        const Oa__Project *p = auth->project;
        char err[512] = "";
        int from, to, r;

        (void) id;
        memset(e, 0, sizeof(*e));
        e->freed = true;                /* nothing to release until the buffers exist */
        if (oa_query_date_range(rq, &from, &to) < 0)
                return;
        e->super.proceed = on_proceed;
        e->super.stop = on_stop;
        e->rq = rq;
        e->project = p->id;
        e->tz = p->timezone && *p->timezone ? p->timezone : "UTC";
        e->day = from;
        e->to = to;
        e->freed = false;
        oa_buf_init(&e->sql, 1u << 16);
        oa_buf_init(&e->chunk, CHUNK_MAX);
        r = fetch(e, err, sizeof(err));
        if (r < 0) {
                oa_query_ch_failed(rq, r, err);
                return;
        }
        oa_metrics_counter_inc(rq->q->m.ch_ok, 1);
        oa_query_add_headers(rq, 200);
        rq->req->res.status = 200;
        rq->req->res.reason = "OK";
        oa_http_add_header(rq->req, "Content-Type", "application/x-ndjson");
        oa_http_add_header(rq->req, "X-Accel-Buffering", "no");        /* nginx: pass chunks on */
        h2o_start_response(rq->req, &e->super);
        send_chunk(e);
}

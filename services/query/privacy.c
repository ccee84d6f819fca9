/* The DSAR routes (docs/privacy.md):
 *
 *   GET    /v1/projects/{id}/privacy/user/{user_id}         privacy:read   the export
 *   DELETE /v1/projects/{id}/privacy/user/{user_id}         privacy:write  202, queued
 *   GET    /v1/projects/{id}/privacy/requests/{request_id}  privacy:read   the status
 *
 * The user_id is the path segment percent-decoded once, then checked (oa_dsar_user_id_check).
 * The export reads oa.events only (never writes): the user's events of the last 90 days,
 * newest first, at most 10,000 with "truncated" saying whether more exist, without the
 * raw IP, the raw User-Agent or the property values. A deletion is an oa.DeletionRequest
 * on oa.deletions.v1, answered 202 once Kafka acknowledged it; its `queued` status row
 * then goes to oa.privacy_requests, and oa-privacy does the rest. */
#include "query.h"

#include "oa/dsar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_BODY_MAX (64u << 20)     /* 10,001 events of at most a few KB each */

/* The user_id of the path into out (decoded once, checked), or an answer (400) and
 * false. */
static bool user_param(oa_query_req *rq, char *out, size_t cap, size_t *ret_len) {
        const char *raw = rq->param ? rq->param : "";
        char err[160];

        if (oa_http_pct_decode(raw, strlen(raw), false, out, cap, ret_len) < 0) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION,
                                    "user_id: bad percent-encoding, a %00, or longer than 256 characters");
                return false;
        }
        if (oa_dsar_user_id_check(out, *ret_len, err, sizeof(err)) < 0) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, err);
                return false;
        }
        return true;
}

static double elapsed_ms(const oa_query_req *rq) {
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - rq->start.tv_sec) * 1e3 +
               (double) (now.tv_nsec - rq->start.tv_nsec) / 1e6;
}

/* ---- the export ---- */

/* The SELECT of the export: JSON objects with only the fields the export keeps. */
static int export_sql(oa_buf *b, const char *project_id, const char *user_id, size_t user_len,
                      const char *visitor_id) {
        int r = oa_buf_adds(b,
                "SELECT event_id, event_type AS type, event_name AS name, "
                "concat(replaceOne(toString(timestamp, 'UTC'), ' ', 'T'), '.', "
                "substring(toString(1000 + millis), 2, 3), 'Z') AS time, "
                "url, path, hostname, country, browser, os, device, referrer_source AS source, "
                "if(currency = '', NULL, revenue) AS revenue, "
                "if(currency = '', NULL, currency) AS currency_code, "
                "properties.key AS property_keys "
                "FROM oa.events WHERE project_id = ");

        if (r == 0)
                r = oa_ch_quote(b, project_id, strlen(project_id));
        if (r == 0)
                r = oa_buf_adds(b, " AND (user_id = ");
        if (r == 0)
                r = oa_ch_quote(b, user_id, user_len);
        if (r == 0)
                r = oa_buf_adds(b, " OR visitor_id = ");
        if (r == 0)
                r = oa_ch_quote(b, visitor_id, strlen(visitor_id));
        if (r == 0)
                r = oa_buf_addf(b, ") AND timestamp >= now() - %d ORDER BY timestamp DESC, millis DESC, "
                                "event_id LIMIT %d FORMAT JSONEachRow",
                                OA_DSAR_EXPORT_DAYS * 86400, OA_DSAR_EXPORT_MAX + 1);
        return r;
}

/* Turn JSONEachRow lines into the array's items (at most max), renaming currency_code.
 * Returns the number of rows seen in rows (may be max + 1). */
static int add_rows(oa_buf *out, const char *rows, size_t len, size_t max, size_t *ret_n) {
        size_t n = 0, i = 0;
        int r = 0;

        while (r == 0 && i < len) {
                const char *nl = memchr(rows + i, '\n', len - i);
                size_t end = nl ? (size_t) (nl - rows) : len;

                if (end > i) {
                        n++;
                        if (n <= max) {
                                const char *line = rows + i;
                                size_t llen = end - i;
                                const char *cc = NULL;

                                if (n > 1)
                                        r = oa_buf_addc(out, ',');
                                /* ,"currency_code": -> ,"currency": (a name of ours, once) */
                                for (size_t k = 0; k + 16 <= llen && !cc; k++)
                                        if (memcmp(line + k, "\"currency_code\":", 16) == 0)
                                                cc = line + k;
                                if (r == 0 && cc) {
                                        r = oa_buf_add(out, line, (size_t) (cc - line));
                                        if (r == 0)
                                                r = oa_buf_adds(out, "\"currency\":");
                                        if (r == 0)
                                                r = oa_buf_add(out, cc + 16, llen - (size_t) (cc - line) - 16);
                                } else if (r == 0) {
                                        r = oa_buf_add(out, line, llen);
                                }
                        }
                }
                i = end + 1;
        }
        *ret_n = n;
        return r;
}

/* What the export's answer needs once ClickHouse has answered (in the request's pool). */
typedef struct export_ctx {
        char project_id[OA_ENTITY_ID_MAX];
        char user[OA_DSAR_USER_ID_MAX_BYTES + 1];
        size_t ulen;
        int64_t now;
} export_ctx;

/* The worker's rows: the answer. */
static void export_answer(oa_query_req *rq, void *ud, int r, int ch_code, const char *err, const oa_buf *rows) {
        const export_ctx *x = ud;
        char from[OA_ENTITY_TIME_MAX], to[OA_ENTITY_TIME_MAX];
        oa_query_ch_verdict v;
        size_t n = 0;
        oa_buf out;

        if (r < 0) {
                oa_query_ch_judge(rq->q, r, ch_code, err, &v);
                oa_query_send_verdict(rq, &v);
                return;
        }
        oa_metrics_counter_inc(rq->q->m.ch_ok, 1);
        oa_buf_init(&out, EXPORT_BODY_MAX + 4096);
        oa_entity_time_format(x->now - (int64_t) OA_DSAR_EXPORT_DAYS * 86400000, from);
        oa_entity_time_format(x->now, to);
        r = oa_buf_adds(&out, "{\"project_id\":");
        if (r == 0)
                r = oa_buf_add_json_quoted(&out, x->project_id);
        if (r == 0)
                r = oa_buf_adds(&out, ",\"user_id\":\"");
        if (r == 0)
                r = oa_buf_add_json_str(&out, x->user, x->ulen);
        if (r == 0)
                r = oa_buf_addf(&out, "\",\"from\":\"%s\",\"to\":\"%s\",\"events\":[", from, to);
        if (r == 0)
                r = add_rows(&out, rows->data ? rows->data : "", rows->len, OA_DSAR_EXPORT_MAX, &n);
        if (r == 0)
                r = oa_buf_addf(&out,
                                "],\"count\":%zu,\"truncated\":%s,\"limits\":{\"days\":%d,\"events\":%d},"
                                "\"excluded\":[\"ip\",\"user_agent\",\"property_values\",\"replay_chunks\"],"
                                "\"meta\":{\"elapsed_ms\":%.1f}}",
                                n > OA_DSAR_EXPORT_MAX ? (size_t) OA_DSAR_EXPORT_MAX : n,
                                n > OA_DSAR_EXPORT_MAX ? "true" : "false", OA_DSAR_EXPORT_DAYS,
                                OA_DSAR_EXPORT_MAX, elapsed_ms(rq));
        if (r < 0)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the export failed");
        else
                oa_query_send_json(rq, 200, out.data, out.len);
        oa_buf_done(&out);
}

/* The lookup scans the project's last 90 days by user and visitor id (neither is in the
 * sorting key): a second or more on a big project, so it runs on a ClickHouse worker. */
void oa_query_privacy_export(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        export_ctx *x = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*x));
        char visitor[OA_VISITOR_ID_LEN + 1];
        oa_buf sql;
        int r;

        (void) id;
        if (!user_param(rq, x->user, sizeof(x->user), &x->ulen))
                return;
        snprintf(x->project_id, sizeof(x->project_id), "%s", auth->project->id);
        x->now = oa_entity_now_ms();
        if (oa_visitor_user(x->project_id, x->user, x->ulen, visitor) < 0) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "out of memory");
                return;
        }
        oa_buf_init(&sql, 1 << 16);
        r = export_sql(&sql, x->project_id, x->user, x->ulen, visitor);
        if (r == 0)
                r = oa_query_ch_call(rq, sql.data, true, EXPORT_BODY_MAX, export_answer, x);
        oa_buf_done(&sql);
        if (r == -EBUSY)
                oa_query_send_busy(rq);
        else if (r < 0)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "the export could not be started");
}

/* ---- the deletion ---- */

typedef struct deletion {
        Oa__DeletionRequest req;
        char request_id[OA_UUID_LEN + 1];
        char visitor_id[OA_VISITOR_ID_LEN + 1];
        char key[OA_ENTITY_ID_MAX + OA_VISITOR_ID_LEN + 2];
} deletion;

static int publish_deletion(oa_kprod *kp, void *ud, oa_query_req *rq) {
        deletion *d = ud;
        size_t len = oa__deletion_request__get_packed_size(&d->req);
        uint8_t *buf = malloc(len ? len : 1);
        int r;

        if (!buf)
                return -ENOMEM;
        oa__deletion_request__pack(&d->req, buf);
        r = oa_kprod_produce(kp, OA_TOPIC_DELETIONS, d->key, strlen(d->key), buf, len, rq);
        free(buf);
        return r;
}

/* Kafka acknowledged the request: record `queued` (oa-privacy writes the next states;
 * if ClickHouse is away now, the request is still durable on the topic), answer 202. */
static void deletion_acked(oa_query_req *rq) {
        deletion *d = rq->write_ctx;
        oa_dsar_status st;
        char err[512], t[OA_ENTITY_TIME_MAX], loc[160];
        oa_buf row, body;
        int r;

        oa_dsar_status_from_request(&st, &d->req);
        oa_buf_init(&row, 1 << 16);
        oa_buf_init(&body, 1 << 16);
        if (oa_dsar_status_row(&row, &st) == 0 &&
            oa_ch_insert(rq->q->ch, OA_DSAR_TABLE, "JSONEachRow", row.data, row.len, err,
                         sizeof(err)) < 0)
                oa_log_warn("queued status not recorded; oa-privacy records the next", "request_id",
                            d->request_id, "error", err);
        oa_log_info("dsar", "action", "queued", "request_id", d->request_id, "project_id",
                    d->req.project_id, "key_id", d->req.key_id, NULL);
        oa_entity_time_format(d->req.created_ms, t);
        r = oa_buf_adds(&body, "{\"request_id\":");
        if (r == 0)
                r = oa_buf_add_json_quoted(&body, d->request_id);
        if (r == 0)
                r = oa_buf_addf(&body, ",\"status\":\"queued\",\"created_at\":\"%s\",\"project_id\":", t);
        if (r == 0)
                r = oa_buf_add_json_quoted(&body, d->req.project_id);
        snprintf(loc, sizeof(loc), "/v1/projects/%s/privacy/requests/%s", d->req.project_id,
                 d->request_id);
        if (r == 0)
                r = oa_buf_adds(&body, ",\"status_url\":");
        if (r == 0)
                r = oa_buf_add_json_quoted(&body, loc);
        if (r == 0)
                r = oa_buf_addc(&body, '}');
        if (r < 0) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
        } else {
                oa_http_add_header(rq->req, "Location", loc);
                oa_query_send_json(rq, 202, body.data, body.len);
        }
        oa_buf_done(&row);
        oa_buf_done(&body);
}

void oa_query_privacy_delete(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        deletion *d = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*d));
        char *user = h2o_mem_alloc_pool(&rq->req->pool, OA_DSAR_USER_ID_MAX_BYTES + 1);
        Oa__DeletionRequest init = OA__DELETION_REQUEST__INIT;
        size_t ulen;

        (void) id;
        if (!user_param(rq, user, OA_DSAR_USER_ID_MAX_BYTES + 1, &ulen))
                return;
        memset(d, 0, sizeof(*d));
        d->req = init;
        d->req.version = 1;
        d->req.created_ms = oa_entity_now_ms();
        if (oa_uuid_v7(d->req.created_ms, d->request_id) < 0 ||
            oa_visitor_user(auth->project->id, user, ulen, d->visitor_id) < 0) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "no request id could be made");
                return;
        }
        d->req.request_id = d->request_id;
        d->req.project_id = auth->project->id;
        d->req.account_id = auth->project->account_id;
        d->req.user_id = user;
        d->req.visitor_id = d->visitor_id;
        d->req.key_id = auth->key ? auth->key->id : "";
        /* the record key: project and the pseudonymous visitor, never the user_id */
        snprintf(d->key, sizeof(d->key), "%s/%s", d->req.project_id, d->visitor_id);
        rq->on_acked = deletion_acked;
        rq->write_ctx = d;
        oa_query_publish(rq, publish_deletion, d);
}

/* ---- the status ---- */

void oa_query_privacy_status(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        const char *raw = rq->param ? rq->param : "";
        char request_id[OA_UUID_LEN + 1], err[512];
        oa_dsar_status st;
        oa_buf sql, out;
        bool found = false;
        int r;

        (void) id;
        if (oa_uuid_normalize(raw, strlen(raw), request_id) < 0) {
                oa_query_send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "privacy request not found");
                return;
        }
        oa_buf_init(&sql, 1 << 16);
        oa_buf_init(&out, 1 << 16);
        r = oa_dsar_status_select(&sql, auth->project->id, request_id);
        if (r == 0) {
                oa_ch_req req = { .sql = sql.data, .out = &out, .json = true };

                r = oa_ch_request(rq->q->ch, &req, err, sizeof(err));
                if (r < 0) {
                        oa_query_ch_failed(rq, r, err);
                        goto out;
                }
                r = oa_dsar_status_parse(out.data ? out.data : "", out.len, &st);
                found = r == 1;
        }
        if (r < 0) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "reading the status failed");
                goto out;
        }
        /* the project is the key's (checked by the gate); the account is checked again */
        if (!found || strcmp(st.account_id, auth->project->account_id) != 0) {
                oa_query_send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "privacy request not found");
                goto out;
        }
        oa_buf_reset(&out);
        if (oa_dsar_status_json(&out, &st) < 0)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
        else
                oa_query_send_json(rq, 200, out.data, out.len);
out:
        oa_buf_done(&sql);
        oa_buf_done(&out);
}

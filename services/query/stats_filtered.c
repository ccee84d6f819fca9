/* GET /v1/projects/{id}/filtered?from&to: what POST /collect dropped for the project, by
 * reason and day. oa-edge counts drops in Redis (HINCRBY oa:drops:{project}:{YYYY-MM-DD}
 * {reason} n, kept 35 days; services/edge/store.c); here each day of the range is one
 * HGETALL, all in one pipeline. Answer:
 *   {"results":[{"day","reason","count"}], "totals":{"<reason>": n},
 *    "meta":{"date_range","total_rows","elapsed_ms"}}
 * Days older than the keys' 35 days count nothing. Redis away: 503 with Retry-After. */
#include "query.h"

#include "qb.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REASONS 32

typedef struct reason_total {
        char name[40];
        long long n;
} reason_total;

static void add_total(reason_total *t, size_t *n, const char *name, size_t len, long long v) {
        size_t i;

        for (i = 0; i < *n; i++)
                if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0)
                        break;
        if (i == *n) {
                if (*n == MAX_REASONS || len >= sizeof(t[0].name))
                        return;
                memcpy(t[i].name, name, len);
                t[i].name[len] = '\0';
                t[i].n = 0;
                (*n)++;
        }
        t[i].n += v;
}

void oa_query_stats_filtered(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_query *q = rq->q;
        reason_total totals[MAX_REASONS];
        size_t n_totals = 0;
        long long rows = 0;
        int64_t t0;
        struct timespec ts;
        char day[11], d1[11];
        oa_buf b;
        int from, to, r = 0;

        (void) id;
        if (oa_query_date_range(rq, &from, &to) < 0)
                return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        for (int d = from; r == 0 && d <= to; d++) {
                oa_qb_date_format(d, day);
                r = oa_rds_append(q->rds, "HGETALL oa:drops:%s:%s", auth->project->id, day);
        }
        oa_buf_init(&b, 16u << 20);
        r = r < 0 ? r : oa_buf_adds(&b, "{\"results\":[");
        for (int d = from; d <= to; d++) {
                redisReply *rep = NULL;
                int g = r < 0 ? r : oa_rds_get_reply(q->rds, &rep);

                if (g < 0 || !rep || rep->type != REDIS_REPLY_ARRAY) {
                        /* read every queued reply, then answer */
                        r = g < 0 ? g : -EPROTO;
                        if (rep)
                                freeReplyObject(rep);
                        continue;
                }
                oa_qb_date_format(d, day);
                for (size_t i = 0; r == 0 && i + 1 < rep->elements; i += 2) {
                        redisReply *k = rep->element[i], *v = rep->element[i + 1];
                        long long n = v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;

                        r = oa_buf_addf(&b, "%s{\"day\":\"%s\",\"reason\":", rows ? "," : "", day);
                        if (r == 0)
                                r = oa_buf_add_json_quotedn(&b, k->str, k->len);
                        if (r == 0)
                                r = oa_buf_addf(&b, ",\"count\":%lld}", n);
                        add_total(totals, &n_totals, k->str, k->len, n);
                        rows++;
                }
                freeReplyObject(rep);
        }
        if (r < 0 && r != -E2BIG && r != -ENOMEM) {
                rq->retry_after = OA_QUERY_RETRY_AFTER_S;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "Redis does not answer; retry later");
                goto out;
        }
        r = r < 0 ? r : oa_buf_adds(&b, "],\"totals\":{");
        for (size_t i = 0; r == 0 && i < n_totals; i++) {
                r = oa_buf_adds(&b, i ? "," : "");
                if (r == 0)
                        r = oa_buf_add_json_quotedn(&b, totals[i].name, strlen(totals[i].name));
                if (r == 0)
                        r = oa_buf_addf(&b, ":%lld", totals[i].n);
        }
        oa_qb_date_format(from, day);
        oa_qb_date_format(to, d1);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (r == 0)
                r = oa_buf_addf(&b, "},\"meta\":{\"date_range\":[\"%s\",\"%s\"],\"total_rows\":%lld,"
                                "\"elapsed_ms\":%lld}}", day, d1, rows,
                                (long long) ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0));
        if (r < 0)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
        else
                oa_query_send_json(rq, 200, b.data, b.len);
out:
        oa_buf_done(&b);
}

/* GET /v1/projects/{id}/verify: the data behind the console's Verify Installation screen.
 * Browser events are answered 204 whatever happens to them (the contract), so this is where
 * a site owner sees exactly what arrived:
 *
 *   - from Redis (one pipelined round trip): the counts per source of the last
 *     OA_RT_SERIES_MIN minutes (oa-realtime's per-minute hashes), the latest events (the
 *     recent list, without IP or User-Agent), and today's /collect drops by reason
 *     (oa-edge's oa:drops:{project}:{UTC date} hash);
 *   - from ClickHouse (first, on a ClickHouse worker: it scans the project's day): today's
 *     counts in oa.events (the project's time zone), i.e. what oa-sink has already stored;
 *     ClickHouse not answering leaves them null with a reason, the rest is still answered;
 *   - a few sentences that say it in words ("12 events from this site were dropped as
 *     bots").
 *
 * Redis not answering is 503 unavailable with Retry-After. */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECENT_SHOWN OA_RT_RECENT_MAX

typedef struct ch_counts {
        bool ok;
        char date[16];
        long long events, pageviews, collect, api;
        char error[160];
} ch_counts;

static const struct {
        const char *reason;
        const char *words;              /* "... were dropped <words>" */
} drop_words[] = {
        { "bot", "as bots" },
        { "invalid", "as invalid (malformed JSON or missing fields)" },
        { "unknown_site", "because their site_id is unknown" },
        { "rate_limited", "by rate limiting" },
        { "too_large", "as too large" },
        { "queue_full", "because the ingest queue was full" },
        { "undelivered", "because Kafka did not acknowledge them" },
};

/* The SELECT of today's counts in ClickHouse, by receive time in the project's time zone. */
static int today_sql(oa_buf *sql, const Oa__Project *p) {
        const char *tz = p->timezone && p->timezone[0] ? p->timezone : "UTC";
        int r;

        r = oa_buf_adds(sql, "SELECT toString(toDate(now(), ");
        if (r == 0)
                r = oa_ch_quote(sql, tz, strlen(tz));
        if (r == 0)
                r = oa_buf_adds(sql, ")), count(), countIf(event_type = 'pageview'), countIf(source = 'collect'), "
                                "countIf(source = 'api') FROM oa.events WHERE project_id = ");
        if (r == 0)
                r = oa_ch_quote(sql, p->id, strlen(p->id));
        if (r == 0)
                r = oa_buf_adds(sql, " AND toDate(received_at, ");
        if (r == 0)
                r = oa_ch_quote(sql, tz, strlen(tz));
        if (r == 0)
                r = oa_buf_adds(sql, ") = toDate(now(), ");
        if (r == 0)
                r = oa_ch_quote(sql, tz, strlen(tz));
        if (r == 0)
                r = oa_buf_adds(sql, ") FORMAT TabSeparated");
        return r;
}

/* The counts from ClickHouse's answer, or why there are none. */
static void today_counts(ch_counts *c, int r, const char *err, const oa_buf *out) {
        if (r < 0) {
                snprintf(c->error, sizeof(c->error), "clickhouse: %.140s", err && err[0] ? err : strerror(-r));
                return;
        }
        if (!out->data || sscanf(out->data, "%15s\t%lld\t%lld\t%lld\t%lld", c->date, &c->events, &c->pageviews,
                                 &c->collect, &c->api) != 5) {
                snprintf(c->error, sizeof(c->error), "clickhouse: unexpected answer");
                return;
        }
        c->ok = true;
}

typedef struct verify_data {
        long long pv, ev, collect, api;
        const redisReply *recent;       /* LRANGE */
        const redisReply *drops;        /* HGETALL */
        char date[16];                  /* the drops' (UTC) date */
} verify_data;

/* The object. Each recent entry is JSON written by oa-realtime (oa_rt_recent_json); it is
 * copied only when it looks like an object, so nothing else in Redis can break ours. */
static int build(oa_buf *b, const verify_data *d, const ch_counts *c) {
        long long total = d->pv + d->ev, dropped = 0;
        size_t n_recent = 0;
        int r;

        r = oa_buf_addf(b, "{\"arrived\":%s,\"window_minutes\":%d,\"last_30_minutes\":{\"events\":%lld,"
                        "\"pageviews\":%lld,\"other_events\":%lld,\"by_source\":{\"collect\":%lld,\"api\":%lld}},"
                        "\"latest_events\":[", total > 0 ? "true" : "false", OA_RT_SERIES_MIN, total, d->pv, d->ev,
                        d->collect, d->api);
        for (size_t i = 0; r == 0 && d->recent && i < d->recent->elements && i < RECENT_SHOWN; i++) {
                const redisReply *e = d->recent->element[i];

                if (e->type != REDIS_REPLY_STRING || e->len < 2 || e->str[0] != '{' || e->str[e->len - 1] != '}')
                        continue;
                r = oa_buf_adds(b, n_recent++ ? "," : "");
                if (r == 0)
                        r = oa_buf_add(b, e->str, e->len);
        }
        if (r == 0 && c->ok)
                r = oa_buf_addf(b, "],\"clickhouse_today\":{\"date\":\"%s\",\"events\":%lld,\"pageviews\":%lld,"
                                "\"by_source\":{\"collect\":%lld,\"api\":%lld}},\"clickhouse_error\":null",
                                c->date, c->events, c->pageviews, c->collect, c->api);
        else if (r == 0) {
                r = oa_buf_adds(b, "],\"clickhouse_today\":null,\"clickhouse_error\":\"");
                if (r == 0)
                        r = oa_buf_add_json_str(b, c->error, strlen(c->error));
                if (r == 0)
                        r = oa_buf_addc(b, '"');
        }
        if (r == 0)
                r = oa_buf_addf(b, ",\"drops\":{\"date\":\"%s\",\"by_reason\":{", d->date);
        for (size_t i = 0; r == 0 && d->drops && i + 1 < d->drops->elements; i += 2) {
                const redisReply *k = d->drops->element[i];
                long long v = oa_query_rt_int(d->drops->element[i + 1]);

                if (k->type != REDIS_REPLY_STRING)
                        continue;
                r = oa_buf_adds(b, i ? ",\"" : "\"");
                if (r == 0)
                        r = oa_buf_add_json_str(b, k->str, k->len);
                if (r == 0)
                        r = oa_buf_addf(b, "\":%lld", v);
                dropped += v;
        }
        if (r == 0)
                r = oa_buf_addf(b, "},\"total\":%lld},\"messages\":[", dropped);
        /* the same facts in words */
        if (r == 0)
                r = total > 0 ? oa_buf_addf(b, "\"%lld events arrived in the last %d minutes (%lld from the browser "
                                            "snippet, %lld from the server-side API)\"", total, OA_RT_SERIES_MIN,
                                            d->collect, d->api)
                              : oa_buf_addf(b, "\"no event arrived in the last %d minutes\"", OA_RT_SERIES_MIN);
        for (size_t k = 0; r == 0 && d->drops && k < sizeof(drop_words) / sizeof(drop_words[0]); k++)
                for (size_t i = 0; r == 0 && i + 1 < d->drops->elements; i += 2) {
                        const redisReply *key = d->drops->element[i];
                        long long v = oa_query_rt_int(d->drops->element[i + 1]);

                        if (key->type == REDIS_REPLY_STRING && strcmp(key->str, drop_words[k].reason) == 0 && v > 0)
                                r = oa_buf_addf(b, ",\"%lld event%s from this site %s dropped %s today\"", v,
                                                v == 1 ? "" : "s", v == 1 ? "was" : "were", drop_words[k].words);
                }
        if (r == 0)
                r = oa_buf_adds(b, "]}");
        return r;
}

/* The Redis side (one pipelined round trip, on the loop), then the answer. */
static void answer(oa_query_req *rq, const char *project_id, const ch_counts *c) {
        oa_query *q = rq->q;
        redisReply *replies[OA_RT_SERIES_MIN + 2] = { 0 };
        int64_t now_ms = (int64_t) time(NULL) * 1000, last = oa_rt_minute(now_ms);
        size_t n = 0, got = 0;
        char key[OA_RT_KEY_MAX + 64];
        verify_data d = { 0 };
        struct tm tm;
        time_t t = (time_t) (now_ms / 1000);
        oa_buf b;
        int r = 0;

        gmtime_r(&t, &tm);
        strftime(d.date, sizeof(d.date), "%Y-%m-%d", &tm);
        for (int64_t m = last - OA_RT_SERIES_MIN + 1; m <= last && r == 0; m++) {
                r = oa_rt_minute_key(key, sizeof(key), project_id, OA_RT_COUNTS, m);
                if (r > 0)
                        r = oa_rds_append(q->rds, "HMGET %s pv ev collect api", key);
                n++;
        }
        if (r == 0 && (r = oa_rt_recent_key(key, sizeof(key), project_id)) > 0)
                r = oa_rds_append(q->rds, "LRANGE %s 0 %d", key, RECENT_SHOWN - 1);
        n++;
        if (r == 0) {
                /* oa-edge's drop counts (services/edge/store.c) */
                snprintf(key, sizeof(key), "oa:drops:%s:%s", project_id, d.date);
                r = oa_rds_append(q->rds, "HGETALL %s", key);
                n++;
        }
        for (size_t i = 0; r == 0 && i < n; i++)
                if (oa_rds_get_reply(q->rds, &replies[i]) == 0)
                        got++;
        if (r < 0 || got != n) {
                rq->retry_after = 1;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, "verification data is unavailable (Redis "
                                    "does not answer)");
                goto out;
        }
        for (size_t i = 0; i < OA_RT_SERIES_MIN; i++) {
                const redisReply *h = replies[i];

                if (h->type != REDIS_REPLY_ARRAY || h->elements != 4)
                        continue;
                d.pv += oa_query_rt_int(h->element[0]);
                d.ev += oa_query_rt_int(h->element[1]);
                d.collect += oa_query_rt_int(h->element[2]);
                d.api += oa_query_rt_int(h->element[3]);
        }
        d.recent = replies[OA_RT_SERIES_MIN]->type == REDIS_REPLY_ARRAY ? replies[OA_RT_SERIES_MIN] : NULL;
        d.drops = replies[OA_RT_SERIES_MIN + 1]->type == REDIS_REPLY_ARRAY ? replies[OA_RT_SERIES_MIN + 1] : NULL;
        oa_buf_init(&b, 4u << 20);
        if (build(&b, &d, c) == 0)
                oa_query_send_json(rq, 200, b.data, b.len);
        else
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "verification answer too large");
        oa_buf_done(&b);
out:
        for (size_t i = 0; i < n; i++)
                if (replies[i])
                        freeReplyObject(replies[i]);
}

static void today_answered(oa_query_req *rq, void *ud, int r, int ch_code, const char *err, const oa_buf *out) {
        ch_counts c = { 0 };

        (void) ch_code;
        if (r == 0)
                oa_metrics_counter_inc(rq->q->m.ch_ok, 1);
        today_counts(&c, r, err, out);
        answer(rq, ud, &c);
}

/* ClickHouse's count first, on a worker (it scans the project's day: not on the loop);
 * the queue full or the statement unbuildable leaves only its part null. */
void oa_query_verify(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        char *project_id = h2o_mem_alloc_pool(&rq->req->pool, OA_ENTITY_ID_MAX);
        ch_counts c = { 0 };
        oa_buf sql;
        int r;

        (void) id;
        snprintf(project_id, OA_ENTITY_ID_MAX, "%s", auth->project->id);
        oa_buf_init(&sql, 4096);
        r = today_sql(&sql, auth->project);
        if (r == 0)
                r = oa_query_ch_call(rq, sql.data, false, 4096, today_answered, project_id);
        oa_buf_done(&sql);
        if (r == 0)
                return;
        snprintf(c.error, sizeof(c.error), "%s", r == -EBUSY ? "clickhouse: too many reads are waiting" :
                 "clickhouse: the query could not be built");
        answer(rq, project_id, &c);
}

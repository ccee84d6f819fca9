/* GET /v1/projects/{id}/realtime: current visitors, the last half hour per minute and the
 * top pages, referrers and countries of the last minutes, from Redis alone (oa/rt.h; the
 * writer is oa-realtime).
 *
 * Cheap by construction: one computation is one pipelined Redis round trip (65 commands),
 * and it is shared by every poller and stream of the project within its slot of
 * OA_QUERY_REALTIME_CACHE_MS (the cache holds the JSON body and its ETag). A poller that
 * sends If-None-Match with the current ETag gets 304 without a body. The object carries no
 * time of its own computation, so an unchanged picture keeps its ETag. Redis not answering
 * is 503 unavailable with Retry-After, cached for the slot too, so an outage costs nothing
 * more. */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_EVERY_MS 10000
#define SWEEP_AGE_MS 60000
#define RETRY_AFTER_S 1

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- reading Redis ---- */

/* A command with the keys of project's kind for minutes [from, to]. */
static int append_keys(oa_rds *rds, const char *cmd, bool numkeys, const char *project, oa_rt_kind kind,
                       int64_t from, int64_t to, const char *tail) {
        const char *argv[OA_RT_SERIES_MIN + 4];
        char keys[OA_RT_SERIES_MIN][OA_RT_KEY_MAX], num[24];
        int argc = 0, r;

        argv[argc++] = cmd;
        if (numkeys) {
                snprintf(num, sizeof(num), "%lld", (long long) (to - from + 1));
                argv[argc++] = num;
        }
        for (int64_t m = from; m <= to; m++) {
                r = oa_rt_minute_key(keys[m - from], OA_RT_KEY_MAX, project, kind, m);
                if (r < 0)
                        return r;
                argv[argc++] = keys[m - from];
        }
        if (tail)
                argv[argc++] = tail;
        return oa_rds_append_argv(rds, argc, argv, NULL);
}

int oa_query_rt_append(oa_rds *rds, const char *project, int64_t now_ms) {
        int64_t last = oa_rt_minute(now_ms), first = last - OA_RT_SERIES_MIN + 1;
        char key[OA_RT_KEY_MAX];
        int n = 0, r = 0;

        for (int64_t m = first; m <= last && r == 0; m++) {
                r = append_keys(rds, "PFCOUNT", false, project, OA_RT_VISITORS, m, m, NULL);
                if (r == 0 && (r = oa_rt_minute_key(key, sizeof(key), project, OA_RT_COUNTS, m)) > 0)
                        r = oa_rds_append(rds, "HMGET %s pv ev collect api", key);
                n += 2;
        }
        if (r == 0)
                r = append_keys(rds, "PFCOUNT", false, project, OA_RT_VISITORS, last - OA_RT_CURRENT_MIN + 1,
                                last, NULL);
        if (r == 0)
                r = append_keys(rds, "PFCOUNT", false, project, OA_RT_VISITORS, first, last, NULL);
        if (r == 0)
                r = append_keys(rds, "ZUNION", true, project, OA_RT_PAGES, last - OA_RT_CURRENT_MIN + 1, last,
                                "WITHSCORES");
        if (r == 0)
                r = append_keys(rds, "ZUNION", true, project, OA_RT_REFERRERS, last - OA_RT_CURRENT_MIN + 1,
                                last, "WITHSCORES");
        if (r == 0)
                r = append_keys(rds, "ZUNION", true, project, OA_RT_COUNTRIES, last - OA_RT_CURRENT_MIN + 1,
                                last, "WITHSCORES");
        return r < 0 ? r : n + 5;
}

long long oa_query_rt_int(const redisReply *r) {
        long long v = 0;

        if (!r)
                return 0;
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING && oa_cfg_parse_ll(r->str, 0, INT64_MAX, &v) == 0)
                return v;
        return 0;
}

static int cmp_entry(const void *a, const void *b) {
        const oa_query_rt_entry *x = a, *y = b;

        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* The top entries of a ZUNION ... WITHSCORES reply (member, score, ...). */
static int fill_top(oa_query_rt_entry *top, size_t *ret_n, const redisReply *r) {
        oa_query_rt_entry cand;
        size_t n = 0;

        if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
                return -EPROTO;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const redisReply *m = r->element[i], *sc = r->element[i + 1];

                if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING)
                        return -EPROTO;
                snprintf(cand.name, sizeof(cand.name), "%.*s", (int) m->len, m->str);
                cand.count = (long long) strtod(sc->str, NULL);
                /* keep the best OA_QUERY_RT_TOP: replace the smallest when better */
                if (n < OA_QUERY_RT_TOP) {
                        top[n++] = cand;
                } else if (cmp_entry(&cand, &top[n - 1]) < 0) {
                        top[n - 1] = cand;
                } else {
                        continue;
                }
                qsort(top, n, sizeof(*top), cmp_entry);
        }
        *ret_n = n;
        return 0;
}

int oa_query_rt_fill(oa_query_rt_snapshot *s, int64_t now_ms, redisReply *const *rp, size_t n) {
        int64_t last = oa_rt_minute(now_ms);
        size_t k = 0;

        memset(s, 0, sizeof(*s));
        s->minute0 = last - OA_RT_SERIES_MIN + 1;
        if (n != 2 * OA_RT_SERIES_MIN + 5)
                return -EPROTO;
        for (size_t i = 0; i < n; i++)
                if (!rp[i] || rp[i]->type == REDIS_REPLY_ERROR)
                        return -EPROTO;
        for (int i = 0; i < OA_RT_SERIES_MIN; i++) {
                const redisReply *v = rp[k++], *h = rp[k++];

                if (v->type != REDIS_REPLY_INTEGER || h->type != REDIS_REPLY_ARRAY || h->elements != 4)
                        return -EPROTO;
                s->visitors[i] = v->integer;
                s->pageviews[i] = oa_query_rt_int(h->element[0]);
                s->events[i] = oa_query_rt_int(h->element[1]);
                s->collect[i] = oa_query_rt_int(h->element[2]);
                s->api[i] = oa_query_rt_int(h->element[3]);
        }
        if (rp[k]->type != REDIS_REPLY_INTEGER || rp[k + 1]->type != REDIS_REPLY_INTEGER)
                return -EPROTO;
        s->current_visitors = rp[k++]->integer;
        s->visitors_total = rp[k++]->integer;
        if (fill_top(s->pages, &s->n_pages, rp[k++]) < 0 ||
            fill_top(s->referrers, &s->n_referrers, rp[k++]) < 0 ||
            fill_top(s->countries, &s->n_countries, rp[k++]) < 0)
                return -EPROTO;
        return 0;
}

/* ---- the object ---- */

static int add_top(oa_buf *b, const char *name, const char *field, const char *count,
                   const oa_query_rt_entry *e, size_t n) {
        int r = oa_buf_addf(b, ",\"%s\":[", name);

        for (size_t i = 0; i < n && r == 0; i++) {
                r = oa_buf_addf(b, "%s{\"%s\":\"", i ? "," : "", field);
                if (r == 0)
                        r = oa_buf_add_json_str(b, e[i].name, strlen(e[i].name));
                if (r == 0)
                        r = oa_buf_addf(b, "\",\"%s\":%lld}", count, e[i].count);
        }
        return r == 0 ? oa_buf_addc(b, ']') : r;
}

int oa_query_rt_json(oa_buf *b, const oa_query_rt_snapshot *s) {
        long long pv = 0, ev = 0;
        int r;

        for (int i = 0; i < OA_RT_SERIES_MIN; i++) {
                pv += s->pageviews[i];
                ev += s->events[i];
        }
        r = oa_buf_addf(b, "{\"current_visitors\":%lld,\"visitors\":%lld,\"pageviews\":%lld,"
                        "\"events\":%lld,\"window_minutes\":%d,\"current_minutes\":%d,\"series\":[",
                        s->current_visitors, s->visitors_total, pv, ev, OA_RT_SERIES_MIN, OA_RT_CURRENT_MIN);
        for (int i = 0; i < OA_RT_SERIES_MIN && r == 0; i++) {
                r = oa_buf_adds(b, i ? ",{\"minute\":\"" : "{\"minute\":\"");
                if (r == 0)
                        r = oa_rt_iso_ms(b, (s->minute0 + i) * 60000);
                if (r == 0)
                        r = oa_buf_addf(b, "\",\"visitors\":%lld,\"pageviews\":%lld,\"events\":%lld}",
                                        s->visitors[i], s->pageviews[i], s->events[i]);
        }
        if (r == 0)
                r = oa_buf_addc(b, ']');
        if (r == 0)
                r = add_top(b, "top_pages", "path", "pageviews", s->pages, s->n_pages);
        if (r == 0)
                r = add_top(b, "top_referrers", "referrer", "events", s->referrers, s->n_referrers);
        if (r == 0)
                r = add_top(b, "top_countries", "country", "events", s->countries, s->n_countries);
        if (r == 0)
                r = oa_buf_addc(b, '}');
        return r;
}

void oa_query_etag(const void *body, size_t len, char etag[24]) {
        const unsigned char *p = body;
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        snprintf(etag, 24, "\"%016llx\"", (unsigned long long) h);
}

bool oa_query_etag_matches(const char *v, size_t len, const char *etag) {
        size_t elen = strlen(etag), i = 0;

        while (i < len) {
                size_t start, end;

                while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                        i++;
                start = i;
                while (i < len && v[i] != ',')
                        i++;
                end = i;
                while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
                        end--;
                if (end - start == 1 && v[start] == '*')
                        return true;
                if (end - start > 2 && v[start] == 'W' && v[start + 1] == '/')
                        start += 2;
                if (end - start == elen && memcmp(v + start, etag, elen) == 0)
                        return true;
        }
        return false;
}

/* ---- the cache ---- */

static int free_result(const void *k, size_t kl, void *v, void *ud) {
        oa_query_rt_result *res = v;

        (void) k;
        (void) kl;
        (void) ud;
        free(res->body);
        free(res);
        return 0;
}

int oa_query_rt_setup(oa_query *q) {
        static const char *const result[] = { "result" };
        oa_metrics_family *f = NULL;
        int r;

        q->rt_cache = oa_map_new();
        if (!q->rt_cache)
                return -ENOMEM;
        r = oa_metrics_counter_family(q->metrics, "oa_query_realtime_answers_total",
                                      "Realtime answers (polls and stream pushes): computed (one Redis "
                                      "round trip), cached (shared within the slot), not_modified (304), "
                                      "unavailable (Redis did not answer).", result, 1, &f);
        if (r == 0)
                r = oa_metrics_family_counter(f, (const char *const[]) { "computed" }, &q->rt_computed);
        if (r == 0)
                r = oa_metrics_family_counter(f, (const char *const[]) { "cached" }, &q->rt_cached);
        if (r == 0)
                r = oa_metrics_family_counter(f, (const char *const[]) { "not_modified" }, &q->rt_not_modified);
        if (r == 0)
                r = oa_metrics_family_counter(f, (const char *const[]) { "unavailable" }, &q->rt_unavailable);
        if (r == 0)
                r = oa_metrics_gauge_new(q->metrics, "oa_query_realtime_streams",
                                         "Open /realtime/stream responses.", &q->rt_streams);
        return r;
}

void oa_query_rt_free(oa_query *q) {
        if (!q->rt_cache)
                return;
        oa_map_foreach(q->rt_cache, free_result, NULL);
        q->rt_cache = oa_map_free(q->rt_cache);
}

typedef struct sweep_ctx {
        oa_map *m;
        int64_t slot_min;
        char keys[64][OA_ENTITY_ID_MAX];
        size_t n;
} sweep_ctx;

static int find_old(const void *k, size_t kl, void *v, void *ud) {
        sweep_ctx *c = ud;
        const oa_query_rt_result *res = v;

        if (res->slot < c->slot_min && c->n < 64 && kl < OA_ENTITY_ID_MAX) {
                memcpy(c->keys[c->n], k, kl);
                c->keys[c->n++][kl] = 0;
        }
        return 0;
}

void oa_query_rt_sweep(oa_query *q, int64_t now_ms) {
        sweep_ctx *c;

        if (!q->rt_cache || now_ms - q->rt_swept_ms < SWEEP_EVERY_MS)
                return;
        q->rt_swept_ms = now_ms;
        c = calloc(1, sizeof(*c));
        if (!c)
                return;
        c->m = q->rt_cache;
        c->slot_min = (now_ms - SWEEP_AGE_MS) / q->cfg->realtime_cache_ms;
        oa_map_foreach(q->rt_cache, find_old, c);
        for (size_t i = 0; i < c->n; i++) {
                oa_query_rt_result *res = oa_map_del(q->rt_cache, c->keys[i], strlen(c->keys[i]));

                if (res)
                        free_result(NULL, 0, res, NULL);
        }
        free(c);
}

/* One Redis round trip: the snapshot and its JSON into res. */
static void compute(oa_query *q, const char *project, int64_t now_ms, oa_query_rt_result *res) {
        redisReply *replies[2 * OA_RT_SERIES_MIN + 5] = { 0 };
        oa_query_rt_snapshot *s = NULL;
        oa_buf b;
        int n, got = 0, r;

        free(res->body);
        res->body = NULL;
        res->len = 0;
        res->status = 503;
        res->etag[0] = 0;
        n = oa_query_rt_append(q->rds, project, now_ms);
        if (n < 0) {
                snprintf(res->error, sizeof(res->error), "realtime data is unavailable (redis: %s)",
                         n == -EINVAL ? "bad project id" : oa_rds_errstr(q->rds));
                return;
        }
        /* read every reply, even after a failure: the pipeline must be emptied */
        for (int i = 0; i < n; i++) {
                r = oa_rds_get_reply(q->rds, &replies[i]);
                if (r == 0)
                        got++;
        }
        s = malloc(sizeof(*s));
        if (got != n || !s || oa_query_rt_fill(s, now_ms, replies, (size_t) n) < 0) {
                snprintf(res->error, sizeof(res->error), "realtime data is unavailable (redis: %s)",
                         got != n ? oa_rds_errstr(q->rds) : "unexpected answer");
                goto out;
        }
        oa_buf_init(&b, 1 << 20);
        if (oa_query_rt_json(&b, s) == 0) {
                res->body = oa_buf_steal(&b, &res->len);
                oa_query_etag(res->body, res->len, res->etag);
                res->status = 200;
        } else {
                snprintf(res->error, sizeof(res->error), "realtime answer too large");
        }
        oa_buf_done(&b);
out:
        for (int i = 0; i < n; i++)
                if (replies[i])
                        freeReplyObject(replies[i]);
        free(s);
}

const oa_query_rt_result *oa_query_rt_get(oa_query *q, const char *project) {
        static oa_query_rt_result failed = { .status = 503, .error = "out of memory" };
        int64_t now = wall_ms(), slot = now / q->cfg->realtime_cache_ms;
        oa_query_rt_result *res = oa_map_get(q->rt_cache, project, strlen(project));

        if (res && res->slot == slot && res->status) {
                oa_metrics_counter_inc(q->rt_cached, 1);
                return res;
        }
        if (!res) {
                res = calloc(1, sizeof(*res));
                if (!res || oa_map_put(q->rt_cache, project, strlen(project), res, NULL) < 0) {
                        free(res);
                        return &failed;
                }
        }
        res->slot = slot;
        compute(q, project, now, res);
        oa_metrics_counter_inc(res->status == 200 ? q->rt_computed : q->rt_unavailable, 1);
        return res;
}

/* ---- the route ---- */

void oa_query_realtime(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        const oa_query_rt_result *res = oa_query_rt_get(rq->q, auth->project->id);
        h2o_iovec_t inm;

        (void) id;
        if (res->status != 200) {
                rq->retry_after = RETRY_AFTER_S;
                oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, res->error);
                return;
        }
        rq->cache_control = "private, no-cache";
        oa_http_add_header(rq->req, "ETag", res->etag);
        if (oa_http_header(rq->req, H2O_TOKEN_IF_NONE_MATCH, &inm) == 0 &&
            oa_query_etag_matches(inm.base, inm.len, res->etag)) {
                oa_metrics_counter_inc(rq->q->rt_not_modified, 1);
                oa_query_send_empty(rq, 304);
                return;
        }
        oa_query_send_json(rq, 200, res->body, res->len);
}

/* Tests for services/query/realtime.c: the realtime object from Redis's replies (series,
 * windows, the top lists cut to ten and ordered), its JSON, the ETag and If-None-Match. */
#include "query.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define NOW 1747000000000LL
#define N (2 * OA_RT_SERIES_MIN + 5)

static redisReply *integer(long long v) {
        redisReply *r = calloc(1, sizeof(*r));

        r->type = REDIS_REPLY_INTEGER;
        r->integer = v;
        return r;
}

static redisReply *string(const char *s) {
        redisReply *r = calloc(1, sizeof(*r));

        if (!s) {
                r->type = REDIS_REPLY_NIL;
                return r;
        }
        r->type = REDIS_REPLY_STRING;
        r->str = strdup(s);
        r->len = strlen(s);
        return r;
}

static redisReply *array(size_t n) {
        redisReply *r = calloc(1, sizeof(*r));

        r->type = REDIS_REPLY_ARRAY;
        r->elements = n;
        r->element = calloc(n ? n : 1, sizeof(*r->element));
        return r;
}

/* Replies as Redis gives them: minute i has i visitors, 2i pageviews, one event in the
 * last minute; 7 current and 40 in all; 12 pages ranked by score. */
static void replies(redisReply **rp) {
        size_t k = 0;
        char s[32];

        for (int i = 0; i < OA_RT_SERIES_MIN; i++) {
                redisReply *h = array(4);

                rp[k++] = integer(i);
                snprintf(s, sizeof(s), "%d", 2 * i);
                h->element[0] = string(i ? s : NULL);
                h->element[1] = string(i == OA_RT_SERIES_MIN - 1 ? "1" : NULL);
                h->element[2] = string(NULL);
                h->element[3] = string(i ? s : NULL);
                rp[k++] = h;
        }
        rp[k++] = integer(7);
        rp[k++] = integer(40);
        rp[k] = array(24);
        for (int i = 0; i < 12; i++) {
                snprintf(s, sizeof(s), "/p%02d", i);
                rp[k]->element[2 * i] = string(s);
                snprintf(s, sizeof(s), "%d", i == 3 ? 100 : i);
                rp[k]->element[2 * i + 1] = string(s);
        }
        k++;
        rp[k] = array(2);
        rp[k]->element[0] = string("news.example");
        rp[k]->element[1] = string("3");
        k++;
        rp[k++] = array(0);
}

static void free_all(redisReply **rp) {
        for (int i = 0; i < N; i++)
                freeReplyObject(rp[i]);
}

Test(oa_query_rt, fill_reads_the_series_windows_and_tops) {
        redisReply *rp[N];
        oa_query_rt_snapshot s;

        replies(rp);
        cr_assert_eq(oa_query_rt_fill(&s, NOW, rp, N), 0);
        cr_assert_eq(s.minute0, oa_rt_minute(NOW) - 29);
        cr_assert_eq(s.visitors[5], 5);
        cr_assert_eq(s.pageviews[5], 10);
        cr_assert_eq(s.pageviews[0], 0);
        cr_assert_eq(s.events[29], 1);
        cr_assert_eq(s.current_visitors, 7);
        cr_assert_eq(s.visitors_total, 40);
        cr_assert_eq(s.n_pages, OA_QUERY_RT_TOP);
        cr_assert_str_eq(s.pages[0].name, "/p03");
        cr_assert_eq(s.pages[0].count, 100);
        cr_assert_str_eq(s.pages[1].name, "/p11");
        cr_assert_str_eq(s.pages[9].name, "/p02");     /* 0 and 1 cut */
        cr_assert_eq(s.n_referrers, 1);
        cr_assert_eq(s.n_countries, 0);
        free_all(rp);
}

Test(oa_query_rt, fill_refuses_an_error_answer_or_a_short_pipeline) {
        redisReply *rp[N];
        oa_query_rt_snapshot s;

        replies(rp);
        cr_assert_eq(oa_query_rt_fill(&s, NOW, rp, N - 1), -EPROTO);
        freeReplyObject(rp[61]);
        rp[61] = calloc(1, sizeof(redisReply));
        rp[61]->type = REDIS_REPLY_ERROR;
        rp[61]->str = strdup("ERR unknown command 'ZUNION'");
        cr_assert_eq(oa_query_rt_fill(&s, NOW, rp, N), -EPROTO);
        free_all(rp);
}

Test(oa_query_rt, json_has_the_totals_thirty_points_and_the_tops) {
        redisReply *rp[N];
        oa_query_rt_snapshot s;
        char err[128];
        yajl_val v, series, pages;
        oa_buf b;
        const char *p_cur[] = { "current_visitors", NULL }, *p_pv[] = { "pageviews", NULL },
                   *p_ev[] = { "events", NULL }, *p_series[] = { "series", NULL },
                   *p_pages[] = { "top_pages", NULL }, *p_path[] = { "path", NULL },
                   *p_min[] = { "minute", NULL };

        replies(rp);
        cr_assert_eq(oa_query_rt_fill(&s, NOW, rp, N), 0);
        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_query_rt_json(&b, &s), 0);
        v = yajl_tree_parse(b.data, err, sizeof(err));
        cr_assert_not_null(v, "%s: %s", err, b.data);
        cr_assert_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_cur, yajl_t_number)), 7);
        cr_assert_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_pv, yajl_t_number)), 29 * 30);
        cr_assert_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_ev, yajl_t_number)), 1);
        series = yajl_tree_get(v, p_series, yajl_t_array);
        cr_assert_eq(YAJL_GET_ARRAY(series)->len, 30);
        cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(YAJL_GET_ARRAY(series)->values[29], p_min, yajl_t_string)),
                         "2025-05-11T21:46:00.000Z");
        pages = yajl_tree_get(v, p_pages, yajl_t_array);
        cr_assert_eq(YAJL_GET_ARRAY(pages)->len, 10);
        cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(YAJL_GET_ARRAY(pages)->values[0], p_path, yajl_t_string)),
                         "/p03");
        yajl_tree_free(v);
        oa_buf_done(&b);
        free_all(rp);
}

Test(oa_query_rt, json_escapes_what_redis_holds) {
        oa_query_rt_snapshot s = { 0 };
        char err[128];
        yajl_val v;
        oa_buf b;

        s.n_pages = 1;
        snprintf(s.pages[0].name, sizeof(s.pages[0].name), "/\"a\\b</script>\n");
        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_query_rt_json(&b, &s), 0);
        v = yajl_tree_parse(b.data, err, sizeof(err));
        cr_assert_not_null(v, "%s", b.data);
        yajl_tree_free(v);
        oa_buf_done(&b);
}

Test(oa_query_rt, etag_follows_the_content) {
        char a[24], b[24], c[24];

        oa_query_etag("{\"x\":1}", 7, a);
        oa_query_etag("{\"x\":1}", 7, b);
        oa_query_etag("{\"x\":2}", 7, c);
        cr_assert_str_eq(a, b);
        cr_assert_str_neq(a, c);
        cr_assert_eq(strlen(a), 18);
        cr_assert_eq(a[0], '"');
        cr_assert_eq(a[17], '"');
}

typedef struct inm_row {
        char header[64];                /* inline: criterion runs each row in a new process */
        bool match;
} inm_row;

ParameterizedTestParameters(oa_query_rt, if_none_match) {
        static inm_row rows[] = {
                { "\"0123456789abcdef\"", true },
                { "W/\"0123456789abcdef\"", true },
                { "\"x\", \"0123456789abcdef\"", true },
                { "\"x\",W/\"0123456789abcdef\" ", true },
                { "*", true },
                { "\"0123456789abcdee\"", false },
                { "0123456789abcdef", false },
                { "", false },
                { ",,,", false },
                { "\"0123456789abcdef", false },
                { "W/", false },
        };

        return cr_make_param_array(inm_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(inm_row *row, oa_query_rt, if_none_match) {
        cr_assert_eq(oa_query_etag_matches(row->header, strlen(row->header), "\"0123456789abcdef\""), row->match,
                     "If-None-Match: %s", row->header);
}

Test(oa_query_rt, counts_of_replies) {
        redisReply *s = string("42"), *nil = string(NULL), *bad = string("4x"), *i = integer(9);

        cr_assert_eq(oa_query_rt_int(s), 42);
        cr_assert_eq(oa_query_rt_int(nil), 0);
        cr_assert_eq(oa_query_rt_int(bad), 0);
        cr_assert_eq(oa_query_rt_int(i), 9);
        cr_assert_eq(oa_query_rt_int(NULL), 0);
        freeReplyObject(s);
        freeReplyObject(nil);
        freeReplyObject(bad);
        freeReplyObject(i);
}

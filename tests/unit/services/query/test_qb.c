/* Tests for services/query/qb.c and qb_parse.c: the stats query builder. Whitelists
 * (unknown names refused with the list of allowed ones), hostile values only ever inside
 * quoted literals, dates and time-zone ranges, the table chosen for a query, sessions
 * weighed by sign, and timeseries with every interval filled. */
#include "qb.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char err[512];

static int parse_get(oa_qb_spec *s, oa_qb_route route, const char *const *kv) {
        int r = 0;

        oa_qb_spec_init(s, route);
        for (; r == 0 && kv[0]; kv += 2)
                r = oa_qb_parse_param(s, kv[0], kv[1], strlen(kv[1]), err, sizeof(err));
        return r < 0 ? r : oa_qb_check(s, 731, err, sizeof(err));
}

static char *sql_of(const oa_qb_spec *s, oa_qb_shape shape, const char *tz) {
        static oa_buf b;

        oa_buf_done(&b);
        oa_buf_init(&b, 1u << 20);
        cr_assert_eq(oa_qb_sql(s, shape, "prj_1", tz, s->from, s->to, &b), 0);
        return b.data;
}

Test(oa_qb_date, parse_and_format_round_trip) {
        const char *ok[] = { "1970-01-01", "2024-02-29", "2026-03-29", "2099-12-31" };
        char buf[11];
        int d;

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                cr_assert_eq(oa_qb_date_parse(ok[i], 10, &d), 0, "%s", ok[i]);
                oa_qb_date_format(d, buf);
                cr_assert_str_eq(buf, ok[i]);
        }
        cr_assert_eq(oa_qb_date_parse("2026-03-29", 10, &d), 0);
        cr_assert_eq(d, 20541);
}

Test(oa_qb_date, refuses_what_is_not_a_calendar_date) {
        const char *bad[] = { "2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "1969-12-31",
                              "2026-3-1", "2026/03/01", "20260301", "2026-03-01x", "", "2026-03-0'",
                              "2026-03-01 00:00:00" };
        int d;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(oa_qb_date_parse(bad[i], strlen(bad[i]), &d), -EINVAL, "%s", bad[i]);
}

Test(oa_qb_parse, unknown_dimension_is_named_with_the_allowed_list) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "path,city", NULL };
        oa_qb_spec s;

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, kv), -EINVAL);
        cr_assert(strstr(err, "group_by") && strstr(err, "'city'") && strstr(err, "utm_campaign"), "%s", err);
}

Test(oa_qb_parse, hostile_names_are_not_echoed) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "path'; DROP TABLE x", NULL };
        oa_qb_spec s;

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, kv), -EINVAL);
        cr_assert_null(strstr(err, "DROP"), "%s", err);
}

Test(oa_qb_parse, unknown_metric_operator_and_field) {
        oa_qb_spec s;
        const char *b1 = "{\"metrics\":[\"bounce\"],\"date_range\":[\"2026-03-01\",\"2026-03-02\"]}";
        const char *b2 = "{\"date_range\":[\"2026-03-01\",\"2026-03-02\"],\"filters\":[[\"like\",\"path\",[\"/\"]]]}";
        const char *b3 = "{\"date_range\":[\"2026-03-01\",\"2026-03-02\"],\"filters\":[[\"is\",\"ip\",[\"1\"]]]}";
        const char *b4 = "{\"date_range\":[\"2026-03-01\",\"2026-03-02\"],\"sql\":\"SELECT 1\"}";

        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_body(&s, b1, strlen(b1), err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "'bounce'") && strstr(err, "bounce_rate"), "%s", err);
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_body(&s, b2, strlen(b2), err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "'like'") && strstr(err, "matches_not"), "%s", err);
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_body(&s, b3, strlen(b3), err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "'ip'") && strstr(err, "exit_page"), "%s", err);
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_body(&s, b4, strlen(b4), err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "unknown field"), "%s", err);
}

Test(oa_qb_parse, range_rules) {
        oa_qb_spec s;
        const char *rev[] = { "from", "2026-03-02", "to", "2026-03-01", NULL };
        const char *long_[] = { "from", "2020-01-01", "to", "2026-03-01", NULL };
        const char *none[] = { "from", "2026-03-02", NULL };
        const char *one[] = { "from", "2026-03-02", "to", "2026-03-02", NULL };

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, rev), -EINVAL);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, long_), -EINVAL);
        cr_assert(strstr(err, "731"), "%s", err);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, none), -EINVAL);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, one), 0);
}

Test(oa_qb_parse, event_and_session_fields_do_not_mix) {
        oa_qb_spec s;
        const char *mix[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "path,entry_page", NULL };
        const char *sess[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "entry_page", NULL };
        const char *ev[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "country", NULL };

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, mix), -EINVAL);
        cr_assert(strstr(err, "entry_page"), "%s", err);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, sess), 0);
        cr_assert_eq(s.table, OA_QB_SESSIONS);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, ev), 0);
        cr_assert_eq(s.table, OA_QB_EVENTS);
        cr_assert_eq(parse_get(&s, OA_QB_SESSIONS_ROUTE, ev), 0);
        cr_assert_eq(s.table, OA_QB_SESSIONS);
}

typedef struct hostile {
        char v[64];
        size_t len;
} hostile;

ParameterizedTestParameters(oa_qb_sql, hostile_values_stay_in_literals) {
        static hostile rows[] = {
                { "'", 1 }, { "\\", 1 }, { "\\'", 2 }, { "' OR 1=1 --", 11 }, { "x'); DROP TABLE oa.events; --", 30 },
                { "/* c */", 7 }, { "a\nb", 3 }, { "\xff\xfe", 2 }, { "`x`", 3 }, { "\"", 1 },
        };
        return cr_make_param_array(hostile, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(hostile *h, oa_qb_sql, hostile_values_stay_in_literals) {
        static const char *const ops[] = { "is", "is_not", "contains", "contains_not", "matches", "matches_not" };
        char json[512], esc[256];
        size_t k = 0;
        oa_qb_spec s;
        char *sql;

        /* the value as a JSON string (\u escapes for what JSON needs) */
        for (size_t i = 0; i < h->len; i++) {
                unsigned char c = (unsigned char) h->v[i];

                if (c == '"' || c == '\\')
                        k += (size_t) snprintf(esc + k, sizeof(esc) - k, "\\%c", c);
                else if (c < 0x20)
                        k += (size_t) snprintf(esc + k, sizeof(esc) - k, "\\u%04x", c);
                else
                        esc[k++] = (char) c;
        }
        esc[k] = '\0';
        for (size_t o = 0; o < 6; o++) {
                snprintf(json, sizeof(json), "[[\"%s\",\"path\",[\"%s\"]]]", ops[o], esc);
                oa_qb_spec_init(&s, OA_QB_PAGEVIEWS);
                s.from = 20500;
                s.to = 20510;
                if (oa_qb_parse_filters(&s, json, strlen(json), err, sizeof(err)) < 0) {
                        /* invalid UTF-8 is refused by the JSON parser: fine */
                        cr_assert((unsigned char) h->v[0] >= 0x80, "%s: %s", json, err);
                        continue;
                }
                cr_assert_eq(oa_qb_check(&s, 731, err, sizeof(err)), 0, "%s", err);
                sql = sql_of(&s, OA_QB_ROWS, "UTC");
                /* the only quotes are those of well-formed literals: strip literals and no
                 * quote, comment or semicolon remains */
                {
                        char bare[8192];
                        size_t n = 0;
                        bool in = false;

                        for (const char *p = sql; *p && n < sizeof(bare) - 1; p++) {
                                if (in && *p == '\\') {
                                        p++;
                                        continue;
                                }
                                if (*p == '\'') {
                                        in = !in;
                                        continue;
                                }
                                if (!in)
                                        bare[n++] = *p;
                        }
                        bare[n] = '\0';
                        cr_assert_not(in, "unterminated literal in %s", sql);
                        cr_assert_null(strchr(bare, ';'), "%s", sql);
                        cr_assert_null(strstr(bare, "--"), "%s", sql);
                        cr_assert_null(strstr(bare, "/*"), "%s", sql);
                        cr_assert_null(strstr(bare, "DROP"), "%s", sql);
                }
        }
}

Test(oa_qb_sql, key_dates_stay_within_clickhouse_dates) {
        oa_buf b;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_qb_sql_days(&b, "start", 0, 2, "'UTC'"), 0);
        cr_assert(strstr(b.data, "toDate(start) >= '1970-01-01' AND toDate(start) <= '1970-01-04'"), "%s", b.data);
        oa_buf_reset(&b);
        cr_assert_eq(oa_qb_sql_days(&b, "start", 49663, 49672, "'UTC'"), 0);
        cr_assert(strstr(b.data, "toDate(start) >= '2105-12-21' AND toDate(start) <= '2105-12-31'"), "%s", b.data);
        oa_buf_done(&b);
}

Test(oa_qb_sql, time_zone_range_and_quoting) {
        const char *kv[] = { "from", "2026-03-29", "to", "2026-03-29", "group_by", "hour", NULL };
        oa_qb_spec s;
        oa_buf b;
        char *sql;

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, kv), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "Europe/Berlin");
        cr_assert(strstr(sql, "timestamp >= toDateTime('2026-03-29 00:00:00', 'Europe/Berlin')"), "%s", sql);
        cr_assert(strstr(sql, "timestamp < toDateTime('2026-03-30 00:00:00', 'Europe/Berlin')"), "%s", sql);
        cr_assert(strstr(sql, "toStartOfHour(timestamp, 'Europe/Berlin')"), "%s", sql);
        /* the key's dates, a day wider than the zone's range, for granule skipping */
        cr_assert(strstr(sql, "toDate(timestamp) >= '2026-03-28' AND toDate(timestamp) <= '2026-03-30'"), "%s", sql);
        cr_assert(strstr(sql, "project_id = 'prj_1'"), "%s", sql);
        cr_assert(strstr(sql, "event_type = 'pageview'"), "%s", sql);
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_qb_sql(&s, OA_QB_ROWS, "p", "Europe/Berlin'", s.from, s.to, &b), -EINVAL);
        cr_assert_eq(oa_qb_sql(&s, OA_QB_ROWS, "p", "", s.from, s.to, &b), -EINVAL);
        cr_assert_eq(oa_qb_sql(&s, OA_QB_ROWS, "p", "UTC; DROP", s.from, s.to, &b), -EINVAL);
        oa_buf_done(&b);
        /* a project id is a literal whatever it holds */
        oa_buf_init(&b, 1u << 16);
        cr_assert_eq(oa_qb_sql(&s, OA_QB_ROWS, "p'x", "UTC", s.from, s.to, &b), 0);
        cr_assert(strstr(b.data, "project_id = 'p\\'x'"), "%s", b.data);
        oa_buf_done(&b);
}

Test(oa_qb_sql, sessions_are_weighed_by_sign_without_final) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-31", "group_by", "exit_page", NULL };
        oa_qb_spec s;
        char *sql;

        cr_assert_eq(parse_get(&s, OA_QB_SESSIONS_ROUTE, kv), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "UTC");
        cr_assert_null(strstr(sql, "FINAL"), "%s", sql);
        cr_assert(strstr(sql, "sum(sign) AS s"), "%s", sql);
        cr_assert(strstr(sql, "HAVING s > 0"), "%s", sql);
        cr_assert(strstr(sql, "start >= toDateTime('2026-03-01 00:00:00', 'UTC')"), "%s", sql);
        cr_assert(strstr(sql, "GROUP BY d_exit_page, session_id, visitor_id"), "%s", sql);
}

Test(oa_qb_sql, sessions_without_exit_page_sum_rows_by_sign_directly) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-31", "group_by", "country", NULL };
        const char *fx[] = { "from", "2026-03-01", "to", "2026-03-31", "group_by", "country",
                             "filters", "[[\"is\",\"exit_page\",[\"/\"]]]", NULL };
        oa_qb_spec s;
        char *sql;

        cr_assert_eq(parse_get(&s, OA_QB_SESSIONS_ROUTE, kv), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "UTC");
        cr_assert(strstr(sql, "sign AS s, sign * pageviews AS pv"), "%s", sql);
        cr_assert_null(strstr(sql, "session_id"), "%s", sql);
        cr_assert_null(strstr(sql, "FINAL"), "%s", sql);
        /* a filter on exit_page needs the per-session sums */
        cr_assert_eq(parse_get(&s, OA_QB_SESSIONS_ROUTE, fx), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "UTC");
        cr_assert(strstr(sql, "HAVING s > 0"), "%s", sql);
}

typedef struct interval_row {
        char name[8];
} interval_row;

ParameterizedTestParameters(oa_qb_sql, timeseries_fills_every_interval) {
        static interval_row intervals[] = { { "hour" }, { "day" }, { "week" }, { "month" } };
        return cr_make_param_array(interval_row, intervals, 4);
}

ParameterizedTest(interval_row *row, oa_qb_sql, timeseries_fills_every_interval) {
        const char *name = row->name, **interval = &name;
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-31", "interval", *interval,
                             "metrics", "pageviews,visits", NULL };
        const char *ev[] = { "from", "2026-03-01", "to", "2026-03-31", "interval", *interval,
                             "metrics", "pageviews,visitors", NULL };
        oa_qb_spec s;
        char want[64], *sql;

        /* pageviews and visits come from different tables' rows of one kind: sessions */
        cr_assert_eq(parse_get(&s, OA_QB_TIMESERIES, kv), 0, "%s", err);
        cr_assert_eq(s.table, OA_QB_SESSIONS);
        cr_assert_eq(parse_get(&s, OA_QB_TIMESERIES, ev), 0, "%s", err);
        cr_assert_eq(s.table, OA_QB_EVENTS);
        sql = sql_of(&s, OA_QB_ROWS, "America/New_York");
        snprintf(want, sizeof(want), ") AS buckets ANY LEFT JOIN (");
        cr_assert(strstr(sql, want), "%s", sql);
        snprintf(want, sizeof(want), ") AS agg USING d_%s ORDER BY d_%s ASC", *interval, *interval);
        cr_assert(strstr(sql, want), "%s", sql);
        if (strcmp(*interval, "hour") == 0)
                cr_assert(strstr(sql, "numbers(746)"), "%s", sql);     /* 31 days * 24 + 2 */
        else
                cr_assert(strstr(sql, "numbers(31)"), "%s", sql);
}

Test(oa_qb_sql, timeseries_takes_one_interval) {
        const char *two[] = { "from", "2026-03-01", "to", "2026-03-02", "interval", "day", "interval2", "x", NULL };
        const char *bad[] = { "from", "2026-03-01", "to", "2026-03-02", "interval", "path", NULL };
        const char *grp[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "path", NULL };
        oa_qb_spec s;

        cr_assert_eq(parse_get(&s, OA_QB_TIMESERIES, two), -EINVAL);
        cr_assert_eq(parse_get(&s, OA_QB_TIMESERIES, bad), -EINVAL);
        cr_assert_eq(parse_get(&s, OA_QB_TIMESERIES, grp), -EINVAL);
}

Test(oa_qb_sql, pages_and_order) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-02", "group_by", "path,country",
                             "order_by", "visitors:asc,path:desc", "limit", "25", "page", "3", NULL };
        const char *bad[] = { "from", "2026-03-01", "to", "2026-03-02", "order_by", "visits", NULL };
        const char *big[] = { "from", "2026-03-01", "to", "2026-03-02", "limit", "1001", NULL };
        oa_qb_spec s;
        char *sql;

        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, kv), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "UTC");
        cr_assert(strstr(sql, "ORDER BY m_visitors ASC, d_path DESC, d_path ASC, d_country ASC LIMIT 50, 25"), "%s", sql);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, bad), -EINVAL);
        cr_assert_eq(parse_get(&s, OA_QB_PAGEVIEWS, big), -EINVAL);
}

Test(oa_qb_sql, conversions_goal_is_a_literal_and_revenue_per_currency) {
        const char *kv[] = { "from", "2026-03-01", "to", "2026-03-02", "event_name", "buy'); --", NULL };
        oa_qb_spec s;
        char *sql;

        cr_assert_eq(parse_get(&s, OA_QB_CONVERSIONS, kv), 0, "%s", err);
        sql = sql_of(&s, OA_QB_ROWS, "UTC");
        cr_assert(strstr(sql, "event_name = 'buy\\'); --'"), "%s", sql);
        cr_assert(strstr(sql, "HAVING m_conversions > 0"), "%s", sql);
        sql = sql_of(&s, OA_QB_REVENUE, "UTC");
        cr_assert(strstr(sql, "GROUP BY currency"), "%s", sql);
}

Test(oa_qb_parse, filter_limits) {
        oa_qb_spec s;
        char json[4096];
        size_t n = 0;

        /* nesting deeper than allowed */
        n += (size_t) snprintf(json + n, sizeof(json) - n, "[");
        for (int i = 0; i < 12; i++)
                n += (size_t) snprintf(json + n, sizeof(json) - n, "[\"not\",");
        n += (size_t) snprintf(json + n, sizeof(json) - n, "[\"is\",\"path\",[\"/\"]]");
        for (int i = 0; i < 12; i++)
                n += (size_t) snprintf(json + n, sizeof(json) - n, "]");
        snprintf(json + n, sizeof(json) - n, "]");
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_filters(&s, json, strlen(json), err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "nested"), "%s", err);
        /* values must be strings, lists not empty */
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_filters(&s, "[[\"is\",\"path\",[1]]]", 20, err, sizeof(err)), -EINVAL);
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_filters(&s, "[[\"is\",\"path\",[]]]", 19, err, sizeof(err)), -EINVAL);
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_filters(&s, "[[\"is\",\"day\",[\"x\"]]]", 21, err, sizeof(err)), -EINVAL);
        /* a NUL byte in the text */
        oa_qb_spec_init(&s, OA_QB_QUERY);
        cr_assert_eq(oa_qb_parse_filters(&s, "[[\"is\",\"path\",[\"a\"]]]\0x", 24, err, sizeof(err)), -EINVAL);
}

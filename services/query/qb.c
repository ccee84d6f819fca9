/* The query builder's whitelists (dimensions, metrics), calendar dates, and the SQL text
 * (see qb.h). Pure: no I/O, so every shape of SQL is tested in tests/unit. */
#include "qb.h"

#include "oa/ch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- whitelists ---- */

/* A dimension: its expression on each table ("" where the table lacks it). Time
 * dimensions are templates with %1$s for the time column and %2$s for the quoted zone. */
typedef struct dim {
        const char *name;
        const char *events;
        const char *sessions;
        bool time;
} dim;

static const dim dims[] = {
        { "path", "path", "", false },
        { "hostname", "hostname", "hostname", false },
        { "referrer", "referrer", "referrer", false },
        { "source", "referrer_source", "referrer_source", false },
        { "utm_source", "utm_source", "utm_source", false },
        { "utm_medium", "utm_medium", "utm_medium", false },
        { "utm_campaign", "utm_campaign", "utm_campaign", false },
        { "utm_content", "utm_content", "utm_content", false },
        { "utm_term", "utm_term", "utm_term", false },
        { "country", "country", "country", false },
        { "device", "device", "device", false },
        { "browser", "browser", "browser", false },
        { "os", "os", "os", false },
        { "entry_page", "", "entry_page", false },
        { "exit_page", "", "exit_page", false },
        { "event_type", "event_type", "", false },
        { "event_name", "event_name", "", false },
        { "currency", "currency", "", false },
        { "hour", "toString(toStartOfHour(%1$s, %2$s), %2$s)", "", true },
        { "day", "toString(toDate(%1$s, %2$s))", "", true },
        { "week", "toString(toMonday(%1$s, %2$s))", "", true },
        { "month", "toString(toStartOfMonth(%1$s, %2$s))", "", true },
};

#define N_DIMS ((int) (sizeof(dims) / sizeof(dims[0])))

/* A metric: its expression on oa.events (C is the conversion condition) and on the
 * per-session subquery of oa.sessions (columns s, pv, ev, dur, b; see session_sql). */
typedef struct metric {
        const char *name;
        const char *events;
        const char *sessions;
} metric;

static const metric metrics[] = {
        { "pageviews", "countIf(event_type = 'pageview')", "sum(pv)" },
        { "visitors", "uniqExact(visitor_id)", "uniqExact(visitor_id)" },
        { "events", "count()", "sum(ev)" },
        { "visits", "", "sum(s)" },
        { "bounce_rate", "", "if(sum(s) = 0, 0, round(100 * sum(b) / sum(s), 2))" },
        { "visit_duration", "", "if(sum(s) = 0, 0, round(sum(dur) / sum(s), 2))" },
        { "pageviews_per_visit", "", "if(sum(s) = 0, 0, round(sum(pv) / sum(s), 2))" },
        { "conversions", "countIf(%1$s)", "" },
        { "converted_visitors", "uniqExactIf(visitor_id, %1$s)", "" },
        { "converted_users", "uniqExactIf(user_id, %1$s AND user_id != '')", "" },
        { "conversion_rate", "if(uniqExact(visitor_id) = 0, 0, "
          "round(100 * uniqExactIf(visitor_id, %1$s) / uniqExact(visitor_id), 2))", "" },
        { "revenue", "sumIf(revenue, %1$s)", "" },
};

#define N_METRICS ((int) (sizeof(metrics) / sizeof(metrics[0])))

static int find(const char *name, size_t n, size_t stride, const void *table, int count) {
        for (int i = 0; i < count; i++) {
                const char *cand = *(const char *const *) ((const char *) table + (size_t) i * stride);

                if (strlen(cand) == n && memcmp(cand, name, n) == 0)
                        return i;
        }
        return -1;
}

int oa_qb_dim_find(const char *name, size_t n) {
        return find(name, n, sizeof(dim), dims, N_DIMS);
}

int oa_qb_metric_find(const char *name, size_t n) {
        return find(name, n, sizeof(metric), metrics, N_METRICS);
}

const char *oa_qb_dim_name(int i) {
        return dims[i].name;
}

const char *oa_qb_metric_name(int i) {
        return metrics[i].name;
}

bool oa_qb_dim_is_time(int i) {
        return dims[i].time;
}

int oa_qb_dim_tables(int i) {
        return (dims[i].events[0] ? OA_QB_EVENTS : 0) |
               (dims[i].sessions[0] || dims[i].time ? OA_QB_SESSIONS : 0);
}

int oa_qb_metric_tables(int i) {
        return (metrics[i].events[0] ? OA_QB_EVENTS : 0) | (metrics[i].sessions[0] ? OA_QB_SESSIONS : 0);
}

const char *oa_qb_dim_list(void) {
        return "path, hostname, referrer, source, utm_source, utm_medium, utm_campaign, "
               "utm_content, utm_term, country, device, browser, os, entry_page, exit_page, "
               "event_type, event_name, currency, hour, day, week, month";
}

const char *oa_qb_metric_list(void) {
        return "pageviews, visitors, events, visits, bounce_rate, visit_duration, "
               "pageviews_per_visit, conversions, converted_visitors, converted_users, "
               "conversion_rate, revenue";
}

/* ---- dates (Howard Hinnant's days_from_civil / civil_from_days) ---- */

static int days_from_civil(int y, int m, int d) {
        int era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void oa_qb_date_format(int days, char buf[11]) {
        int z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        int doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9);

        unsigned yy = (unsigned) (y + (m <= 2)) % 10000u, mm = (unsigned) m % 13u, dd = (unsigned) d % 32u;

        buf[0] = (char) ('0' + yy / 1000);
        buf[1] = (char) ('0' + yy / 100 % 10);
        buf[2] = (char) ('0' + yy / 10 % 10);
        buf[3] = (char) ('0' + yy % 10);
        buf[4] = '-';
        buf[5] = (char) ('0' + mm / 10);
        buf[6] = (char) ('0' + mm % 10);
        buf[7] = '-';
        buf[8] = (char) ('0' + dd / 10);
        buf[9] = (char) ('0' + dd % 10);
        buf[10] = '\0';
}

int oa_qb_date_parse(const char *s, size_t n, int *ret_days) {
        static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int y, m, d;

        if (n != 10 || s[4] != '-' || s[7] != '-')
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
                        return -EINVAL;
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        m = (s[5] - '0') * 10 + (s[6] - '0');
        d = (s[8] - '0') * 10 + (s[9] - '0');
        if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
                return -EINVAL;
        if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
                return -EINVAL;
        *ret_days = days_from_civil(y, m, d);
        return 0;
}

/* ---- SQL ---- */

typedef struct sql {
        oa_buf *out;
        const oa_qb_spec *s;
        const char *tz;                 /* the zone as a quoted literal */
        const char *cond;               /* the conversion condition */
        int err;
} sql;

static void add(sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(sql *q, const char *fmt, ...) {
        va_list ap;

        if (q->err)
                return;
        va_start(ap, fmt);
        q->err = oa_buf_vaddf(q->out, fmt, ap);
        va_end(ap);
}

static void lit(sql *q, const char *s, size_t n) {
        if (!q->err)
                q->err = oa_ch_quote(q->out, s, n);
}

/* The expression of dimension i on the query's table (time templates filled in). */
static void dim_expr(sql *q, int i) {
        const dim *d = &dims[i];

        if (d->time)
                add(q, d->events, q->s->table == OA_QB_EVENTS ? "timestamp" : "start", q->tz);
        else
                add(q, "%s", q->s->table == OA_QB_EVENTS ? d->events : d->sessions);
}

static void metric_expr(sql *q, int i) {
        const metric *m = &metrics[i];

        if (q->s->table == OA_QB_EVENTS)
                add(q, m->events, q->cond);
        else
                add(q, "%s", m->sessions);
}

/* A filter node as a boolean expression. Values are literals; the column comes from the
 * whitelist; a leaf with several values is true when any of them matches (is, contains,
 * matches) or when none does (the _not forms). */
static void node_expr(sql *q, int k) {
        const oa_qb_node *n = &q->s->nodes[k];
        bool neg = n->op == OA_QB_IS_NOT || n->op == OA_QB_CONTAINS_NOT || n->op == OA_QB_MATCHES_NOT;

        switch (n->op) {
        case OA_QB_AND:
        case OA_QB_OR:
                add(q, "(");
                for (unsigned c = 0; c < n->n; c++) {
                        if (c)
                                add(q, n->op == OA_QB_AND ? " AND " : " OR ");
                        node_expr(q, n->kids[c]);
                }
                add(q, ")");
                return;
        case OA_QB_NOT:
                add(q, "(NOT ");
                node_expr(q, n->kids[0]);
                add(q, ")");
                return;
        default:
                break;
        }
        add(q, neg ? "(NOT (" : "((");
        for (unsigned v = 0; v < n->n; v++) {
                unsigned off = q->s->val_off[n->first + v], len = q->s->val_len[n->first + v];

                if (v)
                        add(q, " OR ");
                if (n->op == OA_QB_CONTAINS || n->op == OA_QB_CONTAINS_NOT)
                        add(q, "positionCaseInsensitive(");
                else if (n->op == OA_QB_MATCHES || n->op == OA_QB_MATCHES_NOT)
                        add(q, "match(");
                dim_expr(q, n->field);
                if (n->op == OA_QB_IS || n->op == OA_QB_IS_NOT)
                        add(q, " = ");
                else
                        add(q, ", ");
                lit(q, q->s->text + off, len);
                if (n->op == OA_QB_CONTAINS || n->op == OA_QB_CONTAINS_NOT)
                        add(q, ") > 0");
                else if (n->op == OA_QB_MATCHES || n->op == OA_QB_MATCHES_NOT)
                        add(q, ")");
        }
        add(q, "))");
}

/* WHERE: the project, the time range as instants of the zone, the route's rule, the
 * filters. */
int oa_qb_sql_days(oa_buf *b, const char *col, int from, int to, const char *tzq) {
        enum { DATE_MAX = 49672 };      /* 2105-12-31, ClickHouse's last Date */
        char d0[11], d1[11], k0[11], k1[11];

        oa_qb_date_format(from, d0);
        oa_qb_date_format(to + 1, d1);
        oa_qb_date_format(from < 1 ? 0 : from > DATE_MAX ? DATE_MAX : from - 1, k0);
        oa_qb_date_format(to + 1 > DATE_MAX ? DATE_MAX : to + 1, k1);
        /* The sorting keys have toDate(col) in the server's zone, which ClickHouse 18.16
         * does not derive from a range of col: the dates one day wider than the range (any
         * zone is within a day of the server's) let it skip the other days' granules
         * (half the rows read for 30 of 90 days). */
        return oa_buf_addf(b, " AND toDate(%s) >= '%s' AND toDate(%s) <= '%s' AND %s >= toDateTime('%s 00:00:00', %s)"
                           " AND %s < toDateTime('%s 00:00:00', %s)", col, k0, col, k1, col, d0, tzq, col, d1, tzq);
}

static void where(sql *q, const char *project, int from, int to) {
        add(q, " WHERE project_id = ");
        lit(q, project, strlen(project));
        if (!q->err)
                q->err = oa_qb_sql_days(q->out, q->s->table == OA_QB_EVENTS ? "timestamp" : "start", from, to,
                                        q->tz);
        if (q->s->route == OA_QB_PAGEVIEWS && q->s->table == OA_QB_EVENTS)
                add(q, " AND event_type = 'pageview'");
        if (q->s->root >= 0) {
                add(q, " AND ");
                node_expr(q, q->s->root);
        }
}

/* True when a dimension (of the first nd) or a filter of s reads a session column that
 * changes as the session grows (exit_page; the metrics' columns are summed by sign). */
static bool session_varies(const oa_qb_spec *s, size_t nd) {
        int exit_page = oa_qb_dim_find("exit_page", 9);

        for (size_t i = 0; i < nd; i++)
                if (s->dims[i] == exit_page)
                        return true;
        for (size_t i = 0; i < s->n_nodes; i++)
                if (s->nodes[i].op != OA_QB_AND && s->nodes[i].op != OA_QB_OR && s->nodes[i].op != OA_QB_NOT &&
                    s->nodes[i].field == exit_page)
                        return true;
        return false;
}

/* The aggregate part: SELECT d_..., m_... FROM <table> WHERE ... GROUP BY d_... Session
 * rows are weighed by sign (see session_varies). */
static void aggregate(sql *q, const char *project, int from, int to, bool with_dims) {
        const oa_qb_spec *s = q->s;
        size_t nd = with_dims ? s->n_dims : 0;

        add(q, "SELECT ");
        for (size_t i = 0; i < nd; i++)
                add(q, "d_%s, ", dims[s->dims[i]].name);
        for (size_t i = 0; i < s->n_metrics; i++) {
                add(q, i ? ", " : "");
                metric_expr(q, s->metrics[i]);
                add(q, " AS m_%s", metrics[s->metrics[i]].name);
        }
        if (s->table == OA_QB_EVENTS) {
                /* the dimensions' expressions as aliases in a subquery, so the outer
                 * query groups by names only */
                add(q, " FROM (SELECT ");
                for (size_t i = 0; i < nd; i++) {
                        dim_expr(q, s->dims[i]);
                        add(q, " AS d_%s, ", dims[s->dims[i]].name);
                }
                add(q, "event_type, event_name, visitor_id, user_id, revenue, currency FROM oa.events");
                where(q, project, from, to);
                add(q, ")");
        } else if (!session_varies(s, nd)) {
                /* Every column used is the same in all rows of a session: the rows
                 * weighed by sign are the live sessions, and a visitor with rows in a
                 * group has a live session there. */
                add(q, " FROM (SELECT ");
                for (size_t i = 0; i < nd; i++) {
                        dim_expr(q, s->dims[i]);
                        add(q, " AS d_%s, ", dims[s->dims[i]].name);
                }
                add(q, "visitor_id, sign AS s, sign * pageviews AS pv, sign * events AS ev, "
                    "sign * duration AS dur, sign * is_bounce AS b FROM oa.sessions");
                where(q, project, from, to);
                add(q, ")");
        } else {
                /* exit_page changes as a session grows: sum each session's rows by sign
                 * first, keep the live ones (a cancelled state's +1 and -1 cancel out) */
                add(q, " FROM (SELECT ");
                for (size_t i = 0; i < nd; i++) {
                        dim_expr(q, s->dims[i]);
                        add(q, " AS d_%s, ", dims[s->dims[i]].name);
                }
                add(q, "visitor_id, sum(sign) AS s, sum(sign * pageviews) AS pv, "
                    "sum(sign * events) AS ev, sum(sign * duration) AS dur, "
                    "sum(sign * is_bounce) AS b FROM oa.sessions");
                where(q, project, from, to);
                add(q, " GROUP BY ");
                for (size_t i = 0; i < nd; i++)
                        add(q, "d_%s, ", dims[s->dims[i]].name);
                add(q, "session_id, visitor_id HAVING s > 0)");
        }
        if (nd) {
                add(q, " GROUP BY ");
                for (size_t i = 0; i < nd; i++)
                        add(q, "%sd_%s", i ? ", " : "", dims[s->dims[i]].name);
        }
        if (s->route == OA_QB_CONVERSIONS)
                add(q, " HAVING m_conversions > 0");
}

/* The intervals of [from, to] for a time dimension, as d_<name> strings. */
static void buckets(sql *q, int t, int from, int to) {
        char d0[11], d1[11];
        int days = to - from + 1;

        oa_qb_date_format(from, d0);
        oa_qb_date_format(to + 1, d1);
        if (strcmp(dims[t].name, "hour") == 0)
                add(q, "SELECT DISTINCT toString(toStartOfHour(toDateTime('%s 00:00:00', %s) + number * 3600, "
                    "%s), %s) AS d_hour FROM numbers(%d) WHERE toDateTime('%s 00:00:00', %s) + number * 3600 "
                    "< toDateTime('%s 00:00:00', %s)", d0, q->tz, q->tz, q->tz, days * 24 + 2, d0, q->tz,
                    d1, q->tz);
        else if (strcmp(dims[t].name, "day") == 0)
                add(q, "SELECT toString(toDate('%s') + number) AS d_day FROM numbers(%d)", d0, days);
        else
                add(q, "SELECT DISTINCT toString(%s(toDate('%s') + number)) AS d_%s FROM numbers(%d)",
                    strcmp(dims[t].name, "week") == 0 ? "toMonday" : "toStartOfMonth", d0, dims[t].name,
                    days);
}

static void order_limit(sql *q) {
        const oa_qb_spec *s = q->s;
        bool any = false;

        add(q, " ORDER BY ");
        for (size_t i = 0; i < s->n_order; i++) {
                add(q, "%s%s_%s %s", any ? ", " : "", s->order[i].metric ? "m" : "d",
                    s->order[i].metric ? metrics[s->order[i].field].name : dims[s->order[i].field].name,
                    s->order[i].desc ? "DESC" : "ASC");
                any = true;
        }
        if (!s->n_order && s->n_metrics && !(s->n_dims && dims[s->dims[0]].time)) {
                add(q, "m_%s DESC", metrics[s->metrics[0]].name);
                any = true;
        }
        /* then the dimensions, so equal metrics come in a stable order across pages */
        for (size_t i = 0; i < s->n_dims; i++) {
                add(q, "%sd_%s ASC", any ? ", " : "", dims[s->dims[i]].name);
                any = true;
        }
        if (!any)
                add(q, "1");
        add(q, " LIMIT %lld, %lld", (s->page - 1) * s->limit, s->limit);
}

static bool tz_ok(const char *tz) {
        size_t n = strlen(tz);

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((tz[i] >= 'A' && tz[i] <= 'Z') || (tz[i] >= 'a' && tz[i] <= 'z') ||
                      (tz[i] >= '0' && tz[i] <= '9') || strchr("_+-/", tz[i])))
                        return false;
        return true;
}

int oa_qb_sql(const oa_qb_spec *s, oa_qb_shape shape, const char *project, const char *tz,
              int from, int to, oa_buf *out) {
        char tzq[160], cond[600];
        oa_buf b;
        sql q = { .out = out, .s = s, .tz = tzq, .cond = cond };

        if (!tz_ok(tz))
                return -EINVAL;
        oa_buf_init(&b, sizeof(tzq));
        if (oa_ch_quote(&b, tz, strlen(tz)) < 0 || b.len >= sizeof(tzq)) {
                oa_buf_done(&b);
                return -EINVAL;
        }
        memcpy(tzq, b.data, b.len);
        tzq[b.len] = '\0';
        oa_buf_reset(&b);
        b.max = sizeof(cond) - 64;
        if (s->goal[0] && oa_ch_quote(&b, s->goal, strlen(s->goal)) < 0) {
                oa_buf_done(&b);
                return -EINVAL;
        }
        if (s->goal[0])
                snprintf(cond, sizeof(cond), "(event_type = 'conversion' AND event_name = %.*s)",
                         (int) b.len, b.data);
        else
                snprintf(cond, sizeof(cond), "(event_type = 'conversion')");
        oa_buf_done(&b);

        if (shape == OA_QB_REVENUE) {
                /* revenue per currency over the whole selection */
                add(&q, "SELECT currency AS d_currency, sum(revenue) AS m_revenue, count() AS m_conversions "
                    "FROM oa.events");
                where(&q, project, from, to);
                add(&q, " AND %s AND currency != '' GROUP BY currency ORDER BY currency", cond);
                return q.err;
        }
        if (shape == OA_QB_TOTALS) {
                aggregate(&q, project, from, to, false);
                return q.err;
        }
        if (s->route == OA_QB_TIMESERIES) {
                int t = s->dims[0];

                add(&q, "SELECT d_%s", dims[t].name);
                for (size_t i = 0; i < s->n_metrics; i++)
                        add(&q, ", m_%s", metrics[s->metrics[i]].name);
                add(&q, " FROM (");
                buckets(&q, t, from, to);
                /* current servers want an alias on each side of a JOIN */
                add(&q, ") AS buckets ANY LEFT JOIN (");
                aggregate(&q, project, from, to, true);
                add(&q, ") AS agg USING d_%s", dims[t].name);
                order_limit(&q);
                return q.err;
        }
        aggregate(&q, project, from, to, true);
        order_limit(&q);
        return q.err;
}

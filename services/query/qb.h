/* The stats query builder: a read of oa.events / oa.sessions described by whitelisted
 * dimensions, metrics and filters (oa_qb_spec), parsed from a GET route's parameters or
 * from the body of POST /v1/projects/{id}/query (qb_parse.c), and turned into SQL that
 * runs on ClickHouse 18.16 and on current releases (qb.c).
 *
 * Safety: identifiers (columns, functions, aliases) come only from the tables in qb.c;
 * every literal (project id, time zone, dates, filter values) goes through oa_ch_quote.
 * Result columns are aliased d_<dimension> and m_<metric>, so no alias can shadow a
 * column of the table (ClickHouse lets an alias win over a column anywhere in a query).
 *
 * Times: from and to are dates in the project's time zone, both inclusive; the builder
 * turns them into a range of `timestamp` (events) or `start` (sessions: a session
 * belongs to the day it started) with toDateTime('YYYY-MM-DD 00:00:00', tz), so the
 * primary key still prunes. Sessions are read without FINAL, weighing rows by sign; when
 * a query groups or filters by exit_page (which changes as a session grows), each
 * session's +1/-1 rows are summed first and only live sessions (sum > 0) are counted. */
#ifndef OA_QUERY_QB_H
#define OA_QUERY_QB_H

#include "oa/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define OA_QB_MAX_DIMS 6
#define OA_QB_MAX_METRICS 12
#define OA_QB_MAX_NODES 32              /* filter nodes (leaves and and/or/not) */
#define OA_QB_MAX_VALUES 64             /* values of one filter leaf */
#define OA_QB_MAX_VALUE_LEN 1024        /* bytes of one filter value */
#define OA_QB_TEXT_MAX 16384            /* all filter values of one query */
#define OA_QB_MAX_ORDER 4
#define OA_QB_MAX_LIMIT 1000
#define OA_QB_DEFAULT_LIMIT 100
#define OA_QB_MAX_DEPTH 8               /* nesting of and/or/not */

enum { OA_QB_EVENTS = 1, OA_QB_SESSIONS = 2 };

/* Routes: what a GET route implies on top of its parameters. */
typedef enum oa_qb_route {
        OA_QB_QUERY = 0,                /* POST /query: only what the body says */
        OA_QB_PAGEVIEWS,                /* pageview events only (on oa.events) */
        OA_QB_SESSIONS_ROUTE,
        OA_QB_CONVERSIONS,              /* groups with at least one conversion */
        OA_QB_TIMESERIES,               /* one time dimension, empty intervals filled */
} oa_qb_route;

typedef enum oa_qb_op {
        OA_QB_IS, OA_QB_IS_NOT, OA_QB_CONTAINS, OA_QB_CONTAINS_NOT, OA_QB_MATCHES,
        OA_QB_MATCHES_NOT, OA_QB_AND, OA_QB_OR, OA_QB_NOT,
} oa_qb_op;

/* One node of the filter tree. A leaf names a dimension (field) and holds values as
 * offsets into the spec's text; and/or/not list their children as node indexes. */
typedef struct oa_qb_node {
        oa_qb_op op;
        int field;
        unsigned n;                     /* values (leaf) or children */
        unsigned first;                 /* leaf: index of the first value in val_off */
        int kids[OA_QB_MAX_NODES];
} oa_qb_node;

typedef struct oa_qb_order {
        int field;                      /* a dimension or metric index */
        bool metric;
        bool desc;
} oa_qb_order;

typedef struct oa_qb_spec {
        oa_qb_route route;
        int from, to;                   /* days since 1970-01-01, in the project's zone */
        int dims[OA_QB_MAX_DIMS];
        size_t n_dims;
        int metrics[OA_QB_MAX_METRICS];
        size_t n_metrics;
        oa_qb_node nodes[OA_QB_MAX_NODES];
        size_t n_nodes;
        int root;                       /* -1: no filter */
        unsigned val_off[OA_QB_MAX_NODES * 4], val_len[OA_QB_MAX_NODES * 4];
        size_t n_vals;
        char text[OA_QB_TEXT_MAX];
        size_t text_len;
        oa_qb_order order[OA_QB_MAX_ORDER];
        size_t n_order;
        long long limit, page;          /* page from 1 */
        char goal[256];                 /* conversions: event_name, "" for any */
        bool totals, comparison;
        int table;                      /* OA_QB_EVENTS or OA_QB_SESSIONS, set by oa_qb_check */
} oa_qb_spec;

/* ---- whitelists (qb.c) ---- */

/* Index of dimension / metric name (n bytes), or -1. */
int oa_qb_dim_find(const char *name, size_t n);
int oa_qb_metric_find(const char *name, size_t n);

/* Name of dimension / metric i. */
const char *oa_qb_dim_name(int i);
const char *oa_qb_metric_name(int i);

/* The tables (OA_QB_EVENTS | OA_QB_SESSIONS) that have dimension / metric i. */
int oa_qb_dim_tables(int i);
int oa_qb_metric_tables(int i);

/* True for hour, day, week, month. */
bool oa_qb_dim_is_time(int i);

/* Comma list of every dimension / metric / filterable field name, for messages. */
const char *oa_qb_dim_list(void);
const char *oa_qb_metric_list(void);

/* ---- dates (qb.c) ---- */

/* Parse "YYYY-MM-DD" (exactly, a real calendar date from 1970 to 9999) into days since
 * 1970-01-01. Returns 0 or -EINVAL. */
int oa_qb_date_parse(const char *s, size_t n, int *ret_days);

/* Format days since 1970-01-01 as "YYYY-MM-DD" into buf (11 bytes). */
void oa_qb_date_format(int days, char buf[11]);

/* Append " AND <col> within the days from..to of the zone" (tzq: the zone as a quoted
 * literal) to b, with the date bounds ClickHouse needs to skip other days' granules.
 * Returns 0 or an oa_buf error. */
int oa_qb_sql_days(oa_buf *b, const char *col, int from, int to, const char *tzq);

/* ---- parsing (qb_parse.c) ---- */

/* Defaults for route: no dimension, the route's metrics, limit 100, page 1, root -1. */
void oa_qb_spec_init(oa_qb_spec *s, oa_qb_route route);

/* Parse a filter list in the JSON form of both GET ?filters= and the query body:
 * [["is", "path", ["/a", "/b"]], ["not", ["contains", "referrer", ["spam"]]],
 *  ["or", [[...], [...]]]], the list and-ed. Returns 0 or -EINVAL with a message. */
int oa_qb_parse_filters(oa_qb_spec *s, const char *json, size_t len, char *errbuf,
                        size_t errlen);

/* Parse one parameter of a GET route (name=value, decoded) into s: from, to, group_by,
 * filters, metrics, interval, order_by, limit, page, event_name. Returns 0, or -EINVAL
 * with a message naming the parameter (and, for an unknown one, listing those allowed). */
int oa_qb_parse_param(oa_qb_spec *s, const char *name, const char *value, size_t len,
                      char *errbuf, size_t errlen);

/* Parse the JSON body of POST /query: metrics, dimensions, filters, date_range,
 * order_by, pagination {limit, page | offset}, include {totals, comparison}, event_name.
 * Returns 0 or -EINVAL with a message. */
int oa_qb_parse_body(oa_qb_spec *s, const char *json, size_t len, char *errbuf,
                     size_t errlen);

/* After the parameters: both dates given, from <= to, the range at most max_days, a
 * table that has every dimension, metric and filter field (sets s->table), the route's
 * own rules (timeseries: exactly one time dimension). Returns 0 or -EINVAL. */
int oa_qb_check(oa_qb_spec *s, int max_days, char *errbuf, size_t errlen);

/* ---- SQL (qb.c) ---- */

typedef enum oa_qb_shape {
        OA_QB_ROWS,                     /* grouped, ordered, one page */
        OA_QB_TOTALS,                   /* the same without dimensions: one row */
        OA_QB_REVENUE,                  /* conversions: revenue per currency, all rows */
} oa_qb_shape;

/* Append the SELECT for s over [from, to] (days; the comparison passes the previous
 * period) in zone tz for project to out. tz must be a time zone name ([A-Za-z0-9_+-/]);
 * it is quoted all the same. Returns 0, -EINVAL (bad tz) or an oa_buf error. */
int oa_qb_sql(const oa_qb_spec *s, oa_qb_shape shape, const char *project, const char *tz,
              int from, int to, oa_buf *out);

#endif

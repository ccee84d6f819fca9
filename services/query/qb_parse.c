/* Parsing a stats query into an oa_qb_spec: the GET routes' parameters one by one, the
 * JSON body of POST /query, and the filter list both share (see qb.h). Every name is
 * looked up in the whitelists of qb.c; an unknown one is a message that names it and
 * lists what is allowed. Values are copied into the spec's text, never interpreted. */
#include "qb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define FAIL(...) do { snprintf(errbuf, errlen, __VA_ARGS__); return -EINVAL; } while (0)

/* The metrics a route answers unless told otherwise. */
static void route_metrics(oa_qb_spec *s) {
        static const char *const pv[] = { "pageviews", "visitors", NULL };
        static const char *const ss[] = { "visits", "visitors", "bounce_rate", "visit_duration",
                                          "pageviews_per_visit", NULL };
        static const char *const cv[] = { "conversions", "converted_visitors", "converted_users",
                                          "conversion_rate", "revenue", NULL };
        static const char *const ts[] = { "pageviews", "visitors", NULL };
        const char *const *m = s->route == OA_QB_SESSIONS_ROUTE ? ss :
                               s->route == OA_QB_CONVERSIONS ? cv :
                               s->route == OA_QB_TIMESERIES ? ts : pv;

        s->n_metrics = 0;
        if (s->route == OA_QB_QUERY)
                return;
        for (; *m; m++)
                s->metrics[s->n_metrics++] = oa_qb_metric_find(*m, strlen(*m));
}

void oa_qb_spec_init(oa_qb_spec *s, oa_qb_route route) {
        memset(s, 0, sizeof(*s));
        s->route = route;
        s->from = s->to = -1;
        s->root = -1;
        s->limit = OA_QB_DEFAULT_LIMIT;
        s->page = 1;
        route_metrics(s);
        if (route == OA_QB_QUERY) {
                s->metrics[0] = oa_qb_metric_find("visitors", 8);
                s->n_metrics = 1;
        }
}

/* ---- lists of names ---- */

static bool name_ok(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_'))
                        return false;
        return n > 0 && n <= 32;
}

/* One dimension or metric name into s (dim: dimensions, else metrics). */
static int add_name(oa_qb_spec *s, bool dim, const char *p, size_t n, const char *what,
                    char *errbuf, size_t errlen) {
        int i = !name_ok(p, n) ? -1 : dim ? oa_qb_dim_find(p, n) : oa_qb_metric_find(p, n);

        if (i < 0)
                FAIL("%s: unknown %s '%.*s' (allowed: %s)", what, dim ? "dimension" : "metric",
                     name_ok(p, n) ? (int) n : 0, p, dim ? oa_qb_dim_list() : oa_qb_metric_list());
        if (dim) {
                for (size_t k = 0; k < s->n_dims; k++)
                        if (s->dims[k] == i)
                                FAIL("%s: '%s' given twice", what, oa_qb_dim_name(i));
                if (s->n_dims == OA_QB_MAX_DIMS)
                        FAIL("%s: at most %d dimensions", what, OA_QB_MAX_DIMS);
                s->dims[s->n_dims++] = i;
        } else {
                for (size_t k = 0; k < s->n_metrics; k++)
                        if (s->metrics[k] == i)
                                FAIL("%s: '%s' given twice", what, oa_qb_metric_name(i));
                if (s->n_metrics == OA_QB_MAX_METRICS)
                        FAIL("%s: at most %d metrics", what, OA_QB_MAX_METRICS);
                s->metrics[s->n_metrics++] = i;
        }
        return 0;
}

/* A comma list of names ("path,country"). */
static int add_names(oa_qb_spec *s, bool dim, const char *v, size_t len, const char *what,
                     char *errbuf, size_t errlen) {
        const char *p = v, *end = v + len;
        int r;

        if (len == 0)
                FAIL("%s: empty (allowed: %s)", what, dim ? oa_qb_dim_list() : oa_qb_metric_list());
        while (p <= end) {
                const char *c = memchr(p, ',', (size_t) (end - p));
                size_t n = c ? (size_t) (c - p) : (size_t) (end - p);

                r = add_name(s, dim, p, n, what, errbuf, errlen);
                if (r < 0)
                        return r;
                if (!c)
                        break;
                p = c + 1;
        }
        return 0;
}

/* "pageviews:desc,path" */
static int add_order(oa_qb_spec *s, const char *p, size_t n, bool desc, const char *what,
                     char *errbuf, size_t errlen) {
        int m = name_ok(p, n) ? oa_qb_metric_find(p, n) : -1, d = name_ok(p, n) ? oa_qb_dim_find(p, n) : -1;
        bool found = false;

        if (s->n_order == OA_QB_MAX_ORDER)
                FAIL("%s: at most %d fields", what, OA_QB_MAX_ORDER);
        for (size_t k = 0; m >= 0 && k < s->n_metrics; k++)
                found |= s->metrics[k] == m;
        if (found) {
                s->order[s->n_order++] = (oa_qb_order) { m, true, desc };
                return 0;
        }
        for (size_t k = 0; d >= 0 && k < s->n_dims; k++)
                found |= s->dims[k] == d;
        if (found) {
                s->order[s->n_order++] = (oa_qb_order) { d, false, desc };
                return 0;
        }
        FAIL("%s: '%.*s' is neither a metric nor a dimension of this query", what,
             name_ok(p, n) ? (int) n : 0, p);
}

static int parse_order_param(oa_qb_spec *s, const char *v, size_t len, char *errbuf, size_t errlen) {
        const char *p = v, *end = v + len;
        int r;

        while (p < end) {
                const char *c = memchr(p, ',', (size_t) (end - p)), *e = c ? c : end;
                const char *colon = memchr(p, ':', (size_t) (e - p));
                bool desc = false;

                if (colon) {
                        size_t dn = (size_t) (e - colon - 1);

                        if (dn == 4 && memcmp(colon + 1, "desc", 4) == 0)
                                desc = true;
                        else if (!(dn == 3 && memcmp(colon + 1, "asc", 3) == 0))
                                FAIL("order_by: direction must be asc or desc");
                }
                r = add_order(s, p, (size_t) ((colon ? colon : e) - p), desc, "order_by", errbuf, errlen);
                if (r < 0)
                        return r;
                p = e + 1;
        }
        return 0;
}

/* ---- filters ---- */

static const char *const ops[] = { "is", "is_not", "contains", "contains_not", "matches",
                                   "matches_not", "and", "or", "not" };
#define OPS_LIST "is, is_not, contains, contains_not, matches, matches_not, and, or, not"

static int parse_node(oa_qb_spec *s, const yajl_val v, int depth, int *ret_k, char *errbuf,
                      size_t errlen);

static int parse_leaf(oa_qb_spec *s, oa_qb_node *n, const yajl_val v, char *errbuf, size_t errlen) {
        yajl_val field = v->u.array.values[1], vals;
        int f;

        if (v->u.array.len != 3 || !YAJL_IS_STRING(field) || !YAJL_IS_ARRAY(v->u.array.values[2]))
                FAIL("filters: a %s filter is [\"%s\", \"<dimension>\", [\"value\", ...]]", ops[n->op],
                     ops[n->op]);
        f = name_ok(field->u.string, strlen(field->u.string)) ?
                    oa_qb_dim_find(field->u.string, strlen(field->u.string)) : -1;
        if (f < 0 || oa_qb_dim_is_time(f))
                FAIL("filters: unknown filter field '%.64s' (allowed: %s)",
                     name_ok(field->u.string, strlen(field->u.string)) ? field->u.string : "",
                     "path, hostname, referrer, source, utm_source, utm_medium, utm_campaign, utm_content, "
                     "utm_term, country, device, browser, os, entry_page, exit_page, event_type, event_name, "
                     "currency");
        vals = v->u.array.values[2];
        if (vals->u.array.len == 0 || vals->u.array.len > OA_QB_MAX_VALUES)
                FAIL("filters: %s on '%s' takes 1 to %d values", ops[n->op], oa_qb_dim_name(f), OA_QB_MAX_VALUES);
        n->field = f;
        n->first = (unsigned) s->n_vals;
        n->n = (unsigned) vals->u.array.len;
        for (size_t i = 0; i < vals->u.array.len; i++) {
                yajl_val x = vals->u.array.values[i];
                size_t len;

                if (!YAJL_IS_STRING(x))
                        FAIL("filters: values of '%s' must be strings", oa_qb_dim_name(f));
                len = strlen(x->u.string);
                if (len > OA_QB_MAX_VALUE_LEN)
                        FAIL("filters: a value of '%s' is longer than %d bytes", oa_qb_dim_name(f),
                             OA_QB_MAX_VALUE_LEN);
                if (s->n_vals == sizeof(s->val_off) / sizeof(s->val_off[0]) ||
                    s->text_len + len > sizeof(s->text))
                        FAIL("filters: too many values");
                memcpy(s->text + s->text_len, x->u.string, len);
                s->val_off[s->n_vals] = (unsigned) s->text_len;
                s->val_len[s->n_vals++] = (unsigned) len;
                s->text_len += len;
        }
        return 0;
}

static int parse_node(oa_qb_spec *s, const yajl_val v, int depth, int *ret_k, char *errbuf,
                      size_t errlen) {
        oa_qb_node *n;
        yajl_val op;
        int k, r;

        if (depth > OA_QB_MAX_DEPTH)
                FAIL("filters: nested deeper than %d", OA_QB_MAX_DEPTH);
        if (!YAJL_IS_ARRAY(v) || v->u.array.len < 2 || !YAJL_IS_STRING(v->u.array.values[0]))
                FAIL("filters: each filter is an array [\"<operator>\", ...] (operators: " OPS_LIST ")");
        if (s->n_nodes == OA_QB_MAX_NODES)
                FAIL("filters: more than %d filters", OA_QB_MAX_NODES);
        op = v->u.array.values[0];
        k = (int) s->n_nodes++;
        n = &s->nodes[k];
        memset(n, 0, sizeof(*n));
        n->op = (oa_qb_op) -1;
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
                if (strcmp(op->u.string, ops[i]) == 0)
                        n->op = (oa_qb_op) i;
        if ((int) n->op < 0)
                FAIL("filters: unknown operator '%.32s' (allowed: " OPS_LIST ")",
                     name_ok(op->u.string, strlen(op->u.string)) ? op->u.string : "");
        if (n->op == OA_QB_NOT) {
                if (v->u.array.len != 2)
                        FAIL("filters: not is [\"not\", <filter>]");
                r = parse_node(s, v->u.array.values[1], depth + 1, &n->kids[0], errbuf, errlen);
                n = &s->nodes[k];
                n->n = 1;
        } else if (n->op == OA_QB_AND || n->op == OA_QB_OR) {
                yajl_val list = v->u.array.values[1];

                if (v->u.array.len != 2 || !YAJL_IS_ARRAY(list) || list->u.array.len == 0)
                        FAIL("filters: %s is [\"%s\", [<filter>, ...]]", ops[n->op], ops[n->op]);
                r = 0;
                for (size_t i = 0; r == 0 && i < list->u.array.len; i++) {
                        int kid;

                        if (i == OA_QB_MAX_NODES)
                                FAIL("filters: more than %d filters", OA_QB_MAX_NODES);
                        r = parse_node(s, list->u.array.values[i], depth + 1, &kid, errbuf, errlen);
                        s->nodes[k].kids[i] = kid;
                        s->nodes[k].n = (unsigned) i + 1;
                }
        } else {
                r = parse_leaf(s, n, v, errbuf, errlen);
        }
        if (r < 0)
                return r;
        *ret_k = k;
        return 0;
}

/* A filter list (and-ed) from a parsed JSON value. */
static int filters_from(oa_qb_spec *s, const yajl_val v, char *errbuf, size_t errlen) {
        int k, r;

        if (!YAJL_IS_ARRAY(v))
                FAIL("filters: expected a list of filters, e.g. [[\"is\", \"path\", [\"/\"]]]");
        if (v->u.array.len == 0)
                return 0;
        if (s->n_nodes == OA_QB_MAX_NODES)
                FAIL("filters: more than %d filters", OA_QB_MAX_NODES);
        k = (int) s->n_nodes++;
        s->nodes[k] = (oa_qb_node) { .op = OA_QB_AND };
        for (size_t i = 0; i < v->u.array.len; i++) {
                int kid;

                if (i == OA_QB_MAX_NODES)
                        FAIL("filters: more than %d filters", OA_QB_MAX_NODES);
                r = parse_node(s, v->u.array.values[i], 1, &kid, errbuf, errlen);
                if (r < 0)
                        return r;
                s->nodes[k].kids[i] = kid;
                s->nodes[k].n = (unsigned) i + 1;
        }
        s->root = k;
        return 0;
}

/* Parse JSON text (NUL-terminated copy of len bytes) into a tree. */
static yajl_val parse_json(const char *json, size_t len, const char *what, char *errbuf, size_t errlen) {
        char *copy = malloc(len + 1), err[128];
        yajl_val v;

        if (!copy) {
                snprintf(errbuf, errlen, "out of memory");
                return NULL;
        }
        memcpy(copy, json, len);
        copy[len] = '\0';
        v = memchr(json, '\0', len) ? NULL : yajl_tree_parse(copy, err, sizeof(err));
        free(copy);
        if (!v)
                snprintf(errbuf, errlen, "%s: not valid JSON (UTF-8)", what);
        return v;
}

int oa_qb_parse_filters(oa_qb_spec *s, const char *json, size_t len, char *errbuf, size_t errlen) {
        yajl_val v = parse_json(json, len, "filters", errbuf, errlen);
        int r;

        if (!v)
                return -EINVAL;
        if (s->root >= 0) {
                yajl_tree_free(v);
                FAIL("filters: given twice");
        }
        r = filters_from(s, v, errbuf, errlen);
        yajl_tree_free(v);
        return r;
}

/* ---- GET parameters ---- */

static int parse_count(const char *v, size_t len, long long min, long long max, const char *what,
                       long long *ret, char *errbuf, size_t errlen) {
        long long x = 0;

        if (len == 0 || len > 9)
                FAIL("%s: expected a whole number from %lld to %lld", what, min, max);
        for (size_t i = 0; i < len; i++) {
                if (v[i] < '0' || v[i] > '9')
                        FAIL("%s: expected a whole number from %lld to %lld", what, min, max);
                x = x * 10 + (v[i] - '0');
        }
        if (x < min || x > max)
                FAIL("%s: expected a whole number from %lld to %lld", what, min, max);
        *ret = x;
        return 0;
}

static int parse_date(const char *v, size_t len, const char *what, int *ret, char *errbuf, size_t errlen) {
        if (oa_qb_date_parse(v, len, ret) < 0)
                FAIL("%s: expected a date YYYY-MM-DD", what);
        return 0;
}

static int set_goal(oa_qb_spec *s, const char *v, size_t len, char *errbuf, size_t errlen) {
        if (len == 0 || len >= sizeof(s->goal) || memchr(v, '\0', len))
                FAIL("event_name: 1 to %zu bytes", sizeof(s->goal) - 1);
        memcpy(s->goal, v, len);
        s->goal[len] = '\0';
        return 0;
}

int oa_qb_parse_param(oa_qb_spec *s, const char *name, const char *value, size_t len,
                      char *errbuf, size_t errlen) {
        oa_qb_route rt = s->route;

        if (strcmp(name, "from") == 0)
                return parse_date(value, len, "from", &s->from, errbuf, errlen);
        if (strcmp(name, "to") == 0)
                return parse_date(value, len, "to", &s->to, errbuf, errlen);
        if (strcmp(name, "filters") == 0)
                return oa_qb_parse_filters(s, value, len, errbuf, errlen);
        if (strcmp(name, "limit") == 0 && rt != OA_QB_TIMESERIES)
                return parse_count(value, len, 1, OA_QB_MAX_LIMIT, "limit", &s->limit, errbuf, errlen);
        if (strcmp(name, "page") == 0 && rt != OA_QB_TIMESERIES)
                return parse_count(value, len, 1, 1000000, "page", &s->page, errbuf, errlen);
        if (strcmp(name, "group_by") == 0 && rt != OA_QB_TIMESERIES)
                return add_names(s, true, value, len, "group_by", errbuf, errlen);
        if (strcmp(name, "order_by") == 0 && rt != OA_QB_TIMESERIES)
                return parse_order_param(s, value, len, errbuf, errlen);
        if (strcmp(name, "event_name") == 0 && rt == OA_QB_CONVERSIONS)
                return set_goal(s, value, len, errbuf, errlen);
        if (strcmp(name, "metrics") == 0 && rt == OA_QB_TIMESERIES) {
                s->n_metrics = 0;
                return add_names(s, false, value, len, "metrics", errbuf, errlen);
        }
        if (strcmp(name, "interval") == 0 && rt == OA_QB_TIMESERIES) {
                int d = name_ok(value, len) ? oa_qb_dim_find(value, len) : -1;

                if (d < 0 || !oa_qb_dim_is_time(d) || s->n_dims)
                        FAIL("interval: expected one of hour, day, week, month");
                s->dims[s->n_dims++] = d;
                return 0;
        }
        FAIL("unknown parameter '%.32s' (allowed: %s)", name_ok(name, strlen(name)) ? name : "",
             rt == OA_QB_TIMESERIES ? "from, to, interval, metrics, filters" :
             rt == OA_QB_CONVERSIONS ? "from, to, event_name, group_by, filters, order_by, limit, page" :
             "from, to, group_by, filters, order_by, limit, page");
}

/* ---- the body of POST /query ---- */

static int names_from(oa_qb_spec *s, bool dim, yajl_val v, const char *what, char *errbuf, size_t errlen) {
        int r;

        if (!YAJL_IS_ARRAY(v))
                FAIL("%s: expected a list of names", what);
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val x = v->u.array.values[i];

                if (!YAJL_IS_STRING(x))
                        FAIL("%s: expected a list of names", what);
                r = add_name(s, dim, x->u.string, strlen(x->u.string), what, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int count_from(yajl_val v, long long min, long long max, const char *what, long long *ret,
                      char *errbuf, size_t errlen) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max)
                FAIL("%s: expected a whole number from %lld to %lld", what, min, max);
        *ret = YAJL_GET_INTEGER(v);
        return 0;
}

static int body_field(oa_qb_spec *s, const char *key, yajl_val v, yajl_val order, char *errbuf,
                      size_t errlen) {
        if (strcmp(key, "metrics") == 0) {
                s->n_metrics = 0;
                return names_from(s, false, v, "metrics", errbuf, errlen);
        }
        if (strcmp(key, "dimensions") == 0)
                return names_from(s, true, v, "dimensions", errbuf, errlen);
        if (strcmp(key, "filters") == 0)
                return filters_from(s, v, errbuf, errlen);
        if (strcmp(key, "event_name") == 0) {
                if (!YAJL_IS_STRING(v))
                        FAIL("event_name: expected a string");
                return set_goal(s, v->u.string, strlen(v->u.string), errbuf, errlen);
        }
        if (strcmp(key, "date_range") == 0) {
                int r;

                if (!YAJL_IS_ARRAY(v) || v->u.array.len != 2 || !YAJL_IS_STRING(v->u.array.values[0]) ||
                    !YAJL_IS_STRING(v->u.array.values[1]))
                        FAIL("date_range: expected [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]");
                r = parse_date(v->u.array.values[0]->u.string, strlen(v->u.array.values[0]->u.string),
                               "date_range", &s->from, errbuf, errlen);
                return r < 0 ? r : parse_date(v->u.array.values[1]->u.string,
                                              strlen(v->u.array.values[1]->u.string), "date_range", &s->to,
                                              errbuf, errlen);
        }
        if (strcmp(key, "pagination") == 0) {
                const char *lp[] = { "limit", NULL }, *pp[] = { "page", NULL }, *op[] = { "offset", NULL };
                yajl_val l, p, o;
                long long off = 0;
                int r = 0;

                if (!YAJL_IS_OBJECT(v))
                        FAIL("pagination: expected {\"limit\": N, \"page\": N} or {\"limit\": N, \"offset\": N}");
                for (size_t i = 0; i < v->u.object.len; i++)
                        if (strcmp(v->u.object.keys[i], "limit") && strcmp(v->u.object.keys[i], "page") &&
                            strcmp(v->u.object.keys[i], "offset"))
                                FAIL("pagination: unknown field (allowed: limit, page, offset)");
                l = yajl_tree_get(v, lp, yajl_t_any);
                p = yajl_tree_get(v, pp, yajl_t_any);
                o = yajl_tree_get(v, op, yajl_t_any);
                if (l)
                        r = count_from(l, 1, OA_QB_MAX_LIMIT, "pagination.limit", &s->limit, errbuf, errlen);
                if (r == 0 && p && o)
                        FAIL("pagination: page or offset, not both");
                if (r == 0 && p)
                        r = count_from(p, 1, 1000000, "pagination.page", &s->page, errbuf, errlen);
                if (r == 0 && o) {
                        r = count_from(o, 0, 1000000000, "pagination.offset", &off, errbuf, errlen);
                        if (r == 0 && off % s->limit)
                                FAIL("pagination.offset: must be a multiple of limit");
                        if (r == 0)
                                s->page = off / s->limit + 1;
                }
                return r;
        }
        if (strcmp(key, "include") == 0) {
                if (!YAJL_IS_OBJECT(v))
                        FAIL("include: expected {\"totals\": true, \"comparison\": true}");
                for (size_t i = 0; i < v->u.object.len; i++) {
                        const char *k = v->u.object.keys[i];
                        yajl_val x = v->u.object.values[i];
                        bool on = YAJL_IS_TRUE(x) || (YAJL_IS_STRING(x) && strcmp(x->u.string, "previous_period") == 0);

                        if (!YAJL_IS_TRUE(x) && !YAJL_IS_FALSE(x) && !on)
                                FAIL("include.%s: expected true or false", strcmp(k, "totals") == 0 ? "totals" : "comparison");
                        if (strcmp(k, "totals") == 0)
                                s->totals = on;
                        else if (strcmp(k, "comparison") == 0)
                                s->comparison = on;
                        else
                                FAIL("include: unknown field (allowed: totals, comparison)");
                }
                return 0;
        }
        if (strcmp(key, "order_by") == 0) {
                (void) order;           /* handled after metrics and dimensions */
                return 0;
        }
        FAIL("unknown field '%.32s' (allowed: metrics, dimensions, filters, date_range, order_by, "
             "pagination, include, event_name)", name_ok(key, strlen(key)) ? key : "");
}

static int order_from(oa_qb_spec *s, yajl_val v, char *errbuf, size_t errlen) {
        if (!YAJL_IS_ARRAY(v))
                FAIL("order_by: expected [[\"<metric or dimension>\", \"asc|desc\"], ...]");
        for (size_t i = 0; i < v->u.array.len; i++) {
                yajl_val x = v->u.array.values[i], f, d;
                int r;

                if (!YAJL_IS_ARRAY(x) || x->u.array.len != 2 || !YAJL_IS_STRING(x->u.array.values[0]) ||
                    !YAJL_IS_STRING(x->u.array.values[1]))
                        FAIL("order_by: expected [[\"<metric or dimension>\", \"asc|desc\"], ...]");
                f = x->u.array.values[0];
                d = x->u.array.values[1];
                if (strcmp(d->u.string, "asc") && strcmp(d->u.string, "desc"))
                        FAIL("order_by: direction must be asc or desc");
                r = add_order(s, f->u.string, strlen(f->u.string), strcmp(d->u.string, "desc") == 0,
                              "order_by", errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

int oa_qb_parse_body(oa_qb_spec *s, const char *json, size_t len, char *errbuf, size_t errlen) {
        yajl_val v = parse_json(json, len, "body", errbuf, errlen), order = NULL;
        int r = 0;

        if (!v)
                return -EINVAL;
        if (!YAJL_IS_OBJECT(v)) {
                yajl_tree_free(v);
                FAIL("body: expected a JSON object");
        }
        for (size_t i = 0; r == 0 && i < v->u.object.len; i++) {
                if (strcmp(v->u.object.keys[i], "order_by") == 0)
                        order = v->u.object.values[i];
                r = body_field(s, v->u.object.keys[i], v->u.object.values[i], order, errbuf, errlen);
        }
        if (r == 0 && s->from < 0) {
                snprintf(errbuf, errlen, "date_range: required, [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]");
                r = -EINVAL;
        }
        if (r == 0 && order)
                r = order_from(s, order, errbuf, errlen);
        yajl_tree_free(v);
        return r;
}

/* ---- the whole query ---- */

int oa_qb_check(oa_qb_spec *s, int max_days, char *errbuf, size_t errlen) {
        int tables = OA_QB_EVENTS | OA_QB_SESSIONS;
        const char *culprit = NULL;

        if (s->from < 0 || s->to < 0)
                FAIL("from and to: both required (dates YYYY-MM-DD in the project's time zone)");
        if (s->from > s->to)
                FAIL("from: after to");
        if (s->to - s->from + 1 > max_days)
                FAIL("from, to: the range is longer than %d days", max_days);
        if (s->n_metrics == 0)
                FAIL("metrics: at least one (allowed: %s)", oa_qb_metric_list());
        if (s->route == OA_QB_TIMESERIES) {
                if (s->n_dims == 0)
                        s->dims[s->n_dims++] = oa_qb_dim_find("day", 3);
                s->limit = (long long) (s->to - s->from + 1) * 24 + 48;
                s->page = 1;
        }
        for (size_t i = 0; i < s->n_dims; i++)
                if (tables & oa_qb_dim_tables(s->dims[i]))
                        tables &= oa_qb_dim_tables(s->dims[i]);
                else
                        culprit = oa_qb_dim_name(s->dims[i]);
        for (size_t i = 0; !culprit && i < s->n_metrics; i++)
                if (tables & oa_qb_metric_tables(s->metrics[i]))
                        tables &= oa_qb_metric_tables(s->metrics[i]);
                else
                        culprit = oa_qb_metric_name(s->metrics[i]);
        for (size_t i = 0; !culprit && i < s->n_nodes; i++) {
                const oa_qb_node *n = &s->nodes[i];

                if (n->op == OA_QB_AND || n->op == OA_QB_OR || n->op == OA_QB_NOT)
                        continue;
                if (tables & oa_qb_dim_tables(n->field))
                        tables &= oa_qb_dim_tables(n->field);
                else
                        culprit = oa_qb_dim_name(n->field);
        }
        if (culprit)
                FAIL("'%s' cannot be combined with the other metrics, dimensions and filters of this "
                     "query (event fields such as path and event_name, and session fields such as "
                     "entry_page, exit_page, visits and bounce_rate, come from different tables)", culprit);
        s->table = tables & OA_QB_EVENTS ? OA_QB_EVENTS : OA_QB_SESSIONS;
        if (s->route == OA_QB_CONVERSIONS && s->table != OA_QB_EVENTS)
                FAIL("conversions: only event dimensions and filters apply");
        return 0;
}

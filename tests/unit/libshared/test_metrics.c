/* Tests for libshared/src/metrics.c: the Prometheus registry and its text rendering. */
#include "oa/metrics.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static oa_metrics *m;
static oa_buf out;

static void setup(void) {
        cr_assert_eq(oa_metrics_new(&m), 0);
        oa_buf_init(&out, 1 << 20);
}

static void teardown(void) {
        m = oa_metrics_free(m);
        oa_buf_done(&out);
}

TestSuite(oa_metrics, .init = setup, .fini = teardown);

static const char *render(void) {
        oa_buf_reset(&out);
        cr_assert_eq(oa_metrics_render(m, &out), 0);
        return out.data ? out.data : "";
}

Test(oa_metrics, counter_renders_help_type_and_value) {
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_new(m, "oa_events_total", "Events seen.", &c), 0);
        oa_metrics_counter_inc(c, 1);
        oa_metrics_counter_inc(c, 41);
        cr_assert_str_eq(render(),
                         "# HELP oa_events_total Events seen.\n"
                         "# TYPE oa_events_total counter\n"
                         "oa_events_total 42\n");
}

Test(oa_metrics, empty_help_omits_help_line) {
        oa_metrics_gauge *g;

        cr_assert_eq(oa_metrics_gauge_new(m, "oa_x", "", &g), 0);
        cr_assert_str_eq(render(), "# TYPE oa_x gauge\noa_x 0\n");
}

Test(oa_metrics, counter_counts_past_32_bits) {
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_new(m, "big_total", "", &c), 0);
        oa_metrics_counter_inc(c, 5000000000ULL);
        cr_assert_str_eq(render(), "# TYPE big_total counter\nbig_total 5000000000\n");
}

Test(oa_metrics, labelled_family_renders_children_in_creation_order) {
        oa_metrics_family *f;
        oa_metrics_counter *bot, *invalid;

        cr_assert_eq(oa_metrics_counter_family(m, "oa_collect_dropped_total",
                                               "Events dropped by /collect, by reason.",
                                               (const char *[]) { "reason" }, 1, &f), 0);
        cr_assert_str_eq(render(),
                         "# HELP oa_collect_dropped_total Events dropped by /collect, by reason.\n"
                         "# TYPE oa_collect_dropped_total counter\n");
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "invalid" }, &invalid), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "bot" }, &bot), 0);
        oa_metrics_counter_inc(bot, 3);
        cr_assert_str_eq(render(),
                         "# HELP oa_collect_dropped_total Events dropped by /collect, by reason.\n"
                         "# TYPE oa_collect_dropped_total counter\n"
                         "oa_collect_dropped_total{reason=\"invalid\"} 0\n"
                         "oa_collect_dropped_total{reason=\"bot\"} 3\n");
}

Test(oa_metrics, family_lookup_returns_the_same_child_for_the_same_values) {
        oa_metrics_family *f;
        oa_metrics_counter *a, *b, *c, *d;

        cr_assert_eq(oa_metrics_counter_family(m, "req_total", "",
                                               (const char *[]) { "route", "code" }, 2, &f), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "/a", "2xx" }, &a), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "/a", "2xx" }, &b), 0);
        cr_assert_eq(a, b);
        /* The same bytes split differently are different children. */
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "/a2", "xx" }, &c), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "", "/a2xx" }, &d), 0);
        cr_assert_neq(a, c);
        cr_assert_neq(c, d);
        oa_metrics_counter_inc(b, 2);
        cr_assert_str_eq(render(),
                         "# TYPE req_total counter\n"
                         "req_total{route=\"/a\",code=\"2xx\"} 2\n"
                         "req_total{route=\"/a2\",code=\"xx\"} 0\n"
                         "req_total{route=\"\",code=\"/a2xx\"} 0\n");
}

Test(oa_metrics, many_children_keep_their_pointers_across_table_growth) {
        oa_metrics_family *f;
        oa_metrics_gauge *first[1000], *again;
        char v[16];

        cr_assert_eq(oa_metrics_gauge_family(m, "g", "", (const char *[]) { "k" }, 1, &f), 0);
        for (int i = 0; i < 1000; i++) {
                snprintf(v, sizeof(v), "v%d", i);
                cr_assert_eq(oa_metrics_family_gauge(f, (const char *[]) { v }, &first[i]), 0);
                oa_metrics_gauge_set(first[i], i);
        }
        for (int i = 0; i < 1000; i++) {
                snprintf(v, sizeof(v), "v%d", i);
                cr_assert_eq(oa_metrics_family_gauge(f, (const char *[]) { v }, &again), 0);
                cr_assert_eq(again, first[i], "child %d moved", i);
                cr_assert_eq(again->value, i);
        }
}

Test(oa_metrics, too_many_children_is_e2big) {
        oa_metrics_family *f;
        oa_metrics_counter *c;
        char v[16];

        cr_assert_eq(oa_metrics_counter_family(m, "c_total", "", (const char *[]) { "k" }, 1, &f), 0);
        for (int i = 0; i < OA_METRICS_MAX_CHILDREN; i++) {
                snprintf(v, sizeof(v), "%d", i);
                cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { v }, &c), 0);
        }
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "one more" }, &c), -E2BIG);
        /* An existing child is still found. */
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "7" }, &c), 0);
}

Test(oa_metrics, label_values_escape_backslash_quote_and_newline) {
        oa_metrics_family *f;
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_family(m, "e_total", "", (const char *[]) { "v" }, 1, &f), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "C:\\dir \"x\"\nnext" }, &c), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "caf\xc3\xa9 {a=b},\t" }, &c), 0);
        cr_assert_str_eq(render(),
                         "# TYPE e_total counter\n"
                         "e_total{v=\"C:\\\\dir \\\"x\\\"\\nnext\"} 0\n"
                         "e_total{v=\"caf\xc3\xa9 {a=b},\t\"} 0\n");
}

Test(oa_metrics, help_escapes_backslash_and_newline_but_not_quotes) {
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_new(m, "h_total", "a \\ b\n\"c\"", &c), 0);
        cr_assert_str_eq(render(),
                         "# HELP h_total a \\\\ b\\n\"c\"\n"
                         "# TYPE h_total counter\n"
                         "h_total 0\n");
}

Test(oa_metrics, histogram_renders_cumulative_buckets_sum_and_count) {
        oa_metrics_histogram *h;
        /* Binary fractions, so the sum is exact. */
        const double b[] = { 0.0078125, 0.125, 1 };

        cr_assert_eq(oa_metrics_histogram_new(m, "lat_seconds", "Latency.", b, 3, &h), 0);
        oa_metrics_histogram_observe(h, 0.00390625);
        oa_metrics_histogram_observe(h, 0.0078125);     /* le is inclusive */
        oa_metrics_histogram_observe(h, 0.5);
        oa_metrics_histogram_observe(h, 2.5);           /* only +Inf */
        oa_metrics_histogram_observe(h, NAN);           /* ignored */
        cr_assert_eq(oa_metrics_histogram_count(h), 4);
        cr_assert_eq(oa_metrics_histogram_sum(h), 3.01171875);
        cr_assert_str_eq(render(),
                         "# HELP lat_seconds Latency.\n"
                         "# TYPE lat_seconds histogram\n"
                         "lat_seconds_bucket{le=\"0.0078125\"} 2\n"
                         "lat_seconds_bucket{le=\"0.125\"} 2\n"
                         "lat_seconds_bucket{le=\"1\"} 3\n"
                         "lat_seconds_bucket{le=\"+Inf\"} 4\n"
                         "lat_seconds_sum 3.01171875\n"
                         "lat_seconds_count 4\n");
}

Test(oa_metrics, labelled_histogram_puts_le_last) {
        oa_metrics_family *f;
        oa_metrics_histogram *h;
        const double b[] = { 1 };

        cr_assert_eq(oa_metrics_histogram_family(m, "d_seconds", "", (const char *[]) { "route" }, 1,
                                                 b, 1, &f), 0);
        cr_assert_eq(oa_metrics_family_histogram(f, (const char *[]) { "/x" }, &h), 0);
        oa_metrics_histogram_observe(h, 0.25);
        cr_assert_str_eq(render(),
                         "# TYPE d_seconds histogram\n"
                         "d_seconds_bucket{route=\"/x\",le=\"1\"} 1\n"
                         "d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1\n"
                         "d_seconds_sum{route=\"/x\"} 0.25\n"
                         "d_seconds_count{route=\"/x\"} 1\n");
}

Test(oa_metrics, latency_buckets_are_valid_bounds) {
        oa_metrics_histogram *h;

        cr_assert_eq(oa_metrics_histogram_new(m, "l", "", oa_metrics_latency_buckets,
                                              OA_METRICS_LATENCY_BUCKETS_N, &h), 0);
        oa_metrics_histogram_observe(h, 0.0004);
        oa_metrics_histogram_observe(h, 11);
        cr_assert(strstr(render(), "l_bucket{le=\"0.0005\"} 1\nl_bucket{le=\"0.001\"} 1\n"));
        cr_assert(strstr(out.data, "l_bucket{le=\"10\"} 1\nl_bucket{le=\"+Inf\"} 2\n"));
}

typedef struct float_row {
        double v;
        char want[32];
} float_row;

ParameterizedTestParameters(oa_metrics, gauge_values_render_like_prometheus) {
        static float_row rows[] = {
                { 0, "0" }, { 42, "42" }, { -3, "-3" }, { 0.1, "0.1" }, { 2.5, "2.5" },
                { 1e-6, "1e-06" }, { 1e21, "1e+21" }, { 1.0 / 3, "0.3333333333333333" }, { 0.1 + 0.2, "0.30000000000000004" },
                { 123456789012.5, "123456789012.5" }, { NAN, "NaN" }, { INFINITY, "+Inf" },
                { -INFINITY, "-Inf" },
        };
        return cr_make_param_array(float_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(float_row *row, oa_metrics, gauge_values_render_like_prometheus) {
        oa_metrics_gauge *g;
        char want[128];

        cr_assert_eq(oa_metrics_gauge_new(m, "g", "", &g), 0);
        oa_metrics_gauge_set(g, row->v);
        snprintf(want, sizeof(want), "# TYPE g gauge\ng %s\n", row->want);
        cr_assert_str_eq(render(), want);
}

Test(oa_metrics, gauge_add_goes_both_ways) {
        oa_metrics_gauge *g;

        cr_assert_eq(oa_metrics_gauge_new(m, "conns", "", &g), 0);
        oa_metrics_gauge_add(g, 3);
        oa_metrics_gauge_add(g, -1);
        cr_assert_eq(g->value, 2);
}

typedef struct name_row {
        char name[32];
        int want;
} name_row;

ParameterizedTestParameters(oa_metrics, metric_names_are_checked) {
        static name_row rows[] = {
                { "oa_x_total", 0 }, { ":colon:ok", 0 }, { "_a9", 0 }, { "A", 0 },
                { "", -EINVAL }, { "9lives", -EINVAL }, { "a-b", -EINVAL }, { "a b", -EINVAL },
                { "caf\xc3\xa9", -EINVAL }, { "a{b}", -EINVAL }, { "a\n", -EINVAL },
        };
        return cr_make_param_array(name_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(name_row *row, oa_metrics, metric_names_are_checked) {
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_new(m, row->name, "", &c), row->want, "%s", row->name);
}

ParameterizedTestParameters(oa_metrics, label_names_are_checked) {
        static name_row rows[] = {
                { "reason", 0 }, { "_x", 0 }, { "le", 0 }, { "a9", 0 },
                { "", -EINVAL }, { "__name", -EINVAL }, { "9a", -EINVAL }, { "a:b", -EINVAL },
                { "a-b", -EINVAL }, { "a\"", -EINVAL },
        };
        return cr_make_param_array(name_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(name_row *row, oa_metrics, label_names_are_checked) {
        oa_metrics_family *f;
        const char *names[] = { row->name };

        cr_assert_eq(oa_metrics_counter_family(m, "c_total", "", names, 1, &f), row->want,
                     "%s", row->name);
}

Test(oa_metrics, family_rejects_duplicate_and_missing_labels_and_le_on_histograms) {
        oa_metrics_family *f;
        const double b[] = { 1 };

        cr_assert_eq(oa_metrics_counter_family(m, "a", "", (const char *[]) { "x", "x" }, 2, &f), -EINVAL);
        cr_assert_eq(oa_metrics_counter_family(m, "a", "", NULL, 0, &f), -EINVAL);
        cr_assert_eq(oa_metrics_histogram_family(m, "h", "", (const char *[]) { "le" }, 1, b, 1, &f),
                     -EINVAL);
        cr_assert_eq(oa_metrics_counter_family(m, "a", "", (const char *[]) { "a", "b", "c", "d", "e",
                                               "f", "g", "h", "i" }, 9, &f), -EINVAL);
        /* Nothing half-registered: the names are still free. */
        cr_assert_eq(oa_metrics_counter_family(m, "a", "", (const char *[]) { "x" }, 1, &f), 0);
        cr_assert_eq(oa_metrics_histogram_family(m, "h", "", (const char *[]) { "x" }, 1, b, 1, &f), 0);
}

Test(oa_metrics, duplicate_name_is_eexist_across_types) {
        oa_metrics_counter *c;
        oa_metrics_gauge *g;

        cr_assert_eq(oa_metrics_counter_new(m, "dup", "", &c), 0);
        cr_assert_eq(oa_metrics_gauge_new(m, "dup", "", &g), -EEXIST);
        cr_assert_str_eq(render(), "# TYPE dup counter\ndup 0\n");
}

Test(oa_metrics, help_must_be_valid_utf8) {
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_new(m, "a", "bad \xff byte", &c), -EINVAL);
        cr_assert_eq(oa_metrics_counter_new(m, "a", NULL, &c), -EINVAL);
        cr_assert_eq(oa_metrics_counter_new(m, "a", "ok \xe2\x82\xac", &c), 0);
}

typedef struct bounds_row {
        double b[4];
        size_t n;
        int want;
} bounds_row;

ParameterizedTestParameters(oa_metrics, histogram_bounds_are_checked) {
        static bounds_row rows[] = {
                { { 1, 2, 3 }, 3, 0 },
                { { -1, 0 }, 2, 0 },
                { { 1 }, 0, -EINVAL },
                { { 2, 1 }, 2, -EINVAL },
                { { 1, 1 }, 2, -EINVAL },
                { { 1, NAN }, 2, -EINVAL },
                { { 1, INFINITY }, 2, -EINVAL },
                { { -INFINITY, 1 }, 2, -EINVAL },
        };
        return cr_make_param_array(bounds_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(bounds_row *row, oa_metrics, histogram_bounds_are_checked) {
        oa_metrics_histogram *h;

        cr_assert_eq(oa_metrics_histogram_new(m, "h", "", row->b, row->n, &h), row->want);
}

Test(oa_metrics, too_many_buckets_is_einval) {
        double b[OA_METRICS_MAX_BUCKETS + 1];
        oa_metrics_histogram *h;

        for (size_t i = 0; i < OA_METRICS_MAX_BUCKETS + 1; i++)
                b[i] = (double) i;
        cr_assert_eq(oa_metrics_histogram_new(m, "h", "", b, OA_METRICS_MAX_BUCKETS + 1, &h), -EINVAL);
        cr_assert_eq(oa_metrics_histogram_new(m, "h", "", b, OA_METRICS_MAX_BUCKETS, &h), 0);
}

Test(oa_metrics, label_values_must_be_valid_utf8_and_present) {
        oa_metrics_family *f;
        oa_metrics_counter *c;

        cr_assert_eq(oa_metrics_counter_family(m, "c_total", "", (const char *[]) { "a", "b" }, 2, &f), 0);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "ok", "\xc0\xaf" }, &c), -EINVAL);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "ok", "\xed\xa0\x80" }, &c), -EINVAL);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "ok", "\xe2\x82" }, &c), -EINVAL);
        cr_assert_eq(oa_metrics_family_counter(f, (const char *[]) { "ok", NULL }, &c), -EINVAL);
        cr_assert_eq(oa_metrics_family_counter(f, NULL, &c), -EINVAL);
        cr_assert_str_eq(render(), "# TYPE c_total counter\n");
}

Test(oa_metrics, lookup_of_the_wrong_type_is_einval) {
        oa_metrics_family *f;
        oa_metrics_gauge *g;
        oa_metrics_histogram *h;

        cr_assert_eq(oa_metrics_counter_family(m, "c_total", "", (const char *[]) { "a" }, 1, &f), 0);
        cr_assert_eq(oa_metrics_family_gauge(f, (const char *[]) { "x" }, &g), -EINVAL);
        cr_assert_eq(oa_metrics_family_histogram(f, (const char *[]) { "x" }, &h), -EINVAL);
}

static void refresh(void *userdata) {
        oa_metrics_gauge_add(userdata, 1);
}

Test(oa_metrics, collect_hooks_run_before_each_render) {
        oa_metrics_gauge *g;

        cr_assert_eq(oa_metrics_gauge_new(m, "refreshed", "", &g), 0);
        cr_assert_eq(oa_metrics_on_collect(m, refresh, g), 0);
        cr_assert_str_eq(render(), "# TYPE refreshed gauge\nrefreshed 1\n");
        cr_assert_str_eq(render(), "# TYPE refreshed gauge\nrefreshed 2\n");
}

Test(oa_metrics, render_past_the_buffer_cap_is_e2big) {
        oa_metrics_counter *c;
        oa_buf small;

        cr_assert_eq(oa_metrics_counter_new(m, "a_rather_long_metric_name_total", "help text", &c), 0);
        oa_buf_init(&small, 16);
        cr_assert_eq(oa_metrics_render(m, &small), -E2BIG);
        cr_assert_leq(small.len, 16);
        oa_buf_done(&small);
}

Test(oa_metrics, families_render_in_registration_order) {
        oa_metrics_counter *c;
        oa_metrics_gauge *g;

        cr_assert_eq(oa_metrics_gauge_new(m, "zeta", "", &g), 0);
        cr_assert_eq(oa_metrics_counter_new(m, "alpha_total", "", &c), 0);
        cr_assert_str_eq(render(), "# TYPE zeta gauge\nzeta 0\n# TYPE alpha_total counter\nalpha_total 0\n");
}

Test(oa_metrics, free_of_null_returns_null) {
        cr_assert_null(oa_metrics_free(NULL));
}

/* A tiny Prometheus registry for a single-threaded daemon: counters, gauges and
 * histograms with fixed buckets, optionally grouped in families with a fixed set of label
 * names (oa_collect_dropped_total{reason="bot"}), rendered in the text exposition format
 * 0.0.4 for /metrics.
 *
 * Updating a metric is a plain add on a struct the caller holds a pointer to: look the
 * child up once (at start-up, or per label value through a small hash), keep the pointer,
 * then oa_metrics_counter_inc(c, 1) costs one memory add. Nothing here is thread-safe:
 * update and render from the thread that owns the registry.
 *
 * Every pointer handed out stays valid until oa_metrics_free. Families render in
 * registration order, children in creation order, so the output is deterministic. */
#ifndef OA_METRICS_H
#define OA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "oa/buf.h"

typedef struct oa_metrics oa_metrics;
typedef struct oa_metrics_family oa_metrics_family;
typedef struct oa_metrics_histogram oa_metrics_histogram;

typedef struct oa_metrics_counter {
        uint64_t value;
} oa_metrics_counter;

typedef struct oa_metrics_gauge {
        double value;
} oa_metrics_gauge;

/* Limits: a family holds at most this many children (label value combinations), a
 * histogram at most this many finite bucket bounds, a family at most this many labels. */
#define OA_METRICS_MAX_CHILDREN 4096
#define OA_METRICS_MAX_BUCKETS 64
#define OA_METRICS_MAX_LABELS 8

/* Default bounds (seconds) for request latency histograms: 0.5 ms to 10 s. */
#define OA_METRICS_LATENCY_BUCKETS_N 14
extern const double oa_metrics_latency_buckets[OA_METRICS_LATENCY_BUCKETS_N];

/* Create an empty registry. Returns 0 or -ENOMEM. */
int oa_metrics_new(oa_metrics **ret_m);

/* Free the registry and every metric in it. NULL-safe; returns NULL. */
oa_metrics *oa_metrics_free(oa_metrics *m);

/* Register an unlabelled metric. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique in
 * the registry; help is UTF-8 text (may be empty, then no HELP line). Histogram bounds
 * are finite and strictly increasing, 1 to OA_METRICS_MAX_BUCKETS of them (+Inf is
 * implied). The metric is owned by m. Returns 0, -EINVAL (bad name, help or bounds),
 * -EEXIST (name taken) or -ENOMEM. */
int oa_metrics_counter_new(oa_metrics *m, const char *name, const char *help,
                           oa_metrics_counter **ret_c);
int oa_metrics_gauge_new(oa_metrics *m, const char *name, const char *help,
                         oa_metrics_gauge **ret_g);
int oa_metrics_histogram_new(oa_metrics *m, const char *name, const char *help,
                             const double *bounds, size_t n_bounds,
                             oa_metrics_histogram **ret_h);

/* Register a labelled family: label_names holds n_labels (1 to OA_METRICS_MAX_LABELS)
 * names matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", distinct, and not "le"
 * for histograms. Children are created by the _family_* lookups below. Returns as
 * oa_metrics_counter_new. */
int oa_metrics_counter_family(oa_metrics *m, const char *name, const char *help,
                              const char *const *label_names, size_t n_labels,
                              oa_metrics_family **ret_f);
int oa_metrics_gauge_family(oa_metrics *m, const char *name, const char *help,
                            const char *const *label_names, size_t n_labels,
                            oa_metrics_family **ret_f);
int oa_metrics_histogram_family(oa_metrics *m, const char *name, const char *help,
                                const char *const *label_names, size_t n_labels,
                                const double *bounds, size_t n_bounds,
                                oa_metrics_family **ret_f);

/* Find the child of f with these label values (one per label name, UTF-8, copied), or
 * create it at zero. Returns 0, -EINVAL (family of another type, invalid UTF-8 or NULL
 * value), -E2BIG (OA_METRICS_MAX_CHILDREN reached) or -ENOMEM. Keep the pointer when the
 * values are fixed: the lookup hashes the values, the increment does not. */
int oa_metrics_family_counter(oa_metrics_family *f, const char *const *values,
                              oa_metrics_counter **ret_c);
int oa_metrics_family_gauge(oa_metrics_family *f, const char *const *values,
                            oa_metrics_gauge **ret_g);
int oa_metrics_family_histogram(oa_metrics_family *f, const char *const *values,
                                oa_metrics_histogram **ret_h);

/* Add n to a counter. */
static inline void oa_metrics_counter_inc(oa_metrics_counter *c, uint64_t n) {
        c->value += n;
}

/* Set a gauge, or add a (possibly negative) delta to it. */
static inline void oa_metrics_gauge_set(oa_metrics_gauge *g, double v) {
        g->value = v;
}

static inline void oa_metrics_gauge_add(oa_metrics_gauge *g, double d) {
        g->value += d;
}

/* Count one observation of v (e.g. a latency in seconds) in the first bucket whose bound
 * is >= v, and add it to the sum. NaN is ignored. */
void oa_metrics_histogram_observe(oa_metrics_histogram *h, double v);

/* Observations counted so far and their sum (for tests and self-checks). */
uint64_t oa_metrics_histogram_count(const oa_metrics_histogram *h);
double oa_metrics_histogram_sum(const oa_metrics_histogram *h);

/* Call fn(userdata) at the start of every oa_metrics_render, in registration order, to
 * refresh gauges that are cheaper to read on demand (queue lengths, open connections).
 * Returns 0 or -ENOMEM. */
int oa_metrics_on_collect(oa_metrics *m, void (*fn)(void *userdata), void *userdata);

/* Append the whole registry to out in the Prometheus text format 0.0.4 (# HELP with "\\"
 * and newline escaped, # TYPE, one line per sample; label values with "\\", '"' and
 * newline escaped; histograms as cumulative _bucket{le=...}, _sum, _count). Returns 0 or
 * an oa_buf_add error (-E2BIG when out's cap is reached; out then holds a prefix). */
int oa_metrics_render(oa_metrics *m, oa_buf *out);

/* The Content-Type to serve the rendering with. */
#define OA_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif

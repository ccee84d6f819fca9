/* The Prometheus registry behind oa/metrics.h. A registry is a list of families; an
 * unlabelled metric is a family with no labels and exactly one child, created with it.
 * Each child is one allocation (label values, histogram buckets and all) so the pointer
 * handed out never moves; a family finds a child by its label values through an
 * open-addressing table of indexes into its children array. Histograms store per-bucket
 * counts and cumulate them only when rendering, so an observation touches one bucket. */
#include "oa/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum mtype {
        MTYPE_COUNTER,
        MTYPE_GAUGE,
        MTYPE_HISTOGRAM,
} mtype;

struct oa_metrics_histogram {
        const double *bounds;   /* the family's, n_bounds finite bounds */
        size_t n_bounds;
        uint64_t *buckets;      /* n_bounds + 1 counts, the last one for +Inf; not cumulative */
        uint64_t count;
        double sum;
};

typedef struct mchild {
        uint64_t hash;
        char **values;          /* n_labels strings, in the same allocation */
        union {
                oa_metrics_counter counter;
                oa_metrics_gauge gauge;
                oa_metrics_histogram hist;
        } u;
} mchild;

struct oa_metrics_family {
        mtype type;
        char *name;
        char *help;
        char **label_names;
        size_t n_labels;
        double *bounds;
        size_t n_bounds;
        mchild **children;
        size_t n_children, cap_children;
        uint32_t *slots;        /* index + 1 into children; 0 is empty */
        size_t n_slots;         /* a power of two, or 0 */
};

typedef struct mhook {
        void (*fn)(void *userdata);
        void *userdata;
} mhook;

struct oa_metrics {
        oa_metrics_family **fams;
        size_t n_fams, cap_fams;
        mhook *hooks;
        size_t n_hooks, cap_hooks;
};

const double oa_metrics_latency_buckets[OA_METRICS_LATENCY_BUCKETS_N] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* Return arr (elements of sz bytes, *cap allocated) grown to hold at least n + 1
 * elements: arr itself when it already does, NULL when out of memory (arr untouched). */
static void *grow(void *arr, size_t *cap, size_t n, size_t sz) {
        size_t ncap;
        void *q;

        if (n < *cap)
                return arr;
        ncap = *cap ? *cap * 2 : 8;
        q = realloc(arr, ncap * sz);
        if (q)
                *cap = ncap;
        return q;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid: no overlong
 * forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len, i;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

static bool valid_utf8(const char *s) {
        const unsigned char *u = (const unsigned char *) s;
        size_t n = strlen(s), i = 0, l;

        while (i < n) {
                l = utf8_len(u + i, n - i);
                if (!l)
                        return false;
                i += l;
        }
        return true;
}

static bool is_alpha_(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool valid_metric_name(const char *s) {
        if (!s || !(is_alpha_(*s) || *s == ':'))
                return false;
        for (s++; *s; s++)
                if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
                        return false;
        return true;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, "__" is reserved for Prometheus itself. */
static bool valid_label_name(const char *s) {
        if (!s || !is_alpha_(*s) || (s[0] == '_' && s[1] == '_'))
                return false;
        for (s++; *s; s++)
                if (!is_alpha_(*s) && !is_digit(*s))
                        return false;
        return true;
}

/* FNV-1a over the values, each followed by 0xff (a byte UTF-8 never contains). */
static uint64_t hash_values(const char *const *values, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++) {
                for (const unsigned char *p = (const unsigned char *) values[i]; *p; p++) {
                        h ^= *p;
                        h *= 0x100000001b3ULL;
                }
                h ^= 0xff;
                h *= 0x100000001b3ULL;
        }
        return h;
}

int oa_metrics_new(oa_metrics **ret_m) {
        oa_metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        *ret_m = m;
        return 0;
}

static void family_free(oa_metrics_family *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_children; i++)
                free(f->children[i]);
        free(f->children);
        free(f->slots);
        if (f->label_names)
                for (size_t i = 0; i < f->n_labels; i++)
                        free(f->label_names[i]);
        free(f->label_names);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
}

oa_metrics *oa_metrics_free(oa_metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_fams; i++)
                family_free(m->fams[i]);
        free(m->fams);
        free(m->hooks);
        free(m);
        return NULL;
}

static int check_bounds(const double *bounds, size_t n) {
        if (!bounds || n < 1 || n > OA_METRICS_MAX_BUCKETS)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(bounds[i]))
                        return -EINVAL;
                if (i > 0 && !(bounds[i] > bounds[i - 1]))
                        return -EINVAL;
        }
        return 0;
}

static int check_labels(mtype type, const char *const *names, size_t n) {
        if (n > OA_METRICS_MAX_LABELS || (n > 0 && !names))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!valid_label_name(names[i]))
                        return -EINVAL;
                if (type == MTYPE_HISTOGRAM && strcmp(names[i], "le") == 0)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(names[i], names[j]) == 0)
                                return -EINVAL;
        }
        return 0;
}

/* Register a family after validating everything; labelled families need at least one
 * label (an unlabelled metric is created through family_add with n_labels 0). */
static int family_add(oa_metrics *m, mtype type, const char *name, const char *help,
                      const char *const *label_names, size_t n_labels,
                      const double *bounds, size_t n_bounds, oa_metrics_family **ret_f) {
        oa_metrics_family *f = NULL, **fams;
        int r;

        if (!valid_metric_name(name) || !help || !valid_utf8(help))
                return -EINVAL;
        r = check_labels(type, label_names, n_labels);
        if (r < 0)
                return r;
        if (type == MTYPE_HISTOGRAM) {
                r = check_bounds(bounds, n_bounds);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < m->n_fams; i++)
                if (strcmp(m->fams[i]->name, name) == 0)
                        return -EEXIST;
        fams = grow(m->fams, &m->cap_fams, m->n_fams, sizeof(*m->fams));
        if (!fams)
                return -ENOMEM;
        m->fams = fams;

        r = -ENOMEM;
        f = calloc(1, sizeof(*f));
        if (!f)
                goto out;
        f->type = type;
        f->name = strdup(name);
        f->help = strdup(help);
        if (!f->name || !f->help)
                goto out;
        if (n_labels) {
                f->label_names = calloc(n_labels, sizeof(*f->label_names));
                if (!f->label_names)
                        goto out;
                f->n_labels = n_labels;
                for (size_t i = 0; i < n_labels; i++) {
                        f->label_names[i] = strdup(label_names[i]);
                        if (!f->label_names[i])
                                goto out;
                }
        }
        if (type == MTYPE_HISTOGRAM) {
                f->bounds = malloc(n_bounds * sizeof(*f->bounds));
                if (!f->bounds)
                        goto out;
                memcpy(f->bounds, bounds, n_bounds * sizeof(*f->bounds));
                f->n_bounds = n_bounds;
        }
        m->fams[m->n_fams++] = f;
        *ret_f = f;
        f = NULL;
        r = 0;
out:
        family_free(f);
        return r;
}

static void table_insert(oa_metrics_family *f, uint64_t hash, uint32_t idx1) {
        size_t mask = f->n_slots - 1, i = (size_t) hash & mask;

        while (f->slots[i])
                i = (i + 1) & mask;
        f->slots[i] = idx1;
}

/* Keep the table at most half full. */
static int table_reserve(oa_metrics_family *f) {
        uint32_t *old = f->slots;
        size_t n_old = f->n_slots, n = n_old ? n_old : 8;

        while ((f->n_children + 1) * 2 > n)
                n *= 2;
        if (n == n_old)
                return 0;
        f->slots = calloc(n, sizeof(*f->slots));
        if (!f->slots) {
                f->slots = old;
                return -ENOMEM;
        }
        f->n_slots = n;
        for (size_t i = 0; i < f->n_children; i++)
                table_insert(f, f->children[i]->hash, (uint32_t) (i + 1));
        free(old);
        return 0;
}

static mchild *child_find(oa_metrics_family *f, uint64_t hash, const char *const *values) {
        size_t mask, i;

        if (!f->n_slots)
                return NULL;
        mask = f->n_slots - 1;
        for (i = (size_t) hash & mask; f->slots[i]; i = (i + 1) & mask) {
                mchild *c = f->children[f->slots[i] - 1];
                size_t k;

                if (c->hash != hash)
                        continue;
                for (k = 0; k < f->n_labels; k++)
                        if (strcmp(c->values[k], values[k]) != 0)
                                break;
                if (k == f->n_labels)
                        return c;
        }
        return NULL;
}

static int child_get(oa_metrics_family *f, mtype type, const char *const *values,
                     mchild **ret_c) {
        size_t size, n_buckets = 0, lens[OA_METRICS_MAX_LABELS];
        uint64_t hash;
        mchild *c, **children;
        char *p;
        int r;

        if (f->type != type || (f->n_labels && !values))
                return -EINVAL;
        for (size_t i = 0; i < f->n_labels; i++)
                if (!values[i] || !valid_utf8(values[i]))
                        return -EINVAL;
        hash = hash_values(values, f->n_labels);
        c = child_find(f, hash, values);
        if (c) {
                *ret_c = c;
                return 0;
        }
        if (f->n_children >= OA_METRICS_MAX_CHILDREN)
                return -E2BIG;
        children = grow(f->children, &f->cap_children, f->n_children, sizeof(*f->children));
        if (!children)
                return -ENOMEM;
        f->children = children;
        r = table_reserve(f);
        if (r < 0)
                return r;

        /* One block: the child, the buckets, the value pointers, the value bytes. All
         * parts are multiples of 8 bytes long except the bytes at the end. */
        if (type == MTYPE_HISTOGRAM)
                n_buckets = f->n_bounds + 1;
        size = sizeof(*c) + n_buckets * sizeof(uint64_t) + f->n_labels * sizeof(char *);
        for (size_t i = 0; i < f->n_labels; i++) {
                lens[i] = strlen(values[i]);
                size += lens[i] + 1;
        }
        c = calloc(1, size);
        if (!c)
                return -ENOMEM;
        c->hash = hash;
        p = (char *) (c + 1);
        if (type == MTYPE_HISTOGRAM) {
                c->u.hist.bounds = f->bounds;
                c->u.hist.n_bounds = f->n_bounds;
                c->u.hist.buckets = (uint64_t *) (void *) p;
                p += n_buckets * sizeof(uint64_t);
        }
        c->values = (char **) (void *) p;
        p += f->n_labels * sizeof(char *);
        for (size_t i = 0; i < f->n_labels; i++) {
                memcpy(p, values[i], lens[i] + 1);
                c->values[i] = p;
                p += lens[i] + 1;
        }
        f->children[f->n_children++] = c;
        table_insert(f, hash, (uint32_t) f->n_children);
        *ret_c = c;
        return 0;
}

/* An unlabelled metric: a family without labels and its only child. */
static int single_new(oa_metrics *m, mtype type, const char *name, const char *help,
                      const double *bounds, size_t n_bounds, mchild **ret_c) {
        oa_metrics_family *f;
        int r;

        r = family_add(m, type, name, help, NULL, 0, bounds, n_bounds, &f);
        if (r < 0)
                return r;
        r = child_get(f, type, NULL, ret_c);
        if (r < 0) {
                /* Roll back so the name can be registered again. */
                m->n_fams--;
                family_free(f);
        }
        return r;
}

int oa_metrics_counter_new(oa_metrics *m, const char *name, const char *help,
                           oa_metrics_counter **ret_c) {
        mchild *c;
        int r = single_new(m, MTYPE_COUNTER, name, help, NULL, 0, &c);

        if (r < 0)
                return r;
        *ret_c = &c->u.counter;
        return 0;
}

int oa_metrics_gauge_new(oa_metrics *m, const char *name, const char *help,
                         oa_metrics_gauge **ret_g) {
        mchild *c;
        int r = single_new(m, MTYPE_GAUGE, name, help, NULL, 0, &c);

        if (r < 0)
                return r;
        *ret_g = &c->u.gauge;
        return 0;
}

int oa_metrics_histogram_new(oa_metrics *m, const char *name, const char *help,
                             const double *bounds, size_t n_bounds,
                             oa_metrics_histogram **ret_h) {
        mchild *c;
        int r = single_new(m, MTYPE_HISTOGRAM, name, help, bounds, n_bounds, &c);

        if (r < 0)
                return r;
        *ret_h = &c->u.hist;
        return 0;
}

int oa_metrics_counter_family(oa_metrics *m, const char *name, const char *help,
                              const char *const *label_names, size_t n_labels,
                              oa_metrics_family **ret_f) {
        if (n_labels < 1)
                return -EINVAL;
        return family_add(m, MTYPE_COUNTER, name, help, label_names, n_labels, NULL, 0, ret_f);
}

int oa_metrics_gauge_family(oa_metrics *m, const char *name, const char *help,
                            const char *const *label_names, size_t n_labels,
                            oa_metrics_family **ret_f) {
        if (n_labels < 1)
                return -EINVAL;
        return family_add(m, MTYPE_GAUGE, name, help, label_names, n_labels, NULL, 0, ret_f);
}

int oa_metrics_histogram_family(oa_metrics *m, const char *name, const char *help,
                                const char *const *label_names, size_t n_labels,
                                const double *bounds, size_t n_bounds,
                                oa_metrics_family **ret_f) {
        if (n_labels < 1)
                return -EINVAL;
        return family_add(m, MTYPE_HISTOGRAM, name, help, label_names, n_labels, bounds,
                          n_bounds, ret_f);
}

int oa_metrics_family_counter(oa_metrics_family *f, const char *const *values,
                              oa_metrics_counter **ret_c) {
        mchild *c;
        int r = child_get(f, MTYPE_COUNTER, values, &c);

        if (r < 0)
                return r;
        *ret_c = &c->u.counter;
        return 0;
}

int oa_metrics_family_gauge(oa_metrics_family *f, const char *const *values,
                            oa_metrics_gauge **ret_g) {
        mchild *c;
        int r = child_get(f, MTYPE_GAUGE, values, &c);

        if (r < 0)
                return r;
        *ret_g = &c->u.gauge;
        return 0;
}

int oa_metrics_family_histogram(oa_metrics_family *f, const char *const *values,
                                oa_metrics_histogram **ret_h) {
        mchild *c;
        int r = child_get(f, MTYPE_HISTOGRAM, values, &c);

        if (r < 0)
                return r;
        *ret_h = &c->u.hist;
        return 0;
}

void oa_metrics_histogram_observe(oa_metrics_histogram *h, double v) {
        size_t i;

        if (isnan(v))
                return;
        /* Buckets are few (latency: 14); a linear scan beats a binary search here. */
        for (i = 0; i < h->n_bounds; i++)
                if (v <= h->bounds[i])
                        break;
        h->buckets[i]++;
        h->count++;
        h->sum += v;
}

uint64_t oa_metrics_histogram_count(const oa_metrics_histogram *h) {
        return h->count;
}

double oa_metrics_histogram_sum(const oa_metrics_histogram *h) {
        return h->sum;
}

int oa_metrics_on_collect(oa_metrics *m, void (*fn)(void *userdata), void *userdata) {
        mhook *hooks = grow(m->hooks, &m->cap_hooks, m->n_hooks, sizeof(*m->hooks));

        if (!hooks)
                return -ENOMEM;
        m->hooks = hooks;
        m->hooks[m->n_hooks].fn = fn;
        m->hooks[m->n_hooks].userdata = userdata;
        m->n_hooks++;
        return 0;
}

/* A float the way Prometheus writes them: NaN, +Inf, -Inf, else the shortest of %.15g,
 * %.16g and %.17g that reads back as the same value ("0.005", "2.5", "1e-06"). */
static void format_double(char buf[32], double v) {
        if (isnan(v)) {
                strcpy(buf, "NaN");
                return;
        }
        if (isinf(v)) {
                strcpy(buf, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, 32, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
}

/* Append s escaped for a HELP line (backslash, newline) or, with quote, for a label
 * value (also the double quote). */
static int add_escaped(oa_buf *out, const char *s, bool quote) {
        const char *start = s;
        int r;

        for (; *s; s++) {
                const char *esc;

                if (*s == '\\')
                        esc = "\\\\";
                else if (*s == '\n')
                        esc = "\\n";
                else if (*s == '"' && quote)
                        esc = "\\\"";
                else
                        continue;
                r = oa_buf_add(out, start, (size_t) (s - start));
                if (r < 0)
                        return r;
                r = oa_buf_adds(out, esc);
                if (r < 0)
                        return r;
                start = s + 1;
        }
        return oa_buf_add(out, start, (size_t) (s - start));
}

/* name{a="x",b="y",le="0.5"} (braces only when there is a label); le may be NULL. */
static int add_series(oa_buf *out, const oa_metrics_family *f, const mchild *c,
                      const char *suffix, const char *le) {
        int r;

        r = oa_buf_adds(out, f->name);
        if (r == 0 && suffix)
                r = oa_buf_adds(out, suffix);
        if (r < 0 || (f->n_labels == 0 && !le))
                return r;
        r = oa_buf_addc(out, '{');
        for (size_t i = 0; r == 0 && i < f->n_labels; i++) {
                r = oa_buf_addf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
                if (r == 0)
                        r = add_escaped(out, c->values[i], true);
                if (r == 0)
                        r = oa_buf_addc(out, '"');
        }
        if (r == 0 && le)
                r = oa_buf_addf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
        if (r == 0)
                r = oa_buf_addc(out, '}');
        return r;
}

static int render_child(oa_buf *out, const oa_metrics_family *f, const mchild *c) {
        char num[32];
        uint64_t cum = 0;
        int r;

        switch (f->type) {
        case MTYPE_COUNTER:
                r = add_series(out, f, c, NULL, NULL);
                return r < 0 ? r : oa_buf_addf(out, " %" PRIu64 "\n", c->u.counter.value);
        case MTYPE_GAUGE:
                format_double(num, c->u.gauge.value);
                r = add_series(out, f, c, NULL, NULL);
                return r < 0 ? r : oa_buf_addf(out, " %s\n", num);
        case MTYPE_HISTOGRAM:
                break;
        }
        for (size_t i = 0; i <= f->n_bounds; i++) {
                if (i < f->n_bounds)
                        format_double(num, f->bounds[i]);
                else
                        strcpy(num, "+Inf");
                cum += c->u.hist.buckets[i];
                r = add_series(out, f, c, "_bucket", num);
                if (r == 0)
                        r = oa_buf_addf(out, " %" PRIu64 "\n", cum);
                if (r < 0)
                        return r;
        }
        format_double(num, c->u.hist.sum);
        r = add_series(out, f, c, "_sum", NULL);
        if (r == 0)
                r = oa_buf_addf(out, " %s\n", num);
        if (r == 0)
                r = add_series(out, f, c, "_count", NULL);
        if (r == 0)
                r = oa_buf_addf(out, " %" PRIu64 "\n", c->u.hist.count);
        return r;
}

int oa_metrics_render(oa_metrics *m, oa_buf *out) {
        static const char *const type_names[] = { "counter", "gauge", "histogram" };
        int r = 0;

        for (size_t i = 0; i < m->n_hooks; i++)
                m->hooks[i].fn(m->hooks[i].userdata);
        for (size_t i = 0; r == 0 && i < m->n_fams; i++) {
                const oa_metrics_family *f = m->fams[i];

                if (f->help[0]) {
                        r = oa_buf_addf(out, "# HELP %s ", f->name);
                        if (r == 0)
                                r = add_escaped(out, f->help, false);
                        if (r == 0)
                                r = oa_buf_addc(out, '\n');
                }
                if (r == 0)
                        r = oa_buf_addf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
                for (size_t k = 0; r == 0 && k < f->n_children; k++)
                        r = render_child(out, f, f->children[k]);
        }
        return r;
}

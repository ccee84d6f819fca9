/*
 * What a new User-Agent contains, found once for all of oa_ua_'s checks:
 *
 *   ua_subject   the first OA_UA_MAX_INPUT bytes, a lower-case copy and the set of its
 *                byte pairs, so "does it contain this literal" (bot and device markers,
 *                ua_prefilter_pass()) is usually answered by a bit test.
 *   ua_litindex  every literal of every rule's prefilter clauses (ua_prefilter.c), bucketed
 *                by its first two bytes. One pass over the subject compares, at each
 *                position, the few literals starting with that pair, and marks each clause
 *                holding a literal that occurs. A rule then checks at most UA_PF_KEEP bits
 *                before it runs its regex, instead of testing its literals one by one (the
 *                big alternations of bot names hold hundreds).
 */
#define _GNU_SOURCE            /* memmem */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ua_internal.h"

#define BUCKETS 4096

static _Atomic uint64_t subject_gen;

static inline char lower(char c) {
        return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static inline unsigned bigram(const char *p) {
        return ((unsigned)(unsigned char)p[0] << 8) | (unsigned char)p[1];
}

void ua_subject_set(ua_subject *s, const char *raw, size_t len) {
        if (len > OA_UA_MAX_INPUT)
                len = OA_UA_MAX_INPUT;
        s->raw = raw;
        s->len = len;
        s->gen = atomic_fetch_add(&subject_gen, 1) + 1;
        for (size_t i = 0; i < len; i++)
                s->lower[i] = lower(raw[i]);
        s->lower[len] = '\0';
        for (size_t i = 1; i < len; i++) {
                unsigned b = bigram(s->lower + i - 1);
                s->bigrams[b >> 6] |= UINT64_C(1) << (b & 63);
        }
}

void ua_subject_clear(ua_subject *s) {
        for (size_t i = 1; i < s->len; i++)
                s->bigrams[bigram(s->lower + i - 1) >> 6] = 0;
        s->len = 0;
        s->raw = NULL;
}

bool ua_subject_has(const ua_subject *s, const char *lit, size_t len) {
        if (len == 0)
                return true;
        if (len > s->len)
                return false;
        if (len == 1)
                return memchr(s->lower, lit[0], s->len) != NULL;
        for (size_t i = 1; i < len; i++) {
                unsigned b = bigram(lit + i - 1);
                if (!(s->bigrams[b >> 6] & (UINT64_C(1) << (b & 63))))
                        return false;
        }
        return memmem(s->lower, s->len, lit, len) != NULL;
}

/* ---- the literal index ---------------------------------------------------------------- */

typedef struct lit_ref {
        const char *lit;
        uint32_t len;
        uint32_t clause;
} lit_ref;

/* A literal in its bucket, with its first two bytes at hand: most candidates are ruled out
 * without touching the literal's string. */
typedef struct bucket_entry {
        uint16_t pair;
        uint32_t id;
} bucket_entry;

struct ua_litindex {
        lit_ref *refs;          /* while adding: one per literal of each clause */
        size_t nrefs, caprefs;
        uint32_t nclauses;

        uint32_t nlits;         /* after ua_litindex_finish(): distinct literals */
        char *pool;             /* their text, in sorted order, in one block: near neighbours */
        const char **lit;
        uint32_t *len;
        uint32_t *first;        /* literal i's clauses: clause_of[first[i] .. first[i + 1]) */
        uint32_t *clause_of;
        uint32_t *always;       /* clauses with a literal too short to index: they hold */
        uint32_t nalways;
        uint32_t bucket[BUCKETS + 1];   /* bucket b's literals: bucket_lit[bucket[b] ..] */
        bucket_entry *bucket_lit;
        uint64_t *bits;         /* clauses that hold, by the last scan */
        uint64_t *seen;         /* literals found by the last scan */
};

static inline unsigned bucket_of(const char *p) {
        return (bigram(p) * 0x9E3779B1u) >> 20 & (BUCKETS - 1);
}

int ua_litindex_new(ua_litindex **ret) {
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

ua_litindex *ua_litindex_free(ua_litindex *x) {
        if (!x)
                return NULL;
        free(x->refs);
        free(x->pool);
        free(x->lit);
        free(x->len);
        free(x->first);
        free(x->clause_of);
        free(x->always);
        free(x->bucket_lit);
        free(x->bits);
        free(x->seen);
        free(x);
        return NULL;
}

int ua_litindex_add(ua_litindex *x, const ua_prefilter *p, uint32_t *ret_ids) {
        for (size_t i = 0; i < p->n; i++) {
                const ua_clause *c = &p->clause[i];

                for (size_t j = 0; j < c->n; j++) {
                        if (x->nrefs == x->caprefs) {
                                size_t cap = x->caprefs ? 2 * x->caprefs : 4096;
                                lit_ref *n = realloc(x->refs, cap * sizeof(*n));
                                if (!n)
                                        return -ENOMEM;
                                x->refs = n;
                                x->caprefs = cap;
                        }
                        x->refs[x->nrefs++] = (lit_ref){
                                .lit = c->lit[j], .len = (uint32_t)c->len[j], .clause = x->nclauses,
                        };
                }
                ret_ids[i] = x->nclauses++;
        }
        return 0;
}

static int ref_cmp(const void *a, const void *b) {
        const lit_ref *x = a, *y = b;
        int c = strcmp(x->lit, y->lit);

        if (c)
                return c;
        return x->clause < y->clause ? -1 : x->clause > y->clause;
}

int ua_litindex_finish(ua_litindex *x) {
        size_t words = ((size_t)x->nclauses + 63) / 64 + 1, pool_len = 0, pool_used = 0;

        if (x->nrefs > 1)
                qsort(x->refs, x->nrefs, sizeof(*x->refs), ref_cmp);
        x->lit = calloc(x->nrefs + 1, sizeof(*x->lit));
        x->len = calloc(x->nrefs + 1, sizeof(*x->len));
        x->first = calloc(x->nrefs + 2, sizeof(*x->first));
        x->clause_of = calloc(x->nrefs + 1, sizeof(*x->clause_of));
        x->always = calloc(x->nrefs + 1, sizeof(*x->always));
        x->bucket_lit = calloc(x->nrefs + 1, sizeof(*x->bucket_lit));
        x->bits = calloc(words, sizeof(*x->bits));
        x->seen = calloc(x->nrefs / 64 + 1, sizeof(*x->seen));
        if (!x->lit || !x->len || !x->first || !x->clause_of || !x->always || !x->bucket_lit ||
            !x->bits || !x->seen)
                return -ENOMEM;

        /* distinct literals, each with the clauses it belongs to */
        for (size_t i = 0; i < x->nrefs; i++)
                pool_len += x->refs[i].len + 1;
        x->pool = malloc(pool_len + 1);
        if (!x->pool)
                return -ENOMEM;
        for (size_t i = 0; i < x->nrefs; i++) {
                const lit_ref *r = &x->refs[i];

                if (r->len < 2) {       /* cannot be indexed by a byte pair: holds always */
                        x->always[x->nalways++] = r->clause;
                        continue;
                }
                if (x->nlits == 0 || strcmp(x->lit[x->nlits - 1], r->lit) != 0) {
                        memcpy(x->pool + pool_used, r->lit, r->len + 1);
                        x->lit[x->nlits] = x->pool + pool_used;
                        pool_used += r->len + 1;
                        x->len[x->nlits] = r->len;
                        x->first[x->nlits] = (uint32_t)i - x->nalways;
                        x->nlits++;
                }
                x->clause_of[i - x->nalways] = r->clause;
        }
        x->first[x->nlits] = (uint32_t)(x->nrefs - x->nalways);

        /* buckets by the first byte pair: count, then place */
        for (uint32_t i = 0; i < x->nlits; i++)
                x->bucket[bucket_of(x->lit[i]) + 1]++;
        for (unsigned b = 0; b < BUCKETS; b++)
                x->bucket[b + 1] += x->bucket[b];
        {
                uint32_t fill[BUCKETS];

                memcpy(fill, x->bucket, sizeof(fill));
                for (uint32_t i = 0; i < x->nlits; i++)
                        x->bucket_lit[fill[bucket_of(x->lit[i])]++] = (bucket_entry){
                                .pair = (uint16_t)bigram(x->lit[i]), .id = i,
                        };
        }
        free(x->refs);
        x->refs = NULL;
        x->nrefs = x->caprefs = 0;
        return 0;
}

void ua_litindex_scan(ua_litindex *x, const ua_subject *s) {
        const char *l = s->lower;

        memset(x->bits, 0, (((size_t)x->nclauses + 63) / 64 + 1) * sizeof(*x->bits));
        memset(x->seen, 0, ((size_t)x->nlits / 64 + 1) * sizeof(*x->seen));
        for (uint32_t i = 0; i < x->nalways; i++)
                x->bits[x->always[i] >> 6] |= UINT64_C(1) << (x->always[i] & 63);
        for (size_t i = 0; i + 1 < s->len; i++) {
                unsigned pair = bigram(l + i), b = bucket_of(l + i);

                for (uint32_t k = x->bucket[b]; k < x->bucket[b + 1]; k++) {
                        uint32_t id = x->bucket_lit[k].id, len, j = 2;
                        const char *lit;

                        if (x->bucket_lit[k].pair != pair || (x->seen[id >> 6] >> (id & 63) & 1))
                                continue;
                        len = x->len[id];
                        lit = x->lit[id];
                        if (len > s->len - i)
                                continue;
                        while (j < len && l[i + j] == lit[j])   /* short: no memcmp call */
                                j++;
                        if (j < len)
                                continue;
                        x->seen[id >> 6] |= UINT64_C(1) << (id & 63);
                        for (uint32_t c = x->first[id]; c < x->first[id + 1]; c++)
                                x->bits[x->clause_of[c] >> 6] |= UINT64_C(1) << (x->clause_of[c] & 63);
                }
        }
}

const uint64_t *ua_litindex_bits(const ua_litindex *x) {
        return x->bits;
}

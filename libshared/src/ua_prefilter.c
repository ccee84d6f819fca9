/*
 * The literal prefilter of oa_ua_. Most of uap-core's 1,162 regexes cannot match unless
 * the User-Agent contains some fixed text: "; {0,2}(M532|Q572|FJL21)(?: Build|\) AppleWebKit)"
 * needs one of "m532", "q572", "fjl21" AND one of " build", ") applewebkit". For each regex
 * we derive such clauses once, at load time, and keep the rarest few (judged against a
 * handful of typical User-Agents). ua_scan.c finds, in one pass over a new User-Agent,
 * which clauses of all regexes hold; a regex with a clause that does not is never run.
 *
 * Soundness: literals come only from parts of the pattern every match contains (not under
 * '?', '*', '{0,n}', not from lookarounds); an alternation gives, for each pair of clauses
 * of two branches, their union (so a branch without literals removes the requirement);
 * "[Ss]" counts as "s"; comparison is in lower case, which holds for caseless regexes too.
 * Anything the extractor does not understand (\Q, \p, back references, inline flags, a
 * literal '{') gives no clause, and the regex then always runs. The tests run uap-core's
 * test suites with and without the prefilter and require identical results.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ua_internal.h"

#define LIT_MAX 255     /* longer runs are cut: a prefix of a literal is a literal */
#define SET_MAX 512     /* a clause with more alternatives is not worth checking */
#define LIT_MIN 2       /* a clause whose shortest alternative is shorter filters nothing */
#define OR_KEEP 3       /* clauses kept from each side of an alternation (3 x 3 combined) */
#define KEEP UA_PF_KEEP /* clauses kept per regex, the rarest */
#define BIG_CLAUSE 16   /* a clause this long is joined with one clause of a branch only */

static inline char lower(char c) {
        return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* The reference check, clause by clause (ua_scan.c does the same for all rules at once). */
bool ua_prefilter_pass(const ua_prefilter *p, const ua_subject *s) {
        for (size_t i = 0; i < p->n; i++) {
                const ua_clause *c = &p->clause[i];
                bool any = false;

                for (size_t j = 0; j < c->n && !any; j++)
                        any = ua_subject_has(s, c->lit[j], c->len[j]);
                if (!any)
                        return false;
        }
        return true;
}

/* ---- extraction ----------------------------------------------------------------------- */

/* Typical User-Agents, in lower case like the literals: a clause most of them satisfy
 * filters little, so clauses are checked rarest first and the commonest are dropped. Only
 * speed depends on this list. */
static const char *const sample_uas[] = {
        "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) "
        "chrome/120.0.0.0 safari/537.36",
        "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) "
        "chrome/120.0.0.0 safari/537.36 edg/120.0.2210.91",
        "mozilla/5.0 (macintosh; intel mac os x 10_15_7) applewebkit/605.1.15 (khtml, like "
        "gecko) version/17.1 safari/605.1.15",
        "mozilla/5.0 (x11; linux x86_64; rv:121.0) gecko/20100101 firefox/121.0",
        "mozilla/5.0 (iphone; cpu iphone os 17_1 like mac os x) applewebkit/605.1.15 (khtml, "
        "like gecko) version/17.1 mobile/15e148 safari/604.1",
        "mozilla/5.0 (ipad; cpu os 16_6 like mac os x) applewebkit/605.1.15 (khtml, like "
        "gecko) version/16.6 mobile/15e148 safari/604.1",
        "mozilla/5.0 (linux; android 10; k) applewebkit/537.36 (khtml, like gecko) "
        "chrome/120.0.0.0 mobile safari/537.36",
        "mozilla/5.0 (linux; android 9; sm-g960f build/ppr1.180610.011) applewebkit/537.36 "
        "(khtml, like gecko) chrome/74.0.3729.157 mobile safari/537.36",
        "mozilla/5.0 (linux; android 13; sm-s911b) applewebkit/537.36 (khtml, like gecko) "
        "samsungbrowser/23.0 chrome/115.0.0.0 mobile safari/537.36",
        "mozilla/5.0 (linux; u; android 4.0.3; en-us; kftt build/iml74k) applewebkit/534.30 "
        "(khtml, like gecko) version/4.0 safari/534.30",
};

/* memmem for the short strings of extraction, where memmem's set-up cost dominates. */
static bool contains(const char *h, size_t hl, const char *n, size_t nl) {
        if (nl > hl)
                return false;
        for (size_t i = 0; i + nl <= hl; i++)
                if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
                        return true;
        return false;
}

typedef struct ex_ctx {
        bool fail;      /* a construct we do not understand: no prefilter for this regex */
        bool nomem;
} ex_ctx;

static void clause_done(ua_clause *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->lit[i]);
        free(c->lit);
        free(c->len);
        *c = (ua_clause){ 0 };
}

void ua_prefilter_done(ua_prefilter *p) {
        for (size_t i = 0; i < p->n; i++)
                clause_done(&p->clause[i]);
        free(p->clause);
        *p = (ua_prefilter){ 0 };
}

/* Adds s to the alternatives of c, in lower case. An alternative that contains another
 * adds nothing (either way the shorter one decides). */
static void clause_add(ex_ctx *cx, ua_clause *c, const char *s, size_t len) {
        char buf[LIT_MAX], **nl, *copy;
        size_t *nlen, k = 0;

        if (len > LIT_MAX)
                len = LIT_MAX;
        for (size_t i = 0; i < len; i++)
                buf[i] = lower(s[i]);
        for (size_t i = 0; i < c->n; i++)
                if (contains(buf, len, c->lit[i], c->len[i]))
                        return;
        for (size_t i = 0; i < c->n; i++) {     /* drop alternatives containing the new one */
                if (contains(c->lit[i], c->len[i], buf, len)) {
                        free(c->lit[i]);
                        continue;
                }
                c->lit[k] = c->lit[i];
                c->len[k++] = c->len[i];
        }
        c->n = k;
        nl = realloc(c->lit, (c->n + 1) * sizeof(*nl));
        if (!nl)
                goto nomem;
        c->lit = nl;
        nlen = realloc(c->len, (c->n + 1) * sizeof(*nlen));
        if (!nlen)
                goto nomem;
        c->len = nlen;
        copy = malloc(len + 1);
        if (!copy)
                goto nomem;
        memcpy(copy, buf, len);
        copy[len] = '\0';
        c->lit[c->n] = copy;
        c->len[c->n++] = len;
        c->common = -1;
        return;
nomem:
        cx->nomem = true;
}

/* dst := src (dst empty); src is reduced already, so no checks. */
static void clause_copy(ex_ctx *cx, ua_clause *dst, const ua_clause *src) {
        dst->lit = calloc(src->n ? src->n : 1, sizeof(*dst->lit));
        dst->len = calloc(src->n ? src->n : 1, sizeof(*dst->len));
        if (!dst->lit || !dst->len) {
                cx->nomem = true;
                return;
        }
        for (size_t i = 0; i < src->n; i++) {
                dst->lit[i] = strdup(src->lit[i]);
                if (!dst->lit[i]) {
                        cx->nomem = true;
                        return;
                }
                dst->len[i] = src->len[i];
                dst->n++;
        }
        dst->common = src->common;
}

static size_t clause_minlen(const ua_clause *c) {
        size_t m = SIZE_MAX;

        for (size_t i = 0; i < c->n; i++)
                if (c->len[i] < m)
                        m = c->len[i];
        return c->n ? m : 0;
}

static int clause_common(const ua_clause *c) {
        int count = 0;

        for (size_t i = 0; i < sizeof(sample_uas) / sizeof(sample_uas[0]); i++) {
                size_t n = strlen(sample_uas[i]);
                bool any = false;

                for (size_t j = 0; j < c->n && !any; j++)
                        any = contains(sample_uas[i], n, c->lit[j], c->len[j]);
                count += any;
        }
        return count;
}

/* Appends clause c (moved) to p, unless it filters nothing worth checking. */
static void cnf_push(ex_ctx *cx, ua_prefilter *p, ua_clause *c) {
        ua_clause *nc;

        if (c->n == 0 || c->n > SET_MAX || clause_minlen(c) < LIT_MIN) {
                clause_done(c);
                return;
        }
        nc = realloc(p->clause, (p->n + 1) * sizeof(*nc));
        if (!nc) {
                clause_done(c);
                cx->nomem = true;
                return;
        }
        p->clause = nc;
        p->clause[p->n++] = *c;
        *c = (ua_clause){ 0 };
}

static void cnf_concat(ex_ctx *cx, ua_prefilter *dst, ua_prefilter *src) {
        for (size_t i = 0; i < src->n; i++)
                cnf_push(cx, dst, &src->clause[i]);
        ua_prefilter_done(src);
}

static int rank_cmp(const void *a, const void *b) {
        const ua_clause *x = a, *y = b;
        size_t lx = clause_minlen(x), ly = clause_minlen(y);

        if (x->common != y->common)
                return x->common < y->common ? -1 : 1;
        if (lx != ly)
                return lx > ly ? -1 : 1;
        if (x->n != y->n)
                return x->n < y->n ? -1 : 1;
        return strcmp(x->lit[0], y->lit[0]);    /* any fixed order */
}

/* Does a imply b: is every alternative of a a superstring of one of b's? */
static bool clause_implies(const ua_clause *a, const ua_clause *b) {
        for (size_t i = 0; i < a->n; i++) {
                /* clauses built from one another keep their order: try the same place first */
                bool found = i < b->n && contains(a->lit[i], a->len[i], b->lit[i], b->len[i]);

                for (size_t j = 0; j < b->n && !found; j++)
                        found = contains(a->lit[i], a->len[i], b->lit[j], b->len[j]);
                if (!found)
                        return false;
        }
        return true;
}

/* Drops clauses implied by others, orders the rest (rarest first when judge is set, else
 * by length only: judging is costly on long clauses) and keeps the first k. */
static void cnf_prune(ua_prefilter *p, size_t k, bool judge) {
        size_t n = 0;

        for (size_t i = 0; i < p->n; i++) {
                bool redundant = false;

                for (size_t j = 0; j < p->n && !redundant; j++) {
                        if (j == i || p->clause[j].n == 0)
                                continue;
                        /* of two clauses implying each other keep the first */
                        redundant = clause_implies(&p->clause[j], &p->clause[i]) &&
                                    (j < i || !clause_implies(&p->clause[i], &p->clause[j]));
                }
                if (redundant) {
                        clause_done(&p->clause[i]);     /* n == 0 marks it gone */
                        continue;
                }
        }
        for (size_t i = 0; i < p->n; i++)
                if (p->clause[i].n > 0)
                        p->clause[n++] = p->clause[i];
        p->n = n;
        for (size_t i = 0; i < p->n && judge; i++)
                if (p->clause[i].common < 0)
                        p->clause[i].common = clause_common(&p->clause[i]);
        if (p->n > 1)
                qsort(p->clause, p->n, sizeof(*p->clause), rank_cmp);
        while (p->n > k)
                clause_done(&p->clause[--p->n]);
}

/* a := a OR b, as clauses: (a1 AND a2) OR b1 implies (a1 OR b1) AND (a2 OR b1). */
static void cnf_or(ex_ctx *cx, ua_prefilter *a, ua_prefilter *b) {
        ua_prefilter out = { 0 };

        if (a->n == 0 || b->n == 0)
                goto out;
        if (a->n > 1 || b->n > 1) {
                /* long alternations (lists of bot names): one clause each side, or the
                 * product of clauses of hundreds of literals costs more than it filters */
                size_t biggest = 0;

                for (size_t i = 0; i < a->n; i++)
                        biggest = a->clause[i].n > biggest ? a->clause[i].n : biggest;
                for (size_t i = 0; i < b->n; i++)
                        biggest = b->clause[i].n > biggest ? b->clause[i].n : biggest;
                if (biggest > BIG_CLAUSE) {
                        cnf_prune(a, 1, false);
                        cnf_prune(b, 1, false);
                }
        }
        if (a->n == 1 && b->n == 1) {
                /* the common case, a long alternation: grow a's clause in place */
                for (size_t k = 0; k < b->clause[0].n; k++)
                        clause_add(cx, &a->clause[0], b->clause[0].lit[k], b->clause[0].len[k]);
                ua_prefilter_done(b);
                if (a->clause[0].n > SET_MAX)
                        ua_prefilter_done(a);
                return;
        }
        cnf_prune(a, OR_KEEP, false);
        cnf_prune(b, OR_KEEP, false);
        for (size_t i = 0; i < a->n; i++) {
                for (size_t j = 0; j < b->n; j++) {
                        ua_clause c = { .common = -1 };

                        clause_copy(cx, &c, &a->clause[i]);
                        for (size_t k = 0; k < b->clause[j].n; k++)
                                clause_add(cx, &c, b->clause[j].lit[k], b->clause[j].len[k]);
                        cnf_push(cx, &out, &c);
                }
        }
out:
        ua_prefilter_done(a);
        ua_prefilter_done(b);
        *a = out;
}

/* The end of a character class starting at p ('['), or NULL. */
static const char *skip_class(const char *p, const char *end) {
        p++;
        if (p < end && *p == '^')
                p++;
        if (p < end && *p == ']')
                p++;
        while (p < end) {
                if (*p == '\\') {
                        p += 2;
                        continue;
                }
                if (*p == '[' && p + 1 < end && p[1] == ':') {
                        const char *c = p + 2;
                        while (c + 1 < end && !(c[0] == ':' && c[1] == ']'))
                                c++;
                        if (c + 1 >= end)
                                return NULL;
                        p = c + 2;
                        continue;
                }
                if (*p == ']')
                        return p + 1;
                p++;
        }
        return NULL;
}

/* A class of case variants of one letter ("[Ss]") is that letter in lower case. */
static bool class_letter(const char *open, const char *after, char *ret) {
        const char *p = open + 1, *end = after - 1;
        char c;

        if (p >= end || *p == '^')
                return false;
        c = lower(*p);
        for (; p < end; p++)
                if (*p == '\\' || *p == '-' || *p == '[' || lower(*p) != c)
                        return false;
        *ret = c;
        return true;
}

/* The ')' closing the group opened at p ('('), or NULL. */
static const char *group_end(const char *p, const char *end) {
        int depth = 0;

        while (p < end) {
                if (*p == '\\') {
                        p += 2;
                        continue;
                }
                if (*p == '[') {
                        p = skip_class(p, end);
                        if (!p)
                                return NULL;
                        continue;
                }
                if (*p == '(')
                        depth++;
                else if (*p == ')' && --depth == 0)
                        return p;
                p++;
        }
        return NULL;
}

/* A quantifier at p: returns its end and its minimum in *min; p itself if there is none. */
static const char *quantifier(const char *p, const char *end, unsigned long *min, bool *bad) {
        *min = 1;
        if (p == end)
                return p;
        if (*p == '?' || *p == '*') {
                *min = 0;
                p++;
        } else if (*p == '+') {
                p++;
        } else if (*p == '{') {
                char *e;
                if (p + 1 == end || p[1] < '0' || p[1] > '9') {
                        *bad = true;    /* a literal '{': legal, but we do not guess */
                        return p;
                }
                *min = strtoul(p + 1, &e, 10);
                if (e < end && *e == ',') {
                        e++;
                        while (e < end && *e >= '0' && *e <= '9')
                                e++;
                }
                if (e >= end || *e != '}') {
                        *bad = true;
                        return p;
                }
                p = e + 1;
        } else {
                return p;
        }
        if (p < end && (*p == '?' || *p == '+'))        /* lazy, possessive */
                p++;
        return p;
}

static void parse_alt(ex_ctx *cx, const char *p, const char *end, ua_prefilter *ret);

static void flush_run(ex_ctx *cx, ua_prefilter *acc, const char *run, size_t *rl) {
        ua_clause c = { .common = -1 };

        if (*rl == 0)
                return;
        clause_add(cx, &c, run, *rl);
        cnf_push(cx, acc, &c);
        *rl = 0;
}

/* The inside of the group at p..close (after '('); NULL for a lookaround (it holds no
 * text); sets cx->fail for groups we do not know (inline flags, named, ...). */
static const char *group_inner(ex_ctx *cx, const char *inner, const char *close) {
        size_t n = (size_t)(close - inner);

        if (n == 0 || *inner != '?')
                return inner;
        if (n >= 2 && (inner[1] == ':' || inner[1] == '>'))
                return inner + 2;
        if (n >= 2 && (inner[1] == '=' || inner[1] == '!'))
                return NULL;
        if (n >= 3 && inner[1] == '<' && (inner[2] == '=' || inner[2] == '!'))
                return NULL;
        if (n >= 3 && inner[1] == 'P' && inner[2] == '<') {
                const char *gt = memchr(inner, '>', n);
                if (gt)
                        return gt + 1;
        }
        cx->fail = true;
        return NULL;
}

/* One branch (no top-level '|'): the clauses every match of it satisfies. */
static void parse_seq(ex_ctx *cx, const char *p, const char *end, ua_prefilter *ret) {
        ua_prefilter acc = { 0 };
        char run[LIT_MAX];
        size_t rl = 0;

        while (p < end && !cx->fail && !cx->nomem) {
                const char *after;
                unsigned long min;
                char c = *p;

                if (c == '(') {
                        const char *close = group_end(p, end), *inner;
                        ua_prefilter sub = { 0 };

                        if (!close) {
                                cx->fail = true;
                                break;
                        }
                        flush_run(cx, &acc, run, &rl);
                        inner = group_inner(cx, p + 1, close);
                        p = quantifier(close + 1, end, &min, &cx->fail);
                        if (inner && min > 0 && !cx->fail) {
                                parse_alt(cx, inner, close, &sub);
                                cnf_concat(cx, &acc, &sub);
                        }
                        continue;
                }
                if (c == '[') {
                        const char *open = p;

                        p = skip_class(p, end);
                        if (!p) {
                                cx->fail = true;
                                break;
                        }
                        if (!class_letter(open, p, &c)) {
                                flush_run(cx, &acc, run, &rl);
                                p = quantifier(p, end, &min, &cx->fail);
                                continue;
                        }
                } else if (c == '.') {
                        flush_run(cx, &acc, run, &rl);
                        p = quantifier(p + 1, end, &min, &cx->fail);
                        continue;
                } else if (c == '\\') {
                        char e = p + 1 < end ? p[1] : '\0';

                        if (e && strchr("dDwWsShHvVNRX", e)) {
                                flush_run(cx, &acc, run, &rl);
                                p = quantifier(p + 2, end, &min, &cx->fail);
                                continue;
                        }
                        if (e && strchr("bBAzZG", e)) {         /* zero-width */
                                flush_run(cx, &acc, run, &rl);
                                p += 2;
                                continue;
                        }
                        if (!e || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
                            (e >= 'A' && e <= 'Z')) {
                                cx->fail = true;        /* \Q, \p, \x, back references, ... */
                                break;
                        }
                        c = e;
                        p += 2;
                } else if (c == '^' || c == '$') {
                        flush_run(cx, &acc, run, &rl);
                        p++;
                        continue;
                } else if (c == ')' || c == '*' || c == '+' || c == '?' || c == '{' || c == '|') {
                        cx->fail = true;
                        break;
                } else {
                        p++;
                }
                /* c is a literal character (lower case does not matter), p is after it */
                after = p;
                p = quantifier(p, end, &min, &cx->fail);
                if (min > 0 && rl < LIT_MAX)
                        run[rl++] = c;
                if (p != after)         /* optional or repeated: what follows is not adjacent */
                        flush_run(cx, &acc, run, &rl);
        }
        flush_run(cx, &acc, run, &rl);
        *ret = acc;
}

/* An alternation: the OR of its branches' clauses. */
static void parse_alt(ex_ctx *cx, const char *p, const char *end, ua_prefilter *ret) {
        ua_prefilter all = { 0 };
        bool first = true;

        while (!cx->fail && !cx->nomem) {
                const char *q = p;
                ua_prefilter one = { 0 };

                while (q < end && *q != '|') {          /* the branch ends at a '|' of depth 0 */
                        if (*q == '\\') {
                                q += 2;
                        } else if (*q == '[') {
                                q = skip_class(q, end);
                        } else if (*q == '(') {
                                q = group_end(q, end);
                                if (q)
                                        q++;
                        } else {
                                q++;
                        }
                        if (!q) {
                                cx->fail = true;
                                break;
                        }
                }
                if (cx->fail)
                        break;
                if (q > end)
                        q = end;
                parse_seq(cx, p, q, &one);
                if (first) {
                        all = one;
                        first = false;
                } else {
                        cnf_or(cx, &all, &one);
                }
                if (q >= end)
                        break;
                p = q + 1;
        }
        if (cx->fail || cx->nomem)
                ua_prefilter_done(&all);
        *ret = all;
}

int ua_prefilter_build(const char *regex, ua_prefilter *ret) {
        ex_ctx cx = { 0 };
        ua_prefilter p = { 0 };

        parse_alt(&cx, regex, regex + strlen(regex), &p);
        if (cx.nomem) {
                ua_prefilter_done(&p);
                return -ENOMEM;
        }
        if (cx.fail)
                ua_prefilter_done(&p);
        cnf_prune(&p, KEEP, true);
        *ret = p;
        return 0;
}

/*
 * uap-core's rules: read from regexes.yaml (through ua_yaml.c), compiled with PCRE2 (JIT
 * when the library has it), run in file order, first match wins, as uap-core's
 * specification (docs/specification.md) says:
 *
 *   - a field with a *_replacement takes the replacement with $0..$9 replaced by the
 *     regex's groups (an unset group gives ""), trimmed of white space;
 *   - a field without one takes its group by position (UA: family $1, major $2, minor $3,
 *     patch $4; OS: the same plus patch_minor $5; device: family and model $1, no brand);
 *   - an empty result is null; no match at all gives family "Other".
 *
 * A regex only runs when its prefilter clauses (ua_prefilter.c) hold in the User-Agent;
 * one pass of the literal index (ua_scan.c) per User-Agent tells, for all three lists.
 *
 * Every regex runs under a match limit and a depth limit (and a bounded JIT stack): a run
 * stopped by a limit counts as "no match" and is counted, so no User-Agent can make a
 * regex backtrack for long. Subjects are at most OA_UA_MAX_INPUT bytes (ua_subject).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "ua_internal.h"

#define MATCH_LIMIT 100000u     /* per run; all of uap-core's test User-Agents need < 5,000 */
#define DEPTH_LIMIT 2000u       /* backtracking depth (the interpreter; JIT: its stack) */
#define JIT_STACK_MAX (512u << 10)

typedef struct ua_rule {
        pcre2_code *re;
        char *repl[UA_FIELDS];  /* replacement templates; NULL: take the group */
        ua_prefilter pf;        /* what the subject must contain before the regex runs */
        size_t line;
} ua_rule;

/* A rule's clause ids in the index, kept apart from the rules so that skipping most of
 * them walks a few cache lines, not every ua_rule. */
typedef struct rule_gate {
        uint32_t clause[UA_PF_KEEP];
        uint32_t n;
} rule_gate;

struct ua_rules {
        ua_rule *rules[UA_SEC_COUNT];
        rule_gate *gates[UA_SEC_COUNT];
        size_t n[UA_SEC_COUNT];
        size_t cap[UA_SEC_COUNT];
        size_t prefiltered[UA_SEC_COUNT];
        bool seen[UA_SEC_COUNT];
        pcre2_match_context *mctx;
        pcre2_jit_stack *jit_stack;
        pcre2_match_data *md;
        uint32_t max_groups;
        ua_litindex *index;     /* every rule's clauses */
        const ua_subject *scanned;      /* the index's bits are for this subject ... */
        uint64_t scanned_gen;           /* ... with this content */
        bool prefilter;
        uint64_t limit_errors;
};

static const char *const section_names[UA_SEC_COUNT] = {
        [UA_SEC_UA] = "user_agent_parsers",
        [UA_SEC_OS] = "os_parsers",
        [UA_SEC_DEVICE] = "device_parsers",
};

/* The replacement keys of each section, by field index. */
static const char *const repl_keys[UA_SEC_COUNT][UA_FIELDS] = {
        [UA_SEC_UA] = { "family_replacement", "v1_replacement", "v2_replacement",
                        "v3_replacement", NULL },
        [UA_SEC_OS] = { "os_replacement", "os_v1_replacement", "os_v2_replacement",
                        "os_v3_replacement", "os_v4_replacement" },
        [UA_SEC_DEVICE] = { "device_replacement", "brand_replacement", "model_replacement",
                            NULL, NULL },
};

/* The group each field takes when it has no replacement (0: none). */
static const int default_group[UA_SEC_COUNT][UA_FIELDS] = {
        [UA_SEC_UA] = { 1, 2, 3, 4, 0 },
        [UA_SEC_OS] = { 1, 2, 3, 4, 5 },
        [UA_SEC_DEVICE] = { 1, 0, 1, 0, 0 },
};

/* ---- loading -------------------------------------------------------------------------- */

typedef struct load_state {
        ua_rules *r;
        int section;            /* -1 before the first known section */
        char *regex;
        bool caseless;
        char *repl[UA_FIELDS];
        size_t item_line;
} load_state;

static void rule_done(ua_rule *ru) {
        pcre2_code_free(ru->re);
        for (int i = 0; i < UA_FIELDS; i++)
                free(ru->repl[i]);
        ua_prefilter_done(&ru->pf);
}

static void item_reset(load_state *ls) {
        free(ls->regex);
        ls->regex = NULL;
        ls->caseless = false;
        for (int i = 0; i < UA_FIELDS; i++) {
                free(ls->repl[i]);
                ls->repl[i] = NULL;
        }
}

static int item_finish(load_state *ls, char *errbuf, size_t errlen) {
        ua_rules *r = ls->r;
        int sec = ls->section;
        ua_rule ru = { .line = ls->item_line };
        PCRE2_SIZE erroff = 0;
        uint32_t groups = 0;
        int errcode = 0, rc;

        if (!ls->regex)
                return ua_errf(-EBADMSG, errbuf, errlen, "line %zu: item without 'regex'",
                               ls->item_line);
        ru.re = pcre2_compile((PCRE2_SPTR)ls->regex, PCRE2_ZERO_TERMINATED,
                              ls->caseless ? PCRE2_CASELESS : 0, &errcode, &erroff, NULL);
        if (!ru.re) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(errcode, msg, sizeof(msg));
                return ua_errf(-EBADMSG, errbuf, errlen, "line %zu: regex does not compile at "
                               "offset %zu: %s", ls->item_line, (size_t)erroff, (char *)msg);
        }
        /* JIT is an optimisation: without it (no JIT support) the interpreter runs */
        (void)pcre2_jit_compile(ru.re, PCRE2_JIT_COMPLETE);
        pcre2_pattern_info(ru.re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups > r->max_groups)
                r->max_groups = groups;
        rc = ua_prefilter_build(ls->regex, &ru.pf);
        if (rc < 0) {
                pcre2_code_free(ru.re);
                return rc;
        }
        if (r->n[sec] == r->cap[sec]) {
                size_t ncap = r->cap[sec] ? 2 * r->cap[sec] : 256;
                ua_rule *nr = realloc(r->rules[sec], ncap * sizeof(*nr));
                if (!nr) {
                        rule_done(&ru);
                        return -ENOMEM;
                }
                r->rules[sec] = nr;
                r->cap[sec] = ncap;
        }
        for (int i = 0; i < UA_FIELDS; i++) {
                ru.repl[i] = ls->repl[i];       /* owned by the rule now */
                ls->repl[i] = NULL;
        }
        if (ru.pf.n > 0)
                r->prefiltered[sec]++;
        r->rules[sec][r->n[sec]++] = ru;
        return 0;
}

static int on_event(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen) {
        load_state *ls = userdata;

        switch (ev->type) {
        case UA_YAML_SECTION:
                for (int s = 0; s < UA_SEC_COUNT; s++) {
                        if (strcmp(ev->key, section_names[s]) != 0)
                                continue;
                        if (ls->r->seen[s])
                                return ua_errf(-EBADMSG, errbuf, errlen,
                                               "line %zu: section '%s' twice", ev->line, ev->key);
                        ls->r->seen[s] = true;
                        ls->section = s;
                        return 0;
                }
                return ua_errf(-EBADMSG, errbuf, errlen, "line %zu: unknown section '%s'",
                               ev->line, ev->key);
        case UA_YAML_ITEM:
                item_reset(ls);
                ls->item_line = ev->line;
                return 0;
        case UA_YAML_ITEM_END:
                return item_finish(ls, errbuf, errlen);
        case UA_YAML_PAIR:
                break;
        }

        if (!ev->value)
                return ua_errf(-EBADMSG, errbuf, errlen, "line %zu: '%s' has no value",
                               ev->line, ev->key);
        if (strcmp(ev->key, "regex") == 0) {
                ls->regex = strdup(ev->value);
                return ls->regex ? 0 : -ENOMEM;
        }
        if (strcmp(ev->key, "regex_flag") == 0) {
                if (strcmp(ev->value, "i") != 0)
                        return ua_errf(-EBADMSG, errbuf, errlen,
                                       "line %zu: regex_flag '%s' (only 'i' is known)",
                                       ev->line, ev->value);
                ls->caseless = true;
                return 0;
        }
        for (int i = 0; i < UA_FIELDS; i++) {
                const char *k = repl_keys[ls->section][i];
                if (k && strcmp(ev->key, k) == 0) {
                        ls->repl[i] = strdup(ev->value);
                        return ls->repl[i] ? 0 : -ENOMEM;
                }
        }
        return ua_errf(-EBADMSG, errbuf, errlen, "line %zu: unknown key '%s' in %s", ev->line,
                       ev->key, section_names[ls->section]);
}

ua_rules *ua_rules_free(ua_rules *r) {
        if (!r)
                return NULL;
        for (int s = 0; s < UA_SEC_COUNT; s++) {
                for (size_t i = 0; i < r->n[s]; i++)
                        rule_done(&r->rules[s][i]);
                free(r->rules[s]);
                free(r->gates[s]);
        }
        ua_litindex_free(r->index);
        pcre2_match_data_free(r->md);
        pcre2_match_context_free(r->mctx);
        pcre2_jit_stack_free(r->jit_stack);
        free(r);
        return NULL;
}

int ua_rules_load_buf(const char *buf, size_t len, ua_rules **ret, char *errbuf, size_t errlen) {
        load_state ls = { .section = -1 };
        size_t total = 0;
        int r;

        ls.r = calloc(1, sizeof(*ls.r));
        if (!ls.r)
                return -ENOMEM;
        ls.r->prefilter = true;
        r = ua_yaml_parse(buf, len, on_event, &ls, errbuf, errlen);
        if (r < 0)
                goto out;
        for (int s = 0; s < UA_SEC_COUNT; s++)
                total += ls.r->n[s];
        if (total == 0) {
                r = ua_errf(-EBADMSG, errbuf, errlen, "no rules in the document");
                goto out;
        }
        r = ua_litindex_new(&ls.r->index);
        for (int s = 0; s < UA_SEC_COUNT && r == 0; s++) {
                ls.r->gates[s] = calloc(ls.r->n[s] + 1, sizeof(*ls.r->gates[s]));
                if (!ls.r->gates[s])
                        r = -ENOMEM;
                for (size_t i = 0; i < ls.r->n[s] && r == 0; i++) {
                        const ua_prefilter *pf = &ls.r->rules[s][i].pf;

                        ls.r->gates[s][i].n = (uint32_t)pf->n;
                        r = ua_litindex_add(ls.r->index, pf, ls.r->gates[s][i].clause);
                }
        }
        if (r == 0)
                r = ua_litindex_finish(ls.r->index);
        if (r < 0)
                goto out;
        ls.r->mctx = pcre2_match_context_create(NULL);
        ls.r->md = pcre2_match_data_create(ls.r->max_groups + 1, NULL);
        ls.r->jit_stack = pcre2_jit_stack_create(32u << 10, JIT_STACK_MAX, NULL);
        if (!ls.r->mctx || !ls.r->md || !ls.r->jit_stack) {
                r = -ENOMEM;
                goto out;
        }
        pcre2_set_match_limit(ls.r->mctx, MATCH_LIMIT);
        pcre2_set_depth_limit(ls.r->mctx, DEPTH_LIMIT);
        pcre2_jit_stack_assign(ls.r->mctx, NULL, ls.r->jit_stack);
        *ret = ls.r;
        ls.r = NULL;
        r = 0;
out:
        item_reset(&ls);
        ua_rules_free(ls.r);
        return r;
}

int ua_rules_load_file(const char *path, ua_rules **ret, char *errbuf, size_t errlen) {
        char *buf = NULL;
        size_t len = 0;
        int r;

        r = ua_yaml_read_file(path, &buf, &len, errbuf, errlen);
        if (r < 0)
                return r;
        r = ua_rules_load_buf(buf, len, ret, errbuf, errlen);
        free(buf);
        return r;
}

size_t ua_rules_count(const ua_rules *r, int section) {
        return r->n[section];
}

size_t ua_rules_prefiltered(const ua_rules *r, int section) {
        return r->prefiltered[section];
}

void ua_rules_set_prefilter(ua_rules *r, bool on) {
        r->prefilter = on;
}

uint64_t ua_rules_limit_errors(const ua_rules *r) {
        return r->limit_errors;
}

/* ---- matching ------------------------------------------------------------------------- */

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Group g of the last match as (start, len); false when unset or out of range. */
static bool group(const ua_rules *r, const ua_subject *s, int rc, int g, const char **ret_p,
                  size_t *ret_len) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);

        if (g < 0 || (uint32_t)g > r->max_groups || g >= rc || ov[2 * g] == PCRE2_UNSET)
                return false;
        *ret_p = s->raw + ov[2 * g];
        *ret_len = ov[2 * g + 1] - ov[2 * g];
        return true;
}

static void put(char *dst, size_t *n, const char *src, size_t len) {
        size_t room = UA_FIELD_MAX - 1 - *n;

        if (len > room)
                len = room;
        memcpy(dst + *n, src, len);
        *n += len;
}

/* Field i of *ret from template t (or group g when t is NULL). */
static void fill(const ua_rules *r, const ua_subject *s, int rc, const char *t, int g,
                 ua_fields *ret, int i) {
        char *dst = ret->v[i];
        const char *p;
        size_t n = 0, len, b;

        if (!t) {
                if (g > 0 && group(r, s, rc, g, &p, &len))
                        put(dst, &n, p, len);
        } else {
                for (; *t; t++) {
                        if (t[0] == '$' && t[1] >= '0' && t[1] <= '9') {
                                if (group(r, s, rc, t[1] - '0', &p, &len))
                                        put(dst, &n, p, len);
                                t++;
                        } else {
                                put(dst, &n, t, 1);
                        }
                }
                /* trim, as the specification asks for substituted values */
                for (b = 0; b < n && is_space(dst[b]); b++)
                        ;
                while (n > b && is_space(dst[n - 1]))
                        n--;
                memmove(dst, dst + b, n - b);
                n -= b;
        }
        dst[n] = '\0';
        ret->set[i] = n > 0;
}

int ua_rules_match(ua_rules *r, int section, const ua_subject *s, ua_fields *ret) {
        const ua_rule *rules = r->rules[section];
        const rule_gate *gates = r->gates[section];
        const uint64_t *bits = NULL;
        size_t n = r->n[section];

        for (int i = 0; i < UA_FIELDS; i++) {
                ret->v[i][0] = '\0';
                ret->set[i] = false;
        }
        if (r->prefilter) {
                /* one scan per subject serves all three sections */
                if (r->scanned != s || r->scanned_gen != s->gen) {
                        ua_litindex_scan(r->index, s);
                        r->scanned = s;
                        r->scanned_gen = s->gen;
                }
                bits = ua_litindex_bits(r->index);
        }
        for (size_t k = 0; k < n; k++) {
                const ua_rule *ru = &rules[k];
                bool skip = false;
                int rc;

                for (uint32_t c = 0; bits && c < gates[k].n && !skip; c++)
                        skip = !ua_bit(bits, gates[k].clause[c]);
                if (skip)
                        continue;
                rc = pcre2_match(ru->re, (PCRE2_SPTR)s->raw, s->len, 0, 0, r->md, r->mctx);
                if (rc == PCRE2_ERROR_NOMATCH)
                        continue;
                if (rc < 0) {
                        /* a limit (or another run-time error): no match, counted */
                        r->limit_errors++;
                        continue;
                }
                if (rc == 0)    /* cannot happen: md holds every group of every rule */
                        rc = (int)r->max_groups + 1;
                for (int i = 0; i < UA_FIELDS; i++)
                        fill(r, s, rc, ru->repl[i], default_group[section][i], ret, i);
                if (!ret->set[0]) {
                        memcpy(ret->v[0], "Other", sizeof("Other"));
                        ret->set[0] = true;
                }
                return 1;
        }
        memcpy(ret->v[0], "Other", sizeof("Other"));
        ret->set[0] = true;
        return 0;
}

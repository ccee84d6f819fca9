/* Tests for libshared/src/ua_match.c (rules from YAML snippets, uap-core's replacement
 * semantics) and libshared/src/ua_prefilter.c (literal clauses, the subject). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "ua_internal.h"

static ua_subject subj;         /* 8 KiB: not on the stack */

static void fields_str(const ua_fields *f, char *out, size_t len) {
        size_t n = 0;

        out[0] = '\0';
        for (int i = 0; i < UA_FIELDS; i++)
                n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "|" : "",
                                      f->set[i] ? f->v[i] : "~");
}

static ua_rules *load(const char *doc) {
        ua_rules *r = NULL;
        char err[256] = "";
        int rc = ua_rules_load_buf(doc, strlen(doc), &r, err, sizeof(err));

        cr_assert_eq(rc, 0, "load: %d %s", rc, err);
        return r;
}

static int match(ua_rules *r, int sec, const char *ua, char *out, size_t len) {
        ua_fields f;
        int m;

        ua_subject_set(&subj, ua, strlen(ua));
        m = ua_rules_match(r, sec, &subj, &f);
        ua_subject_clear(&subj);
        fields_str(&f, out, len);
        return m;
}

struct rule_row {
        char name[40];
        char doc[400];
        int section;
        char ua[200];
        char want[120];
};

#define UA UA_SEC_UA
#define OS UA_SEC_OS
#define DEV UA_SEC_DEVICE

ParameterizedTestParameters(ua_rules, follow_uap_core_specification) {
        static struct rule_row rows[] = {
                { "spec_ua_example",
                  "user_agent_parsers:\n  - regex: '(Namoroka|Shiretoko|Minefield)/(\\d+)\\.(\\d+)\\.(\\d+(?:pre)?)'\n"
                  "    family_replacement: 'Firefox ($1)'\n", UA,
                  "Mozilla/5.0 (Windows; Windows NT 5.1; rv:2.0b3pre) Gecko/20100727 Minefield/4.0.1pre",
                  "Firefox (Minefield)|4|0|1pre|~" },
                { "spec_os_example",
                  "os_parsers:\n  - regex: 'Win(95|98|3.1|NT|ME|2000)'\n    os_replacement: 'Windows $1'\n", OS,
                  "Mozilla/5.0 (Windows; U; Win95; en-US; rv:1.1) Gecko/20020826", "Windows 95|~|~|~|~" },
                { "spec_device_example",
                  "device_parsers:\n  - regex: '; *(PEDI)_(PLUS)_(W) Build'\n"
                  "    device_replacement: 'Odys $1 $2 $3'\n    brand_replacement: 'Odys'\n"
                  "    model_replacement: '$1 $2 $3'\n", DEV,
                  "Mozilla/5.0 (Linux; U; Android 4.2.2; de-de; PEDI_PLUS_W Build/JDQ39) AppleWebKit/534.30",
                  "Odys PEDI PLUS W|Odys|PEDI PLUS W|~|~" },
                { "device_groups_by_default", "device_parsers:\n  - regex: '(Pixel \\d)'\n", DEV,
                  "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36", "Pixel 7|~|Pixel 7|~|~" },
                { "os_five_groups", "os_parsers:\n  - regex: '(Foo) (\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)'\n", OS,
                  "x Foo 1.2.3.4 y", "Foo|1|2|3|4" },
                { "caseless_flag",
                  "device_parsers:\n  - regex: 'bot'\n    regex_flag: 'i'\n    device_replacement: 'Spider'\n", DEV,
                  "FooBOT/1.0", "Spider|~|~|~|~" },
                { "case_sensitive_default",
                  "device_parsers:\n  - regex: 'bot'\n    device_replacement: 'Spider'\n", DEV,
                  "FooBOT/1.0", "Other|~|~|~|~" },
                { "first_match_wins",
                  "user_agent_parsers:\n  - regex: '(Edg)/(\\d+)'\n    family_replacement: 'Edge'\n"
                  "  - regex: '(Chrome)/(\\d+)'\n", UA,
                  "Chrome/120.0 Safari/537.36 Edg/119.0", "Edge|119|~|~|~" },
                { "empty_group_is_null", "user_agent_parsers:\n  - regex: '(Foo)(?:/(\\d+)|)'\n", UA,
                  "Foo", "Foo|~|~|~|~" },
                { "replacement_is_trimmed",
                  "device_parsers:\n  - regex: '(Foo)(Bar)?'\n    device_replacement: '  $1 $2  '\n"
                  "    model_replacement: '$2'\n", DEV, "Foo", "Foo|~|~|~|~" },
                { "dollar_zero_and_missing_groups",
                  "device_parsers:\n  - regex: 'Foo/(\\d)'\n    device_replacement: '$0 [$9]'\n"
                  "    brand_replacement: '$$1'\n", DEV, "a Foo/7 b", "Foo/7 []|$7|7|~|~" },
                { "literal_version_replacement",
                  "os_parsers:\n  - regex: 'Windows NT 10\\.0'\n    os_replacement: 'Windows'\n"
                  "    os_v1_replacement: '10'\n", OS, "(Windows NT 10.0; Win64)", "Windows|10|~|~|~" },
                { "groups_reordered",
                  "user_agent_parsers:\n  - regex: '(\\d+)\\.(\\d+) (\\w+)'\n    family_replacement: '$3'\n"
                  "    v1_replacement: '$1'\n    v2_replacement: '$2'\n", UA, "4.5 Thing", "Thing|4|5|~|~" },
                { "no_match_is_other", "user_agent_parsers:\n  - regex: 'Nope'\n", UA,
                  "Mozilla/5.0", "Other|~|~|~|~" },
                { "family_group_unset_is_other",
                  "user_agent_parsers:\n  - regex: 'X(Y)?'\n", UA, "X", "Other|~|~|~|~" },
                { "quotes_in_double_quoted_values",
                  "device_parsers:\n  - regex: \"(G'FIVE) (\\\\w+)\"\n    device_replacement: \"$1 $2\"\n", DEV,
                  "Android; G'FIVE A56 Build", "G'FIVE A56|~|G'FIVE|~|~" },
        };
        return cr_make_param_array(struct rule_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct rule_row *row, ua_rules, follow_uap_core_specification) {
        ua_rules *r = load(row->doc);
        char got[600];

        match(r, row->section, row->ua, got, sizeof(got));
        cr_assert_str_eq(got, row->want, "%s", row->name);
        /* the prefilter never changes an answer */
        ua_rules_set_prefilter(r, false);
        match(r, row->section, row->ua, got, sizeof(got));
        cr_assert_str_eq(got, row->want, "%s without prefilter", row->name);
        ua_rules_free(r);
}

struct load_bad {
        char name[40];
        char doc[200];
        char want[80];
};

ParameterizedTestParameters(ua_rules, refuse_unexpected_files) {
        static struct load_bad rows[] = {
                { "unknown_section", "foo_parsers:\n  - regex: 'x'\n", "line 1: unknown section 'foo_parsers'" },
                { "unknown_key", "user_agent_parsers:\n  - regex: 'x'\n    os_replacement: 'y'\n",
                  "line 3: unknown key 'os_replacement' in user_agent_parsers" },
                { "v4_in_ua", "user_agent_parsers:\n  - regex: 'x'\n    v4_replacement: 'y'\n",
                  "line 3: unknown key 'v4_replacement'" },
                { "bad_flag", "device_parsers:\n  - regex: 'x'\n    regex_flag: 'x'\n", "line 3: regex_flag 'x'" },
                { "no_regex", "device_parsers:\n  - device_replacement: 'x'\n", "line 2: item without 'regex'" },
                { "regex_does_not_compile", "os_parsers:\n  - regex: 'a'\n  - regex: 'a('\n",
                  "line 3: regex does not compile" },
                { "section_twice", "os_parsers:\n  - regex: 'a'\nos_parsers:\n  - regex: 'b'\n",
                  "line 3: section 'os_parsers' twice" },
                { "null_value", "os_parsers:\n  - regex:\n", "line 2: 'regex' has no value" },
                { "no_rules", "os_parsers:\n", "no rules in the document" },
                { "yaml_error", "os_parsers:\n  - regex: x\n", "line 2: expected a quoted scalar" },
        };
        return cr_make_param_array(struct load_bad, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct load_bad *row, ua_rules, refuse_unexpected_files) {
        ua_rules *r = NULL;
        char err[256] = "";
        int rc = ua_rules_load_buf(row->doc, strlen(row->doc), &r, err, sizeof(err));

        cr_assert_eq(rc, -EBADMSG, "%s: %d", row->name, rc);
        cr_assert_null(r);
        cr_assert(strncmp(err, row->want, strlen(row->want)) == 0, "%s: got '%s'", row->name, err);
}

Test(ua_rules, loads_uap_core_with_prefilters) {
        ua_rules *r = NULL;
        char err[256] = "";

        cr_assert_eq(ua_rules_load_file(OA_UA_DEFAULT_REGEXES, &r, err, sizeof(err)), 0, "%s", err);
        for (int s = 0; s < UA_SEC_COUNT; s++) {
                cr_assert_gt(ua_rules_count(r, s), 100);
                /* nearly every regex has literals to check first */
                cr_assert_geq(ua_rules_prefiltered(r, s) * 100, ua_rules_count(r, s) * 95);
        }
        cr_assert_eq(ua_rules_limit_errors(r), 0);
        ua_rules_free(r);
}

Test(ua_rules, match_limit_counts_as_no_match) {
        /* catastrophic backtracking: (a+)+$ on "aaaa...b" */
        ua_rules *r = load("user_agent_parsers:\n  - regex: '^(a+)+$'\n    family_replacement: 'Bad'\n"
                           "  - regex: '(a)'\n    family_replacement: 'Fine'\n");
        char ua[OA_UA_MAX_INPUT + 1], got[600];

        memset(ua, 'a', 60);
        ua[60] = 'b';
        ua[61] = '\0';
        match(r, UA_SEC_UA, ua, got, sizeof(got));
        cr_assert_str_eq(got, "Fine|~|~|~|~");
        cr_assert_eq(ua_rules_limit_errors(r), 1);
        ua_rules_free(r);
}

Test(ua_rules, free_null) {
        cr_assert_null(ua_rules_free(NULL));
}

/* ---- prefilter ------------------------------------------------------------------------- */

static void prefilter_str(const ua_prefilter *p, char *out, size_t len) {
        size_t n = 0;

        out[0] = '\0';
        for (size_t i = 0; i < p->n; i++) {
                n += (size_t)snprintf(out + n, len - n, "%s(", i ? "&" : "");
                for (size_t j = 0; j < p->clause[i].n; j++)
                        n += (size_t)snprintf(out + n, len - n, "%s%s", j ? "|" : "",
                                              p->clause[i].lit[j]);
                n += (size_t)snprintf(out + n, len - n, ")");
        }
}

struct pf_row {
        char regex[120];
        char want[160];
};

ParameterizedTestParameters(ua_prefilter, derives_required_literals) {
        static struct pf_row rows[] = {
                { "Firefox/(\\d+)", "(firefox/)" },
                { "(Namoroka|Shiretoko|Minefield)/(\\d+)\\.(\\d+)", "(namoroka|shiretoko|minefield)" },
                { "abcd?ef", "(abc)&(ef)" },
                { "ab+cd", "(ab)&(cd)" },
                { "a{2}bc", "(bc)" },
                { "ab{0,3}cd", "(cd)" },
                { "x\\d+yz", "(yz)" },
                { "[Bb]ot/\\d", "(bot/)" },
                { "[^C][^Uu][Bb]ot\\b", "(bot)" },
                { "foo(?=bar)baz", "(baz)&(foo)" },
                { "(foo|)bar", "(bar)" },
                { "(?:foo|bar)?baz", "(baz)" },
                { "(?:Huawei|HUAWEI)", "(huawei)" },
                { "(bot|robot|spider)", "(bot|spider)" },
                { "(Bot|Yeti)-Mobile", "(-mobile)&(bot|yeti)" },
                { "(ab|cd)(ef|gh)", "(ab|cd)&(ef|gh)" },
                { "(ab(cd)?|ef)", "(ab|ef)" },
                { "(abc|de)f", "(abc|de)" },
                { "(ab\\d+cd|ef)", "(ab|ef)&(cd|ef)" },
                { "^Mozilla.{0,10}Chrome$", "(chrome)&(mozilla)" },
                { "a\\.b\\/c\\ d", "(a.b/c d)" },
                { "(?P<name>abc)", "(abc)" },
                { "(?i)foo", "" },
                { "(?<name>abc)", "" },
                { "\\Qab\\E", "" },
                { "\\x41bc", "" },
                { "foo{bar", "" },
                { "[a", "" },
                { "(ab", "" },
                { "a|b", "" },
                { ".*", "" },
        };
        return cr_make_param_array(struct pf_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct pf_row *row, ua_prefilter, derives_required_literals) {
        ua_prefilter p;
        char got[400];

        cr_assert_eq(ua_prefilter_build(row->regex, &p), 0);
        prefilter_str(&p, got, sizeof(got));
        cr_assert_str_eq(got, row->want, "regex %s", row->regex);
        ua_prefilter_done(&p);
}

struct sound_row {
        char regex[120];
        bool caseless;
        char subject[120];
};

/* Subjects each regex matches: the prefilter must let every one through. */
ParameterizedTestParameters(ua_prefilter, never_rejects_a_match) {
        static struct sound_row rows[] = {
                { "(Bot|Yeti)-Mobile", false, "x Yeti-Mobile y" },
                { "bot|spider", true, "Mozilla SPIDER" },
                { "[Ss]crape(r)?", false, "Scrape" },
                { "; {0,2}(M532|Q572)(?: Build|\\) AppleWebKit)", false, "Android;Q572) AppleWebKit" },
                { "ab+cd", false, "abbbbcd" },
                { "a(?:bc)*d", false, "ad" },
                { "(ab\\d+cd|ef)", false, "xxefxx" },
                { "(ab\\d+cd|ef)", false, "ab12cd" },
                { "^(.{0,200})/(\\d+) CFNetwork", false, "App/12 CFNetwork/1" },
                { "x{2,}yz", false, "xxxxyz" },
                { "Win(?:dows)? ?(95|98|NT)", false, "WinNT" },
                { "(?:PPC|Intel) (Mac OS X)", false, "Intel Mac OS X" },
                { "Opera Tablet|Tablet; .{1,100}Firefox/", true, "(android 9; tablet; rv:68.0) firefox/68" },
        };
        return cr_make_param_array(struct sound_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct sound_row *row, ua_prefilter, never_rejects_a_match) {
        pcre2_code *re;
        pcre2_match_data *md;
        ua_prefilter p;
        int errcode;
        PCRE2_SIZE erroff;

        re = pcre2_compile((PCRE2_SPTR)row->regex, PCRE2_ZERO_TERMINATED,
                           row->caseless ? PCRE2_CASELESS : 0, &errcode, &erroff, NULL);
        cr_assert_not_null(re);
        md = pcre2_match_data_create_from_pattern(re, NULL);
        cr_assert_geq(pcre2_match(re, (PCRE2_SPTR)row->subject, strlen(row->subject), 0, 0, md, NULL),
                      0, "the row itself is wrong: %s !~ %s", row->subject, row->regex);
        cr_assert_eq(ua_prefilter_build(row->regex, &p), 0);
        ua_subject_set(&subj, row->subject, strlen(row->subject));
        cr_assert(ua_prefilter_pass(&p, &subj), "%s rejected %s", row->regex, row->subject);
        ua_subject_clear(&subj);
        ua_prefilter_done(&p);
        pcre2_match_data_free(md);
        pcre2_code_free(re);
}

Test(ua_prefilter, rejects_subjects_without_the_literals) {
        ua_prefilter p;

        cr_assert_eq(ua_prefilter_build("(Bot|Yeti)-Mobile", &p), 0);
        ua_subject_set(&subj, "Bot Mobile", 10);
        cr_assert_not(ua_prefilter_pass(&p, &subj));
        ua_subject_clear(&subj);
        ua_prefilter_done(&p);
}

/* The index answers, for all regexes at once, what ua_prefilter_pass() answers for one. */
Test(ua_litindex, agrees_with_the_reference_check) {
        static const char *const regexes[] = {
                "(Bot|Yeti)-Mobile", "bot|spider", "[Ss]crape(r)?", "Firefox/(\\d+)",
                "; {0,2}(M532|Q572)(?: Build|\\) AppleWebKit)", "(ab\\d+cd|ef)", "ab+cd",
                "(CFNetwork)(?:/(\\d+)|)", "Android [34]", "^Mozilla.{0,10}Chrome$", "x",
        };
        static const char *const subjects[] = {
                "Mozilla/5.0 Chrome/120", "x Yeti-Mobile y", "Scraper", "Q572) AppleWebKit",
                "ab12cd", "xxefxx", "CFNetwork/1.0", "Android 4.4; bot", "", "zz",
                "Mozilla/5.0 (Linux; Android 3.2; Build/X) Firefox/9",
        };
        enum { NR = sizeof(regexes) / sizeof(regexes[0]) };
        ua_prefilter pf[NR];
        uint32_t ids[NR][UA_PF_KEEP];
        ua_litindex *x = NULL;

        cr_assert_eq(ua_litindex_new(&x), 0);
        for (size_t i = 0; i < NR; i++) {
                cr_assert_eq(ua_prefilter_build(regexes[i], &pf[i]), 0);
                cr_assert_eq(ua_litindex_add(x, &pf[i], ids[i]), 0);
        }
        cr_assert_eq(ua_litindex_finish(x), 0);
        for (size_t k = 0; k < sizeof(subjects) / sizeof(subjects[0]); k++) {
                ua_subject_set(&subj, subjects[k], strlen(subjects[k]));
                ua_litindex_scan(x, &subj);
                for (size_t i = 0; i < NR; i++) {
                        bool all = true;

                        for (size_t c = 0; c < pf[i].n; c++)
                                all = all && ua_bit(ua_litindex_bits(x), ids[i][c]);
                        cr_assert_eq(all, ua_prefilter_pass(&pf[i], &subj), "%s on %s",
                                     regexes[i], subjects[k]);
                }
                ua_subject_clear(&subj);
        }
        for (size_t i = 0; i < NR; i++)
                ua_prefilter_done(&pf[i]);
        cr_assert_null(ua_litindex_free(x));
}

Test(ua_subject, finds_lower_case_literals) {
        const char raw[] = "Mozilla/5.0 (X11)\0NUL Inside";

        ua_subject_set(&subj, raw, sizeof(raw) - 1);
        cr_assert_str_eq(subj.lower, "mozilla/5.0 (x11)");     /* up to the NUL */
        cr_assert(ua_subject_has(&subj, "mozilla", 7));
        cr_assert(ua_subject_has(&subj, "m", 1));
        cr_assert(ua_subject_has(&subj, "", 0));
        cr_assert(ua_subject_has(&subj, "nul inside", 10));
        cr_assert(ua_subject_has(&subj, ")\0nul", 5));
        cr_assert_not(ua_subject_has(&subj, "Mozilla", 7));      /* literals are lower case */
        cr_assert_not(ua_subject_has(&subj, "x12", 3));
        cr_assert_not(ua_subject_has(&subj, "zz", 2));
        cr_assert_not(ua_subject_has(&subj, "q", 1));
        ua_subject_clear(&subj);
        for (size_t i = 0; i < sizeof(subj.bigrams) / sizeof(subj.bigrams[0]); i++)
                cr_assert_eq(subj.bigrams[i], 0);
}

Test(ua_subject, caps_at_max_input) {
        static char raw[OA_UA_MAX_INPUT + 100];

        memset(raw, 'a', sizeof(raw));
        memcpy(raw + OA_UA_MAX_INPUT, "tail", 4);
        ua_subject_set(&subj, raw, sizeof(raw));
        cr_assert_eq(subj.len, OA_UA_MAX_INPUT);
        cr_assert_not(ua_subject_has(&subj, "tail", 4));
        ua_subject_clear(&subj);
}

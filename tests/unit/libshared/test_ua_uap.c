/* uap-core's own test suites (Debian uap-core: /usr/share/uap-core/tests/test_ua.yaml,
 * test_os.yaml, test_device.yaml; about 18,000 User-Agents) through our rules: every field
 * must agree, with the literal prefilter and, on a sample, without it. The slowest unit test;
 * it prints its agreement figures to stderr. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ua_internal.h"

#define TESTS_DIR "/usr/share/uap-core/tests/"

typedef struct test_case {
        char *ua;
        char *want[UA_FIELDS];  /* NULL: null or '' */
        size_t line;
} test_case;

typedef struct suite {
        const char *const *keys;        /* field index → key in the file */
        test_case *cases;
        size_t n, cap;
} suite;

static const char *const ua_keys[UA_FIELDS] = { "family", "major", "minor", "patch", NULL };
static const char *const os_keys[UA_FIELDS] = { "family", "major", "minor", "patch", "patch_minor" };
static const char *const dev_keys[UA_FIELDS] = { "family", "brand", "model", NULL, NULL };

static int on_event(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen) {
        suite *s = userdata;
        test_case *c;

        if (ev->type == UA_YAML_SECTION)
                return strcmp(ev->key, "test_cases") == 0 ? 0 : -EBADMSG;
        if (ev->type == UA_YAML_ITEM) {
                if (s->n == s->cap) {
                        s->cap = s->cap ? 2 * s->cap : 1024;
                        s->cases = realloc(s->cases, s->cap * sizeof(*s->cases));
                        cr_assert_not_null(s->cases);
                }
                memset(&s->cases[s->n], 0, sizeof(s->cases[0]));
                s->cases[s->n++].line = ev->line;
                return 0;
        }
        if (ev->type != UA_YAML_PAIR)
                return 0;
        c = &s->cases[s->n - 1];
        if (strcmp(ev->key, "user_agent_string") == 0) {
                c->ua = strdup(ev->value ? ev->value : "");
                return 0;
        }
        for (int i = 0; i < UA_FIELDS; i++)
                if (s->keys[i] && strcmp(ev->key, s->keys[i]) == 0 && ev->value && *ev->value)
                        c->want[i] = strdup(ev->value);
        return 0;
}

static void load_suite(const char *file, const char *const *keys, suite *s) {
        char *buf = NULL, err[256] = "";
        size_t len = 0;
        int r;

        *s = (suite){ .keys = keys };
        r = ua_yaml_read_file(file, &buf, &len, err, sizeof(err));
        cr_assert_eq(r, 0, "%s", err);
        r = ua_yaml_parse(buf, len, on_event, s, err, sizeof(err));
        cr_assert_eq(r, 0, "%s: %s", file, err);
        free(buf);
        cr_assert_gt(s->n, 100);
        for (size_t i = 0; i < s->n; i++)
                cr_assert_not_null(s->cases[i].ua, "%s line %zu", file, s->cases[i].line);
}

static void free_suite(suite *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->cases[i].ua);
                for (int k = 0; k < UA_FIELDS; k++)
                        free(s->cases[i].want[k]);
        }
        free(s->cases);
}

static ua_subject subj;

/* Runs every step-th case; returns the number that disagree (the first few printed). */
static size_t run(ua_rules *r, int section, const suite *s, size_t step, const char *name) {
        size_t bad = 0, runs = 0;

        for (size_t i = 0; i < s->n; i += step) {
                const test_case *c = &s->cases[i];
                ua_fields f;

                ua_subject_set(&subj, c->ua, strlen(c->ua));
                ua_rules_match(r, section, &subj, &f);
                ua_subject_clear(&subj);
                runs++;
                for (int k = 0; k < UA_FIELDS; k++) {
                        const char *got = f.set[k] ? f.v[k] : NULL;

                        if (!s->keys[k])
                                continue;
                        if ((got == NULL) != (c->want[k] == NULL) ||
                            (got && strcmp(got, c->want[k]) != 0)) {
                                if (bad++ < 10)
                                        fprintf(stderr, "%s line %zu: %s: want '%s' got '%s' (%s)\n",
                                                name, c->line, s->keys[k],
                                                c->want[k] ? c->want[k] : "null",
                                                got ? got : "null", c->ua);
                                break;
                        }
                }
        }
        fprintf(stderr, "%s: %zu of %zu agree (%.2f%%)\n", name, runs - bad, runs,
                100.0 * (double)(runs - bad) / (double)runs);
        return bad;
}

static void check(const char *file, const char *const *keys, int section, const char *name) {
        ua_rules *r = NULL;
        char err[256] = "", label[64];
        suite s;

        cr_assert_eq(ua_rules_load_file(OA_UA_DEFAULT_REGEXES, &r, err, sizeof(err)), 0, "%s", err);
        load_suite(file, keys, &s);
        cr_expect_eq(run(r, section, &s, 1, name), 0, "%s disagrees with uap-core", name);
        /* without the prefilter, on every 10th case: the prefilter changes nothing */
        ua_rules_set_prefilter(r, false);
        snprintf(label, sizeof(label), "%s, no prefilter, every 10th", name);
        cr_expect_eq(run(r, section, &s, 10, label), 0);
        cr_expect_eq(ua_rules_limit_errors(r), 0);
        free_suite(&s);
        ua_rules_free(r);
}

Test(ua_uap, user_agents_agree) {
        check(TESTS_DIR "test_ua.yaml", ua_keys, UA_SEC_UA, "test_ua.yaml");
}

Test(ua_uap, operating_systems_agree) {
        check(TESTS_DIR "test_os.yaml", os_keys, UA_SEC_OS, "test_os.yaml");
}

Test(ua_uap, devices_agree) {
        check(TESTS_DIR "test_device.yaml", dev_keys, UA_SEC_DEVICE, "test_device.yaml");
}

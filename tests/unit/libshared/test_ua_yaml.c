/* Tests for libshared/src/ua_yaml.c: the line parser for uap-core's YAML shape. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ua_internal.h"

/* Events as text: "S:name" "I" "P:key=value" (value ~ for null) "E", joined by '|'. */
typedef struct transcript {
        char buf[1024];
        size_t n;
} transcript;

static int record(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen) {
        transcript *t = userdata;
        char one[256];

        switch (ev->type) {
        case UA_YAML_SECTION:
                snprintf(one, sizeof(one), "S:%s|", ev->key);
                break;
        case UA_YAML_ITEM:
                snprintf(one, sizeof(one), "I|");
                break;
        case UA_YAML_PAIR:
                snprintf(one, sizeof(one), "P:%s=%s|", ev->key, ev->value ? ev->value : "~");
                cr_assert(!ev->value || strlen(ev->value) == ev->value_len);
                break;
        case UA_YAML_ITEM_END:
                snprintf(one, sizeof(one), "E|");
                break;
        }
        t->n += (size_t)snprintf(t->buf + t->n, sizeof(t->buf) - t->n, "%s", one);
        return 0;
}

struct yaml_ok {
        char name[40];
        char doc[300];
        char want[300];
};

ParameterizedTestParameters(ua_yaml, accepts_uap_shape) {
        static struct yaml_ok rows[] = {
                { "single_quoted", "a:\n  - regex: 'x(y)'\n    family_replacement: 'F $1'\n",
                  "S:a|I|P:regex=x(y)|P:family_replacement=F $1|E|" },
                { "quote_doubled", "a:\n  - k: 'it''s'\n", "S:a|I|P:k=it's|E|" },
                { "double_quoted", "a:\n  - k: \"G'FIVE \\\"x\\\" \\\\ \\/\"\n",
                  "S:a|I|P:k=G'FIVE \"x\" \\ /|E|" },
                { "double_quoted_unicode", "a:\n  - k: \"\\u00e9\\x41\"\n", "S:a|I|P:k=\xc3\xa9" "A|E|" },
                { "null_value", "a:\n  - k: 'v'\n    major:\n    minor:   \n",
                  "S:a|I|P:k=v|P:major=~|P:minor=~|E|" },
                { "empty_string", "a:\n  - k: ''\n", "S:a|I|P:k=|E|" },
                { "comments_blank_lines",
                  "# head\n\na:\n  # inside\n\n  - k: 'v' # trailing\n    #\n    j: 'w'\n",
                  "S:a|I|P:k=v|P:j=w|E|" },
                { "hash_inside_quotes", "a:\n  - k: 'a # b'\n", "S:a|I|P:k=a # b|E|" },
                { "crlf", "a:\r\n  - k: 'v'\r\n    j: 'w'\r\n", "S:a|I|P:k=v|P:j=w|E|" },
                { "bom", "\xEF\xBB\xBF" "a:\n  - k: 'v'\n", "S:a|I|P:k=v|E|" },
                { "wide_after_colon", "a:\n  - brand:  'Google'\n", "S:a|I|P:brand=Google|E|" },
                { "wide_after_dash", "a:\n  -   k: 'v'\n      j: 'w'\n", "S:a|I|P:k=v|P:j=w|E|" },
                { "sections_and_items",
                  "a:\n  - k: '1'\n  - k: '2'\nb:\n    - k: '3'\n",
                  "S:a|I|P:k=1|E|I|P:k=2|E|S:b|I|P:k=3|E|" },
                { "empty_section", "a:\nb:\n  - k: 'v'\n", "S:a|S:b|I|P:k=v|E|" },
                { "no_final_newline", "a:\n  - k: 'v'", "S:a|I|P:k=v|E|" },
        };
        return cr_make_param_array(struct yaml_ok, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct yaml_ok *row, ua_yaml, accepts_uap_shape) {
        transcript t = { 0 };
        char err[256] = "";
        int r;

        r = ua_yaml_parse(row->doc, strlen(row->doc), record, &t, err, sizeof(err));
        cr_assert_eq(r, 0, "%s: %d %s", row->name, r, err);
        cr_assert_str_eq(t.buf, row->want, "%s", row->name);
}

struct yaml_bad {
        char name[40];
        char doc[200];
        size_t len;             /* 0: strlen(doc) */
        char want[80];          /* start of the error message */
};

ParameterizedTestParameters(ua_yaml, rejects_everything_else) {
        static struct yaml_bad rows[] = {
                { "plain_scalar", "a:\n  - regex: abc\n", 0, "line 2: expected a quoted scalar" },
                { "anchor", "a:\n  - k: &x 'v'\n", 0, "line 2: expected a quoted scalar" },
                { "block_scalar", "a:\n  - k: |\n      text\n", 0, "line 2: expected a quoted" },
                { "tab_indent", "a:\n\t- k: 'v'\n", 0, "line 2: tab in indentation" },
                { "unterminated", "a:\n  - k: 'abc\n", 0, "line 2: unterminated quoted" },
                { "multi_line_scalar", "a:\n  - k: 'abc\n    def'\n", 0, "line 2: unterminated" },
                { "text_after_quote", "a:\n  - k: 'abc' x\n", 0, "line 2: unexpected text" },
                { "duplicate_key", "a:\n  - k: 'x'\n    k: 'y'\n", 0, "line 3: the same key twice" },
                { "nested_mapping", "a:\n  - k: 'x'\n      sub: 'y'\n", 0, "line 3: unexpected indentation" },
                { "nested_list", "a:\n  - k: 'x'\n    - k: 'y'\n", 0, "line 3: list item at a different" },
                { "item_other_indent", "a:\n  - k: 'x'\n - k: 'y'\n", 0, "line 3: list item at a different" },
                { "indented_first", "  - k: 'x'\n", 0, "line 1: indented text before" },
                { "top_level_value", "a: 'x'\n", 0, "line 1: expected a top-level" },
                { "flow_style", "a: [1, 2]\n", 0, "line 1: expected a top-level" },
                { "document_marker", "---\na:\n", 0, "line 1: expected a top-level" },
                { "bad_escape", "a:\n  - k: \"\\q\"\n", 0, "line 2: unsupported escape" },
                { "nul_escape", "a:\n  - k: \"\\u0000\"\n", 0, "line 2: unsupported escape" },
                { "surrogate_escape", "a:\n  - k: \"\\ud800\"\n", 0, "line 2: unsupported escape" },
                { "short_hex_escape", "a:\n  - k: \"\\x4\"\n", 0, "line 2: unsupported escape" },
                { "nul_byte", "a:\n  - k: 'a\0b'\n", 16, "line 2: NUL byte" },
                { "empty_document", "", 0, "no top-level key" },
                { "only_comments", "# nothing\n\n", 0, "no top-level key" },
                { "empty_item", "a:\n  -\n", 0, "line 2: expected '- key: value'" },
                { "blank_item", "a:\n  - \n", 0, "line 2: empty list item" },
                { "pair_without_item", "a:\n    k: 'v'\n", 0, "line 2: expected a list item" },
                { "no_space_after_colon", "a:\n  - k:'v'\n", 0, "line 2: expected a space" },
                { "bad_key", "a:\n  - k-x: 'v'\n", 0, "line 2: expected 'key:'" },
                { "key_too_long",
                  "a:\n  - kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: 'v'\n",
                  0, "line 2: expected 'key:'" },
        };
        return cr_make_param_array(struct yaml_bad, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct yaml_bad *row, ua_yaml, rejects_everything_else) {
        transcript t = { 0 };
        char err[256] = "";
        size_t len = row->len ? row->len : strlen(row->doc);
        int r;

        r = ua_yaml_parse(row->doc, len, record, &t, err, sizeof(err));
        cr_assert_eq(r, -EBADMSG, "%s: %d", row->name, r);
        cr_assert(strncmp(err, row->want, strlen(row->want)) == 0, "%s: got '%s'", row->name, err);
}

static int stop_at_pair(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen) {
        int *events = userdata;

        (*events)++;
        if (ev->type == UA_YAML_PAIR)
                return ua_errf(-E2BIG, errbuf, errlen, "stop at line %zu", ev->line);
        return 0;
}

Test(ua_yaml, callback_error_stops_the_parse) {
        const char *doc = "a:\n  - k: 'v'\n  - k: 'w'\n";
        char err[64] = "";
        int events = 0;

        cr_assert_eq(ua_yaml_parse(doc, strlen(doc), stop_at_pair, &events, err, sizeof(err)), -E2BIG);
        cr_assert_eq(events, 3);        /* section, item, first pair */
        cr_assert_str_eq(err, "stop at line 2");
}

Test(ua_yaml, errbuf_may_be_null) {
        transcript t = { 0 };

        cr_assert_eq(ua_yaml_parse("a: b", 4, record, &t, NULL, 0), -EBADMSG);
}

Test(ua_yaml, read_file_missing_is_enoent) {
        char *buf = NULL;
        size_t len = 0;
        char err[256] = "";

        cr_assert_eq(ua_yaml_read_file("/nonexistent/regexes.yaml", &buf, &len, err, sizeof(err)),
                     -ENOENT);
        cr_assert(strstr(err, "/nonexistent/regexes.yaml"));
        cr_assert_null(buf);
}

Test(ua_yaml, read_file_directory_is_ebadmsg) {
        char *buf = NULL;
        size_t len = 0;

        cr_assert_eq(ua_yaml_read_file("/usr/share", &buf, &len, NULL, 0), -EBADMSG);
}

static int count(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen) {
        size_t *n = userdata;

        n[ev->type]++;
        return 0;
}

Test(ua_yaml, reads_and_parses_uap_core_regexes) {
        size_t n[4] = { 0 };
        char *buf = NULL;
        size_t len = 0;
        char err[256] = "";
        int r;

        r = ua_yaml_read_file(OA_UA_DEFAULT_REGEXES, &buf, &len, err, sizeof(err));
        cr_assert_eq(r, 0, "%s", err);
        cr_assert_eq(strlen(buf), len);
        r = ua_yaml_parse(buf, len, count, n, err, sizeof(err));
        free(buf);
        cr_assert_eq(r, 0, "%s", err);
        cr_assert_eq(n[UA_YAML_SECTION], 3);
        cr_assert_gt(n[UA_YAML_ITEM], 1000);
        cr_assert_eq(n[UA_YAML_ITEM], n[UA_YAML_ITEM_END]);
        cr_assert_gt(n[UA_YAML_PAIR], n[UA_YAML_ITEM]);
}

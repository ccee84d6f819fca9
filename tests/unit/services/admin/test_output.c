/* Tests for services/admin/output.c: the JSON of --json (parsed back with yajl_tree, the
 * field names of docs/api.md), whatever the names hold, and the text tables. */
#include "admin.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static char *domains2[] = { "shop.example.com", "www.example.com" };
static char *scopes2[] = { "events:write", "stats:read" };
static char *projects1[] = { "prj_0123456789abcdef" };

/* 2026-11-28T02:15:00Z */
#define T_MS 1795832100000LL

static Oa__Account account(const char *name, Oa__Plan plan, uint32_t limit) {
        Oa__Account a = OA__ACCOUNT__INIT;

        a.id = "acc_0123456789abcdef";
        a.name = (char *) name;
        a.plan = plan;
        a.custom_limit = limit;
        a.created_ms = T_MS;
        return a;
}

static Oa__Project project(const char *name) {
        Oa__Project p = OA__PROJECT__INIT;

        p.id = "prj_0123456789abcdef";
        p.account_id = "acc_0123456789abcdef";
        p.site_id = "site_0123456789abcdefghij";
        p.name = (char *) name;
        p.domains = domains2;
        p.n_domains = 2;
        p.timezone = "Europe/Berlin";
        p.created_ms = T_MS;
        return p;
}

static Oa__ApiKey key(const char *name) {
        Oa__ApiKey k = OA__API_KEY__INIT;

        k.id = "key_0123456789abcdef";
        k.account_id = "acc_0123456789abcdef";
        k.name = (char *) name;
        k.scopes = scopes2;
        k.n_scopes = 2;
        k.project_ids = projects1;
        k.n_project_ids = 1;
        k.hint = "oa_live_AbCd...wxyz";
        k.created_ms = T_MS;
        return k;
}

/* Parse b as JSON; the test fails unless it is exactly one valid value. */
static yajl_val parse(const oa_buf *b) {
        char err[256];
        yajl_val v;

        cr_assert_not_null(b->data);
        v = yajl_tree_parse(b->data, err, sizeof(err));
        cr_assert_not_null(v, "invalid JSON (%s): %s", err, b->data);
        return v;
}

static const char *str_at(yajl_val v, const char *field) {
        const char *path[] = { field, NULL };
        yajl_val s = yajl_tree_get(v, path, yajl_t_string);

        cr_assert_not_null(s, "no string \"%s\"", field);
        return YAJL_GET_STRING(s);
}

static yajl_val at(yajl_val v, const char *field) {
        const char *path[] = { field, NULL };

        return yajl_tree_get(v, path, yajl_t_any);
}

Test(oa_admin_output, account_json_has_the_documented_fields) {
        Oa__Account a = account("Shop", OA__PLAN__PLAN_PRO, 0);
        oa_buf b;
        yajl_val v;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_json_account(&b, &a), 0);
        v = parse(&b);
        cr_assert(YAJL_IS_OBJECT(v));
        cr_assert_eq(v->u.object.len, 5);
        cr_assert_str_eq(str_at(v, "id"), "acc_0123456789abcdef");
        cr_assert_str_eq(str_at(v, "name"), "Shop");
        cr_assert_str_eq(str_at(v, "plan"), "pro");
        cr_assert_eq(YAJL_GET_INTEGER(at(v, "limit")), 600);
        cr_assert_str_eq(str_at(v, "created_at"), "2026-11-28T02:15:00Z");
        yajl_tree_free(v);
        oa_buf_done(&b);
}

Test(oa_admin_output, account_limit_follows_the_plan) {
        static const struct { Oa__Plan plan; uint32_t custom; long long limit; } cases[] = {
                { OA__PLAN__PLAN_FREE, 0, 60 },
                { OA__PLAN__PLAN_PRO, 0, 600 },
                { OA__PLAN__PLAN_BUSINESS, 0, 6000 },
                { OA__PLAN__PLAN_ENTERPRISE, 250000, 250000 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Oa__Account a = account("x", cases[i].plan, cases[i].custom);
                oa_buf b;
                yajl_val v;

                oa_buf_init(&b, 4096);
                cr_assert_eq(oa_admin_json_account(&b, &a), 0);
                v = parse(&b);
                cr_assert_eq(YAJL_GET_INTEGER(at(v, "limit")), cases[i].limit);
                yajl_tree_free(v);
                oa_buf_done(&b);
        }
}

Test(oa_admin_output, project_json_has_the_documented_fields) {
        Oa__Project p = project("Shop");
        oa_buf b;
        yajl_val v, d;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_json_project(&b, &p), 0);
        v = parse(&b);
        cr_assert_eq(v->u.object.len, 7);
        cr_assert_str_eq(str_at(v, "id"), "prj_0123456789abcdef");
        cr_assert_str_eq(str_at(v, "account_id"), "acc_0123456789abcdef");
        cr_assert_str_eq(str_at(v, "site_id"), "site_0123456789abcdefghij");
        cr_assert_str_eq(str_at(v, "name"), "Shop");
        cr_assert_str_eq(str_at(v, "timezone"), "Europe/Berlin");
        cr_assert_str_eq(str_at(v, "created_at"), "2026-11-28T02:15:00Z");
        d = at(v, "domains");
        cr_assert(YAJL_IS_ARRAY(d));
        cr_assert_eq(d->u.array.len, 2);
        cr_assert_str_eq(YAJL_GET_STRING(d->u.array.values[1]), "www.example.com");
        yajl_tree_free(v);
        oa_buf_done(&b);
}

Test(oa_admin_output, key_json_shows_the_secret_only_when_given) {
        Oa__ApiKey k = key("ci");
        oa_buf b;
        yajl_val v, s;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_json_key(&b, &k, NULL), 0);
        v = parse(&b);
        cr_assert_eq(v->u.object.len, 9);
        cr_assert_null(at(v, "key"));
        cr_assert_str_eq(str_at(v, "id"), "key_0123456789abcdef");
        cr_assert_str_eq(str_at(v, "hint"), "oa_live_AbCd...wxyz");
        cr_assert(YAJL_IS_FALSE(at(v, "revoked")));
        cr_assert(YAJL_IS_NULL(at(v, "revoked_at")));
        s = at(v, "scopes");
        cr_assert(YAJL_IS_ARRAY(s));
        cr_assert_str_eq(YAJL_GET_STRING(s->u.array.values[0]), "events:write");
        s = at(v, "project_ids");
        cr_assert_eq(s->u.array.len, 1);
        cr_assert_null(strstr(b.data, "secret"), "no hash or secret field: %s", b.data);
        yajl_tree_free(v);

        oa_buf_reset(&b);
        k.revoked = true;
        k.revoked_ms = T_MS + 60000;
        k.n_project_ids = 0;
        cr_assert_eq(oa_admin_json_key(&b, &k, "oa_live_0123456789abcdefghijABCDEFGHIJ01"), 0);
        v = parse(&b);
        cr_assert_str_eq(str_at(v, "key"), "oa_live_0123456789abcdefghijABCDEFGHIJ01");
        cr_assert(YAJL_IS_TRUE(at(v, "revoked")));
        cr_assert_str_eq(str_at(v, "revoked_at"), "2026-11-28T02:16:00Z");
        cr_assert_eq(at(v, "project_ids")->u.array.len, 0);
        yajl_tree_free(v);
        oa_buf_done(&b);
}

/* Names written by someone else (another tool, an old version) still give valid JSON. */
struct hostile_row {
        char name[64];
        char expect[64];        /* the name as decoded from the JSON */
};

ParameterizedTestParameters(oa_admin_output, hostile_names) {
        static struct hostile_row rows[] = {
                { "say \"hi\"", "say \"hi\"" },
                { "back\\slash", "back\\slash" },
                { "new\nline\ttab", "new\nline\ttab" },
                { "esc\x1b[31m", "esc\x1b[31m" },
                { "nul-less \x01\x1f", "nul-less \x01\x1f" },
                { "</script><script>", "</script><script>" },
                { "\xc3\x9cn\xc3\xaf" "code", "\xc3\x9cn\xc3\xaf" "code" },
                { "bad \xff utf8", "bad \xef\xbf\xbd utf8" },          /* U+FFFD */
                { "", "" },
        };
        return cr_make_param_array(struct hostile_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct hostile_row *row, oa_admin_output, hostile_names) {
        Oa__Account a = account(row->name, OA__PLAN__PLAN_FREE, 0);
        Oa__Project p = project(row->name);
        Oa__ApiKey k = key(row->name);
        const Oa__Account *av[] = { &a, &a };
        const Oa__Project *pv[] = { &p };
        const Oa__ApiKey *kv[] = { &k };
        oa_buf b;
        yajl_val v;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_json_accounts(&b, av, 2), 0);
        v = parse(&b);
        cr_assert(YAJL_IS_ARRAY(v));
        cr_assert_eq(v->u.array.len, 2);
        cr_assert_str_eq(str_at(v->u.array.values[1], "name"), row->expect);
        yajl_tree_free(v);

        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_json_projects(&b, pv, 1), 0);
        v = parse(&b);
        cr_assert_str_eq(str_at(v->u.array.values[0], "name"), row->expect);
        yajl_tree_free(v);

        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_json_keys(&b, kv, 1), 0);
        v = parse(&b);
        cr_assert_str_eq(str_at(v->u.array.values[0], "name"), row->expect);
        yajl_tree_free(v);

        /* text views never carry a control character through */
        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_table_accounts(&b, av, 2), 0);
        cr_assert_eq(oa_admin_text_project(&b, "  ", &p), 0);
        cr_assert_eq(oa_admin_text_key(&b, "", &k, NULL), 0);
        for (size_t i = 0; i < b.len; i++)
                cr_assert(b.data[i] == '\n' || (unsigned char) b.data[i] >= 0x20, "control byte 0x%02x at %zu",
                          (unsigned char) b.data[i], i);
        oa_buf_done(&b);
}

Test(oa_admin_output, empty_lists_are_empty_arrays) {
        oa_buf b;
        yajl_val v;

        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_admin_json_accounts(&b, NULL, 0), 0);
        cr_assert_str_eq(b.data, "[]");
        v = parse(&b);
        cr_assert(YAJL_IS_ARRAY(v));
        cr_assert_eq(v->u.array.len, 0);
        yajl_tree_free(v);
        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_json_keys(&b, NULL, 0), 0);
        cr_assert_str_eq(b.data, "[]");
        oa_buf_done(&b);
}

Test(oa_admin_output, full_buffer_is_an_error_not_broken_json) {
        Oa__Project p = project("Shop");
        oa_buf b;

        oa_buf_init(&b, 40);
        cr_assert_neq(oa_admin_json_project(&b, &p), 0);
        oa_buf_done(&b);
}

Test(oa_admin_output, time_iso) {
        char t[OA_ENTITY_TIME_MAX];

        cr_assert_str_eq(oa_admin_time_iso(T_MS + 999, t), "2026-11-28T02:15:00Z");
        cr_assert_str_eq(oa_admin_time_iso(0, t), "");
        cr_assert_str_eq(oa_admin_time_iso(-5, t), "");
        cr_assert_str_eq(oa_admin_time_iso(1000, t), "1970-01-01T00:00:01Z");
}

Test(oa_admin_output, plan_names) {
        cr_assert_str_eq(oa_admin_plan_name(OA__PLAN__PLAN_ENTERPRISE), "enterprise");
        cr_assert_str_eq(oa_admin_plan_name(OA__PLAN__PLAN_UNSPECIFIED), "unspecified");
        cr_assert_str_eq(oa_admin_plan_name((Oa__Plan) 99), "unspecified");
}

/* The byte offset of the column starting with header word col in line. */
static size_t col_of(const char *line, const char *header, const char *col) {
        const char *h = strstr(header, col);

        cr_assert_not_null(h);
        return (size_t) (h - header);
}

Test(oa_admin_output, tables_are_aligned) {
        Oa__Account a1 = account("Short", OA__PLAN__PLAN_FREE, 0);
        Oa__Account a2 = account("A much longer name", OA__PLAN__PLAN_ENTERPRISE, 1234567);
        const Oa__Account *av[] = { &a1, &a2 };
        char *lines[3], *save = NULL;
        oa_buf b;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_table_accounts(&b, av, 2), 0);
        lines[0] = strtok_r(b.data, "\n", &save);
        lines[1] = strtok_r(NULL, "\n", &save);
        lines[2] = strtok_r(NULL, "\n", &save);
        cr_assert_not_null(lines[2]);
        cr_assert_null(strtok_r(NULL, "\n", &save));
        size_t plan = col_of(lines[0], lines[0], "PLAN");
        cr_assert_eq(strncmp(lines[1] + plan, "free ", 5), 0, "%s", lines[1]);
        cr_assert_eq(strncmp(lines[2] + plan, "enterprise", 10), 0, "%s", lines[2]);
        size_t limit = col_of(lines[0], lines[0], "LIMIT");
        cr_assert_eq(strncmp(lines[2] + limit, "1234567 ", 8), 0, "%s", lines[2]);
        cr_assert_eq(strncmp(lines[1] + col_of(lines[0], lines[0], "CREATED"), "2026-11-28T02:15:00Z", 20), 0);
        /* no trailing spaces */
        for (int i = 0; i < 3; i++)
                cr_assert_neq(lines[i][strlen(lines[i]) - 1], ' ', "line %d", i);
        oa_buf_done(&b);
}

Test(oa_admin_output, table_aligns_utf8_names_by_characters) {
        Oa__Project p1 = project("\xc3\x9c\xc3\x9c\xc3\x9c");   /* ÜÜÜ: 3 characters, 6 bytes */
        Oa__Project p2 = project("abcdef");
        const Oa__Project *pv[] = { &p1, &p2 };
        char *l1, *l2, *save = NULL;
        oa_buf b;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_table_projects(&b, pv, 2), 0);
        strtok_r(b.data, "\n", &save);
        l1 = strtok_r(NULL, "\n", &save);
        l2 = strtok_r(NULL, "\n", &save);
        /* the site id column starts 3 bytes later on the line with 3 two-byte characters */
        cr_assert_eq((size_t) (strstr(l1, "site_") - l1), (size_t) (strstr(l2, "site_") - l2) + 3);
        oa_buf_done(&b);
}

Test(oa_admin_output, key_table_and_text) {
        Oa__ApiKey k1 = key("ci"), k2 = key("all");
        const Oa__ApiKey *kv[] = { &k1, &k2 };
        oa_buf b;

        k2.revoked = true;
        k2.revoked_ms = T_MS;
        k2.n_project_ids = 0;
        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_admin_table_keys(&b, kv, 2), 0);
        cr_assert_not_null(strstr(b.data, "active"));
        cr_assert_not_null(strstr(b.data, "revoked"));
        cr_assert_not_null(strstr(b.data, "events:write,stats:read"));
        cr_assert_null(strstr(b.data, "oa_live_0"), "no secret in a list");
        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_text_key(&b, "", &k1, "oa_live_0123456789abcdefghijABCDEFGHIJ01"), 0);
        cr_assert_not_null(strstr(b.data, "key         oa_live_0123456789abcdefghijABCDEFGHIJ01\n"), "%s", b.data);
        cr_assert_not_null(strstr(b.data, "revoked     no\n"), "%s", b.data);
        oa_buf_reset(&b);
        cr_assert_eq(oa_admin_text_key(&b, "", &k2, NULL), 0);
        cr_assert_not_null(strstr(b.data, "revoked     yes, 2026-11-28T02:15:00Z\n"), "%s", b.data);
        cr_assert_not_null(strstr(b.data, "projects    all of the account's\n"), "%s", b.data);
        cr_assert_null(strstr(b.data, "key         "), "%s", b.data);
        oa_buf_done(&b);
}

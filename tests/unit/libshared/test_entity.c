/* Tests for libshared/src/entity.c: ids, names, domains, time zones, plans, times and the
 * JSON of accounts, projects and keys, with the hostile rows. */
#include "oa/entity.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Test(oa_entity, id_new_has_prefix_and_length_and_differs) {
        static const struct { oa_entity_kind kind; const char *prefix; size_t len; } rows[] = {
                { OA_ENTITY_ACCOUNT, "acc_", 20 },
                { OA_ENTITY_PROJECT, "prj_", 20 },
                { OA_ENTITY_KEY, "key_", 20 },
                { OA_ENTITY_SITE, "site_", 25 },
        };

        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                char a[OA_ENTITY_ID_MAX], b[OA_ENTITY_ID_MAX];

                cr_assert_eq(oa_entity_id_new(rows[i].kind, a), 0);
                cr_assert_eq(oa_entity_id_new(rows[i].kind, b), 0);
                cr_assert_eq(strlen(a), rows[i].len, "%s", a);
                cr_assert_eq(strncmp(a, rows[i].prefix, strlen(rows[i].prefix)), 0);
                cr_assert(oa_entity_id_ok(rows[i].kind, a, strlen(a)));
                cr_assert_str_neq(a, b);
        }
        cr_assert_eq(oa_entity_id_new((oa_entity_kind) 99, (char[OA_ENTITY_ID_MAX]) { 0 }), -EINVAL);
}

struct id_row {
        oa_entity_kind kind;
        char s[40];
        size_t len;     /* 0: strlen */
        bool ok;
};

ParameterizedTestParameters(oa_entity, id_ok_rows) {
        static struct id_row rows[] = {
                { OA_ENTITY_PROJECT, "prj_0123456789abcdef", 0, true },
                { OA_ENTITY_PROJECT, "prj_ABCDEFGHIJKLMNOP", 0, true },
                { OA_ENTITY_SITE, "site_0123456789abcdefABCD", 0, true },
                { OA_ENTITY_PROJECT, "acc_0123456789abcdef", 0, false },       /* other kind */
                { OA_ENTITY_PROJECT, "prj_0123456789abcde", 0, false },        /* short */
                { OA_ENTITY_PROJECT, "prj_0123456789abcdefg", 0, false },      /* long */
                { OA_ENTITY_PROJECT, "prj_0123456789abcd-f", 0, false },
                { OA_ENTITY_PROJECT, "prj_0123456789abcd f", 0, false },
                { OA_ENTITY_PROJECT, "prj_0123456789abcd\xc3\xa9", 0, false },
                { OA_ENTITY_PROJECT, "prj_0123456789abcd\0f", 20, false },     /* embedded NUL */
                { OA_ENTITY_PROJECT, "PRJ_0123456789abcdef", 0, false },
                { OA_ENTITY_PROJECT, "", 0, false },
                { OA_ENTITY_KEY, "key_../../etc/passwd", 0, false },
        };
        return cr_make_param_array(struct id_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct id_row *row, oa_entity, id_ok_rows) {
        size_t n = row->len ? row->len : strlen(row->s);

        cr_assert_eq(oa_entity_id_ok(row->kind, row->s, n), row->ok, "%s", row->s);
}

struct name_row {
        char s[460];
        bool ok;
};

ParameterizedTestParameters(oa_entity, name_rows) {
        static struct name_row rows[] = {
                { "Shop", true },
                { "My shop (EU) #2", true },
                { "Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9b\x92", true },  /* é, CJK, emoji */
                { "", false },
                { " ", false },
                { "\xc2\xa0\xc2\xa0", false },                          /* only no-break spaces */
                { " Shop", false },
                { "Shop ", false },
                { "Shop\n", false },
                { "Sh\top", false },
                { "Sh\x7fop", false },                                  /* DEL */
                { "Sh\xc2\x85op", false },                              /* NEL, a C1 control */
                { "Sh\xe2\x80\xaeop", false },                          /* RIGHT-TO-LEFT OVERRIDE */
                { "Sh\xe2\x81\xa6op", false },                          /* LEFT-TO-RIGHT ISOLATE */
                { "Sh\xe2\x80\xa8op", false },                          /* LINE SEPARATOR */
                { "\xef\xbb\xbfShop", false },                          /* BOM */
                { "Sh\xc3op", false },                                  /* truncated */
                { "Sh\xc0\xafop", false },                              /* overlong '/' */
                { "Sh\xed\xa0\x80op", false },                          /* surrogate */
                { "Sh\xf4\x90\x80\x80op", false },                      /* above U+10FFFF */
                { "\xff", false },
        };
        return cr_make_param_array(struct name_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct name_row *row, oa_entity, name_rows) {
        char err[128] = "";
        int r = oa_entity_name_check(row->s, strlen(row->s), err, sizeof(err));

        cr_assert_eq(r == 0, row->ok, "'%s': %d %s", row->s, r, err);
        if (!row->ok)
                cr_assert(err[0]);
}

Test(oa_entity, name_length_counts_characters_not_bytes) {
        char s[401], err[128];

        memset(s, 'a', sizeof(s));
        cr_assert_eq(oa_entity_name_check(s, 100, err, sizeof(err)), 0);
        cr_assert_eq(oa_entity_name_check(s, 101, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "must be 1 to 100 characters");
        /* 100 two-byte characters are 200 bytes and still one hundred characters. */
        for (int i = 0; i < 100; i++)
                memcpy(s + 2 * i, "\xc3\xa9", 2);
        cr_assert_eq(oa_entity_name_check(s, 200, err, sizeof(err)), 0);
        cr_assert_eq(oa_entity_name_check(NULL, 0, err, sizeof(err)), -EINVAL);
}

struct domain_row {
        char in[300];
        char out[260];          /* "" when refused */
};

ParameterizedTestParameters(oa_entity, domain_rows) {
        static struct domain_row rows[] = {
                { "example.com", "example.com" },
                { "Shop.Example.COM", "shop.example.com" },
                { "localhost", "localhost" },
                { "xn--mnchen-3ya.de", "xn--mnchen-3ya.de" },
                { "a-b.c-d.example", "a-b.c-d.example" },
                { "127.0.0.1", "127.0.0.1" },
                { "", "" },
                { "https://example.com", "" },
                { "example.com/path", "" },
                { "example.com:8080", "" },
                { "*.example.com", "" },
                { "example.com.", "" },
                { ".example.com", "" },
                { "exa..mple.com", "" },
                { "-example.com", "" },
                { "example-.com", "" },
                { "exa mple.com", "" },
                { "ex\xc3\xa4mple.com", "" },
                { "example.com\n", "" },
                { "example.com\r\nX-Evil: 1", "" },
                { "a.b.c-", "" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "" },  /* 64 */
        };
        return cr_make_param_array(struct domain_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct domain_row *row, oa_entity, domain_rows) {
        char out[OA_ENTITY_DOMAIN_MAX + 1] = "unchanged", err[160] = "";
        int r = oa_entity_domain_normalize(row->in, strlen(row->in), out, err, sizeof(err));

        if (row->out[0]) {
                cr_assert_eq(r, 0, "'%s': %s", row->in, err);
                cr_assert_str_eq(out, row->out);
        } else {
                cr_assert_eq(r, -EINVAL, "'%s' accepted as '%s'", row->in, out);
                cr_assert_str_eq(out, "unchanged");
                cr_assert(err[0]);
        }
}

Test(oa_entity, domain_of_253_is_the_longest) {
        char s[300], out[OA_ENTITY_DOMAIN_MAX + 1], err[160];

        /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
        memset(s, 'a', sizeof(s));
        s[63] = s[127] = s[191] = '.';
        cr_assert_eq(oa_entity_domain_normalize(s, 253, out, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(strlen(out), 253);
        s[253] = 'a';
        cr_assert_eq(oa_entity_domain_normalize(s, 254, out, err, sizeof(err)), -EINVAL);
}

struct tz_row {
        char s[100];
        bool ok;
};

/* Against a zoneinfo directory made by the test (so it does not depend on tzdata):
 * Europe/Berlin and Etc/UTC are TZif files, Link a symlink to Europe/Berlin, Evil a
 * symlink out of the directory, NotTZ a file without the magic. */
static char tzdir[128];

static void make_tzdir(void) {
        char p[256];
        FILE *f;

        snprintf(tzdir, sizeof(tzdir), "/tmp/oa-test-tz-%d", (int) getpid());
        snprintf(p, sizeof(p), "%s/Europe", tzdir);
        mkdir(tzdir, 0700);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/Etc", tzdir);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/Europe/Berlin", tzdir);
        f = fopen(p, "w");
        fputs("TZif2...", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/Etc/GMT+1", tzdir);
        f = fopen(p, "w");
        fputs("TZif2...", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/NotTZ", tzdir);
        f = fopen(p, "w");
        fputs("hello", f);
        fclose(f);
        snprintf(p, sizeof(p), "%s/Link", tzdir);
        cr_assert_eq(symlink("Europe/Berlin", p), 0);
        snprintf(p, sizeof(p), "%s/Evil", tzdir);
        cr_assert_eq(symlink("/etc/passwd", p), 0);
        snprintf(p, sizeof(p), "%s/localtime", tzdir);
        cr_assert_eq(symlink("Europe/Berlin", p), 0);
}

static void remove_tzdir(void) {
        char cmd[200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tzdir);
        cr_assert_eq(system(cmd), 0);
}

ParameterizedTestParameters(oa_entity, timezone_rows) {
        static struct tz_row rows[] = {
                { "UTC", true },
                { "Europe/Berlin", true },
                { "Etc/GMT+1", true },
                { "Link", true },
                { "", false },
                { "Europe/Atlantis", false },
                { "Europe", false },                    /* a directory */
                { "NotTZ", false },
                { "Evil", false },                      /* points out of the directory */
                { "localtime", false },
                { "../etc/passwd", false },
                { "Europe/../Europe/Berlin", false },
                { "/etc/passwd", false },
                { "Europe//Berlin", false },
                { "Europe/Berlin/", false },
                { "Europe/Berlin\n", false },
                { "Europe/Berlin\\", false },
                { "Europe/Be rlin", false },
                { "utc", false },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },  /* 65 */
        };
        return cr_make_param_array(struct tz_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct tz_row *row, oa_entity, timezone_rows, .init = make_tzdir, .fini = remove_tzdir) {
        char err[160] = "";
        int r = oa_entity_timezone_check(tzdir, row->s, strlen(row->s), err, sizeof(err));

        cr_assert_eq(r == 0, row->ok, "'%s': %d %s", row->s, r, err);
        if (!row->ok)
                cr_assert(err[0]);
}

Test(oa_entity, timezone_embedded_nul_is_refused) {
        char err[160];

        cr_assert_eq(oa_entity_timezone_check("/nonexistent", "UTC\0x", 5, err, sizeof(err)), -EINVAL);
        cr_assert_eq(oa_entity_timezone_check("/nonexistent", "UTC", 3, err, sizeof(err)), 0);
}

Test(oa_entity, plans_round_trip) {
        Oa__Plan p;

        cr_assert_eq(oa_entity_plan_parse("enterprise", &p), 0);
        cr_assert_eq(p, OA__PLAN__PLAN_ENTERPRISE);
        cr_assert_str_eq(oa_entity_plan_name(OA__PLAN__PLAN_PRO), "pro");
        cr_assert_null(oa_entity_plan_name(OA__PLAN__PLAN_UNSPECIFIED));
        cr_assert_null(oa_entity_plan_name((Oa__Plan) 42));
        cr_assert_eq(oa_entity_plan_parse("Free", &p), -EINVAL);
        cr_assert_eq(oa_entity_plan_parse("", &p), -EINVAL);
        cr_assert_eq(oa_entity_plan_parse(NULL, &p), -EINVAL);
}

Test(oa_entity, time_format_is_iso8601_utc) {
        char t[OA_ENTITY_TIME_MAX];

        cr_assert_eq(oa_entity_time_format(1795832100123LL, t), 0);
        cr_assert_str_eq(t, "2026-11-28T02:15:00Z");
        cr_assert_eq(oa_entity_time_format(0, t), 0);
        cr_assert_str_eq(t, "1970-01-01T00:00:00Z");
        cr_assert_eq(oa_entity_time_format(-1, t), 0);
        cr_assert_str_eq(t, "1969-12-31T23:59:59Z");
        cr_assert_eq(oa_entity_time_format(INT64_MAX, t), -EINVAL);
        cr_assert_eq(strlen(t), 20);
        cr_assert_eq(oa_entity_time_format(INT64_MIN, t), -EINVAL);
}

Test(oa_entity, project_json_escapes_and_defaults_timezone) {
        char *domains[] = { "shop.example.com", "b.example" };
        Oa__Project p = OA__PROJECT__INIT;
        oa_buf b;

        p.id = "prj_0123456789abcdef";
        p.account_id = "acc_0123456789abcdef";
        p.site_id = "site_0123456789abcdefABCD";
        p.name = "Shop \"EU\" \\ \xff";
        p.domains = domains;
        p.n_domains = 2;
        p.timezone = "";
        p.created_ms = 1795832100123LL;
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_entity_project_json(&b, &p), 0);
        cr_assert_str_eq(b.data,
                "{\"id\":\"prj_0123456789abcdef\",\"account_id\":\"acc_0123456789abcdef\","
                "\"site_id\":\"site_0123456789abcdefABCD\",\"name\":\"Shop \\\"EU\\\" \\\\ \xef\xbf\xbd\","
                "\"domains\":[\"shop.example.com\",\"b.example\"],\"timezone\":\"UTC\","
                "\"created_at\":\"2026-11-28T02:15:00Z\"}");
        oa_buf_done(&b);
}

Test(oa_entity, key_json_never_has_the_hash) {
        char *scopes[] = { "stats:read" };
        uint8_t hash[32] = { 1, 2, 3 };
        Oa__ApiKey k = OA__API_KEY__INIT;
        oa_buf b;

        k.id = "key_0123456789abcdef";
        k.account_id = "acc_0123456789abcdef";
        k.name = "ci";
        k.scopes = scopes;
        k.n_scopes = 1;
        k.hint = "oa_live_AbCd...wxyz";
        k.secret_sha256.data = hash;
        k.secret_sha256.len = 32;
        k.created_ms = 1795832100000LL;
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_entity_key_json(&b, &k), 0);
        cr_assert_str_eq(b.data,
                "{\"id\":\"key_0123456789abcdef\",\"account_id\":\"acc_0123456789abcdef\",\"name\":\"ci\","
                "\"scopes\":[\"stats:read\"],\"project_ids\":[],\"hint\":\"oa_live_AbCd...wxyz\","
                "\"created_at\":\"2026-11-28T02:15:00Z\",\"revoked\":false,\"revoked_at\":null}");
        oa_buf_reset(&b);
        k.revoked = true;
        k.revoked_ms = 1795832160000LL;
        cr_assert_eq(oa_entity_key_json(&b, &k), 0);
        cr_assert(strstr(b.data, "\"revoked\":true,\"revoked_at\":\"2026-11-28T02:16:00Z\"}"), "%s", b.data);
        oa_buf_done(&b);
}

Test(oa_entity, account_json_has_plan_and_limit) {
        Oa__Account a = OA__ACCOUNT__INIT;
        oa_buf b;

        a.id = "acc_0123456789abcdef";
        a.name = "Acme";
        a.plan = OA__PLAN__PLAN_ENTERPRISE;
        a.custom_limit = 100000;
        a.created_ms = 1795832100000LL;
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_entity_account_json(&b, &a), 0);
        cr_assert_str_eq(b.data, "{\"id\":\"acc_0123456789abcdef\",\"name\":\"Acme\",\"plan\":\"enterprise\","
                         "\"limit\":100000,\"created_at\":\"2026-11-28T02:15:00Z\"}");
        oa_buf_done(&b);
}

Test(oa_entity, json_stops_at_the_buffer_cap) {
        Oa__Project p = OA__PROJECT__INIT;
        oa_buf b;

        p.id = "prj_0123456789abcdef";
        p.name = "Shop";
        oa_buf_init(&b, 16);
        cr_assert_eq(oa_entity_project_json(&b, &p), -E2BIG);
        oa_buf_done(&b);
}

/* Tests for services/query/body.c: the bodies of POST/PATCH /v1/projects and POST
 * /v1/keys, table-driven, with the hostile rows. Time zones are checked against a
 * zoneinfo directory the test makes, so tzdata need not be installed. */
#include "query.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tzdir[128];

static void make_tzdir(void) {
        char p[256];
        FILE *f;

        snprintf(tzdir, sizeof(tzdir), "/tmp/oa-test-query-tz-%d", (int) getpid());
        mkdir(tzdir, 0700);
        snprintf(p, sizeof(p), "%s/Europe", tzdir);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/Europe/Berlin", tzdir);
        f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs("TZif2", f);
        fclose(f);
}

static void remove_tzdir(void) {
        char cmd[200];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tzdir);
        cr_assert_eq(system(cmd), 0);
}

struct project_row {
        bool create;
        char body[600];
        char error[160];        /* "": accepted; else the start of the message */
};

ParameterizedTestParameters(query_body, project_rows) {
        static struct project_row rows[] = {
                /* accepted */
                { true, "{\"name\":\"Shop\",\"domains\":[\"shop.example.com\"],\"timezone\":\"Europe/Berlin\"}", "" },
                { true, "{\"name\":\"Shop\",\"domain\":\"shop.example.com\"}", "" },
                { true, " {\n\"domains\" : [\"a.example\"], \"name\":\"Caf\\u00e9\"}\n ", "" },
                { false, "{\"name\":\"Renamed\"}", "" },
                { false, "{\"timezone\":\"UTC\"}", "" },
                { false, "{\"domains\":[\"b.example\",\"B.EXAMPLE\"]}", "" },
                /* shape */
                { true, "", "body: expected a JSON object" },
                { true, "   ", "body: malformed JSON" },
                { true, "[\"x\"]", "body: expected a JSON object" },
                { true, "\"x\"", "body: expected a JSON object" },
                { true, "null", "body: expected a JSON object" },
                { true, "42", "body: expected a JSON object" },
                { true, "{\"name\": \"x\", ", "body: malformed JSON" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"]} {}", "body: malformed JSON" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"]} trailing", "body: malformed JSON" },
                { true, "{\"name\":\"x\" /* c */,\"domains\":[\"a.b\"]}", "body: malformed JSON" },
                { true, "{name:\"x\"}", "body: malformed JSON" },
                { true, "{\"name\":'x'}", "body: malformed JSON" },
                { true, "{\"name\":\"\xff\"}", "body: malformed JSON" },         /* invalid UTF-8 */
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"extra\":1}", "extra: unknown field" },
                { true, "{\"Name\":\"x\"}", "Name: unknown field" },
                { true, "{\"name\":\"x\",\"name\":\"y\",\"domains\":[\"a.b\"]}", "name: given more than once" },
                /* types */
                { true, "{\"name\":5,\"domains\":[\"a.b\"]}", "name: expected a string" },
                { true, "{\"name\":null,\"domains\":[\"a.b\"]}", "name: expected a string" },
                { true, "{\"name\":true,\"domains\":[\"a.b\"]}", "name: expected a string" },
                { true, "{\"name\":[\"x\"],\"domains\":[\"a.b\"]}", "name: expected a string" },
                { true, "{\"name\":{\"x\":1},\"domains\":[\"a.b\"]}", "name: expected a string" },
                { true, "{\"name\":\"x\",\"domains\":\"a.b\"}", "domains: expected an array of strings" },
                { true, "{\"name\":\"x\",\"domains\":[5]}", "domains: expected an array of strings" },
                { true, "{\"name\":\"x\",\"domains\":[[\"a.b\"]]}", "domains: expected an array of strings" },
                { true, "{\"name\":\"x\",\"domains\":[{}]}", "domains: expected an array of strings" },
                { true, "{\"name\":\"x\",\"domain\":[\"a.b\"]}", "domain: expected a string" },
                /* required and exclusive */
                { true, "{\"domains\":[\"a.b\"]}", "name: required" },
                { true, "{\"name\":\"x\"}", "domains: required" },
                { true, "{\"name\":\"x\",\"domains\":[]}", "domains: at least one domain" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"domain\":\"c.d\"}", "domain: give either" },
                { false, "{}", "body: give at least one of" },
                /* values */
                { true, "{\"name\":\"\",\"domains\":[\"a.b\"]}", "name: must not be empty" },
                { true, "{\"name\":\"a\\u0000b\",\"domains\":[\"a.b\"]}", "name: must not contain control" },
                { true, "{\"name\":\"a\\nb\",\"domains\":[\"a.b\"]}", "name: must not contain control" },
                { true, "{\"name\":\"a\\u202eb\",\"domains\":[\"a.b\"]}", "name: must not contain control" },
                { true, "{\"name\":\"x\",\"domains\":[\"https://a.b\"]}", "domains: must be a host name" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\\u0000.evil\"]}", "domains: must be a host name" },
                { true, "{\"name\":\"x\",\"domain\":\"*.a.b\"}", "domain: must be a host name" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"timezone\":\"Mars/Olympus_Mons\"}", "timezone: unknown time zone" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"timezone\":\"../../etc/passwd\"}", "timezone: must be an IANA" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"timezone\":\"Europe/Berlin\\u0000\"}", "timezone: must be an IANA" },
                { true, "{\"name\":\"x\",\"domains\":[\"a.b\"],\"timezone\":\"\"}", "timezone: must be an IANA" },
        };
        return cr_make_param_array(struct project_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct project_row *row, query_body, project_rows, .init = make_tzdir, .fini = remove_tzdir) {
        oa_query_project_in *in = malloc(sizeof(*in));
        char err[300] = "";
        int r;

        cr_assert_not_null(in);
        r = oa_query_parse_project(row->body, strlen(row->body), row->create, tzdir, in, err, sizeof(err));
        if (!row->error[0]) {
                cr_assert_eq(r, 0, "%s -> %s", row->body, err);
        } else {
                cr_assert_eq(r, -EINVAL, "%s accepted", row->body);
                cr_assert_eq(strncmp(err, row->error, strlen(row->error)), 0, "%s -> '%s', expected '%s...'",
                             row->body, err, row->error);
        }
        free(in);
}

Test(query_body, project_create_fills_defaults_and_normalises, .init = make_tzdir, .fini = remove_tzdir) {
        static const char body[] = "{\"name\":\"Shop\",\"domains\":[\"Shop.Example.com\",\"shop.example.com\",\"b.example\"]}";
        oa_query_project_in *in = malloc(sizeof(*in));
        char err[300];

        cr_assert_eq(oa_query_parse_project(body, sizeof(body) - 1, true, tzdir, in, err, sizeof(err)), 0, "%s", err);
        cr_assert(in->has_name && in->has_domains && in->has_timezone);
        cr_assert_str_eq(in->name, "Shop");
        cr_assert_eq(in->n_domains, 2);
        cr_assert_str_eq(in->domains[0], "shop.example.com");
        cr_assert_str_eq(in->domains[1], "b.example");
        cr_assert_str_eq(in->timezone, "UTC");
        free(in);
}

Test(query_body, project_patch_sets_only_what_is_given, .init = make_tzdir, .fini = remove_tzdir) {
        static const char body[] = "{\"timezone\":\"Europe/Berlin\"}";
        oa_query_project_in *in = malloc(sizeof(*in));
        char err[300];

        cr_assert_eq(oa_query_parse_project(body, sizeof(body) - 1, false, tzdir, in, err, sizeof(err)), 0, "%s", err);
        cr_assert(!in->has_name && !in->has_domains && in->has_timezone);
        cr_assert_str_eq(in->timezone, "Europe/Berlin");
        free(in);
}

Test(query_body, body_is_not_nul_terminated) {
        /* h2o's body has no NUL after it: the parser must stop at len. */
        char body[] = "{\"name\":\"Shop\",\"domain\":\"a.b\"}XXXX";
        oa_query_project_in *in = malloc(sizeof(*in));
        char err[300];

        cr_assert_eq(oa_query_parse_project(body, strlen(body) - 4, true, NULL, in, err, sizeof(err)), 0, "%s", err);
        free(in);
}

Test(query_body, hostile_sizes_are_bounded) {
        oa_query_project_in *in = malloc(sizeof(*in));
        size_t n = 64 * 1024, o = 0;
        char *big = malloc(n + 64), err[300];

        /* 64 KB of '[': refused at the first nested value, no recursion anywhere. */
        memset(big, '[', n);
        cr_assert_eq(oa_query_parse_project(big, n, true, NULL, in, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "body: expected a JSON object");
        /* A string over 1 KB. */
        o = (size_t) sprintf(big, "{\"name\":\"");
        memset(big + o, 'a', 2000);
        o += 2000;
        o += (size_t) sprintf(big + o, "\"}");
        cr_assert_eq(oa_query_parse_project(big, o, true, NULL, in, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "name: too long");
        /* 101 array items. */
        o = (size_t) sprintf(big, "{\"name\":\"x\",\"domains\":[");
        for (int i = 0; i < 101; i++)
                o += (size_t) sprintf(big + o, "%s\"d%d.example\"", i ? "," : "", i);
        o += (size_t) sprintf(big + o, "]}");
        cr_assert_eq(oa_query_parse_project(big, o, true, NULL, in, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "domains: at most 100 items");
        /* 51 distinct domains: over the project's limit. */
        o = (size_t) sprintf(big, "{\"name\":\"x\",\"domains\":[");
        for (int i = 0; i < 51; i++)
                o += (size_t) sprintf(big + o, "%s\"d%d.example\"", i ? "," : "", i);
        o += (size_t) sprintf(big + o, "]}");
        cr_assert_eq(oa_query_parse_project(big, o, true, NULL, in, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "domains: at most 50 domains");
        /* A long unknown field name is shown cut and without control characters. */
        o = (size_t) sprintf(big, "{\"");
        memset(big + o, 'k', 100);
        big[o] = '\n';
        o += 100;
        o += (size_t) sprintf(big + o, "\":1}");
        big[2] = '\\', big[3] = 'n';    /* an escaped newline at the start of the name */
        cr_assert_eq(oa_query_parse_project(big, o, true, NULL, in, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "...: unknown field"), "%s", err);
        cr_assert_null(strchr(err, '\n'));
        free(big);
        free(in);
}

struct key_row {
        char body[600];
        char error[160];
        unsigned scopes;        /* expected when accepted */
        size_t n_projects;
};

ParameterizedTestParameters(query_body, key_rows) {
        static struct key_row rows[] = {
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"]}", "", OA_SCOPE_STATS_READ, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\",\"events:write\",\"stats:read\"],\"project_ids\":[]}", "",
                  OA_SCOPE_STATS_READ | OA_SCOPE_EVENTS_WRITE, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"keys:write\"],\"project_ids\":[\"prj_0123456789abcdef\",\"prj_0123456789abcdef\",\"prj_ABCDEFGHIJKLMNOP\"]}",
                  "", OA_SCOPE_KEYS_WRITE, 2 },
                { "{\"scopes\":[\"stats:read\"]}", "name: required", 0, 0 },
                { "{\"name\":\"ci\"}", "scopes: at least one scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[]}", "scopes: at least one scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":\"stats:read\"}", "scopes: expected an array of strings", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:write\"]}", "scopes: unknown scope 'stats:write'", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"*\"]}", "scopes: unknown scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"all\"]}", "scopes: unknown scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"Stats:Read\"]}", "scopes: unknown scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read,events:write\"]}", "scopes: unknown scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\\u0000\"]}", "scopes: unknown scope", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"project_ids\":[\"prj_short\"]}", "project_ids: not a project id", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"project_ids\":[\"acc_0123456789abcdef\"]}", "project_ids: not a project id", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"project_ids\":[\"prj_0123456789abcdef\\u0000\"]}", "project_ids: not a project id", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"project_ids\":null}", "project_ids: expected an array", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"secret_sha256\":\"00\"}", "secret_sha256: unknown field", 0, 0 },
                { "{\"name\":\"ci\",\"scopes\":[\"stats:read\"],\"account_id\":\"acc_0123456789abcdef\"}", "account_id: unknown field", 0, 0 },
                { "{\"name\":\" ci\",\"scopes\":[\"stats:read\"]}", "name: must not start or end", 0, 0 },
        };
        return cr_make_param_array(struct key_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct key_row *row, query_body, key_rows) {
        oa_query_key_in *in = malloc(sizeof(*in));
        char err[300] = "";
        int r;

        cr_assert_not_null(in);
        r = oa_query_parse_key(row->body, strlen(row->body), in, err, sizeof(err));
        if (!row->error[0]) {
                cr_assert_eq(r, 0, "%s -> %s", row->body, err);
                cr_assert_eq(in->scopes, row->scopes, "%s: scopes %x", row->body, in->scopes);
                cr_assert_eq(in->n_project_ids, row->n_projects);
                cr_assert_str_eq(in->name, "ci");
        } else {
                cr_assert_eq(r, -EINVAL, "%s accepted", row->body);
                cr_assert_eq(strncmp(err, row->error, strlen(row->error)), 0, "%s -> '%s', expected '%s...'",
                             row->body, err, row->error);
        }
        free(in);
}

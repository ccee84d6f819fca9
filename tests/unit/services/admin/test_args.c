/* Tests for services/admin/args.c: every accounts command's command line, as written in
 * docs/accounts.md, and the ways it can be wrong (exit 2 before any broker is asked). */
#include "admin.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo"

/* Split "a|b|c" into argv (in place); returns argc. "" is no argument; "||" an empty one. */
static int split_args(char *s, char **argv, int max) {
        int argc = 0;

        if (!*s)
                return 0;
        for (char *p = s; argc < max;) {
                char *bar = strchr(p, '|');

                argv[argc++] = p;
                if (!bar)
                        break;
                *bar = '\0';
                p = bar + 1;
        }
        return argc;
}

/* The usage of "group name" ("init" alone for init). */
static const oa_admin_usage *usage_of(const char *cmd) {
        char group[32], *space;

        snprintf(group, sizeof(group), "%s", cmd);
        space = strchr(group, ' ');
        if (space)
                *space = '\0';
        return oa_admin_usage_find(group, space ? space + 1 : NULL);
}

/* Parse cmd's arguments "a|b|c" into q. Returns the result of oa_admin_req_parse. */
static int parse(const char *cmd, const char *args, oa_admin_req *q, char *err, size_t errlen) {
        static char buf[16384];
        char *argv[64];
        const oa_admin_usage *u = usage_of(cmd);
        int argc;

        cr_assert_not_null(u, "no usage for '%s'", cmd);
        snprintf(buf, sizeof(buf), "%s", args);
        argc = split_args(buf, argv, 64);
        return oa_admin_req_parse(u, argc, argv, ZONEINFO, q, err, errlen);
}

struct args_row {
        char cmd[24];
        char args[200];
        int expect;
        char msg[64];           /* a part of the message, when expect fails */
};

ParameterizedTestParameters(oa_admin_args, table) {
        static struct args_row rows[] = {
                /* the synopses of docs/accounts.md */
                { "init", "", 0, "" },
                { "init", "--json", 0, "" },
                { "init", "--plan|pro|--domain|shop.example.com|--timezone|Europe/Berlin|--json", 0, "" },
                { "account create", "--name|Shop|--plan|free", 0, "" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|5000|--json", 0, "" },
                { "account create", "--name=Shop|--plan=pro|--json", 0, "" },
                { "account list", "", 0, "" },
                { "account list", "--json", 0, "" },
                { "account set-plan", "acc_0123456789abcdef|--plan|business", 0, "" },
                { "account set-plan", "--plan|business|acc_0123456789abcdef|--json", 0, "" },
                { "project create", "--account|acc_x|--name|Shop|--domain|shop.example.com", 0, "" },
                { "project create", "--account|acc_x|--name|Shop|--domain|a.com|--domain|b.com|--timezone|UTC|--json", 0, "" },
                { "project list", "", 0, "" },
                { "project list", "--account|acc_x|--json", 0, "" },
                { "project update", "prj_x|--name|New", 0, "" },
                { "project update", "prj_x|--domain|a.com,b.com", 0, "" },
                { "project update", "prj_x|--timezone|Asia/Tokyo|--json", 0, "" },
                { "project delete", "prj_x", 0, "" },
                { "key create", "--account|acc_x|--name|ci|--scopes|stats:read,events:write", 0, "" },
                { "key create", "--account|acc_x|--name|ci|--scopes|all|--projects|prj_a,prj_b|--json", 0, "" },
                { "key list", "--account|acc_x", 0, "" },
                { "key revoke", "key_x", 0, "" },
                { "project delete", "--|-prj-with-dash", 0, "" },

                /* missing, unknown, repeated */
                { "account create", "", -EINVAL, "missing --name" },
                { "account create", "--name|Shop", -EINVAL, "missing --plan" },
                { "account create", "--plan|pro", -EINVAL, "missing --name" },
                { "account create", "--name", -EINVAL, "needs a value" },
                { "account create", "--name|Shop|--plan|pro|--bogus", -EINVAL, "unknown option '--bogus'" },
                { "account create", "--name|Shop|--plan|pro|-x", -EINVAL, "unknown option '-x'" },
                { "account create", "--name|Shop|--plan|pro|--account|acc_x", -EINVAL, "unknown option '--account'" },
                { "account create", "--name|A|--name|B|--plan|pro", -EINVAL, "--name given twice" },
                { "account create", "--name|Shop|--plan|pro|extra", -EINVAL, "unexpected argument 'extra'" },
                { "account create", "--name|Shop|--plan|pro|--json=yes", -EINVAL, "takes no value" },
                { "account create", "--name|Shop|--plan|pro|--json|--json", -EINVAL, "given twice" },
                { "account list", "--account|acc_x", -EINVAL, "unknown option" },
                { "account set-plan", "--plan|pro", -EINVAL, "missing ACCOUNT_ID" },
                { "account set-plan", "acc_x", -EINVAL, "missing --plan" },
                { "account set-plan", "acc_x|acc_y|--plan|pro", -EINVAL, "unexpected argument 'acc_y'" },
                { "project create", "--account|acc_x|--name|Shop", -EINVAL, "missing --domain" },
                { "project create", "--name|Shop|--domain|a.com", -EINVAL, "missing --account" },
                { "project update", "prj_x", -EINVAL, "nothing to change" },
                { "project update", "--name|x", -EINVAL, "missing PROJECT_ID" },
                { "project delete", "", -EINVAL, "missing PROJECT_ID" },
                { "project delete", "prj_x|--name|x", -EINVAL, "unknown option '--name'" },
                { "key create", "--account|acc_x|--name|ci", -EINVAL, "missing --scopes" },
                { "key list", "", -EINVAL, "missing --account" },
                { "key revoke", "", -EINVAL, "missing KEY_ID" },
                { "key revoke", "key_a|key_b", -EINVAL, "unexpected argument" },
                { "init", "--name|x", -EINVAL, "unknown option '--name'" },
                { "init", "extra", -EINVAL, "unexpected argument" },
                { "init", "--unknown\x1b[31m", -EINVAL, "'--unknown\\x1b[31m'" },

                /* plans and limits */
                { "account create", "--name|Shop|--plan|gold", -EINVAL, "unknown plan 'gold'" },
                { "account create", "--name|Shop|--plan|Pro", -EINVAL, "unknown plan" },
                { "account create", "--name|Shop|--plan|", -EINVAL, "unknown plan" },
                { "account create", "--name|Shop|--plan|enterprise", -EINVAL, "needs --limit" },
                { "account create", "--name|Shop|--plan|pro|--limit|100", -EINVAL, "only for --plan enterprise" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|0", -EINVAL, "from 1 to 10000000" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|-5", -EINVAL, "from 1 to" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|10000001", -EINVAL, "from 1 to" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|1e6", -EINVAL, "from 1 to" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|12abc", -EINVAL, "from 1 to" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|99999999999999999999", -EINVAL, "from 1 to" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|10000000", 0, "" },
                { "account create", "--name|Shop|--plan|enterprise|--limit|1", 0, "" },
                { "account set-plan", "acc_x|--plan|free|--limit|60", -EINVAL, "only for --plan enterprise" },
                { "init", "--limit|100", -EINVAL, "goes with --plan enterprise" },
                { "init", "--plan|enterprise", -EINVAL, "needs --limit" },

                /* names */
                { "account create", "--name||--plan|pro", -EINVAL, "--name: must not be empty" },
                { "account create", "--name|a\x01" "b|--plan|pro", -EINVAL, "control characters" },
                { "account create", "--name|line\nbreak|--plan|pro", -EINVAL, "control characters" },
                { "project create", "--account|a|--name|\xff|--domain|a.com", -EINVAL, "UTF-8" },
                { "key create", "--account|a|--name|\t|--scopes|all", -EINVAL, "control characters" },

                /* domains */
                { "project create", "--account|a|--name|n|--domain|http://x", -EINVAL, "--domain: 'http://x' must be a host name" },
                { "project create", "--account|a|--name|n|--domain|a..b", -EINVAL, "empty label" },
                { "project create", "--account|a|--name|n|--domain|-a.com", -EINVAL, "starts with '-'" },
                { "project create", "--account|a|--name|n|--domain|", -EINVAL, "empty item" },
                { "project create", "--account|a|--name|n|--domain|a.com,,b.com", -EINVAL, "empty item" },
                { "project create", "--account|a|--name|n|--domain|a.com|--domain|b.com/x", -EINVAL, "without scheme, port, path" },
                { "project create", "--account|a|--name|n|--domain|localhost:8080", -EINVAL, "without scheme, port, path" },
                { "project update", "prj_x|--domain|*.example.com", -EINVAL, "--domain" },
                { "init", "--domain|exa mple.com", -EINVAL, "--domain" },

                /* timezones */
                { "project create", "--account|a|--name|n|--domain|a.com|--timezone|../../etc/passwd", -EINVAL, "unknown time zone" },
                { "project create", "--account|a|--name|n|--domain|a.com|--timezone|Mars/Olympus", -EINVAL, "unknown time zone" },
                { "project create", "--account|a|--name|n|--domain|a.com|--timezone|", -EINVAL, "unknown time zone" },
                { "project update", "prj_x|--timezone|/etc/passwd", -EINVAL, "unknown time zone" },
                { "init", "--timezone|Europe", -EINVAL, "unknown time zone" },

                /* scopes and projects */
                { "key create", "--account|a|--name|n|--scopes|stats:write", -EINVAL, "unknown scope 'stats:write'" },
                { "key create", "--account|a|--name|n|--scopes|", -EINVAL, "no scopes" },
                { "key create", "--account|a|--name|n|--scopes|stats:read,", -EINVAL, "--scopes" },
                { "key create", "--account|a|--name|n|--scopes|STATS:READ", -EINVAL, "unknown scope" },
                { "key create", "--account|a|--name|n|--scopes|all|--projects|", -EINVAL, "--projects: empty item" },
                { "key create", "--account|a|--name|n|--scopes|all|--projects|p1,,p2", -EINVAL, "empty item" },
        };
        return cr_make_param_array(struct args_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct args_row *row, oa_admin_args, table) {
        char err[1024] = "";
        oa_admin_req q;
        int r;

        if (access(ZONEINFO "/UTC", R_OK) != 0)
                cr_skip_test("no tzdata in " ZONEINFO);
        r = parse(row->cmd, row->args, &q, err, sizeof(err));
        cr_assert_eq(r, row->expect, "%s '%s': %d %s", row->cmd, row->args, r, err);
        if (row->expect)
                cr_assert_not_null(strstr(err, row->msg), "%s '%s': '%s' lacks '%s'", row->cmd, row->args,
                                   err, row->msg);
        oa_admin_req_done(&q);
}

/* The values oa/entity.h refuses, as they arrive through oa-admin's flags: each must be a
 * usage error that names the flag, and the message must not carry a control character. */
struct value_row {
        char flag[12];          /* name, domain, timezone */
        char value[64];
        size_t repeat;          /* value repeated this many times (0: once) */
        bool ok;
};

ParameterizedTestParameters(oa_admin_args, values) {
        static struct value_row rows[] = {
                { "name", "Shop", 0, true },
                { "name", "Shop GmbH & Co. KG \"q\" 'x' \\ / <b>", 0, true },
                { "name", "\xc3\x9cn\xc3\xaf" "code Shop", 0, true },
                { "name", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, true },
                { "name", "\xf0\x9f\x9a\x80 launch", 0, true },
                { "name", "a", 10240, false },                  /* 10 KB */
                { "name", "\xc3\xa9", 5000, false },
                { "name", "", 0, false },
                { "name", "   ", 0, false },
                { "name", " padded", 0, false },
                { "name", "a\x01" "b", 0, false },
                { "name", "tab\there", 0, false },
                { "name", "new\nline", 0, false },
                { "name", "cr\rlf", 0, false },
                { "name", "esc\x1b[31mred", 0, false },
                { "name", "title\x1b]0;pwned\x07", 0, false },
                { "name", "del\x7f", 0, false },
                { "name", "c1 \xc2\x85 nel", 0, false },
                { "name", "c1 \xc2\x9b csi", 0, false },
                { "name", "rlo \xe2\x80\xae evil", 0, false },
                { "name", "ls \xe2\x80\xa8 x", 0, false },
                { "name", "latin1 \xe9t\xe9", 0, false },
                { "name", "\xff\xfe", 0, false },
                { "name", "overlong \xc0\xaf", 0, false },
                { "name", "surrogate \xed\xa0\x80", 0, false },
                { "name", "beyond \xf4\x90\x80\x80", 0, false },
                { "name", "truncated \xe2\x82", 0, false },
                { "domain", "localhost", 0, true },
                { "domain", "shop.example.com", 0, true },
                { "domain", "Shop.EXAMPLE.com", 0, true },      /* lowercased */
                { "domain", "xn--bcher-kva.example", 0, true },
                { "domain", "127.0.0.1", 0, true },
                { "domain", "http://x", 0, false },
                { "domain", "https://example.com/", 0, false },
                { "domain", "example.com/path", 0, false },
                { "domain", "example.com:8080", 0, false },
                { "domain", "user@example.com", 0, false },
                { "domain", "a..b", 0, false },
                { "domain", ".example.com", 0, false },
                { "domain", "example.com.", 0, false },
                { "domain", "-a.com", 0, false },
                { "domain", "a-.com", 0, false },
                { "domain", "exa mple.com", 0, false },
                { "domain", "*.example.com", 0, false },
                { "domain", "exam_ple.com", 0, false },
                { "domain", "b\xc3\xbc" "cher.example", 0, false },
                { "domain", "new\nline.com", 0, false },
                { "domain", "esc\x1b[2J.com", 0, false },
                { "domain", "[::1]", 0, false },
                { "domain", "a", 254, false },
                { "timezone", "UTC", 0, true },
                { "timezone", "Europe/Berlin", 0, true },
                { "timezone", "America/Argentina/Buenos_Aires", 0, true },
                { "timezone", "Etc/GMT+5", 0, true },
                { "timezone", "../../etc/passwd", 0, false },
                { "timezone", "/etc/passwd", 0, false },
                { "timezone", "Europe/../Europe/Berlin", 0, false },
                { "timezone", "./UTC", 0, false },
                { "timezone", "Mars/Olympus", 0, false },
                { "timezone", "Europe/Atlantis", 0, false },
                { "timezone", "Europe", 0, false },
                { "timezone", "Europe/", 0, false },
                { "timezone", "Europe//Berlin", 0, false },
                { "timezone", "zone.tab", 0, false },
                { "timezone", "tzdata.zi", 0, false },
                { "timezone", "localtime", 0, false },
                { "timezone", "posix/Europe/Berlin", 0, false },
                { "timezone", "right/UTC", 0, false },
                { "timezone", "UTC\n", 0, false },
                { "timezone", "Europe/Berlin\x1b[31m", 0, false },
                { "timezone", "Europe/Berlin;rm -rf /", 0, false },
                { "timezone", "%s%s%s%n", 0, false },
                { "timezone", "A/", 40, false },
        };
        return cr_make_param_array(struct value_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct value_row *row, oa_admin_args, values) {
        size_t len = strlen(row->value), n = row->repeat ? row->repeat : 1;
        char *v = malloc(len * n + 1), flag[16], err[1024] = "";
        char *argv[] = { "prj_0123456789abcdef", flag, v };
        oa_admin_req q;
        int r;

        if (access(ZONEINFO "/UTC", R_OK) != 0)
                cr_skip_test("no tzdata in " ZONEINFO);
        cr_assert_not_null(v);
        for (size_t i = 0; i < n; i++)
                memcpy(v + i * len, row->value, len);
        v[len * n] = '\0';
        snprintf(flag, sizeof(flag), "--%s", row->flag);
        r = oa_admin_req_parse(oa_admin_usage_find("project", "update"), 3, argv, ZONEINFO, &q, err, sizeof(err));
        cr_assert_eq(r, row->ok ? 0 : -EINVAL, "--%s '%s' x %zu: %s", row->flag, row->value, n, err);
        if (!row->ok) {
                cr_assert_eq(strncmp(err, flag, strlen(flag)), 0, "message names the flag: %s", err);
                cr_assert_lt(strlen(err), 400, "the message does not echo a long value");
                for (const char *c = err; *c; c++)
                        cr_assert((unsigned char) *c >= 0x20 && *c != 0x7f, "control byte in: %s", err);
        }
        oa_admin_req_done(&q);
        free(v);
}

Test(oa_admin_args, name_length_is_the_entity_limit) {
        char name[4 * OA_ENTITY_NAME_MAX_CHARS + 8], err[512];
        char *argv[] = { "--name", name, "--plan", "pro" };
        oa_admin_req q;

        memset(name, 0, sizeof(name));
        for (int i = 0; i < OA_ENTITY_NAME_MAX_CHARS; i++)
                memcpy(name + 2 * i, "\xc3\xa9", 2);       /* é: 2 bytes, 1 character */
        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("account", "create"), 4, argv, NULL, &q, err,
                                        sizeof(err)), 0, "%s", err);
        oa_admin_req_done(&q);
        memcpy(name + 2 * OA_ENTITY_NAME_MAX_CHARS, "x", 2);
        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("account", "create"), 4, argv, NULL, &q, err,
                                        sizeof(err)), -EINVAL);
        oa_admin_req_done(&q);
}

Test(oa_admin_args, domains_are_lowercased_and_unique) {
        char *argv[] = { "prj_x", "--domain", "Shop.Example.COM", "--domain", "shop.example.com,WWW.example.com" };
        char err[512];
        oa_admin_req q;

        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("project", "update"), 5, argv, NULL, &q, err,
                                        sizeof(err)), 0, "%s", err);
        cr_assert_eq(q.n_domains, 2);
        cr_assert_str_eq(q.domains[0], "shop.example.com");
        cr_assert_str_eq(q.domains[1], "www.example.com");
        oa_admin_req_done(&q);
}

Test(oa_admin_args, every_documented_command_has_a_usage) {
        static const char *const cmds[] = {
                "init", "account create", "account list", "account set-plan", "project create",
                "project list", "project update", "project delete", "key create", "key list", "key revoke",
        };
        size_t n;

        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
                cr_assert_not_null(usage_of(cmds[i]), "%s", cmds[i]);
        oa_admin_usages(&n);
        cr_assert_eq(n, sizeof(cmds) / sizeof(cmds[0]));
        cr_assert_null(oa_admin_usage_find("account", "delete"));
        cr_assert_null(oa_admin_usage_find("account", NULL));
        cr_assert_null(oa_admin_usage_find("init", "now"));
}

Test(oa_admin_args, values_are_converted) {
        char err[512];
        oa_admin_req q;

        cr_assert_eq(parse("account create", "--name|Big Co|--plan=enterprise|--limit=250000|--json", &q, err,
                           sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(q.name, "Big Co");
        cr_assert_eq(q.plan, OA__PLAN__PLAN_ENTERPRISE);
        cr_assert_eq(q.limit, 250000);
        cr_assert(q.json);
        cr_assert_eq(q.given, OA_ADMIN_F_NAME | OA_ADMIN_F_PLAN | OA_ADMIN_F_LIMIT | OA_ADMIN_F_JSON);
        oa_admin_req_done(&q);

        cr_assert_eq(parse("project create", "--account|acc_1|--name|Shop|--domain|Shop.Example.COM,www.example.com"
                           "|--domain|shop.example.com|--timezone|Europe/Berlin", &q, err, sizeof(err)), 0, "%s", err);
        cr_assert_str_eq(q.account_id, "acc_1");
        cr_assert_eq(q.n_domains, 2);
        cr_assert_str_eq(q.domains[0], "shop.example.com");
        cr_assert_str_eq(q.domains[1], "www.example.com");
        cr_assert_str_eq(q.timezone, "Europe/Berlin");
        cr_assert_not(q.json);
        oa_admin_req_done(&q);

        cr_assert_eq(parse("key create", "--account|acc_1|--name|ci|--scopes|stats:read,events:write"
                           "|--projects|prj_a,prj_b|--projects|prj_a", &q, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(q.scopes, OA_SCOPE_STATS_READ | OA_SCOPE_EVENTS_WRITE);
        cr_assert_eq(q.n_project_ids, 2);
        cr_assert_str_eq(q.project_ids[1], "prj_b");
        oa_admin_req_done(&q);

        cr_assert_eq(parse("key create", "--account|a|--name|n|--scopes|all", &q, err, sizeof(err)), 0);
        cr_assert_eq(q.scopes, OA_SCOPE_ALL);
        cr_assert_eq(q.n_project_ids, 0);
        oa_admin_req_done(&q);

        cr_assert_eq(parse("account set-plan", "acc_9|--plan|free", &q, err, sizeof(err)), 0);
        cr_assert_str_eq(q.id, "acc_9");
        cr_assert_eq(q.plan, OA__PLAN__PLAN_FREE);
        cr_assert_eq(q.limit, 0);
        oa_admin_req_done(&q);
}

Test(oa_admin_args, help_stops_parsing) {
        char err[512];
        oa_admin_req q;

        cr_assert_eq(parse("account create", "--help", &q, err, sizeof(err)), 0);
        cr_assert(q.help);
        oa_admin_req_done(&q);
        /* nothing after --help is checked */
        cr_assert_eq(parse("key create", "-h|--bogus", &q, err, sizeof(err)), 0);
        cr_assert(q.help);
        oa_admin_req_done(&q);
        /* after "--", --help is an id */
        cr_assert_eq(parse("key revoke", "--|--help", &q, err, sizeof(err)), 0);
        cr_assert_not(q.help);
        cr_assert_str_eq(q.id, "--help");
        oa_admin_req_done(&q);
}

Test(oa_admin_args, hostile_name_of_10kb_is_refused) {
        static char name[10241];
        char *argv[] = { "--name", name, "--plan", "pro" }, err[512];
        oa_admin_req q;

        memset(name, 'x', sizeof(name) - 1);
        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("account", "create"), 4, argv, ZONEINFO, &q, err,
                                        sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "--name: must be 1 to"), "%s", err);
        cr_assert_lt(strlen(err), 200, "the message does not echo the name");
        oa_admin_req_done(&q);
}

Test(oa_admin_args, too_many_domains) {
        static char many[4096];
        char *argv[] = { "--account", "a", "--name", "n", "--domain", many }, err[512];
        size_t o = 0;
        oa_admin_req q;

        for (int i = 0; i < OA_ADMIN_DOMAINS_MAX + 1; i++)
                o += (size_t) snprintf(many + o, sizeof(many) - o, "%sd%d.example", i ? "," : "", i);
        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("project", "create"), 6, argv, ZONEINFO, &q, err,
                                        sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "more than 50"), "%s", err);
        oa_admin_req_done(&q);
}

Test(oa_admin_args, too_many_repeats) {
        char *argv[2 * 70], err[512];
        oa_admin_req q;

        for (int i = 0; i < 70; i++) {
                argv[2 * i] = "--domain";
                argv[2 * i + 1] = "a.com";
        }
        cr_assert_eq(oa_admin_req_parse(oa_admin_usage_find("project", "update"), 2 * 70, argv, ZONEINFO, &q, err,
                                        sizeof(err)), -EINVAL);
        cr_assert_not_null(strstr(err, "more than 64 times"), "%s", err);
        oa_admin_req_done(&q);
}

Test(oa_admin_args, done_is_null_safe_and_idempotent) {
        oa_admin_req q = { 0 };

        oa_admin_req_done(NULL);
        oa_admin_req_done(&q);
        oa_admin_req_done(&q);
}

/* oa-admin: the operator's command-line tool. The skeleton every program shares (config,
 * log, the work, an exit code) plus a table of subcommands: "GROUP [COMMAND] [ARG]...".
 * A new subcommand is a function in its own file and one row in commands[] (and, for the
 * accounts family, one usage row in args.c). No signal handlers: each command is short,
 * and Ctrl-C should end it at once. */
#include "admin.h"

#include "oa/buf.h"
#include "oa/log.h"

#include <stdio.h>
#include <string.h>

static const struct command {
        const char *group;
        const char *name;               /* NULL: a one-word command (init) */
        oa_admin_cmd_fn *run;           /* parses its own arguments (topics) */
        oa_admin_req_fn *run_req;       /* gets them parsed by args.c (its usage row) */
        const char *help;               /* run only; the others' is in args.c */
} commands[] = {
        { "topics", "ensure", oa_admin_topics_ensure, NULL,
          "create the missing topics of the catalogue; report those that exist or differ" },
        { "topics", "list", oa_admin_topics_list, NULL,
          "list the topics on the brokers and any catalogue topic that is missing" },
        { "init", NULL, NULL, oa_admin_init, NULL },
        { "migrate", NULL, oa_admin_migrate, NULL,
          "[--dry-run | --status] apply the ClickHouse schema migrations compiled in, in order (idempotent)" },
        { "account", "create", NULL, oa_admin_account_create, NULL },
        { "account", "list", NULL, oa_admin_account_list, NULL },
        { "account", "set-plan", NULL, oa_admin_account_set_plan, NULL },
        { "project", "create", NULL, oa_admin_project_create, NULL },
        { "project", "list", NULL, oa_admin_project_list, NULL },
        { "project", "update", NULL, oa_admin_project_update, NULL },
        { "project", "delete", NULL, oa_admin_project_delete, NULL },
        { "key", "create", NULL, oa_admin_key_create, NULL },
        { "key", "list", NULL, oa_admin_key_list, NULL },
        { "key", "revoke", NULL, oa_admin_key_revoke, NULL },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The --help text above the options: what the commands are, and the exit codes. */
static void build_summary(oa_buf *b) {
        oa_buf_adds(b, "Administer OpenAnalytics: Kafka topics; accounts, projects and API keys "
                    "(written to " OA_TOPIC_PROJECTS ", see docs/accounts.md).\n\nCommands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++) {
                const struct command *c = &commands[i];
                const oa_admin_usage *u = c->run_req ? oa_admin_usage_find(c->group, c->name) : NULL;

                if (u)
                        oa_buf_addf(b, "  %s%s%s %s\n      %s\n", c->group, c->name ? " " : "",
                                    c->name ? c->name : "", u->synopsis, u->help);
                else
                        oa_buf_addf(b, "  %s%s%s\n      %s\n", c->group, c->name ? " " : "",
                                    c->name ? c->name : "", c->help);
        }
        oa_buf_adds(b, "\nWith --json a command prints one JSON value. `oa-admin GROUP COMMAND --help` "
                    "shows one command's usage.\n"
                    "Exit status: 0 done, 1 failed (e.g. no broker answered in time, a write was not "
                    "acknowledged), 2 usage or configuration error, 3 done but topics differ from the "
                    "catalogue (migrate: refused, an applied migration changed), 4 no such account, project or key.\n"
                    "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>: upper case, "
                    "'_' for '.', '__' for '_'\n(e.g. OA_KAFKA_X_SECURITY_PROTOCOL=sasl_ssl, "
                    "OA_KAFKA_X_SASL_PASSWORD=...).");
}

static void print_commands(FILE *f, const char *group) {
        fprintf(f, "commands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++) {
                const struct command *c = &commands[i];

                if (group && strcmp(c->group, group) != 0)
                        continue;
                fprintf(f, "  oa-admin %s%s%s\n", c->group, c->name ? " " : "", c->name ? c->name : "");
        }
        fprintf(f, "see oa-admin --help\n");
}

/* The command named by the words at argv (argc of them left), or NULL; *ret_words says
 * how many words it took. */
static const struct command *find_command(int argc, char **argv, int *ret_words) {
        for (size_t i = 0; i < N_COMMANDS; i++) {
                const struct command *c = &commands[i];

                if (strcmp(c->group, argv[0]) != 0)
                        continue;
                if (!c->name) {
                        *ret_words = 1;
                        return c;
                }
                if (argc > 1 && strcmp(c->name, argv[1]) == 0) {
                        *ret_words = 2;
                        return c;
                }
        }
        return NULL;
}

static bool group_exists(const char *group) {
        for (size_t i = 0; i < N_COMMANDS; i++)
                if (strcmp(commands[i].group, group) == 0)
                        return true;
        return false;
}

/* Parse a command line of the accounts family and run it. */
static int run_req(const struct command *c, const oa_admin_cfg *cfg, int argc, char **argv) {
        const oa_admin_usage *u = oa_admin_usage_find(c->group, c->name);
        oa_admin_req q;
        char err[600];
        int ret;

        if (oa_admin_req_parse(u, argc, argv, NULL, &q, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-admin %s%s%s: %s\n", c->group, c->name ? " " : "", c->name ? c->name : "", err);
                oa_admin_usage_print(stderr, u);
                ret = OA_ADMIN_EXIT_USAGE;
        } else if (q.help) {
                oa_admin_usage_print(stdout, u);
                printf("%s\n", u->help);
                ret = OA_ADMIN_EXIT_OK;
        } else {
                ret = c->run_req(cfg, &q);
        }
        oa_admin_req_done(&q);
        return ret;
}

int main(int argc, char **argv) {
        oa_admin_cfg cfg = { 0 };
        oa_log_level level;
        oa_cfg_spec spec;
        oa_buf summary;
        char err[512];
        int argi = 0, words = 0, ret = OA_ADMIN_EXIT_USAGE, r;
        const struct command *cmd = NULL;

        oa_log_init("oa-admin", OA_LOG_WARN);
        oa_buf_init(&summary, 16384);
        build_summary(&summary);
        oa_admin_spec(&spec, summary.data ? summary.data : "");

        r = oa_cfg_load(&spec, &cfg, argc, argv, &argi, err, sizeof(err));
        if (r == OA_CFG_LOAD_EXIT) {
                ret = OA_ADMIN_EXIT_OK;
                goto out;
        }
        if (r < 0 || oa_admin_cfg_check(&cfg, err, sizeof(err)) < 0) {
                fprintf(stderr, "oa-admin: %s\n", err);
                goto out;
        }
        if (oa_log_level_parse(cfg.log_level, &level) == 0)
                oa_log_init("oa-admin", level);
        oa_cfg_log(&spec, &cfg);

        if (argc - argi < 1) {
                fprintf(stderr, "oa-admin: missing command\n");
                print_commands(stderr, NULL);
                goto out;
        }
        cmd = find_command(argc - argi, argv + argi, &words);
        if (!cmd && argc - argi == 1 && group_exists(argv[argi])) {
                fprintf(stderr, "oa-admin: %s: missing command\n", argv[argi]);
                print_commands(stderr, argv[argi]);
                goto out;
        }
        if (!cmd) {
                char shown[2][300];

                fprintf(stderr, "oa-admin: unknown command: %s%s%s\n",
                        oa_admin_printable(argv[argi], shown[0], sizeof(shown[0])), argc - argi > 1 ? " " : "",
                        argc - argi > 1 ? oa_admin_printable(argv[argi + 1], shown[1], sizeof(shown[1])) : "");
                print_commands(stderr, group_exists(argv[argi]) ? argv[argi] : NULL);
                goto out;
        }
        if (cmd->run_req)
                ret = run_req(cmd, &cfg, argc - argi - words, argv + argi + words);
        else
                ret = cmd->run(&cfg, argc - argi - words, argv + argi + words);
out:
        oa_cfg_free(&spec, &cfg);
        oa_buf_done(&summary);
        return ret;
}

/* oa-admin: the operator's command-line tool. The skeleton every program shares (config,
 * log, the work, an exit code) plus a table of subcommands: "GROUP COMMAND [ARG]...".
 * A new subcommand is a function in its own file and one row in commands[]. No signal
 * handlers: each command is short, and Ctrl-C should end it at once. */
#include "admin.h"

#include "oa/buf.h"
#include "oa/log.h"

#include <stdio.h>
#include <string.h>

static const struct command {
        const char *group;
        const char *name;
        oa_admin_cmd_fn *run;
        const char *help;
} commands[] = {
        { "topics", "ensure", oa_admin_topics_ensure,
          "create the missing topics of the catalogue; report those that exist or differ" },
        { "topics", "list", oa_admin_topics_list,
          "list the topics on the brokers and any catalogue topic that is missing" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The --help text above the options: what the commands are, and the exit codes. */
static void build_summary(oa_buf *b) {
        oa_buf_adds(b, "Administer OpenAnalytics: Kafka topics (and, later, accounts, projects, keys).\n\n"
                    "Commands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++)
                oa_buf_addf(b, "  %s %-10s %s\n", commands[i].group, commands[i].name,
                            commands[i].help);
        oa_buf_adds(b, "\nExit status: 0 done, 1 failed (e.g. no broker answered in time), "
                    "2 usage or configuration error, 3 done but topics differ from the catalogue.\n"
                    "Any librdkafka property can be set as " OA_KAFKA_ENV_PREFIX "<PROP>: upper case, "
                    "'_' for '.', '__' for '_'\n(e.g. OA_KAFKA_X_SECURITY_PROTOCOL=sasl_ssl, "
                    "OA_KAFKA_X_SASL_PASSWORD=...).");
}

static void print_commands(FILE *f) {
        fprintf(f, "commands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++)
                fprintf(f, "  oa-admin %s %s\n", commands[i].group, commands[i].name);
        fprintf(f, "see oa-admin --help\n");
}

int main(int argc, char **argv) {
        oa_admin_cfg cfg = { 0 };
        oa_log_level level;
        oa_cfg_spec spec;
        oa_buf summary;
        char err[512];
        int argi = 0, ret = OA_ADMIN_EXIT_USAGE, r;
        const struct command *cmd = NULL;

        oa_log_init("oa-admin", OA_LOG_WARN);
        oa_buf_init(&summary, 8192);
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

        if (argc - argi < 2) {
                fprintf(stderr, "oa-admin: missing command\n");
                print_commands(stderr);
                goto out;
        }
        for (size_t i = 0; i < N_COMMANDS && !cmd; i++)
                if (strcmp(commands[i].group, argv[argi]) == 0 &&
                    strcmp(commands[i].name, argv[argi + 1]) == 0)
                        cmd = &commands[i];
        if (!cmd) {
                fprintf(stderr, "oa-admin: unknown command: %s %s\n", argv[argi], argv[argi + 1]);
                print_commands(stderr);
                goto out;
        }
        ret = cmd->run(&cfg, argc - argi - 2, argv + argi + 2);
out:
        oa_cfg_free(&spec, &cfg);
        oa_buf_done(&summary);
        return ret;
}

/* oa-admin: the operator's CLI. Its configuration (config.c) and one function per
 * subcommand (topics.c, and the accounts/projects/keys files to come); main.c dispatches
 * "oa-admin [OPTION]... GROUP COMMAND [ARG]..." through a table. */
#ifndef OA_ADMIN_H
#define OA_ADMIN_H

#include "oa/cfg.h"
#include "oa/kafka.h"

/* Exit codes of every subcommand. */
enum {
        OA_ADMIN_EXIT_OK = 0,
        OA_ADMIN_EXIT_FAILURE = 1,      /* e.g. no broker answered in time */
        OA_ADMIN_EXIT_USAGE = 2,        /* unknown command, bad argument, bad config */
        OA_ADMIN_EXIT_DRIFT = 3,        /* done, but what exists differs from the catalogue */
};

typedef struct oa_admin_cfg {
        char *kafka_brokers;
        long long kafka_replication_factor;
        long long kafka_timeout_ms;
        char *log_level;
} oa_admin_cfg;

/* The option table (OA_KAFKA_BROKERS, ...); summary is shown by --help. */
void oa_admin_spec(oa_cfg_spec *spec, const char *summary);

/* Check what the table cannot express (replication factor 0, the log level). Returns 0
 * or -EINVAL with the reason in errbuf. */
int oa_admin_cfg_check(const oa_admin_cfg *cfg, char *errbuf, size_t errlen);

/* The librdkafka settings of oa-admin's clients (strings borrowed from cfg). */
oa_kafka_cfg oa_admin_kafka_cfg(const oa_admin_cfg *cfg);

/* A subcommand: argv[0] is its first argument after the command words. Returns an exit
 * code (OA_ADMIN_EXIT_*); prints results on stdout and errors on stderr. */
typedef int oa_admin_cmd_fn(const oa_admin_cfg *cfg, int argc, char **argv);

oa_admin_cmd_fn oa_admin_topics_ensure;
oa_admin_cmd_fn oa_admin_topics_list;

#endif

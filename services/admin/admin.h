/* oa-admin: the operator's CLI. Its configuration (config.c) and one function per
 * subcommand: topics.c (Kafka topics), and for accounts, projects and API keys
 * (docs/accounts.md): args.c (flags and their validation by libshared's oa/entity.h
 * rules, shared with oa-query), validate.c (lists, quoting), output.c (JSON and text),
 * store.c (reading and writing oa.projects.v1), accounts.c, projects_cmd.c, keys.c,
 * init.c. main.c dispatches
 * "oa-admin [OPTION]... GROUP [COMMAND] [ARG]..." through a table. */
#ifndef OA_ADMIN_H
#define OA_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oa/buf.h"
#include "oa/catalog.h"
#include "oa/cfg.h"
#include "oa/entity.h"
#include "oa/kafka.h"
#include "oa/projects.h"

/* Exit codes of every subcommand. */
enum {
        OA_ADMIN_EXIT_OK = 0,
        OA_ADMIN_EXIT_FAILURE = 1,      /* e.g. no broker answered in time */
        OA_ADMIN_EXIT_USAGE = 2,        /* unknown command, bad argument, bad config */
        OA_ADMIN_EXIT_DRIFT = 3,        /* done, but what exists differs from the catalogue;
                                         * migrate: refused, an applied migration changed */
        OA_ADMIN_EXIT_NOT_FOUND = 4,    /* an account, project or key id that does not exist */
};

typedef struct oa_admin_cfg {
        char *kafka_brokers;
        long long kafka_replication_factor;
        long long kafka_timeout_ms;
        char *clickhouse_url;
        char *clickhouse_user;
        char *clickhouse_password;
        long long clickhouse_timeout_ms;
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

/* ---- ClickHouse schema (migrate.c, migrate_plan.c) ---------------------------------- */

/* `oa-admin migrate [--dry-run | --status | --print-sql]`: apply the migrations compiled
 * in, in version order, recording each in oa.schema_migrations with its SHA-256. */
oa_admin_cmd_fn oa_admin_migrate;

/* One numbered migration, compiled in from services/admin/migrations/NNNN_name.sql by
 * migrations/embed.py. */
typedef struct oa_admin_migration {
        unsigned version;               /* NNNN */
        const char *name;               /* "0001_events" */
        const char *sql;                /* the file's bytes, NUL-terminated */
        size_t len;
} oa_admin_migration;

/* Every migration, in version order. */
extern const oa_admin_migration oa_admin_migrations[];
extern const size_t oa_admin_n_migrations;

#define OA_ADMIN_CHECKSUM_HEX 65        /* SHA-256 as 64 hex digits and a NUL */

/* The checksum recorded for a migration: SHA-256 of its bytes, lower-case hex. */
void oa_admin_migration_checksum(const oa_admin_migration *m, char ret_hex[OA_ADMIN_CHECKSUM_HEX]);

/* One statement of a SQL text: offset and length in it. */
typedef struct oa_admin_stmt {
        size_t off, len;
} oa_admin_stmt;

/* Split sql (len bytes) into statements at the semicolons outside string literals
 * ('...' with backslash escapes), quoted identifiers ("..." and `...`) and comments
 * (-- to the end of the line, and block comments). Each statement starts at its first
 * token (leading blanks and comments skipped) and ends before its semicolon, trailing
 * blanks dropped; one holding only blanks and comments is left out. Returns the number of
 * statements (at most max written to ret_v), or -EINVAL when a literal, quoted name or
 * block comment is not closed. */
int oa_admin_sql_split(const char *sql, size_t len, oa_admin_stmt *ret_v, size_t max);

/* What oa.schema_migrations says of one version. */
typedef struct oa_admin_applied {
        unsigned version;
        char name[128];
        char checksum[OA_ADMIN_CHECKSUM_HEX];
} oa_admin_applied;

/* The state of a compiled-in migration against what ClickHouse recorded. */
typedef enum oa_admin_mig_state {
        OA_ADMIN_MIG_PENDING,           /* not applied yet */
        OA_ADMIN_MIG_APPLIED,           /* applied, same checksum */
        OA_ADMIN_MIG_CHANGED,           /* applied, but its text changed since: refuse */
} oa_admin_mig_state;

/* Parse the TabSeparated answer "version\tname\tchecksum\n"... (len bytes) into at
 * most max rows. Returns the number of rows, or -EPROTO for a line of another shape. */
int oa_admin_applied_parse(const char *tsv, size_t len, oa_admin_applied *ret_v, size_t max);

/* Compare the n compiled-in migrations with the n_applied recorded ones: ret_states[i]
 * for migs[i]; *ret_unknown counts recorded versions this binary does not know (a newer
 * oa-admin applied them). */
void oa_admin_migrate_plan(const oa_admin_migration *migs, size_t n, const oa_admin_applied *applied,
                           size_t n_applied, oa_admin_mig_state *ret_states, size_t *ret_unknown);

/* ---- accounts, projects, keys: command lines (args.c) ------------------------------- */

/* The flags of the accounts commands, as bits of oa_admin_usage and oa_admin_req. */
enum {
        OA_ADMIN_F_ACCOUNT = 1u << 0,   /* --account ID */
        OA_ADMIN_F_NAME = 1u << 1,      /* --name N */
        OA_ADMIN_F_PLAN = 1u << 2,      /* --plan free|pro|business|enterprise */
        OA_ADMIN_F_LIMIT = 1u << 3,     /* --limit N (enterprise only) */
        OA_ADMIN_F_DOMAIN = 1u << 4,    /* --domain D, repeatable, comma-separated */
        OA_ADMIN_F_TIMEZONE = 1u << 5,  /* --timezone TZ */
        OA_ADMIN_F_SCOPES = 1u << 6,    /* --scopes s1,s2 */
        OA_ADMIN_F_PROJECTS = 1u << 7,  /* --projects p1,p2, repeatable */
        OA_ADMIN_F_JSON = 1u << 8,      /* --json */
};

#define OA_ADMIN_LIMIT_MAX 10000000     /* enterprise requests per minute per key */
#define OA_ADMIN_DOMAINS_MAX 50         /* domains of one project */
#define OA_ADMIN_PROJECTS_MAX 100       /* projects of one key */

/* What one command accepts: its words, its positional id (or none), the flags allowed
 * and required, and the synopsis of docs/accounts.md. */
typedef struct oa_admin_usage {
        const char *group;              /* "account" */
        const char *name;               /* "create"; NULL for a one-word command (init) */
        const char *id_arg;             /* "ACCOUNT_ID", or NULL: no positional argument */
        unsigned allowed;               /* OA_ADMIN_F_* */
        unsigned required;              /* OA_ADMIN_F_*, a subset of allowed */
        unsigned one_of;                /* OA_ADMIN_F_*: at least one of them (0: none) */
        const char *synopsis;           /* the arguments, after the command words */
        const char *help;               /* one line */
} oa_admin_usage;

/* The usage table of the accounts commands; sets *ret_n. */
const oa_admin_usage *oa_admin_usages(size_t *ret_n);

/* The usage of "group name" (name NULL for a one-word command), or NULL. */
const oa_admin_usage *oa_admin_usage_find(const char *group, const char *name);

/* Write "usage: oa-admin GROUP NAME SYNOPSIS" and a newline to f. */
void oa_admin_usage_print(FILE *f, const oa_admin_usage *u);

/* One parsed and validated command line. Strings are borrowed from argv except the
 * lists, which are owned (oa_admin_req_done frees them). */
typedef struct oa_admin_req {
        unsigned given;                 /* OA_ADMIN_F_* present on the command line */
        bool help;                      /* --help or -h: print the usage, do nothing */
        bool json;                      /* --json */
        const char *id;                 /* the positional id, or NULL */
        const char *account_id;
        const char *name;
        Oa__Plan plan;                  /* when given & OA_ADMIN_F_PLAN */
        uint32_t limit;                 /* enterprise only, else 0 */
        char **domains;                 /* lowercase hostnames, unique, in order given */
        size_t n_domains;
        const char *timezone;           /* an existing IANA zone */
        unsigned scopes;                /* OA_SCOPE_* mask */
        char **project_ids;             /* unique, in order given (not yet looked up) */
        size_t n_project_ids;
} oa_admin_req;

/* Parse argc/argv (the arguments after the command words) against u: "--flag value" or
 * "--flag=value", the positional id, "--" ends the flags. Checks that every flag is
 * allowed, given at most once (except --domain and --projects), present when required,
 * and that every value is valid by oa/entity.h's rules (names, hostnames, the timezone
 * under zoneinfo_dir, NULL: $TZDIR or /usr/share/zoneinfo), the plan and its limit, and
 * the scopes. Ids are only looked up later. Returns 0 (with ret->help set when --help was asked for; nothing else is then
 * checked), or -EINVAL with the reason in errbuf (the user's text shown escaped), or
 * -ENOMEM. ret is zeroed first; call oa_admin_req_done whatever the result. */
int oa_admin_req_parse(const oa_admin_usage *u, int argc, char **argv, const char *zoneinfo_dir,
                       oa_admin_req *ret, char *errbuf, size_t errlen);

/* Free the lists of q and zero it. NULL-safe. */
void oa_admin_req_done(oa_admin_req *q);

/* ---- values (validate.c) ------------------------------------------------------------ */

/* Names, hostnames, timezones, plans and ids follow libshared's oa/entity.h, the rules
 * oa-query applies to the same entities; what is left here is the command line's own. */

/* Split n values of a repeatable, comma-separated flag into one list: items trimmed of
 * spaces, lowercased when lower is set, duplicates dropped, at most max items; an empty
 * item is an error (what names the flag). Returns 0 and *ret_v, *ret_n (owned: free with
 * oa_admin_strv_free), or -EINVAL with errbuf, or -ENOMEM. */
int oa_admin_list_split(const char *what, const char *const *vals, size_t n, size_t max, bool lower,
                        char ***ret_v, size_t *ret_n, char *errbuf, size_t errlen);

/* Free a list made by oa_admin_list_split. Returns NULL. */
char **oa_admin_strv_free(char **v, size_t n);

/* s made safe to show in a message: at most 64 bytes, anything not printable ASCII
 * written as \xNN, "..." when cut. Returns buf. */
const char *oa_admin_printable(const char *s, char *buf, size_t len);

/* ---- output (output.c) -------------------------------------------------------------- */

/* An entity as one JSON object, appended to b: oa_entity_*_json (docs/api.md's field
 * names, as oa-query answers), the key with "key": secret when secret is not NULL.
 * Returns 0 or the error of oa_buf_add. */
int oa_admin_json_account(oa_buf *b, const Oa__Account *a);
int oa_admin_json_project(oa_buf *b, const Oa__Project *p);
int oa_admin_json_key(oa_buf *b, const Oa__ApiKey *k, const char *secret);

/* A JSON array of n entities. */
int oa_admin_json_accounts(oa_buf *b, const Oa__Account *const *v, size_t n);
int oa_admin_json_projects(oa_buf *b, const Oa__Project *const *v, size_t n);
int oa_admin_json_keys(oa_buf *b, const Oa__ApiKey *const *v, size_t n);

/* An entity as aligned "field  value" lines, each line starting with indent. */
int oa_admin_text_account(oa_buf *b, const char *indent, const Oa__Account *a);
int oa_admin_text_project(oa_buf *b, const char *indent, const Oa__Project *p);
int oa_admin_text_key(oa_buf *b, const char *indent, const Oa__ApiKey *k, const char *secret);

/* A table with a header line and one aligned line per entity. */
int oa_admin_table_accounts(oa_buf *b, const Oa__Account *const *v, size_t n);
int oa_admin_table_projects(oa_buf *b, const Oa__Project *const *v, size_t n);
int oa_admin_table_keys(oa_buf *b, const Oa__ApiKey *const *v, size_t n);

/* ms since the epoch as "2026-11-28T02:15:00Z" (oa_entity_time_format) into buf
 * (OA_ENTITY_TIME_MAX bytes); "" when ms <= 0. Returns buf. */
const char *oa_admin_time_iso(int64_t ms, char *buf);

/* The name of a plan, "unspecified" for anything unknown. */
const char *oa_admin_plan_name(Oa__Plan plan);

/* Write b to stdout and flush. Returns an exit code: OK, or FAILURE when stdout failed. */
int oa_admin_print(const oa_buf *b);

/* Finish a command's output: r is the result of formatting into b. Prints b on stdout,
 * frees it (wiped first when wipe is set: it held a secret), and returns an exit code
 * (FAILURE, with a message, when formatting or writing failed). */
int oa_admin_emit(oa_buf *b, int r, bool wipe);

/* Print one entity on stdout: JSON and a newline with q->json, else the text view.
 * Returns an exit code. */
int oa_admin_show_account(const oa_admin_req *q, const Oa__Account *a);
int oa_admin_show_project(const oa_admin_req *q, const Oa__Project *p);
int oa_admin_show_key(const oa_admin_req *q, const Oa__ApiKey *k, const char *secret);

/* Print a list on stdout: a JSON array with q->json, else a table. Returns an exit code. */
int oa_admin_show_accounts(const oa_admin_req *q, const Oa__Account *const *v, size_t n);
int oa_admin_show_projects(const oa_admin_req *q, const Oa__Project *const *v, size_t n);
int oa_admin_show_keys(const oa_admin_req *q, const Oa__ApiKey *const *v, size_t n);

/* ---- oa.projects.v1 (store.c) ------------------------------------------------------- */

/* Read oa.projects.v1 to its end (OA_KAFKA_TIMEOUT_MS in all). Returns an exit code
 * (OK and *ret, or FAILURE after printing why on stderr). */
int oa_admin_state_load(const oa_admin_cfg *cfg, oa_projects **ret);

/* Publish n records to oa.projects.v1 and wait until Kafka acknowledged every one (or
 * OA_KAFKA_TIMEOUT_MS passed). Returns an exit code: OK only when all were acknowledged;
 * FAILURE after printing why. */
int oa_admin_publish(const oa_admin_cfg *cfg, Oa__Record *const *recs, size_t n);

/* The entities of the catalogue (projects and keys of account_id, or all when NULL), in
 * creation order (then by id). Returns 0 and *ret_v (free it; the entities stay owned by
 * the catalogue) and *ret_n, or -ENOMEM. */
int oa_admin_sorted_accounts(const oa_catalog *c, const Oa__Account ***ret_v, size_t *ret_n);
int oa_admin_sorted_projects(const oa_catalog *c, const char *account_id,
                             const Oa__Project ***ret_v, size_t *ret_n);
int oa_admin_sorted_keys(const oa_catalog *c, const char *account_id,
                         const Oa__ApiKey ***ret_v, size_t *ret_n);

/* A new id of kind (oa_entity_id_new) into ret_id (OA_ENTITY_ID_MAX bytes) that no
 * account, project, key or site of c has yet. Returns 0, or a negative errno after
 * printing why. */
int oa_admin_id_fresh(const oa_catalog *c, oa_entity_kind kind, char *ret_id);

/* Print "oa-admin: no KIND ID" (the id shown escaped) on stderr. Returns
 * OA_ADMIN_EXIT_NOT_FOUND. */
int oa_admin_not_found(const char *kind, const char *id);

/* ---- the accounts commands ---------------------------------------------------------- */

/* A command of the accounts family, given its parsed command line. Returns an exit code. */
typedef int oa_admin_req_fn(const oa_admin_cfg *cfg, const oa_admin_req *q);

oa_admin_req_fn oa_admin_init;
oa_admin_req_fn oa_admin_account_create;
oa_admin_req_fn oa_admin_account_list;
oa_admin_req_fn oa_admin_account_set_plan;
oa_admin_req_fn oa_admin_project_create;
oa_admin_req_fn oa_admin_project_list;
oa_admin_req_fn oa_admin_project_update;
oa_admin_req_fn oa_admin_project_delete;
oa_admin_req_fn oa_admin_key_create;
oa_admin_req_fn oa_admin_key_list;
oa_admin_req_fn oa_admin_key_revoke;

#endif

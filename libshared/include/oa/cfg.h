/* Configuration from one declarative table per program (Redis's configs[]): each option
 * has a command-line name, an OA_* environment variable, a type, a default, limits, a
 * secret flag and a help line. One loader parses and validates it (default < environment
 * < command line), prints --help, answers --check-config and logs the effective values
 * with secrets masked. */
#ifndef OA_CFG_H
#define OA_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef enum oa_cfg_type {
        OA_CFG_STRING,  /* field: char * (owned by the config; oa_cfg_free frees it) */
        OA_CFG_INT,     /* field: long long, checked against [min, max] */
        OA_CFG_BOOL,    /* field: bool; 1/0, true/false, yes/no, on/off */
} oa_cfg_type;

enum {
        OA_CFG_SECRET = 1 << 0,   /* masked by --check-config and in the start-up line */
        OA_CFG_REQUIRED = 1 << 1, /* an empty value is an error */
};

typedef struct oa_cfg_opt {
        const char *name;       /* long option without "--", e.g. "kafka-brokers" */
        const char *env;        /* environment variable, e.g. "OA_KAFKA_BROKERS" */
        oa_cfg_type type;
        const char *def;        /* default as text; NULL means empty */
        size_t offset;          /* offsetof(program config struct, field) */
        long long min, max;     /* OA_CFG_INT bounds, inclusive */
        unsigned flags;
        const char *help;
} oa_cfg_opt;

typedef struct oa_cfg_spec {
        const char *prog;       /* e.g. "oa-sink" */
        const char *summary;    /* one line for --help */
        const char *usage;      /* e.g. "[OPTION]... COMMAND"; NULL: "[OPTION]..." */
        const oa_cfg_opt *opts;
        size_t n_opts;
        /* What the table cannot express (an address, a level name): called once every
         * option is parsed, before --check-config says "ok"; returns 0 or a negative errno
         * with the reason in errbuf. NULL: nothing more to check. */
        int (*check)(const void *cfg, char *errbuf, size_t errlen);
} oa_cfg_spec;

#define OA_CFG_LOAD_RUN 0       /* run the program */
#define OA_CFG_LOAD_EXIT 1      /* --help or --check-config answered: exit 0 */

/* Fill cfg (a zeroed struct) from defaults, then the environment, then argv (--name=value
 * or --name value; "--help"; "--check-config"). Parsing stops at the first argument that
 * is not an option or after "--"; its index goes to *ret_argi (may be NULL, in which case
 * extra arguments are an error). Returns OA_CFG_LOAD_RUN, OA_CFG_LOAD_EXIT (after printing
 * to stdout), or a negative errno with the reason in errbuf; in that case the strings
 * already set are still owned by cfg (call oa_cfg_free). */
int oa_cfg_load(const oa_cfg_spec *spec, void *cfg, int argc, char **argv, int *ret_argi,
                char *errbuf, size_t errlen);

/* Print the --help text (usage, summary, every option with its variable, default and
 * limits) to stdout. */
void oa_cfg_print_help(const oa_cfg_spec *spec);

/* Log one info line "config" with every option's effective value; secrets as "***". */
void oa_cfg_log(const oa_cfg_spec *spec, const void *cfg);

/* Free the strings of cfg and zero them. NULL-safe. */
void oa_cfg_free(const oa_cfg_spec *spec, void *cfg);

/* What a daemon's table cannot express, worded the same for every daemon. OA_LOG_LEVEL
 * names a level: debug, info, warn or error. Returns 0 or -EINVAL with the reason. */
int oa_cfg_check_log_level(const char *level, char *errbuf, size_t errlen);

/* The address in variable var is a numeric host:port (127.0.0.1:8080, [::1]:8080,
 * :8080), parsed into *ret_ss when not NULL. Returns 0 or -EINVAL with the reason. */
int oa_cfg_check_listen(const char *var, const char *addr, struct sockaddr_storage *ret_ss,
                        char *errbuf, size_t errlen);

/* Checked number parsing: the whole string must be a base-10 integer in [min, max].
 * Returns 0 and sets *ret, -EINVAL (not a number, trailing junk, empty) or -ERANGE. */
int oa_cfg_parse_ll(const char *s, long long min, long long max, long long *ret);

/* Parse 1/0, true/false, yes/no, on/off (case-insensitive). Returns 0 or -EINVAL. */
int oa_cfg_parse_bool(const char *s, bool *ret);

#endif

/* The one configuration loader. The program's config struct is addressed through the
 * offsets in its table, so each daemon declares its options once and gets parsing,
 * validation, --help, --check-config and the start-up line for free. */
#include "oa/cfg.h"

#include "oa/buf.h"
#include "oa/http.h"
#include "oa/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int oa_cfg_parse_ll(const char *s, long long min, long long max, long long *ret) {
        long long v;
        char *end;

        if (!s || !*s)
                return -EINVAL;
        /* strtoll accepts leading blanks and a '+'; a config value should not have them. */
        if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || *end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int oa_cfg_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "true", "yes", "on" };
        static const char *const no[] = { "0", "false", "no", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static void *field(void *cfg, const oa_cfg_opt *o) {
        return (char *) cfg + o->offset;
}

static const void *cfield(const void *cfg, const oa_cfg_opt *o) {
        return (const char *) cfg + o->offset;
}

/* Set one option from text; from names where the value came from, for the message. */
static int set_value(void *cfg, const oa_cfg_opt *o, const char *value, const char *from,
                     char *errbuf, size_t errlen) {
        long long ll;
        bool bv;
        char *s;
        int r;

        if (!value)
                value = "";
        switch (o->type) {
        case OA_CFG_STRING:
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(*(char **) field(cfg, o));
                *(char **) field(cfg, o) = s;
                return 0;
        case OA_CFG_INT:
                r = oa_cfg_parse_ll(value, o->min, o->max, &ll);
                if (r < 0) {
                        snprintf(errbuf, errlen, "%s (%s): %s: expected a whole number from %lld to %lld",
                                 o->env, from, r == -ERANGE ? "out of range" : "not a number", o->min, o->max);
                        return r;
                }
                *(long long *) field(cfg, o) = ll;
                return 0;
        case OA_CFG_BOOL:
                r = oa_cfg_parse_bool(value, &bv);
                if (r < 0) {
                        snprintf(errbuf, errlen, "%s (%s): expected true or false", o->env, from);
                        return r;
                }
                *(bool *) field(cfg, o) = bv;
                return 0;
        }
        return -EINVAL;
}

static const oa_cfg_opt *find_opt(const oa_cfg_spec *spec, const char *name, size_t len) {
        for (size_t i = 0; i < spec->n_opts; i++)
                if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0)
                        return &spec->opts[i];
        return NULL;
}

void oa_cfg_print_help(const oa_cfg_spec *spec) {
        printf("Usage: %s %s\n%s\n\nOptions (command line, environment variable, default):\n",
               spec->prog, spec->usage ? spec->usage : "[OPTION]...", spec->summary);
        for (size_t i = 0; i < spec->n_opts; i++) {
                const oa_cfg_opt *o = &spec->opts[i];
                const char *def = o->def && *o->def ? o->def : "(empty)";

                printf("  --%s=%s\n      %s", o->name,
                       o->type == OA_CFG_INT ? "N" : o->type == OA_CFG_BOOL ? "BOOL" : "VALUE", o->env);
                /* A default is in the source code, so showing it reveals nothing; values
                 * that came from the environment are masked by --check-config and the log. */
                printf(" (default: %s", def);
                if (o->type == OA_CFG_INT)
                        printf("; %lld..%lld", o->min, o->max);
                if (o->flags & OA_CFG_REQUIRED)
                        printf("; required");
                if (o->flags & OA_CFG_SECRET)
                        printf("; secret");
                printf(")\n      %s\n", o->help);
        }
        printf("  --check-config\n      validate the configuration, print it and exit\n"
               "  --help\n      show this text and exit\n");
}

static int check_required(const oa_cfg_spec *spec, const void *cfg, char *errbuf, size_t errlen) {
        for (size_t i = 0; i < spec->n_opts; i++) {
                const oa_cfg_opt *o = &spec->opts[i];
                const char *s;

                if (!(o->flags & OA_CFG_REQUIRED) || o->type != OA_CFG_STRING)
                        continue;
                s = *(char *const *) cfield(cfg, o);
                if (!s || !*s) {
                        snprintf(errbuf, errlen, "%s (--%s) is required", o->env, o->name);
                        return -EINVAL;
                }
        }
        return 0;
}

/* Render the effective value of o into b; secrets masked. */
static void render_value(oa_buf *b, const void *cfg, const oa_cfg_opt *o) {
        const char *s;

        switch (o->type) {
        case OA_CFG_STRING:
                s = *(char *const *) cfield(cfg, o);
                if ((o->flags & OA_CFG_SECRET) && s && *s)
                        s = "***";
                oa_buf_adds(b, s ? s : "");
                break;
        case OA_CFG_INT:
                oa_buf_addf(b, "%lld", *(const long long *) cfield(cfg, o));
                break;
        case OA_CFG_BOOL:
                oa_buf_adds(b, *(const bool *) cfield(cfg, o) ? "true" : "false");
                break;
        }
}

void oa_cfg_log(const oa_cfg_spec *spec, const void *cfg) {
        oa_buf line;

        oa_buf_init(&line, 6000);
        for (size_t i = 0; i < spec->n_opts; i++) {
                const oa_cfg_opt *o = &spec->opts[i];

                oa_buf_addf(&line, "%s%s=", i ? " " : "", o->env);
                render_value(&line, cfg, o);
        }
        oa_log_info("config", "values", line.data ? line.data : "");
        oa_buf_done(&line);
}

static void print_config(const oa_cfg_spec *spec, const void *cfg) {
        oa_buf v;

        oa_buf_init(&v, 4096);
        for (size_t i = 0; i < spec->n_opts; i++) {
                oa_buf_reset(&v);
                render_value(&v, cfg, &spec->opts[i]);
                printf("%s=%s\n", spec->opts[i].env, v.data ? v.data : "");
        }
        oa_buf_done(&v);
}

int oa_cfg_load(const oa_cfg_spec *spec, void *cfg, int argc, char **argv, int *ret_argi,
                char *errbuf, size_t errlen) {
        bool check = false;
        int i, r;

        if (errlen)
                errbuf[0] = '\0';
        for (size_t k = 0; k < spec->n_opts; k++) {
                r = set_value(cfg, &spec->opts[k], spec->opts[k].def, "default", errbuf, errlen);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < spec->n_opts; k++) {
                const char *e = getenv(spec->opts[k].env);

                if (!e)
                        continue;
                r = set_value(cfg, &spec->opts[k], e, "environment", errbuf, errlen);
                if (r < 0)
                        return r;
        }
        for (i = 1; i < argc; i++) {
                const char *a = argv[i], *name, *eq, *value;
                const oa_cfg_opt *o;

                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
                        break;
                if (strcmp(a, "--help") == 0) {
                        oa_cfg_print_help(spec);
                        return OA_CFG_LOAD_EXIT;
                }
                if (strcmp(a, "--check-config") == 0) {
                        check = true;
                        continue;
                }
                name = a + 2;
                eq = strchr(name, '=');
                o = find_opt(spec, name, eq ? (size_t) (eq - name) : strlen(name));
                if (!o) {
                        snprintf(errbuf, errlen, "unknown option %.100s (see --help)", a);
                        return -EINVAL;
                }
                if (eq)
                        value = eq + 1;
                else if (o->type == OA_CFG_BOOL)
                        value = "true";         /* a bare --flag; --flag=false turns it off */
                else if (i + 1 < argc)
                        value = argv[++i];
                else {
                        snprintf(errbuf, errlen, "option --%s needs a value", o->name);
                        return -EINVAL;
                }
                r = set_value(cfg, o, value, "command line", errbuf, errlen);
                if (r < 0)
                        return r;
        }
        if (i < argc && !ret_argi) {
                snprintf(errbuf, errlen, "unexpected argument %.100s (see --help)", argv[i]);
                return -EINVAL;
        }
        r = check_required(spec, cfg, errbuf, errlen);
        if (r == 0 && spec->check)
                r = spec->check(cfg, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_argi)
                *ret_argi = i;
        if (check) {
                print_config(spec, cfg);
                printf("configuration ok\n");
                return OA_CFG_LOAD_EXIT;
        }
        return OA_CFG_LOAD_RUN;
}

void oa_cfg_free(const oa_cfg_spec *spec, void *cfg) {
        if (!cfg)
                return;
        for (size_t i = 0; i < spec->n_opts; i++)
                if (spec->opts[i].type == OA_CFG_STRING) {
                        char **s = field(cfg, &spec->opts[i]);
                        free(*s);
                        *s = NULL;
                }
}

int oa_cfg_check_log_level(const char *level, char *errbuf, size_t errlen) {
        oa_log_level l;

        if (oa_log_level_parse(level, &l) < 0) {
                snprintf(errbuf, errlen, "OA_LOG_LEVEL: '%.40s' is not a level; expected debug, info, "
                         "warn or error", level ? level : "");
                return -EINVAL;
        }
        return 0;
}

int oa_cfg_check_listen(const char *var, const char *addr, struct sockaddr_storage *ret_ss,
                        char *errbuf, size_t errlen) {
        struct sockaddr_storage ss;
        socklen_t sl;

        if (!addr || oa_http_addr_parse(addr, &ss, &sl) < 0) {
                snprintf(errbuf, errlen, "%s: '%.80s' is not a numeric host:port (127.0.0.1:8080, "
                         "[::1]:8080, :8080)", var, addr ? addr : "");
                return -EINVAL;
        }
        if (ret_ss)
                *ret_ss = ss;
        return 0;
}

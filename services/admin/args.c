/* The command lines of the accounts commands (docs/accounts.md, "oa-admin"): one usage
 * row per command and one parser that turns argv into a checked oa_admin_req. Everything
 * the user typed is validated here, before any broker is contacted, so a usage error is
 * exit 2 and never a half-done write. */
#include "admin.h"

#include "oa/key.h"

#include <errno.h>
#include <string.h>

#define F_ACC OA_ADMIN_F_ACCOUNT
#define F_NAME OA_ADMIN_F_NAME
#define F_PLAN OA_ADMIN_F_PLAN
#define F_LIMIT OA_ADMIN_F_LIMIT
#define F_DOM OA_ADMIN_F_DOMAIN
#define F_TZ OA_ADMIN_F_TIMEZONE
#define F_SCOPES OA_ADMIN_F_SCOPES
#define F_PROJ OA_ADMIN_F_PROJECTS
#define F_JSON OA_ADMIN_F_JSON

static const oa_admin_usage usages[] = {
        { .group = "init",
          .allowed = F_PLAN | F_LIMIT | F_DOM | F_TZ | F_JSON,
          .synopsis = "[--plan P] [--limit N] [--domain D] [--timezone TZ] [--json]",
          .help = "first account (business), a demo project, an owner key with every scope" },
        { .group = "account", .name = "create",
          .allowed = F_NAME | F_PLAN | F_LIMIT | F_JSON, .required = F_NAME | F_PLAN,
          .synopsis = "--name N --plan P [--limit N] [--json]",
          .help = "create an account on a plan (free, pro, business; enterprise with --limit)" },
        { .group = "account", .name = "list",
          .allowed = F_JSON,
          .synopsis = "[--json]",
          .help = "list the accounts" },
        { .group = "account", .name = "set-plan", .id_arg = "ACCOUNT_ID",
          .allowed = F_PLAN | F_LIMIT | F_JSON, .required = F_PLAN,
          .synopsis = "ACCOUNT_ID --plan P [--limit N] [--json]",
          .help = "change an account's plan" },
        { .group = "project", .name = "create",
          .allowed = F_ACC | F_NAME | F_DOM | F_TZ | F_JSON, .required = F_ACC | F_NAME | F_DOM,
          .synopsis = "--account A --name N --domain D [--timezone TZ] [--json]",
          .help = "create a project (several domains: repeat --domain, or separate with ',')" },
        { .group = "project", .name = "list",
          .allowed = F_ACC | F_JSON,
          .synopsis = "[--account A] [--json]",
          .help = "list the projects (of one account)" },
        { .group = "project", .name = "update", .id_arg = "PROJECT_ID",
          .allowed = F_NAME | F_DOM | F_TZ | F_JSON, .one_of = F_NAME | F_DOM | F_TZ,
          .synopsis = "PROJECT_ID [--name N] [--domain D] [--timezone TZ] [--json]",
          .help = "rename a project, replace its domains, change its timezone" },
        { .group = "project", .name = "delete", .id_arg = "PROJECT_ID",
          .allowed = F_JSON,
          .synopsis = "PROJECT_ID [--json]",
          .help = "delete a project" },
        { .group = "key", .name = "create",
          .allowed = F_ACC | F_NAME | F_SCOPES | F_PROJ | F_JSON, .required = F_ACC | F_NAME | F_SCOPES,
          .synopsis = "--account A --name N --scopes s1,s2 [--projects p1,p2] [--json]",
          .help = "create an API key (its secret is printed once)" },
        { .group = "key", .name = "list",
          .allowed = F_ACC | F_JSON, .required = F_ACC,
          .synopsis = "--account A [--json]",
          .help = "list an account's API keys (never their secrets)" },
        { .group = "key", .name = "revoke", .id_arg = "KEY_ID",
          .allowed = F_JSON,
          .synopsis = "KEY_ID [--json]",
          .help = "revoke an API key, in every daemon within a second" },
};

#define N_USAGES (sizeof(usages) / sizeof(usages[0]))

static const struct flag {
        const char *name;
        unsigned bit;
        bool value;             /* takes a value */
        bool repeat;            /* may be given more than once */
} flags[] = {
        { "account", F_ACC, true, false },
        { "name", F_NAME, true, false },
        { "plan", F_PLAN, true, false },
        { "limit", F_LIMIT, true, false },
        { "domain", F_DOM, true, true },
        { "timezone", F_TZ, true, false },
        { "scopes", F_SCOPES, true, false },
        { "projects", F_PROJ, true, true },
        { "json", F_JSON, false, false },
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))
#define MAX_REPEAT 64

const oa_admin_usage *oa_admin_usages(size_t *ret_n) {
        *ret_n = N_USAGES;
        return usages;
}

const oa_admin_usage *oa_admin_usage_find(const char *group, const char *name) {
        for (size_t i = 0; i < N_USAGES; i++) {
                const oa_admin_usage *u = &usages[i];

                if (strcmp(u->group, group) != 0)
                        continue;
                if ((!u->name && !name) || (u->name && name && strcmp(u->name, name) == 0))
                        return u;
        }
        return NULL;
}

void oa_admin_usage_print(FILE *f, const oa_admin_usage *u) {
        fprintf(f, "usage: oa-admin %s%s%s %s\n", u->group, u->name ? " " : "", u->name ? u->name : "",
                u->synopsis);
}

void oa_admin_req_done(oa_admin_req *q) {
        if (!q)
                return;
        oa_admin_strv_free(q->domains, q->n_domains);
        oa_admin_strv_free(q->project_ids, q->n_project_ids);
        *q = (oa_admin_req) { 0 };
}

/* The values given as text, before validation. */
struct raw {
        const char *plan, *limit, *scopes;
        const char *domains[MAX_REPEAT];
        size_t n_domains;
        const char *projects[MAX_REPEAT];
        size_t n_projects;
};

static const struct flag *flag_find(const char *name, size_t len) {
        for (size_t i = 0; i < N_FLAGS; i++)
                if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0)
                        return &flags[i];
        return NULL;
}

/* Store the value of one flag. Returns 0 or -EINVAL. */
static int set_value(const struct flag *f, const char *v, oa_admin_req *q, struct raw *raw,
                     char *errbuf, size_t errlen) {
        switch (f->bit) {
        case F_ACC:
                q->account_id = v;
                break;
        case F_NAME:
                q->name = v;
                break;
        case F_PLAN:
                raw->plan = v;
                break;
        case F_LIMIT:
                raw->limit = v;
                break;
        case F_TZ:
                q->timezone = v;
                break;
        case F_SCOPES:
                raw->scopes = v;
                break;
        case F_DOM:
        case F_PROJ: {
                const char **slot = f->bit == F_DOM ? raw->domains : raw->projects;
                size_t *n = f->bit == F_DOM ? &raw->n_domains : &raw->n_projects;

                if (*n == MAX_REPEAT) {
                        snprintf(errbuf, errlen, "--%s given more than %d times", f->name, MAX_REPEAT);
                        return -EINVAL;
                }
                slot[(*n)++] = v;
                break;
        }
        default:
                break;
        }
        return 0;
}

/* Check and convert the values once every flag is known. */
static int validate(const oa_admin_usage *u, const struct raw *raw, const char *zoneinfo_dir,
                    oa_admin_req *q, char *errbuf, size_t errlen) {
        char shown[300], why[300];
        long long limit;
        int r;

        if ((q->given & F_NAME) && oa_entity_name_check(q->name, strlen(q->name), why, sizeof(why)) < 0) {
                snprintf(errbuf, errlen, "--name: %s", why);
                return -EINVAL;
        }
        if (q->given & F_PLAN) {
                if (oa_entity_plan_parse(raw->plan, &q->plan) < 0 || q->plan == OA__PLAN__PLAN_UNSPECIFIED) {
                        snprintf(errbuf, errlen, "--plan: unknown plan '%s'; one of free, pro, business, enterprise",
                                 oa_admin_printable(raw->plan, shown, sizeof(shown)));
                        return -EINVAL;
                }
        } else if (q->given & F_LIMIT) {
                snprintf(errbuf, errlen, "--limit goes with --plan enterprise");
                return -EINVAL;
        }
        if ((q->given & F_PLAN) && q->plan == OA__PLAN__PLAN_ENTERPRISE) {
                if (!(q->given & F_LIMIT)) {
                        snprintf(errbuf, errlen, "--plan enterprise needs --limit N (requests per minute "
                                 "per key, 1 to %d)", OA_ADMIN_LIMIT_MAX);
                        return -EINVAL;
                }
                if (oa_cfg_parse_ll(raw->limit, 1, OA_ADMIN_LIMIT_MAX, &limit) < 0) {
                        snprintf(errbuf, errlen, "--limit: '%s' is not a number from 1 to %d",
                                 oa_admin_printable(raw->limit, shown, sizeof(shown)), OA_ADMIN_LIMIT_MAX);
                        return -EINVAL;
                }
                q->limit = (uint32_t) limit;
        } else if (q->given & F_LIMIT) {
                snprintf(errbuf, errlen, "--limit is only for --plan enterprise (plan %s has a fixed "
                         "limit)", oa_admin_plan_name(q->plan));
                return -EINVAL;
        }
        if (q->given & F_DOM) {
                r = oa_admin_list_split("--domain", raw->domains, raw->n_domains, OA_ADMIN_DOMAINS_MAX,
                                        true, &q->domains, &q->n_domains, errbuf, errlen);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < q->n_domains; i++) {
                        char *d = q->domains[i], norm[OA_ENTITY_DOMAIN_MAX + 1];

                        if (oa_entity_domain_normalize(d, strlen(d), norm, why, sizeof(why)) < 0) {
                                snprintf(errbuf, errlen, "--domain: '%s' %s",
                                         oa_admin_printable(d, shown, sizeof(shown)), why);
                                return -EINVAL;
                        }
                }
        }
        if ((q->given & F_TZ) &&
            oa_entity_timezone_check(zoneinfo_dir, q->timezone, strlen(q->timezone), why, sizeof(why)) < 0) {
                /* the message quotes the name: show it escaped */
                snprintf(errbuf, errlen, "--timezone: unknown time zone '%s'; give an IANA name such "
                         "as Europe/Berlin, America/New_York or UTC",
                         oa_admin_printable(q->timezone, shown, sizeof(shown)));
                return -EINVAL;
        }
        if (q->given & F_SCOPES) {
                if (oa_scope_parse(raw->scopes, &q->scopes, why, sizeof(why)) < 0) {
                        for (char *c = why; *c; c++)    /* it quotes the user's text */
                                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                        *c = '?';
                        snprintf(errbuf, errlen, "--scopes: %s; known: events:write, stats:read, "
                                 "projects:read, projects:write, keys:write, privacy:read, privacy:write "
                                 "(or all)", why);
                        return -EINVAL;
                }
        }
        if (q->given & F_PROJ) {
                r = oa_admin_list_split("--projects", raw->projects, raw->n_projects, OA_ADMIN_PROJECTS_MAX,
                                        false, &q->project_ids, &q->n_project_ids, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        if (u->one_of && !(q->given & u->one_of)) {
                snprintf(errbuf, errlen, "nothing to change: give --name, --domain or --timezone");
                return -EINVAL;
        }
        return 0;
}

int oa_admin_req_parse(const oa_admin_usage *u, int argc, char **argv, const char *zoneinfo_dir,
                       oa_admin_req *ret, char *errbuf, size_t errlen) {
        struct raw raw = { 0 };
        bool flags_done = false;
        char shown[300];

        *ret = (oa_admin_req) { 0 };
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i], *eq, *v;
                const struct flag *f;
                size_t len;

                if (!flags_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
                        ret->help = true;
                        return 0;
                }
                if (!flags_done && strcmp(a, "--") == 0) {
                        flags_done = true;
                        continue;
                }
                if (flags_done || a[0] != '-' || a[1] == '\0') {
                        if (!u->id_arg || ret->id) {
                                snprintf(errbuf, errlen, "unexpected argument '%s'",
                                         oa_admin_printable(a, shown, sizeof(shown)));
                                return -EINVAL;
                        }
                        ret->id = a;
                        continue;
                }
                if (a[1] != '-') {
                        snprintf(errbuf, errlen, "unknown option '%s'", oa_admin_printable(a, shown, sizeof(shown)));
                        return -EINVAL;
                }
                eq = strchr(a + 2, '=');
                len = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
                f = flag_find(a + 2, len);
                if (!f || !(u->allowed & f->bit)) {
                        char nm[80];

                        snprintf(nm, sizeof(nm), "%.*s", (int) (len < 70 ? len : 70), a + 2);
                        snprintf(errbuf, errlen, "unknown option '--%s'", oa_admin_printable(nm, shown, sizeof(shown)));
                        return -EINVAL;
                }
                if ((ret->given & f->bit) && !f->repeat) {
                        snprintf(errbuf, errlen, "--%s given twice", f->name);
                        return -EINVAL;
                }
                ret->given |= f->bit;
                if (!f->value) {
                        if (eq) {
                                snprintf(errbuf, errlen, "--%s takes no value", f->name);
                                return -EINVAL;
                        }
                        if (f->bit == F_JSON)
                                ret->json = true;
                        continue;
                }
                if (eq) {
                        v = eq + 1;
                } else if (i + 1 < argc) {
                        v = argv[++i];
                } else {
                        snprintf(errbuf, errlen, "--%s needs a value", f->name);
                        return -EINVAL;
                }
                if (set_value(f, v, ret, &raw, errbuf, errlen) < 0)
                        return -EINVAL;
        }
        for (size_t i = 0; i < N_FLAGS; i++)
                if ((u->required & flags[i].bit) && !(ret->given & flags[i].bit)) {
                        snprintf(errbuf, errlen, "missing --%s", flags[i].name);
                        return -EINVAL;
                }
        if (u->id_arg && !ret->id) {
                snprintf(errbuf, errlen, "missing %s", u->id_arg);
                return -EINVAL;
        }
        return validate(u, &raw, zoneinfo_dir, ret, errbuf, errlen);
}

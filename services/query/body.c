/* Request bodies of the management routes. Each is one flat JSON object whose values are
 * strings or arrays of strings, so the parser is yajl's event API with a fixed shape:
 * anything else (a number where a string belongs, a nested object, an unknown or
 * repeated field, a value after the object) is refused with a message naming the field.
 * No recursion and no tree: nesting deeper than an array in an object is an error the
 * moment it starts, so a hostile body costs at most its own length. Pure: no I/O except
 * the time zone check. */
#include "query.h"

#include "oa/key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define MAX_FIELDS 8
#define MAX_ITEMS 100           /* strings in one array */
#define MAX_STRING 1024         /* bytes in one string, decoded */

typedef enum { T_STRING, T_STRINGS } field_type;

typedef struct field_spec {
        const char *name;
        field_type type;
} field_spec;

typedef struct field {
        const field_spec *spec;
        char **items;           /* NUL-terminated copies (validated later: may hold a NUL) */
        size_t *lens;
        size_t n;
} field;

typedef struct parser {
        const field_spec *specs;
        size_t n_specs;
        field fields[MAX_FIELDS];
        size_t n_fields;
        field *cur;             /* the field whose value comes next, or is an array */
        int depth;              /* 0 outside, 1 in the object, 2 in an array */
        bool done;              /* the object closed */
        char *err;
        size_t errlen;
} parser;

static void parser_done(parser *p) {
        for (size_t i = 0; i < p->n_fields; i++) {
                for (size_t k = 0; k < p->fields[i].n; k++)
                        free(p->fields[i].items[k]);
                free(p->fields[i].items);
                free(p->fields[i].lens);
        }
}

static int fail(parser *p, const char *fmt, const char *name) {
        snprintf(p->err, p->errlen, fmt, name);
        return 0;               /* yajl: stop */
}

static const char *type_text(field_type t) {
        return t == T_STRING ? "%s: expected a string" : "%s: expected an array of strings";
}

/* A value that is neither a string nor the start of an array. */
static int bad_value(parser *p) {
        if (p->depth == 0)
                return fail(p, "%s: expected a JSON object", "body");
        if (p->depth == 2)
                return fail(p, "%s: expected an array of strings", p->cur->spec->name);
        return fail(p, type_text(p->cur->spec->type), p->cur->spec->name);
}

static int on_null(void *ctx) {
        return bad_value(ctx);
}

static int on_bool(void *ctx, int v) {
        return bad_value(ctx);
}

static int on_number(void *ctx, const char *s, size_t len) {
        return bad_value(ctx);
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
        parser *p = ctx;
        field *f = p->cur;
        char **items;
        size_t *lens;

        if (p->depth == 0 || (p->depth == 1 && f->spec->type != T_STRING))
                return bad_value(p);
        if (len > MAX_STRING)
                return fail(p, "%s: too long", f->spec->name);
        if (f->n == MAX_ITEMS) {
                snprintf(p->err, p->errlen, "%s: at most %d items", f->spec->name, MAX_ITEMS);
                return 0;
        }
        items = realloc(f->items, (f->n + 1) * sizeof(*items));
        if (!items)
                return fail(p, "%s: out of memory", "body");
        f->items = items;
        lens = realloc(f->lens, (f->n + 1) * sizeof(*lens));
        if (!lens)
                return fail(p, "%s: out of memory", "body");
        f->lens = lens;
        f->items[f->n] = malloc(len + 1);
        if (!f->items[f->n])
                return fail(p, "%s: out of memory", "body");
        memcpy(f->items[f->n], s, len);
        f->items[f->n][len] = '\0';
        f->lens[f->n++] = len;
        return 1;
}

static int on_start_map(void *ctx) {
        parser *p = ctx;

        if (p->depth != 0 || p->done)
                return bad_value(p);
        p->depth = 1;
        return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
        parser *p = ctx;
        char shown[40];

        for (size_t i = 0; i < p->n_specs; i++) {
                if (strlen(p->specs[i].name) != len || memcmp(p->specs[i].name, key, len) != 0)
                        continue;
                for (size_t k = 0; k < p->n_fields; k++)
                        if (p->fields[k].spec == &p->specs[i])
                                return fail(p, "%s: given more than once", p->specs[i].name);
                p->cur = &p->fields[p->n_fields++];
                p->cur->spec = &p->specs[i];
                return 1;
        }
        /* Show a bounded, printable version of what was sent. */
        snprintf(shown, sizeof(shown), "%.*s%s", (int) (len > 32 ? 32 : len), (const char *) key,
                 len > 32 ? "..." : "");
        for (char *c = shown; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return fail(p, "%s: unknown field", shown);
}

static int on_end_map(void *ctx) {
        parser *p = ctx;

        p->depth = 0;
        p->done = true;
        return 1;
}

static int on_start_array(void *ctx) {
        parser *p = ctx;

        if (p->depth != 1 || p->cur->spec->type != T_STRINGS)
                return bad_value(p);
        p->depth = 2;
        return 1;
}

static int on_end_array(void *ctx) {
        parser *p = ctx;

        p->depth = 1;
        return 1;
}

static const yajl_callbacks callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_bool,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end_map,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end_array,
};

/* Parse body into p (specs set). Returns 0 or -EINVAL with p->err set. */
static int parse(parser *p, const char *body, size_t len) {
        yajl_handle h;
        yajl_status st;
        int r = 0;

        if (len == 0) {
                snprintf(p->err, p->errlen, "body: expected a JSON object");
                return -EINVAL;
        }
        h = yajl_alloc(&callbacks, NULL, p);
        if (!h) {
                snprintf(p->err, p->errlen, "body: out of memory");
                return -ENOMEM;
        }
        p->err[0] = '\0';
        st = yajl_parse(h, (const unsigned char *) body, len);
        if (st == yajl_status_ok)
                st = yajl_complete_parse(h);
        if (st != yajl_status_ok) {
                if (st == yajl_status_error || !p->err[0]) {
                        unsigned char *e = yajl_get_error(h, 0, NULL, 0);
                        char why[128];
                        size_t wl;

                        snprintf(why, sizeof(why), "%s", e ? (const char *) e : "?");
                        wl = strlen(why);
                        while (wl > 0 && (why[wl - 1] == '\n' || why[wl - 1] == ' '))
                                why[--wl] = '\0';      /* yajl ends its text with a newline */
                        snprintf(p->err, p->errlen, "body: malformed JSON (%s)", why);
                        if (e)
                                yajl_free_error(h, e);
                }
                r = -EINVAL;
        } else if (!p->done) {
                snprintf(p->err, p->errlen, "body: expected a JSON object");
                r = -EINVAL;
        }
        yajl_free(h);
        return r;
}

static const field *find(const parser *p, const char *name) {
        for (size_t i = 0; i < p->n_fields; i++)
                if (strcmp(p->fields[i].spec->name, name) == 0)
                        return &p->fields[i];
        return NULL;
}

/* Copy a checked name into out. */
static int take_name(const field *f, char *out, char *err, size_t errlen) {
        char why[120];

        if (oa_entity_name_check(f->items[0], f->lens[0], why, sizeof(why)) < 0) {
                snprintf(err, errlen, "%s: %s", f->spec->name, why);
                return -EINVAL;
        }
        memcpy(out, f->items[0], f->lens[0] + 1);
        return 0;
}

static const field_spec project_fields[] = {
        { "name", T_STRING },
        { "domains", T_STRINGS },
        { "domain", T_STRING },
        { "timezone", T_STRING },
};

int oa_query_parse_project(const char *body, size_t len, bool create, const char *tzdir,
                           oa_query_project_in *ret, char *errbuf, size_t errlen) {
        parser p = { .specs = project_fields, .n_specs = 4, .err = errbuf, .errlen = errlen };
        const field *name, *domains, *domain, *tz;
        char why[200];
        int r;

        memset(ret, 0, sizeof(*ret));
        r = parse(&p, body, len);
        if (r < 0)
                goto out;
        r = -EINVAL;
        name = find(&p, "name");
        domains = find(&p, "domains");
        domain = find(&p, "domain");
        tz = find(&p, "timezone");
        if (domains && domain) {
                snprintf(errbuf, errlen, "domain: give either domain or domains, not both");
                goto out;
        }
        if (domain)
                domains = domain;
        if (create && !name) {
                snprintf(errbuf, errlen, "name: required");
                goto out;
        }
        if (create && !domains) {
                snprintf(errbuf, errlen, "domains: required (a list of host names such as [\"shop.example.com\"])");
                goto out;
        }
        if (!name && !domains && !tz) {
                snprintf(errbuf, errlen, "body: give at least one of name, domains, timezone");
                goto out;
        }
        if (name) {
                if (take_name(name, ret->name, errbuf, errlen) < 0)
                        goto out;
                ret->has_name = true;
        }
        if (domains) {
                if (domains->n == 0) {
                        snprintf(errbuf, errlen, "domains: at least one domain is required");
                        goto out;
                }
                for (size_t i = 0; i < domains->n; i++) {
                        char d[OA_ENTITY_DOMAIN_MAX + 1];
                        bool dup = false;

                        if (oa_entity_domain_normalize(domains->items[i], domains->lens[i], d, why,
                                                       sizeof(why)) < 0) {
                                snprintf(errbuf, errlen, "%s: %s", domains->spec->name, why);
                                goto out;
                        }
                        for (size_t k = 0; k < ret->n_domains && !dup; k++)
                                dup = strcmp(ret->domains[k], d) == 0;
                        if (dup)
                                continue;
                        if (ret->n_domains == OA_QUERY_MAX_DOMAINS) {
                                snprintf(errbuf, errlen, "domains: at most %d domains", OA_QUERY_MAX_DOMAINS);
                                goto out;
                        }
                        memcpy(ret->domains[ret->n_domains++], d, strlen(d) + 1);
                }
                ret->has_domains = true;
        }
        if (tz) {
                if (oa_entity_timezone_check(tzdir, tz->items[0], tz->lens[0], why, sizeof(why)) < 0) {
                        snprintf(errbuf, errlen, "timezone: %s", why);
                        goto out;
                }
                memcpy(ret->timezone, tz->items[0], tz->lens[0] + 1);
                ret->has_timezone = true;
        } else if (create) {
                strcpy(ret->timezone, "UTC");
                ret->has_timezone = true;
        }
        r = 0;
out:
        parser_done(&p);
        return r;
}

static const field_spec key_fields[] = {
        { "name", T_STRING },
        { "scopes", T_STRINGS },
        { "project_ids", T_STRINGS },
};

int oa_query_parse_key(const char *body, size_t len, oa_query_key_in *ret, char *errbuf,
                       size_t errlen) {
        parser p = { .specs = key_fields, .n_specs = 3, .err = errbuf, .errlen = errlen };
        const field *name, *scopes, *projects;
        int r;

        memset(ret, 0, sizeof(*ret));
        r = parse(&p, body, len);
        if (r < 0)
                goto out;
        r = -EINVAL;
        name = find(&p, "name");
        scopes = find(&p, "scopes");
        projects = find(&p, "project_ids");
        if (!name) {
                snprintf(errbuf, errlen, "name: required");
                goto out;
        }
        if (take_name(name, ret->name, errbuf, errlen) < 0)
                goto out;
        if (!scopes || scopes->n == 0) {
                snprintf(errbuf, errlen, "scopes: at least one scope is required");
                goto out;
        }
        for (size_t i = 0; i < scopes->n; i++) {
                unsigned bit = 0;

                for (unsigned b = 1; b <= OA_SCOPE_ALL && !bit; b <<= 1) {
                        const char *n = oa_scope_name(b);

                        if (n && strlen(n) == scopes->lens[i] && memcmp(n, scopes->items[i], scopes->lens[i]) == 0)
                                bit = b;
                }
                if (!bit) {
                        snprintf(errbuf, errlen, "scopes: unknown scope '%.40s' (known: events:write, "
                                 "stats:read, projects:read, projects:write, keys:write, privacy:read, "
                                 "privacy:write)", scopes->items[i]);
                        goto out;
                }
                ret->scopes |= bit;
        }
        for (size_t i = 0; projects && i < projects->n; i++) {
                bool dup = false;

                if (!oa_entity_id_ok(OA_ENTITY_PROJECT, projects->items[i], projects->lens[i])) {
                        snprintf(errbuf, errlen, "project_ids: not a project id (prj_ and 16 letters or digits)");
                        goto out;
                }
                for (size_t k = 0; k < ret->n_project_ids && !dup; k++)
                        dup = strcmp(ret->project_ids[k], projects->items[i]) == 0;
                if (!dup)
                        memcpy(ret->project_ids[ret->n_project_ids++], projects->items[i], projects->lens[i] + 1);
        }
        r = 0;
out:
        parser_done(&p);
        return r;
}

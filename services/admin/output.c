/* What oa-admin prints: accounts, projects and keys as JSON (--json: one JSON value per
 * command, each entity exactly as oa-query shows it, oa/entity.h) or as text for people
 * (aligned "field value" lines for one entity, a table for a list). Text cells have
 * control characters replaced, so a record written by someone else cannot drive the
 * terminal. */
#include "admin.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX (64u << 20)     /* what one command prints, at most */

/* An oa_buf with a sticky error: the first failure is kept, later appends are skipped. */
typedef struct out {
        oa_buf *b;
        int err;
} out;

static void put(out *o, const char *s) {
        if (!o->err)
                o->err = oa_buf_adds(o->b, s);
}

static void putf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out *o, const char *fmt, ...) {
        va_list ap;

        if (o->err)
                return;
        va_start(ap, fmt);
        o->err = oa_buf_vaddf(o->b, fmt, ap);
        va_end(ap);
}

const char *oa_admin_time_iso(int64_t ms, char *buf) {
        if (ms <= 0 || oa_entity_time_format(ms, buf) < 0)
                buf[0] = '\0';
        return buf;
}

const char *oa_admin_plan_name(Oa__Plan plan) {
        const char *name = oa_entity_plan_name(plan);

        return name ? name : "unspecified";
}

int oa_admin_json_account(oa_buf *b, const Oa__Account *a) {
        return oa_entity_account_json(b, a);
}

int oa_admin_json_project(oa_buf *b, const Oa__Project *p) {
        return oa_entity_project_json(b, p);
}

int oa_admin_json_key(oa_buf *b, const Oa__ApiKey *k, const char *secret) {
        int r = oa_entity_key_json(b, k);

        if (r < 0 || !secret)
                return r;
        /* the object ends with '}': reopen it for the one field only a creator sees */
        if (b->len == 0 || b->data[b->len - 1] != '}')
                return -EINVAL;
        b->data[--b->len] = '\0';
        r = oa_buf_adds(b, ",\"key\":\"");
        if (r == 0)
                r = oa_buf_add_json_str(b, secret, strlen(secret));
        if (r == 0)
                r = oa_buf_adds(b, "\"}");
        return r;
}

/* A list is "[\n  item,\n  item\n]": one entity per line, so a long list still reads. */
static int array_sep(oa_buf *b, size_t i) {
        return oa_buf_adds(b, i ? ",\n  " : "[\n  ");
}

static int array_end(oa_buf *b, size_t n) {
        return oa_buf_adds(b, n ? "\n]" : "[]");
}

int oa_admin_json_accounts(oa_buf *b, const Oa__Account *const *v, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = array_sep(b, i)) == 0)
                        r = oa_admin_json_account(b, v[i]);
        return r ? r : array_end(b, n);
}

int oa_admin_json_projects(oa_buf *b, const Oa__Project *const *v, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = array_sep(b, i)) == 0)
                        r = oa_admin_json_project(b, v[i]);
        return r ? r : array_end(b, n);
}

int oa_admin_json_keys(oa_buf *b, const Oa__ApiKey *const *v, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n && r == 0; i++)
                if ((r = array_sep(b, i)) == 0)
                        r = oa_admin_json_key(b, v[i], NULL);
        return r ? r : array_end(b, n);
}

/* ---- text ----------------------------------------------------------------------------- */

/* s with control characters (C0 and DEL) replaced by '?'; owned by the caller. */
static char *cell_dup(const char *s) {
        char *c = strdup(s ? s : "");

        for (char *p = c; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return c;
}

/* Width on a terminal, near enough: UTF-8 characters, not bytes. */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

static char *join(char *const *v, size_t n, const char *none) {
        oa_buf b;

        oa_buf_init(&b, 1 << 20);
        if (n == 0)
                oa_buf_adds(&b, none);
        for (size_t i = 0; i < n; i++)
                oa_buf_addf(&b, "%s%s", i ? "," : "", v[i]);
        if (!b.data)
                return strdup("");
        return oa_buf_steal(&b, NULL);
}

/* One "label value" line of a detail view; value is made safe to show. */
static void field(out *o, const char *indent, const char *label, const char *value) {
        char *c = cell_dup(value);

        if (!c) {
                o->err = o->err ? o->err : -ENOMEM;
                return;
        }
        putf(o, "%s%-12s%s\n", indent, label, c);
        free(c);
}

int oa_admin_text_account(oa_buf *b, const char *indent, const Oa__Account *a) {
        char t[OA_ENTITY_TIME_MAX], lim[64];
        out o = { b, 0 };

        snprintf(lim, sizeof(lim), "%lld requests/minute/key", oa_catalog_plan_limit(a));
        field(&o, indent, "id", a->id);
        field(&o, indent, "name", a->name);
        field(&o, indent, "plan", oa_admin_plan_name(a->plan));
        field(&o, indent, "limit", lim);
        field(&o, indent, "created_at", oa_admin_time_iso(a->created_ms, t));
        return o.err;
}

int oa_admin_text_project(oa_buf *b, const char *indent, const Oa__Project *p) {
        char t[OA_ENTITY_TIME_MAX], *domains = join(p->domains, p->n_domains, "-");
        out o = { b, domains ? 0 : -ENOMEM };

        field(&o, indent, "id", p->id);
        field(&o, indent, "account_id", p->account_id);
        field(&o, indent, "site_id", p->site_id);
        field(&o, indent, "name", p->name);
        field(&o, indent, "domains", domains);
        field(&o, indent, "timezone", p->timezone && *p->timezone ? p->timezone : "UTC");
        field(&o, indent, "created_at", oa_admin_time_iso(p->created_ms, t));
        free(domains);
        return o.err;
}

int oa_admin_text_key(oa_buf *b, const char *indent, const Oa__ApiKey *k, const char *secret) {
        char t[OA_ENTITY_TIME_MAX], rev[64];
        char *scopes = join(k->scopes, k->n_scopes, "-");
        char *projects = join(k->project_ids, k->n_project_ids, "all of the account's");
        out o = { b, scopes && projects ? 0 : -ENOMEM };

        if (k->revoked)
                snprintf(rev, sizeof(rev), "yes, %s", oa_admin_time_iso(k->revoked_ms, t));
        field(&o, indent, "id", k->id);
        field(&o, indent, "account_id", k->account_id);
        field(&o, indent, "name", k->name);
        field(&o, indent, "scopes", scopes);
        field(&o, indent, "projects", projects);
        field(&o, indent, "hint", k->hint);
        field(&o, indent, "created_at", oa_admin_time_iso(k->created_ms, t));
        field(&o, indent, "revoked", k->revoked ? rev : "no");
        if (secret)
                field(&o, indent, "key", secret);
        free(scopes);
        free(projects);
        return o.err;
}

/* A table under construction: ncol cells per row, row 0 the header. */
typedef struct table {
        size_t ncol, n, cap;
        char **cells;
        int err;
} table;

static void cell(table *t, const char *s) {
        char *c;

        if (t->err)
                return;
        if (t->n == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 64;
                char **nc = realloc(t->cells, cap * sizeof(*nc));

                if (!nc) {
                        t->err = -ENOMEM;
                        return;
                }
                t->cells = nc;
                t->cap = cap;
        }
        c = cell_dup(s);
        if (!c) {
                t->err = -ENOMEM;
                return;
        }
        t->cells[t->n++] = c;
}

/* Pad every column but the last to its widest cell, two spaces apart; free the table. */
static int table_emit(oa_buf *b, table *t) {
        size_t width[16] = { 0 };
        out o = { b, t->err };

        for (size_t i = 0; i < t->n; i++) {
                size_t w = text_width(t->cells[i]);

                if (w > width[i % t->ncol])
                        width[i % t->ncol] = w;
        }
        for (size_t i = 0; i < t->n && !o.err; i++) {
                size_t col = i % t->ncol;

                put(&o, t->cells[i]);
                if (col + 1 == t->ncol) {
                        put(&o, "\n");
                } else {
                        for (size_t pad = text_width(t->cells[i]); pad < width[col] + 2; pad++)
                                put(&o, " ");
                }
        }
        for (size_t i = 0; i < t->n; i++)
                free(t->cells[i]);
        free(t->cells);
        return o.err;
}

int oa_admin_table_accounts(oa_buf *b, const Oa__Account *const *v, size_t n) {
        table t = { .ncol = 5 };
        char tm[OA_ENTITY_TIME_MAX], lim[32];

        cell(&t, "ID"), cell(&t, "NAME"), cell(&t, "PLAN"), cell(&t, "LIMIT"), cell(&t, "CREATED");
        for (size_t i = 0; i < n; i++) {
                snprintf(lim, sizeof(lim), "%lld", oa_catalog_plan_limit(v[i]));
                cell(&t, v[i]->id);
                cell(&t, v[i]->name);
                cell(&t, oa_admin_plan_name(v[i]->plan));
                cell(&t, lim);
                cell(&t, oa_admin_time_iso(v[i]->created_ms, tm));
        }
        return table_emit(b, &t);
}

int oa_admin_table_projects(oa_buf *b, const Oa__Project *const *v, size_t n) {
        table t = { .ncol = 7 };
        char tm[OA_ENTITY_TIME_MAX];

        cell(&t, "ID"), cell(&t, "ACCOUNT"), cell(&t, "NAME"), cell(&t, "SITE_ID");
        cell(&t, "TIMEZONE"), cell(&t, "CREATED"), cell(&t, "DOMAINS");
        for (size_t i = 0; i < n; i++) {
                char *domains = join(v[i]->domains, v[i]->n_domains, "-");

                cell(&t, v[i]->id);
                cell(&t, v[i]->account_id);
                cell(&t, v[i]->name);
                cell(&t, v[i]->site_id);
                cell(&t, v[i]->timezone && *v[i]->timezone ? v[i]->timezone : "UTC");
                cell(&t, oa_admin_time_iso(v[i]->created_ms, tm));
                cell(&t, domains ? domains : "?");
                free(domains);
        }
        return table_emit(b, &t);
}

int oa_admin_table_keys(oa_buf *b, const Oa__ApiKey *const *v, size_t n) {
        table t = { .ncol = 7 };
        char tm[OA_ENTITY_TIME_MAX];

        cell(&t, "ID"), cell(&t, "NAME"), cell(&t, "HINT"), cell(&t, "STATUS");
        cell(&t, "CREATED"), cell(&t, "PROJECTS"), cell(&t, "SCOPES");
        for (size_t i = 0; i < n; i++) {
                char *projects = join(v[i]->project_ids, v[i]->n_project_ids, "all");
                char *scopes = join(v[i]->scopes, v[i]->n_scopes, "-");

                cell(&t, v[i]->id);
                cell(&t, v[i]->name);
                cell(&t, v[i]->hint);
                cell(&t, v[i]->revoked ? "revoked" : "active");
                cell(&t, oa_admin_time_iso(v[i]->created_ms, tm));
                cell(&t, projects ? projects : "?");
                cell(&t, scopes ? scopes : "?");
                free(projects);
                free(scopes);
        }
        return table_emit(b, &t);
}

int oa_admin_print(const oa_buf *b) {
        if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
                return OA_ADMIN_EXIT_FAILURE;
        if (fflush(stdout) != 0 || ferror(stdout))
                return OA_ADMIN_EXIT_FAILURE;
        return OA_ADMIN_EXIT_OK;
}

int oa_admin_emit(oa_buf *b, int r, bool wipe) {
        int ret = OA_ADMIN_EXIT_FAILURE;

        if (r < 0)
                fprintf(stderr, "oa-admin: cannot format the output: %s\n", strerror(-r));
        else if ((ret = oa_admin_print(b)) != OA_ADMIN_EXIT_OK)
                fprintf(stderr, "oa-admin: cannot write the output: %s\n", strerror(errno));
        if (wipe && b->data)
                OPENSSL_cleanse(b->data, b->cap);
        oa_buf_done(b);
        return ret;
}

/* JSON and a newline, or the text view. */
static int show(const oa_admin_req *q, int (*json)(oa_buf *, const void *, const char *),
                int (*text)(oa_buf *, const void *, const char *), const void *e, const char *secret) {
        oa_buf b;
        int r;

        oa_buf_init(&b, OUT_MAX);
        r = q->json ? json(&b, e, secret) : text(&b, e, secret);
        if (r == 0 && q->json)
                r = oa_buf_adds(&b, "\n");
        return oa_admin_emit(&b, r, secret != NULL);
}

static int json_account(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_json_account(b, e);
}

static int text_account(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_text_account(b, "", e);
}

static int json_project(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_json_project(b, e);
}

static int text_project(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_text_project(b, "", e);
}

static int json_key(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_json_key(b, e, secret);
}

static int text_key(oa_buf *b, const void *e, const char *secret) {
        return oa_admin_text_key(b, "", e, secret);
}

int oa_admin_show_account(const oa_admin_req *q, const Oa__Account *a) {
        return show(q, json_account, text_account, a, NULL);
}

int oa_admin_show_project(const oa_admin_req *q, const Oa__Project *p) {
        return show(q, json_project, text_project, p, NULL);
}

int oa_admin_show_key(const oa_admin_req *q, const Oa__ApiKey *k, const char *secret) {
        return show(q, json_key, text_key, k, secret);
}

int oa_admin_show_accounts(const oa_admin_req *q, const Oa__Account *const *v, size_t n) {
        oa_buf b;
        int r;

        oa_buf_init(&b, OUT_MAX);
        r = q->json ? oa_admin_json_accounts(&b, v, n) : oa_admin_table_accounts(&b, v, n);
        if (r == 0 && q->json)
                r = oa_buf_adds(&b, "\n");
        return oa_admin_emit(&b, r, false);
}

int oa_admin_show_projects(const oa_admin_req *q, const Oa__Project *const *v, size_t n) {
        oa_buf b;
        int r;

        oa_buf_init(&b, OUT_MAX);
        r = q->json ? oa_admin_json_projects(&b, v, n) : oa_admin_table_projects(&b, v, n);
        if (r == 0 && q->json)
                r = oa_buf_adds(&b, "\n");
        return oa_admin_emit(&b, r, false);
}

int oa_admin_show_keys(const oa_admin_req *q, const Oa__ApiKey *const *v, size_t n) {
        oa_buf b;
        int r;

        oa_buf_init(&b, OUT_MAX);
        r = q->json ? oa_admin_json_keys(&b, v, n) : oa_admin_table_keys(&b, v, n);
        if (r == 0 && q->json)
                r = oa_buf_adds(&b, "\n");
        return oa_admin_emit(&b, r, false);
}

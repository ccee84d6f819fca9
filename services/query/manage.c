/* The management routes: projects and API keys of the requesting key's account.
 *
 * Reads come from the catalogue. Writes build an oa.Record, publish it to oa.projects.v1
 * and answer only from the delivery report, once Kafka acknowledged it (503 when Kafka
 * refuses or times out); the answer is rendered from the record written, and this
 * daemon's own catalogue sees the record shortly after through the reader, like every
 * other daemon's. Everything a pending write needs is copied into the request's pool:
 * catalogue entries may be replaced before the report comes.
 *
 * Keys manage keys within their own rights: a key sees, creates and revokes only keys
 * whose scopes are within its own and whose projects are within its own (a key limited
 * to projects never handles a key for every project); anything else is 404 for an
 * existing key (like another account's) and 403 for a request to grant more. */
#include "query.h"

#include "oa/key.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX (64u << 20)            /* a listing this large is a bug, not an account */
#define ONE_MAX (256u << 10)

/* ---- small helpers ---- */

static char *pool_strdup(oa_query_req *rq, const char *s) {
        return h2o_strdup(&rq->req->pool, s ? s : "", SIZE_MAX).base;
}

static char **pool_strv(oa_query_req *rq, char *const *v, size_t n) {
        char **out = h2o_mem_alloc_pool(&rq->req->pool, (n ? n : 1) * sizeof(*out));

        for (size_t i = 0; i < n; i++)
                out[i] = pool_strdup(rq, v[i]);
        return out;
}

static void *pool_zalloc(oa_query_req *rq, size_t n) {
        void *p = h2o_mem_alloc_pool(&rq->req->pool, n);

        memset(p, 0, n);
        return p;
}

/* Send b (a rendered entity or list), or 500 when rendering failed. */
static void send_rendered(oa_query_req *rq, int status, oa_buf *b, int r) {
        if (r < 0 || !b->data)
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "rendering the answer failed");
        else
                oa_query_send_json(rq, status, b->data, b->len);
}

/* The request body, or an answer (413) and false. */
static bool read_body(oa_query_req *rq, h2o_iovec_t *ret) {
        char msg[96];

        if (oa_http_body(rq->req, OA_QUERY_BODY_MAX, ret) == 0)
                return true;
        snprintf(msg, sizeof(msg), "body: larger than %d bytes", OA_QUERY_BODY_MAX);
        oa_query_send_error(rq, 413, OA_HTTP_E_TOO_LARGE, msg);
        return false;
}

static void wipe_secret(oa_query_req *rq) {
        if (rq->secret) {
                OPENSSL_cleanse(rq->secret, OA_KEY_SECRET_LEN + 1);
                rq->secret = NULL;
        }
}

/* ---- writes ---- */

static void unavailable(oa_query_req *rq, const char *message) {
        wipe_secret(rq);
        rq->retry_after = 2;
        oa_query_send_error(rq, 503, OA_HTTP_E_UNAVAILABLE, message);
}

/* Queue one write for Kafka with publish(q->kprod, ud, rq); the answer follows the
 * delivery report (oa_query_on_delivery). No broker answers the health probe: say so now
 * rather than after the write timeout. On failure the request is answered 503. */
bool oa_query_publish(oa_query_req *rq, int (*publish)(oa_kprod *kp, void *ud, oa_query_req *rq),
                      void *ud) {
        oa_query *q = rq->q;
        char err[16];
        int r;

        if (q->kafka_down) {
                oa_metrics_counter_inc(q->m.enqueue_failed, 1);
                unavailable(rq, "Kafka does not answer; retry later");
                return false;
        }
        r = publish(q->kprod, ud, rq);
        if (r < 0) {
                snprintf(err, sizeof(err), "%d", r);
                oa_metrics_counter_inc(q->m.enqueue_failed, 1);
                oa_log_warn("write not queued for Kafka", "route", rq->label, "key", rq->key_id,
                            "errno", err, "error", strerror(-r));
                unavailable(rq, "Kafka cannot take writes right now; retry later");
                return false;
        }
        q->writes_in_flight++;
        oa_metrics_gauge_set(q->m.writes, (double) q->writes_in_flight);
        return true;
}

static int publish_record(oa_kprod *kp, void *ud, oa_query_req *rq) {
        return oa_projects_publish(kp, NULL, ud, rq);
}

/* Publish rec; the answer (ok_status and the record) follows the delivery report. */
static void write_record(oa_query_req *rq, Oa__Record *rec, int ok_status) {
        rq->rec = rec;
        rq->ok_status = ok_status;
        oa_query_publish(rq, publish_record, rec);
}

/* The answer to an acknowledged write, from the record written. */
static void answer_write(oa_query_req *rq) {
        const Oa__Record *rec = rq->rec;
        oa_buf b;
        int r = 0;

        if (rq->ok_status == 204) {
                oa_query_send_empty(rq, 204);
                return;
        }
        oa_buf_init(&b, ONE_MAX);
        if (rec->entity_case == OA__RECORD__ENTITY_PROJECT) {
                r = oa_entity_project_json(&b, rec->project);
        } else {
                r = oa_entity_key_json(&b, rec->api_key);
                /* POST /v1/keys: the Key plus the secret, this once. */
                if (r == 0 && rq->secret && b.len > 0) {
                        b.len--;        /* the closing brace */
                        r = oa_buf_addf(&b, ",\"key\":\"%s\"}", rq->secret);
                }
        }
        send_rendered(rq, rq->ok_status, &b, r);
        wipe_secret(rq);
        if (b.data)
                OPENSSL_cleanse(b.data, b.len);
        oa_buf_done(&b);
}

void oa_query_on_delivery(const oa_kprod_report *r, void *cb_opaque) {
        oa_query *q = cb_opaque;
        oa_query_req *rq = r->msg_opaque;
        char err[16];

        q->writes_in_flight--;
        oa_metrics_gauge_set(q->m.writes, (double) q->writes_in_flight);
        /* After the server is freed its requests are not ours to touch. */
        if (!q->answering || !rq)
                return;
        if (r->err) {
                snprintf(err, sizeof(err), "%d", r->err);
                oa_metrics_counter_inc(q->m.delivery_failed, 1);
                oa_log_warn("write not acknowledged by Kafka", "route", rq->label, "key", rq->key_id,
                            "errno", err, "error", r->errstr);
                unavailable(rq, "the write was not acknowledged by Kafka; retry later");
                return;
        }
        oa_query_kafka_answered(q);
        if (rq->on_acked)
                rq->on_acked(rq);
        else
                answer_write(rq);
}

/* ---- lists ---- */

typedef struct collect {
        const Oa__ApiKey *key;
        unsigned scopes;
        const void **items;
        size_t n, cap;
        int err;
} collect;

static int collect_add(collect *c, const void *item) {
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                const void **items = realloc(c->items, cap * sizeof(*items));

                if (!items) {
                        c->err = -ENOMEM;
                        return 1;
                }
                c->items = items;
                c->cap = cap;
        }
        c->items[c->n++] = item;
        return 0;
}

static int collect_project(const Oa__Project *p, void *ud) {
        collect *c = ud;

        return oa_catalog_key_allows_project(c->key, p) ? collect_add(c, p) : 0;
}

static int collect_key(const Oa__ApiKey *k, void *ud) {
        collect *c = ud;

        return oa_query_key_manages(c->scopes, c->key, oa_auth_key_scopes(k), k) ? collect_add(c, k) : 0;
}

/* Oldest first, then by id: a stable order for clients that page by eye. */
static int by_created_project(const void *a, const void *b) {
        const Oa__Project *x = *(const Oa__Project *const *) a, *y = *(const Oa__Project *const *) b;

        return x->created_ms != y->created_ms ? (x->created_ms < y->created_ms ? -1 : 1) : strcmp(x->id, y->id);
}

static int by_created_key(const void *a, const void *b) {
        const Oa__ApiKey *x = *(const Oa__ApiKey *const *) a, *y = *(const Oa__ApiKey *const *) b;

        return x->created_ms != y->created_ms ? (x->created_ms < y->created_ms ? -1 : 1) : strcmp(x->id, y->id);
}

void oa_query_projects_list(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        collect c = { .key = auth->key };
        oa_buf b;
        int r;

        oa_catalog_foreach_project(oa_projects_catalog(rq->q->projects), auth->key->account_id,
                                   collect_project, &c);
        oa_buf_init(&b, LIST_MAX);
        r = c.err;
        if (r == 0) {
                if (c.n)
                        qsort(c.items, c.n, sizeof(*c.items), by_created_project);
                r = oa_buf_adds(&b, "{\"projects\":[");
        }
        for (size_t i = 0; r == 0 && i < c.n; i++) {
                if (i)
                        r = oa_buf_addc(&b, ',');
                if (r == 0)
                        r = oa_entity_project_json(&b, c.items[i]);
        }
        if (r == 0)
                r = oa_buf_adds(&b, "]}");
        send_rendered(rq, 200, &b, r);
        oa_buf_done(&b);
        free(c.items);
}

void oa_query_keys_list(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        collect c = { .key = auth->key, .scopes = oa_auth_key_scopes(auth->key) };
        oa_buf b;
        int r;

        oa_catalog_foreach_key(oa_projects_catalog(rq->q->projects), auth->key->account_id,
                               collect_key, &c);
        oa_buf_init(&b, LIST_MAX);
        r = c.err;
        if (r == 0) {
                if (c.n)
                        qsort(c.items, c.n, sizeof(*c.items), by_created_key);
                r = oa_buf_adds(&b, "{\"keys\":[");
        }
        for (size_t i = 0; r == 0 && i < c.n; i++) {
                if (i)
                        r = oa_buf_addc(&b, ',');
                if (r == 0)
                        r = oa_entity_key_json(&b, c.items[i]);
        }
        if (r == 0)
                r = oa_buf_adds(&b, "]}");
        send_rendered(rq, 200, &b, r);
        oa_buf_done(&b);
        free(c.items);
}

/* ---- projects ---- */

void oa_query_project_get(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_buf b;
        int r;

        oa_buf_init(&b, ONE_MAX);
        r = oa_entity_project_json(&b, auth->project);
        send_rendered(rq, 200, &b, r);
        oa_buf_done(&b);
}

/* A Record holding a copy of p (or an empty project when p is NULL), in the pool. */
static Oa__Record *project_record(oa_query_req *rq, const Oa__Project *p) {
        Oa__Record *rec = pool_zalloc(rq, sizeof(*rec));
        Oa__Project *np = pool_zalloc(rq, sizeof(*np));

        *rec = (Oa__Record) OA__RECORD__INIT;
        *np = (Oa__Project) OA__PROJECT__INIT;
        rec->entity_case = OA__RECORD__ENTITY_PROJECT;
        rec->project = np;
        if (p) {
                np->id = pool_strdup(rq, p->id);
                np->account_id = pool_strdup(rq, p->account_id);
                np->site_id = pool_strdup(rq, p->site_id);
                np->name = pool_strdup(rq, p->name);
                np->domains = pool_strv(rq, p->domains, p->n_domains);
                np->n_domains = p->n_domains;
                np->timezone = pool_strdup(rq, p->timezone && *p->timezone ? p->timezone : "UTC");
                np->created_ms = p->created_ms;
        }
        return rec;
}

/* Put the checked input into np. */
static void apply_input(oa_query_req *rq, Oa__Project *np, const oa_query_project_in *in) {
        if (in->has_name)
                np->name = pool_strdup(rq, in->name);
        if (in->has_domains) {
                np->domains = h2o_mem_alloc_pool(&rq->req->pool, in->n_domains * sizeof(*np->domains));
                for (size_t i = 0; i < in->n_domains; i++)
                        np->domains[i] = pool_strdup(rq, in->domains[i]);
                np->n_domains = in->n_domains;
        }
        if (in->has_timezone)
                np->timezone = pool_strdup(rq, in->timezone);
}

/* Parse the project body; false when it was answered (413, 400). */
static bool project_input(oa_query_req *rq, bool create, oa_query_project_in **ret) {
        oa_query_project_in *in = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*in));
        h2o_iovec_t body;
        char err[300];

        if (!read_body(rq, &body))
                return false;
        if (oa_query_parse_project(body.base, body.len, create, rq->q->tzdir, in, err, sizeof(err)) < 0) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, err);
                return false;
        }
        *ret = in;
        return true;
}

void oa_query_project_create(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_query_project_in *in;
        Oa__Record *rec;
        Oa__Project *np;

        if (auth->key->n_project_ids) {
                oa_query_send_error(rq, 403, OA_HTTP_E_FORBIDDEN,
                                    "a key limited to some projects cannot create projects");
                return;
        }
        if (!project_input(rq, true, &in))
                return;
        rec = project_record(rq, NULL);
        np = rec->project;
        np->id = h2o_mem_alloc_pool(&rq->req->pool, OA_ENTITY_ID_MAX);
        np->site_id = h2o_mem_alloc_pool(&rq->req->pool, OA_ENTITY_ID_MAX);
        if (oa_entity_id_new(OA_ENTITY_PROJECT, np->id) < 0 || oa_entity_id_new(OA_ENTITY_SITE, np->site_id) < 0) {
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "no random numbers for the new ids");
                return;
        }
        np->account_id = pool_strdup(rq, auth->key->account_id);
        np->created_ms = oa_entity_now_ms();
        apply_input(rq, np, in);
        write_record(rq, rec, 201);
}

/* The PATCH once the catalogue has every earlier write: authenticate again (the key, the
 * project, or the project's owner may have changed meanwhile), then change the current
 * state of the project. */
static void project_update_synced(oa_query_req *rq, int err) {
        const oa_catalog *cat = oa_projects_catalog(rq->q->projects);
        oa_auth_result auth;
        h2o_iovec_t authz;
        Oa__Record *rec;

        if (err) {
                unavailable(rq, "the catalogue cannot catch up with Kafka right now; retry later");
                return;
        }
        if (oa_http_header(rq->req, H2O_TOKEN_AUTHORIZATION, &authz) < 0)
                authz = h2o_iovec_init(NULL, 0);
        oa_auth_check(cat, authz.base, authz.len, OA_SCOPE_PROJECTS_WRITE, rq->target_id, &auth);
        if (auth.status) {
                oa_query_send_error(rq, auth.status, auth.error, auth.message);
                return;
        }
        rec = project_record(rq, auth.project);
        apply_input(rq, rec->project, rq->input);
        write_record(rq, rec, 200);
}

void oa_query_project_update(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        oa_query_project_in *in;

        if (!project_input(rq, false, &in))
                return;
        rq->input = in;
        rq->target_id = id;     /* in the pool */
        oa_query_sync(rq->q, rq, project_update_synced);
}

void oa_query_project_delete(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        Oa__Record *rec = project_record(rq, NULL);

        rec->deleted = 1;
        rec->project->id = pool_strdup(rq, auth->project->id);
        rec->project->account_id = pool_strdup(rq, auth->project->account_id);
        write_record(rq, rec, 204);
}

/* ---- keys ---- */

bool oa_query_key_manages(unsigned k_scopes, const Oa__ApiKey *k, unsigned other_scopes,
                          const Oa__ApiKey *other) {
        if (strcmp(k->account_id, other->account_id) != 0 || (other_scopes & ~k_scopes))
                return false;
        if (k->n_project_ids == 0)
                return true;
        if (other->n_project_ids == 0)
                return false;
        for (size_t i = 0; i < other->n_project_ids; i++) {
                bool held = false;

                for (size_t j = 0; j < k->n_project_ids && !held; j++)
                        held = strcmp(other->project_ids[i], k->project_ids[j]) == 0;
                if (!held)
                        return false;
        }
        return true;
}

/* A Record holding a copy of k, in the pool. */
static Oa__Record *key_record(oa_query_req *rq, const Oa__ApiKey *k) {
        Oa__Record *rec = pool_zalloc(rq, sizeof(*rec));
        Oa__ApiKey *nk = pool_zalloc(rq, sizeof(*nk));

        *rec = (Oa__Record) OA__RECORD__INIT;
        *nk = (Oa__ApiKey) OA__API_KEY__INIT;
        rec->entity_case = OA__RECORD__ENTITY_API_KEY;
        rec->api_key = nk;
        nk->id = pool_strdup(rq, k->id);
        nk->account_id = pool_strdup(rq, k->account_id);
        nk->name = pool_strdup(rq, k->name);
        nk->scopes = pool_strv(rq, k->scopes, k->n_scopes);
        nk->n_scopes = k->n_scopes;
        nk->project_ids = pool_strv(rq, k->project_ids, k->n_project_ids);
        nk->n_project_ids = k->n_project_ids;
        nk->secret_sha256.len = k->secret_sha256.len;
        nk->secret_sha256.data = h2o_mem_alloc_pool(&rq->req->pool, k->secret_sha256.len ? k->secret_sha256.len : 1);
        if (k->secret_sha256.len)
                memcpy(nk->secret_sha256.data, k->secret_sha256.data, k->secret_sha256.len);
        nk->hint = pool_strdup(rq, k->hint);
        nk->created_ms = k->created_ms;
        nk->revoked = k->revoked;
        nk->revoked_ms = k->revoked_ms;
        return rec;
}

void oa_query_key_create(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        const oa_catalog *cat = oa_projects_catalog(rq->q->projects);
        const Oa__ApiKey *own = auth->key;
        unsigned own_scopes = oa_auth_key_scopes(own), n_scopes = 0;
        oa_query_key_in *in = h2o_mem_alloc_pool(&rq->req->pool, sizeof(*in));
        Oa__ApiKey *nk = pool_zalloc(rq, sizeof(*nk));
        Oa__Record *rec = pool_zalloc(rq, sizeof(*rec));
        h2o_iovec_t body;
        char err[300], *hint;

        if (!read_body(rq, &body))
                return;
        if (oa_query_parse_key(body.base, body.len, in, err, sizeof(err)) < 0) {
                oa_query_send_error(rq, 400, OA_HTTP_E_VALIDATION, err);
                return;
        }
        if (in->scopes & ~own_scopes) {
                snprintf(err, sizeof(err), "scopes: this key cannot grant %s, which it does not hold",
                         oa_scope_name(in->scopes & ~own_scopes & -(in->scopes & ~own_scopes)));
                oa_query_send_error(rq, 403, OA_HTTP_E_FORBIDDEN, err);
                return;
        }
        if (own->n_project_ids && in->n_project_ids == 0) {
                oa_query_send_error(rq, 403, OA_HTTP_E_FORBIDDEN, "project_ids: a key limited to some "
                                    "projects can only create keys limited to those projects");
                return;
        }
        for (size_t i = 0; i < in->n_project_ids; i++) {
                const Oa__Project *p = oa_catalog_project(cat, in->project_ids[i]);

                /* Not there, another account's, outside this key's list: one answer. */
                if (!oa_catalog_key_allows_project(own, p)) {
                        snprintf(err, sizeof(err), "project_ids: this key does not hold project %s",
                                 in->project_ids[i]);
                        oa_query_send_error(rq, 403, OA_HTTP_E_FORBIDDEN, err);
                        return;
                }
        }

        *rec = (Oa__Record) OA__RECORD__INIT;
        *nk = (Oa__ApiKey) OA__API_KEY__INIT;
        rec->entity_case = OA__RECORD__ENTITY_API_KEY;
        rec->api_key = nk;
        nk->id = h2o_mem_alloc_pool(&rq->req->pool, OA_ENTITY_ID_MAX);
        rq->secret = h2o_mem_alloc_pool(&rq->req->pool, OA_KEY_SECRET_LEN + 1);
        if (oa_entity_id_new(OA_ENTITY_KEY, nk->id) < 0 || oa_key_generate(rq->secret) < 0) {
                rq->secret = NULL;
                oa_query_send_error(rq, 500, OA_HTTP_E_INTERNAL, "no random numbers for the new key");
                return;
        }
        nk->account_id = pool_strdup(rq, own->account_id);
        nk->name = pool_strdup(rq, in->name);
        nk->scopes = h2o_mem_alloc_pool(&rq->req->pool, 8 * sizeof(*nk->scopes));
        for (unsigned b = 1; b <= OA_SCOPE_ALL; b <<= 1)
                if (in->scopes & b)
                        nk->scopes[n_scopes++] = (char *) oa_scope_name(b);
        nk->n_scopes = n_scopes;
        nk->project_ids = h2o_mem_alloc_pool(&rq->req->pool, (in->n_project_ids ? in->n_project_ids : 1) *
                                             sizeof(*nk->project_ids));
        for (size_t i = 0; i < in->n_project_ids; i++)
                nk->project_ids[i] = pool_strdup(rq, in->project_ids[i]);
        nk->n_project_ids = in->n_project_ids;
        nk->secret_sha256.len = OA_KEY_HASH_LEN;
        nk->secret_sha256.data = h2o_mem_alloc_pool(&rq->req->pool, OA_KEY_HASH_LEN);
        oa_key_hash(rq->secret, OA_KEY_SECRET_LEN, nk->secret_sha256.data);
        hint = h2o_mem_alloc_pool(&rq->req->pool, OA_KEY_HINT_MAX);
        oa_key_hint(rq->secret, hint);
        nk->hint = hint;
        nk->created_ms = oa_entity_now_ms();
        write_record(rq, rec, 201);
}

void oa_query_key_revoke(oa_query_req *rq, const oa_auth_result *auth, const char *id) {
        const oa_catalog *cat = oa_projects_catalog(rq->q->projects);
        const Oa__ApiKey *k = NULL;
        Oa__Record *rec;

        if (oa_entity_id_ok(OA_ENTITY_KEY, id, strlen(id)))
                k = oa_catalog_key(cat, id);
        if (!k || !oa_query_key_manages(oa_auth_key_scopes(auth->key), auth->key, oa_auth_key_scopes(k), k)) {
                oa_query_send_error(rq, 404, OA_HTTP_E_NOT_FOUND, "key not found");
                return;
        }
        if (k->revoked) {
                oa_query_send_empty(rq, 204);   /* already: nothing to write */
                return;
        }
        rec = key_record(rq, k);
        rec->api_key->revoked = 1;
        rec->api_key->revoked_ms = oa_entity_now_ms();
        write_record(rq, rec, 204);
}

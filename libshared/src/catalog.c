/* The projects catalogue: each entity kind lives in a map by id; projects are also indexed
 * by site_id and keys by secret hash. Every stored entity is the unpacked Record that
 * carried it, so replacing or removing an entity frees exactly one message. */
#include "oa/catalog.h"

#include "oa/map.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oa_catalog {
        oa_map *accounts;       /* id -> Oa__Record (account) */
        oa_map *projects;       /* id -> Oa__Record (project) */
        oa_map *keys;           /* id -> Oa__Record (api_key) */
        oa_map *by_site;        /* site_id -> Oa__Record (project), not owning */
        oa_map *by_hash;        /* sha256 -> Oa__Record (api_key), not owning */
        uint64_t generation;    /* oa_catalog_generation */
};

/* Generations come from one counter for the whole process, so two catalogues (or one
 * freed and another allocated at its address) never show the same value. */
static atomic_uint_fast64_t generations = 1;

static void changed(oa_catalog *c) {
        c->generation = atomic_fetch_add(&generations, 1);
}

static int free_record(const void *k, size_t kl, void *v, void *ud) {
        oa__record__free_unpacked(v, NULL);
        return 0;
}

oa_catalog *oa_catalog_free(oa_catalog *c) {
        if (!c)
                return NULL;
        if (c->accounts)
                oa_map_foreach(c->accounts, free_record, NULL);
        if (c->projects)
                oa_map_foreach(c->projects, free_record, NULL);
        if (c->keys)
                oa_map_foreach(c->keys, free_record, NULL);
        oa_map_free(c->accounts);
        oa_map_free(c->projects);
        oa_map_free(c->keys);
        oa_map_free(c->by_site);
        oa_map_free(c->by_hash);
        free(c);
        return NULL;
}

oa_catalog *oa_catalog_new(void) {
        oa_catalog *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->accounts = oa_map_new();
        c->projects = oa_map_new();
        c->keys = oa_map_new();
        c->by_site = oa_map_new();
        c->by_hash = oa_map_new();
        if (!c->accounts || !c->projects || !c->keys || !c->by_site || !c->by_hash)
                return oa_catalog_free(c);
        changed(c);
        return c;
}

/* Drop the secondary index entries of an old record. */
static void unindex(oa_catalog *c, Oa__Record *old) {
        if (!old)
                return;
        if (old->entity_case == OA__RECORD__ENTITY_PROJECT && old->project->site_id[0]) {
                const char *s = old->project->site_id;
                if (oa_map_get(c->by_site, s, strlen(s)) == old)
                        oa_map_del(c->by_site, s, strlen(s));
        } else if (old->entity_case == OA__RECORD__ENTITY_API_KEY && old->api_key->secret_sha256.len == 32) {
                const uint8_t *h = old->api_key->secret_sha256.data;
                if (oa_map_get(c->by_hash, h, 32) == old)
                        oa_map_del(c->by_hash, h, 32);
        }
}

static int index_new(oa_catalog *c, Oa__Record *rec) {
        if (rec->entity_case == OA__RECORD__ENTITY_PROJECT && rec->project->site_id[0])
                return oa_map_put(c->by_site, rec->project->site_id, strlen(rec->project->site_id), rec, NULL);
        if (rec->entity_case == OA__RECORD__ENTITY_API_KEY && rec->api_key->secret_sha256.len == 32)
                return oa_map_put(c->by_hash, rec->api_key->secret_sha256.data, 32, rec, NULL);
        return 0;
}

/* Map a record key prefix to its table and the entity case it must carry. */
static oa_map *table_for(oa_catalog *c, const char *key, size_t klen, size_t *ret_idoff, int *ret_case) {
        static const struct { const char *prefix; int ecase; } kinds[] = {
                { "account/", OA__RECORD__ENTITY_ACCOUNT },
                { "project/", OA__RECORD__ENTITY_PROJECT },
                { "key/", OA__RECORD__ENTITY_API_KEY },
        };
        oa_map *maps[] = { c->accounts, c->projects, c->keys };

        for (size_t i = 0; i < 3; i++) {
                size_t pl = strlen(kinds[i].prefix);
                if (klen > pl && memcmp(key, kinds[i].prefix, pl) == 0) {
                        *ret_idoff = pl;
                        *ret_case = kinds[i].ecase;
                        return maps[i];
                }
        }
        return NULL;
}

static const char *entity_id(const Oa__Record *r) {
        switch (r->entity_case) {
        case OA__RECORD__ENTITY_ACCOUNT:
                return r->account->id;
        case OA__RECORD__ENTITY_PROJECT:
                return r->project->id;
        case OA__RECORD__ENTITY_API_KEY:
                return r->api_key->id;
        default:
                return NULL;
        }
}

int oa_catalog_apply(oa_catalog *c, const void *key, size_t klen, const void *value, size_t vlen,
                     char *errbuf, size_t errlen) {
        Oa__Record *rec = NULL, *old = NULL;
        const char *k = key, *eid;
        size_t idoff;
        oa_map *table;
        int ecase, r;

        table = table_for(c, k, klen, &idoff, &ecase);
        if (!table) {
                snprintf(errbuf, errlen, "record key '%.*s' is not account/, project/ or key/", (int) (klen > 64 ? 64 : klen), k);
                return -EBADMSG;
        }
        if (value) {
                rec = oa__record__unpack(NULL, vlen, value);
                if (!rec) {
                        snprintf(errbuf, errlen, "record %.*s: undecodable oa.Record", (int) (klen > 64 ? 64 : klen), k);
                        return -EBADMSG;
                }
                if (rec->version != 1) {
                        snprintf(errbuf, errlen, "record %.*s: unknown version %u", (int) (klen > 64 ? 64 : klen), k, rec->version);
                        r = -EPROTONOSUPPORT;
                        goto out;
                }
                if (rec->deleted) {
                        oa__record__free_unpacked(rec, NULL);
                        rec = NULL;
                } else {
                        eid = entity_id(rec);
                        if ((int) rec->entity_case != ecase || !eid || strlen(eid) != klen - idoff ||
                            memcmp(eid, k + idoff, klen - idoff) != 0) {
                                snprintf(errbuf, errlen, "record %.*s: entity does not match its key", (int) (klen > 64 ? 64 : klen), k);
                                r = -EBADMSG;
                                goto out;
                        }
                }
        }
        /* From here on the catalogue may change, even when a step below fails. */
        changed(c);
        if (rec) {
                r = oa_map_put(table, k + idoff, klen - idoff, rec, (void **) &old);
                if (r < 0)
                        goto out;
                unindex(c, old);
                r = index_new(c, rec);
                rec = NULL;     /* owned by the catalogue now */
                if (old)
                        oa__record__free_unpacked(old, NULL);
                return r;
        }
        old = oa_map_del(table, k + idoff, klen - idoff);
        unindex(c, old);
        if (old)
                oa__record__free_unpacked(old, NULL);
        return 0;
out:
        if (rec)
                oa__record__free_unpacked(rec, NULL);
        return r;
}

uint64_t oa_catalog_generation(const oa_catalog *c) {
        return c->generation;
}

const Oa__Account *oa_catalog_account(const oa_catalog *c, const char *id) {
        Oa__Record *r = oa_map_get(c->accounts, id, strlen(id));
        return r ? r->account : NULL;
}

const Oa__Project *oa_catalog_project(const oa_catalog *c, const char *id) {
        Oa__Record *r = oa_map_get(c->projects, id, strlen(id));
        return r ? r->project : NULL;
}

const Oa__Project *oa_catalog_project_by_site(const oa_catalog *c, const char *site_id) {
        Oa__Record *r = oa_map_get(c->by_site, site_id, strlen(site_id));
        return r ? r->project : NULL;
}

const Oa__ApiKey *oa_catalog_key(const oa_catalog *c, const char *id) {
        Oa__Record *r = oa_map_get(c->keys, id, strlen(id));
        return r ? r->api_key : NULL;
}

const Oa__ApiKey *oa_catalog_key_by_hash(const oa_catalog *c, const uint8_t *sha256) {
        Oa__Record *r = oa_map_get(c->by_hash, sha256, 32);
        return r ? r->api_key : NULL;
}

struct walk {
        const char *account_id;
        int (*project_fn)(const Oa__Project *, void *);
        int (*key_fn)(const Oa__ApiKey *, void *);
        int (*account_fn)(const Oa__Account *, void *);
        void *ud;
};

static int walk_cb(const void *k, size_t kl, void *v, void *ud) {
        const Oa__Record *r = v;
        struct walk *w = ud;

        switch (r->entity_case) {
        case OA__RECORD__ENTITY_PROJECT:
                if (w->account_id && strcmp(r->project->account_id, w->account_id) != 0)
                        return 0;
                return w->project_fn(r->project, w->ud);
        case OA__RECORD__ENTITY_API_KEY:
                if (w->account_id && strcmp(r->api_key->account_id, w->account_id) != 0)
                        return 0;
                return w->key_fn(r->api_key, w->ud);
        case OA__RECORD__ENTITY_ACCOUNT:
                return w->account_fn(r->account, w->ud);
        default:
                return 0;
        }
}

int oa_catalog_foreach_project(const oa_catalog *c, const char *account_id,
                               int (*fn)(const Oa__Project *p, void *ud), void *ud) {
        struct walk w = { .account_id = account_id, .project_fn = fn, .ud = ud };
        return oa_map_foreach(c->projects, walk_cb, &w);
}

int oa_catalog_foreach_key(const oa_catalog *c, const char *account_id,
                           int (*fn)(const Oa__ApiKey *k, void *ud), void *ud) {
        struct walk w = { .account_id = account_id, .key_fn = fn, .ud = ud };
        return oa_map_foreach(c->keys, walk_cb, &w);
}

int oa_catalog_foreach_account(const oa_catalog *c, int (*fn)(const Oa__Account *a, void *ud), void *ud) {
        struct walk w = { .account_fn = fn, .ud = ud };
        return oa_map_foreach(c->accounts, walk_cb, &w);
}

size_t oa_catalog_n_accounts(const oa_catalog *c) {
        return oa_map_size(c->accounts);
}

size_t oa_catalog_n_projects(const oa_catalog *c) {
        return oa_map_size(c->projects);
}

size_t oa_catalog_n_keys(const oa_catalog *c) {
        return oa_map_size(c->keys);
}

int oa_catalog_key_allows_project(const Oa__ApiKey *k, const Oa__Project *p) {
        if (!k || !p || strcmp(k->account_id, p->account_id) != 0)
                return 0;
        if (k->n_project_ids == 0)
                return 1;
        for (size_t i = 0; i < k->n_project_ids; i++)
                if (strcmp(k->project_ids[i], p->id) == 0)
                        return 1;
        return 0;
}

long long oa_catalog_plan_limit(const Oa__Account *a) {
        switch (a ? a->plan : OA__PLAN__PLAN_FREE) {
        case OA__PLAN__PLAN_PRO:
                return 600;
        case OA__PLAN__PLAN_BUSINESS:
                return 6000;
        case OA__PLAN__PLAN_ENTERPRISE:
                return a->custom_limit ? a->custom_limit : 60;
        default:
                return 60;
        }
}

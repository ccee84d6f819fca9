/* The in-memory catalogue of accounts, projects and API keys, materialised from the
 * compacted topic oa.projects.v1. A record's key is "account/ID", "project/ID" or
 * "key/ID"; its value an oa.Record (projects.proto), or NULL (a tombstone) / a Record with
 * deleted = true to remove the entity. Applying the topic from the beginning in order
 * gives the current state; applying a record twice changes nothing. Not thread-safe: each
 * daemon's single event loop owns its catalogue. The returned protobuf structs are owned
 * by the catalogue and valid until the next apply of the same entity. */
#ifndef OA_CATALOG_H
#define OA_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "projects.pb-c.h"

typedef struct oa_catalog oa_catalog;

/* A new empty catalogue, or NULL when out of memory. */
oa_catalog *oa_catalog_new(void);

/* Free everything. NULL-safe; returns NULL. */
oa_catalog *oa_catalog_free(oa_catalog *c);

/* Apply one record. value may be NULL (tombstone). Returns 0, -EBADMSG for an undecodable
 * value or a key/entity mismatch, -EPROTONOSUPPORT for an unknown record version (both
 * with the reason in errbuf; the catalogue is unchanged), or -ENOMEM. */
int oa_catalog_apply(oa_catalog *c, const void *key, size_t klen, const void *value, size_t vlen,
                     char *errbuf, size_t errlen);

/* A number that changes with every applied record (and differs between catalogues of one
 * process): whoever caches what a lookup returned keeps it only while this is unchanged,
 * since the entities may have been replaced or freed. */
uint64_t oa_catalog_generation(const oa_catalog *c);

/* Lookups; NULL when absent. Keys are looked up by the SHA-256 of their secret and may be
 * revoked: the caller checks ->revoked. */
const Oa__Account *oa_catalog_account(const oa_catalog *c, const char *id);
const Oa__Project *oa_catalog_project(const oa_catalog *c, const char *id);
const Oa__Project *oa_catalog_project_by_site(const oa_catalog *c, const char *site_id);
const Oa__ApiKey *oa_catalog_key(const oa_catalog *c, const char *id);
const Oa__ApiKey *oa_catalog_key_by_hash(const oa_catalog *c, const uint8_t *sha256);

/* Walk the projects (account_id NULL: all) or the keys of an account; stops when fn
 * returns non-zero and returns that. */
int oa_catalog_foreach_project(const oa_catalog *c, const char *account_id,
                               int (*fn)(const Oa__Project *p, void *ud), void *ud);
int oa_catalog_foreach_key(const oa_catalog *c, const char *account_id,
                           int (*fn)(const Oa__ApiKey *k, void *ud), void *ud);
int oa_catalog_foreach_account(const oa_catalog *c, int (*fn)(const Oa__Account *a, void *ud), void *ud);

/* Counts, for metrics and readiness lines. */
size_t oa_catalog_n_accounts(const oa_catalog *c);
size_t oa_catalog_n_projects(const oa_catalog *c);
size_t oa_catalog_n_keys(const oa_catalog *c);

/* True when the key may act on project p: same account, and p is in the key's project
 * list when it has one. */
int oa_catalog_key_allows_project(const Oa__ApiKey *k, const Oa__Project *p);

/* Requests per minute per key for an account's plan: free 60, pro 600, business 6,000,
 * enterprise its custom limit (60 when unset). */
long long oa_catalog_plan_limit(const Oa__Account *a);

#endif

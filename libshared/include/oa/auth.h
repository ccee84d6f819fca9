/* Authenticating a /v1 request against the projects catalogue: the Authorization header,
 * the key (unknown or revoked: 401), the scope the route needs (403), and the project in
 * the path (another account's, or outside the key's project list: 404, the same answer as
 * a project that does not exist, so ids cannot be probed). Pure: no I/O, no logging. */
#ifndef OA_AUTH_H
#define OA_AUTH_H

#include <stddef.h>

#include "oa/catalog.h"

typedef struct oa_auth_result {
        int status;                     /* 0 when allowed, else 401, 403 or 404 */
        const char *error;              /* "unauthorized", "forbidden", "not_found"; NULL */
        const char *message;            /* human text for the error body; NULL */
        const Oa__ApiKey *key;          /* set from 403 on (a key was recognised) */
        const Oa__Account *account;
        const Oa__Project *project;     /* set when allowed and a project was asked for */
        char buf[128];                  /* where message is written when it names a scope */
} oa_auth_result;

/* Check one request. authz is the Authorization header's value (authz_len bytes; NULL
 * when the header is missing), need is one OA_SCOPE_* bit (0: any valid key), project_id
 * is the project of the path or NULL. Fills *ret. */
void oa_auth_check(const oa_catalog *c, const char *authz, size_t authz_len, unsigned need,
                   const char *project_id, oa_auth_result *ret);

/* A cache of recognised keys, so a key seen lately costs a constant-time compare of its
 * header instead of a SHA-256 and three lookups: slots entries (rounded up to a power of
 * two), each the last valid Authorization header that fell into it, with its key, account
 * and scope bits. An entry holds only while the catalogue's generation is the one it was
 * made from (oa_catalog_generation): any applied record, a revocation among them,
 * empties it at once. Only recognised keys are kept; the answer is always the one
 * oa_auth_check would give. Not thread-safe: one per event loop (oa_gate owns one).
 * Returns 0 or -ENOMEM. */
typedef struct oa_auth_cache oa_auth_cache;
int oa_auth_cache_new(size_t slots, oa_auth_cache **ret);

/* Wipe and free. NULL-safe; returns NULL. */
oa_auth_cache *oa_auth_cache_free(oa_auth_cache *ac);

/* oa_auth_check through cache ac (NULL: no cache). Entries made from another catalogue,
 * or from an earlier state of this one, never match. */
void oa_auth_check_cached(oa_auth_cache *ac, const oa_catalog *c, const char *authz, size_t authz_len,
                          unsigned need, const char *project_id, oa_auth_result *ret);

/* The scope bits of a key (unknown scope names are ignored). */
unsigned oa_auth_key_scopes(const Oa__ApiKey *k);

#endif

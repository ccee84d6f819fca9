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

/* The scope bits of a key (unknown scope names are ignored). */
unsigned oa_auth_key_scopes(const Oa__ApiKey *k);

#endif

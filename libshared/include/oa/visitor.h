/* Visitor ids: who an event belongs to, without storing who that is.
 *  - Browsers (and server-side events with an IP but no user_id): HMAC-SHA256 keyed
 *    with the daily salt over site_id 0x00 ip 0x00 user_agent, the first 16 bytes in
 *    hex. The salt rotates daily (the daemon keeps it in Redis), so a visitor cannot be
 *    followed across days and the hash cannot be reversed by trying every IP.
 *  - Server-side events with a user_id: SHA-256 over "oa.user.v1" 0x00 project_id 0x00
 *    user_id, the first 16 bytes in hex: stable across days and replicas with no
 *    secret to keep, and no secret is needed because the user_id travels in the event
 *    next to it anyway. The tag keeps it apart from every other hash.
 * A visitor id is OA_VISITOR_ID_LEN lower-case hex characters. */
#ifndef OA_VISITOR_H
#define OA_VISITOR_H

#include <stddef.h>

#define OA_VISITOR_ID_LEN 32

typedef struct oa_visitor_key oa_visitor_key;

/* Prepare the HMAC key for one salt (len bytes, any content, len >= 16 advised): the
 * inner and outer SHA-256 states are computed once so each hash costs two compressions
 * and a little. The key only reads itself afterwards, so threads may share it. Returns
 * 0 and sets *ret_key, -EINVAL for an empty salt, or -ENOMEM. */
int oa_visitor_key_new(const void *salt, size_t len, oa_visitor_key **ret_key);

/* Free a key; NULL is fine. Returns NULL. */
oa_visitor_key *oa_visitor_key_free(oa_visitor_key *k);

/* The browser visitor id of (site_id, ip, user_agent) under key into ret (OA_VISITOR_ID_LEN
 * + 1 bytes, NUL-terminated). NULL strings count as empty; ua is ua_len bytes. Returns 0
 * or -ENOMEM. */
int oa_visitor_browser(const oa_visitor_key *key, const char *site_id, const char *ip,
                       const char *ua, size_t ua_len, char *ret);

/* The visitor id of a backend's user (project_id, user_id) into ret, as above. Returns 0
 * or -ENOMEM. */
int oa_visitor_user(const char *project_id, const char *user_id, size_t user_id_len, char *ret);

/* The visitor id of an event with neither user_id nor client (a new visitor per event):
 * SHA-256 over "oa.anon.v1" 0x00 project_id 0x00 event_id, as above. */
int oa_visitor_anonymous(const char *project_id, const char *event_id, char *ret);

#endif

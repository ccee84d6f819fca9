/* The entities of the catalogue (accounts, projects, API keys; docs/accounts.md) as both
 * writers see them, so oa-admin and oa-query accept and produce the same shapes: random
 * ids, the rules for names, domains and time zones, plan names, times as ISO 8601, and
 * the JSON of an Account, a Project and a Key (docs/api.md). Pure except for the ids
 * (getrandom) and the time zone check (reads the zoneinfo directory); nothing logs. */
#ifndef OA_ENTITY_H
#define OA_ENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oa/buf.h"
#include "projects.pb-c.h"

typedef enum oa_entity_kind {
        OA_ENTITY_ACCOUNT,      /* "acc_" + 16 base62 */
        OA_ENTITY_PROJECT,      /* "prj_" + 16 base62 */
        OA_ENTITY_KEY,          /* "key_" + 16 base62 */
        OA_ENTITY_SITE,         /* "site_" + 20 base62: a project's public site_id */
} oa_entity_kind;

#define OA_ENTITY_ID_MAX 32             /* bytes that hold any id and its NUL */
#define OA_ENTITY_NAME_MAX_CHARS 100    /* characters (code points) in a name */
#define OA_ENTITY_NAME_MAX_BYTES 400
#define OA_ENTITY_DOMAIN_MAX 253
#define OA_ENTITY_TIMEZONE_MAX 64
#define OA_ENTITY_TIME_MAX 32           /* "2026-11-28T02:15:00Z" and a NUL fit */
#define OA_ENTITY_ZONEINFO_DIR "/usr/share/zoneinfo"

/* Write a new random id of kind (prefix + base62 from getrandom, no modulo bias) into
 * ret_id (OA_ENTITY_ID_MAX bytes). Returns 0 or a negative errno. */
int oa_entity_id_new(oa_entity_kind kind, char *ret_id);

/* True when s (n bytes) is exactly an id of kind: its prefix and the right number of
 * base62 characters, nothing else. */
bool oa_entity_id_ok(oa_entity_kind kind, const char *s, size_t n);


/* Check a display name (account, project, key): valid UTF-8, 1 to 100 characters, not
 * blank, no leading or trailing space, no control characters (C0, DEL, C1), no line or
 * paragraph separators and no bidirectional overrides (U+202A-U+202E, U+2066-U+2069).
 * Returns 0, or -EINVAL with what is wrong in errbuf ("must be 1 to 100 characters"). */
int oa_entity_name_check(const char *s, size_t n, char *errbuf, size_t errlen);

/* Check a domain and write it lower-cased into ret (OA_ENTITY_DOMAIN_MAX + 1 bytes): a
 * host name of dot-separated labels of 1 to 63 letters, digits and '-' (not at either
 * end of a label), at most 253 characters, without scheme, port, path, wildcard or
 * trailing dot ("Shop.Example.com" -> "shop.example.com"; IDNs in their xn-- form).
 * Returns 0, or -EINVAL with the reason in errbuf. */
int oa_entity_domain_normalize(const char *s, size_t n, char *ret, char *errbuf, size_t errlen);

/* Check an IANA time zone name ("Europe/Berlin", "UTC"): at most 64 characters of
 * letters, digits, '_', '+', '-' in '/'-separated parts, naming a TZif file under
 * zoneinfo_dir (NULL: $TZDIR, else OA_ENTITY_ZONEINFO_DIR) that stays inside it; the
 * posix/ and right/ variants, "localtime", "posixrules" and "Factory" are refused. "UTC"
 * is always accepted, with or without the database. Returns 0, or -EINVAL with the
 * reason in errbuf. */
int oa_entity_timezone_check(const char *zoneinfo_dir, const char *s, size_t n, char *errbuf,
                             size_t errlen);

/* Plan names: "free", "pro", "business", "enterprise". parse returns 0 and *ret_plan,
 * or -EINVAL; name returns NULL for PLAN_UNSPECIFIED and unknown values. */
int oa_entity_plan_parse(const char *s, Oa__Plan *ret_plan);
const char *oa_entity_plan_name(Oa__Plan plan);

/* Format Unix milliseconds as "2026-11-28T02:15:00Z" (UTC, whole seconds) into buf
 * (OA_ENTITY_TIME_MAX bytes). Returns 0 or -EINVAL (out of range). */
int oa_entity_time_format(int64_t ms, char *buf);

/* Milliseconds since the Unix epoch, now (CLOCK_REALTIME). */
int64_t oa_entity_now_ms(void);

/* Append the JSON of an entity to b (strings escaped; times as above):
 *   Account {"id","name","plan","limit","created_at"} (limit: requests per minute per key)
 *   Project {"id","account_id","site_id","name","domains","timezone","created_at"}
 *   Key     {"id","account_id","name","scopes","project_ids","hint","created_at",
 *            "revoked","revoked_at"} (never the hash; revoked_at null unless revoked)
 * A missing timezone renders as "UTC". Returns 0 or an oa_buf_add error. */
int oa_entity_account_json(oa_buf *b, const Oa__Account *a);
int oa_entity_project_json(oa_buf *b, const Oa__Project *p);
int oa_entity_key_json(oa_buf *b, const Oa__ApiKey *k);

#endif

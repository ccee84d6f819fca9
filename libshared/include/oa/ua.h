/*
 * User-Agent → browser, OS, device type and bot flag (oa_ua_).
 *
 * The rules are uap-core's regexes.yaml (user_agent_parsers, os_parsers, device_parsers),
 * compiled with PCRE2 (JIT where available), plus a maintained table of bot markers
 * (libshared/src/ua_bots.c) and a device-type rule (libshared/src/ua_device.c). Results are
 * cached by User-Agent in a bounded CLOCK cache, so a repeated User-Agent costs a hash
 * lookup and a copy; a new one costs the scan of the rules.
 *
 * Bounds: only the first OA_UA_MAX_INPUT bytes of a User-Agent are looked at (matching
 * and cache key alike), so a hostile 10 MB header costs the same as a 512-byte one, and
 * every regex runs under PCRE2 match and depth limits. The input is bytes: it need not be
 * NUL-terminated, may hold NULs and need not be UTF-8. The output strings are always
 * NUL-terminated, valid UTF-8 without control characters, truncated on a character
 * boundary to their array.
 *
 * An oa_ua is not thread-safe: one per thread (the daemons are single-threaded).
 */
#ifndef OA_UA_H
#define OA_UA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a User-Agent that are considered; the rest is ignored. */
#define OA_UA_MAX_INPUT 512
/* Cache size when the caller has no opinion. */
#define OA_UA_DEFAULT_CACHE 10000
/* Largest cache accepted by oa_ua_new(). */
#define OA_UA_MAX_CACHE (1u << 24)
/* Debian's uap-core. */
#define OA_UA_DEFAULT_REGEXES "/usr/share/uap-core/regexes.yaml"

typedef struct oa_ua oa_ua;

/*
 * What a User-Agent says. Every field is a NUL-terminated string.
 * browser: uap-core's family ("Chrome", "Mobile Safari", "Googlebot"; "Other": unknown).
 * version: "major[.minor[.patch]]" of the browser as far as known ("120.0.6099"), "" when
 *          unknown; cut after a whole component when longer than the array.
 * os: uap-core's OS family ("Windows", "Mac OS X", "iOS", "Android"; "Other": unknown).
 * os_version: "major[.minor[.patch]]" of the OS ("10", "14.2.1"), "" when unknown.
 * device: one of "desktop", "mobile", "tablet", "bot", "other".
 * is_bot: a crawler, a headless browser, an HTTP library, a monitor, a link preview or an
 * empty User-Agent (device is "bot" exactly when is_bot is true).
 */
typedef struct oa_ua_result {
        char browser[32];
        char version[16];
        char os[32];
        char os_version[16];
        char device[8];
        bool is_bot;
} oa_ua_result;

/* Counters for /metrics. */
typedef struct oa_ua_stats {
        uint64_t hits;          /* parses answered from the cache */
        uint64_t misses;        /* parses that scanned the rules */
        uint64_t evictions;     /* cache entries replaced */
        uint64_t limit_errors;  /* regex runs stopped by a PCRE2 limit (counted as no match) */
        size_t entries;         /* entries in the cache now */
        size_t capacity;        /* cache capacity */
        size_t rules;           /* regexes loaded, all three lists */
} oa_ua_stats;

/*
 * Loads and compiles regexes_path (NULL: OA_UA_DEFAULT_REGEXES) and sets up a cache of
 * cache_entries results (0: no cache; at most OA_UA_MAX_CACHE). Returns 0 and *ret, or
 * -ENOENT/-EACCES (file), -EBADMSG (the file is not uap-core's shape, or a regex does not
 * compile; errbuf names the line), -EINVAL (arguments), -ENOMEM. The caller owns *ret and
 * frees it with oa_ua_free(). errbuf may be NULL.
 */
int oa_ua_new(const char *regexes_path, size_t cache_entries, oa_ua **ret,
              char *errbuf, size_t errlen);

/*
 * Parses the len bytes at ua (a NULL ua with len 0 is the empty User-Agent) into *ret.
 * Returns 0, or -EINVAL when u or ret is NULL or ua is NULL with len > 0. A regex stopped
 * by a limit counts as not matching; parsing itself does not fail.
 */
int oa_ua_parse(oa_ua *u, const char *ua, size_t len, oa_ua_result *ret);

/* Copies the counters into *ret. */
void oa_ua_get_stats(const oa_ua *u, oa_ua_stats *ret);

/* Frees u and everything it holds; NULL does nothing. Returns NULL. */
oa_ua *oa_ua_free(oa_ua *u);

#endif

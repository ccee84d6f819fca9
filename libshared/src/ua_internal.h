/*
 * The parts of oa_ua_ (include/oa/ua.h), shared by its files and its tests, not by anyone
 * else:
 *
 *   ua_yaml.c       a line parser for exactly the shape of uap-core's YAML files
 *   ua_match.c      the rules: load, compile with PCRE2, match in order, substitute $1..$9
 *   ua_prefilter.c  the literal clauses a regex cannot match without
 *   ua_scan.c       a User-Agent prepared for matching; the index of all clauses' literals
 *   ua_cache.c      the bounded CLOCK cache of results, keyed by a keyed hash of the UA
 *   ua_bots.c       our table of bot markers
 *   ua_device.c     the device type (desktop, mobile, tablet, bot, other)
 *   ua.c            oa_ua_new/parse/free, tying the above together
 */
#ifndef OA_UA_INTERNAL_H
#define OA_UA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oa/ua.h"

/* ---- ua_yaml.c ------------------------------------------------------------------------ */

/*
 * The accepted shape (regexes.yaml and uap-core's tests/test_*.yaml): top-level keys, each
 * holding a list of flat mappings whose values are quoted scalars or empty (null):
 *
 *   section:
 *     - key: 'single quoted, '' is a quote'
 *       other_key: "double quoted, with \\ \" \/ \t \n \r \xHH \uHHHH"
 *       empty_key:
 *
 * Comments (# to the end of a line outside quotes) and blank lines are ignored. Anything
 * else (plain scalars, nested structures, tabs, flow style, anchors, a key twice in one
 * item) is an error naming the line.
 */
typedef enum ua_yaml_event_type {
        UA_YAML_SECTION,        /* key: the section's name */
        UA_YAML_ITEM,           /* a list item starts */
        UA_YAML_PAIR,           /* key and value (NULL for null) of the current item */
        UA_YAML_ITEM_END,       /* the current item ended */
} ua_yaml_event_type;

typedef struct ua_yaml_event {
        ua_yaml_event_type type;
        size_t line;            /* 1-based */
        const char *key;        /* NUL-terminated; valid during the callback only */
        const char *value;      /* NUL-terminated, or NULL; valid during the callback only */
        size_t value_len;
} ua_yaml_event;

/* Returns 0 to go on, or a negative errno (having written errbuf) to stop the parse. */
typedef int (*ua_yaml_cb)(const ua_yaml_event *ev, void *userdata, char *errbuf, size_t errlen);

/* Parses len bytes at buf, calling cb for each event. 0, -EBADMSG, -ENOMEM or cb's error. */
int ua_yaml_parse(const char *buf, size_t len, ua_yaml_cb cb, void *userdata,
                  char *errbuf, size_t errlen);

/* Reads a whole file (at most 64 MiB) into a NUL-terminated buffer the caller frees. */
int ua_yaml_read_file(const char *path, char **ret_buf, size_t *ret_len,
                      char *errbuf, size_t errlen);

/* Writes a printf-style message into errbuf (if any); returns err. */
int ua_errf(int err, char *errbuf, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- ua_scan.c: subjects ------------------------------------------------------------- */

/* A User-Agent prepared for matching: its first OA_UA_MAX_INPUT bytes, a lower-case copy
 * and the set of byte pairs (bigrams) in the lower-case copy. gen changes with every
 * ua_subject_set() (unique across subjects), so work derived from a subject is reused
 * only for the same content. */
typedef struct ua_subject {
        const char *raw;
        size_t len;
        uint64_t gen;
        char lower[OA_UA_MAX_INPUT + 1];
        uint64_t bigrams[65536 / 64];
} ua_subject;

/* Prepares s for the len bytes at raw (len is capped at OA_UA_MAX_INPUT). raw must stay
 * valid while s is used. s->bigrams must be all zero on entry: call ua_subject_clear(). */
void ua_subject_set(ua_subject *s, const char *raw, size_t len);

/* Clears the bigrams ua_subject_set() set (cheaper than clearing 8 KiB). */
void ua_subject_clear(ua_subject *s);

/* True when the lower-case literal lit (len bytes) occurs in s->lower. */
bool ua_subject_has(const ua_subject *s, const char *lit, size_t len);

/* ---- ua_prefilter.c ------------------------------------------------------------------- */

#define UA_PF_KEEP 4    /* clauses kept per regex */

/* What a regex needs in a subject before it can match: every clause must hold, and a clause
 * holds when one of its literals (lower case) occurs. No clause: the regex always runs. */
typedef struct ua_clause {
        size_t n;
        char **lit;
        size_t *len;
        int common;             /* how many of our sample User-Agents satisfy it */
} ua_clause;

typedef struct ua_prefilter {
        size_t n;
        ua_clause *clause;      /* rarest first */
} ua_prefilter;

/* Derives the prefilter of regex (PCRE syntax as uap-core writes it). Returns 0 (possibly
 * with no clause) or -ENOMEM. */
int ua_prefilter_build(const char *regex, ua_prefilter *ret);
void ua_prefilter_done(ua_prefilter *p);

/* False when the regex of p cannot match s. */
bool ua_prefilter_pass(const ua_prefilter *p, const ua_subject *s);

/* ---- ua_scan.c: the literal index ---------------------------------------------------- */

/* Every clause of every rule, by id; its literals indexed by their first two bytes, so one
 * pass over a subject marks the clauses that hold. */
typedef struct ua_litindex ua_litindex;

int ua_litindex_new(ua_litindex **ret);
ua_litindex *ua_litindex_free(ua_litindex *x);

/* Adds p's clauses and writes their ids to ret_ids[0..p->n). p must stay unchanged until
 * ua_litindex_finish(), which copies the literals. -ENOMEM. */
int ua_litindex_add(ua_litindex *x, const ua_prefilter *p, uint32_t *ret_ids);

/* Builds the lookup tables once every clause is added. -ENOMEM. */
int ua_litindex_finish(ua_litindex *x);

/* Marks the clauses that hold in s (all of them, for every rule). */
void ua_litindex_scan(ua_litindex *x, const ua_subject *s);

/* The clause bits of the last scan: clause id holds when ua_bit(bits, id). */
const uint64_t *ua_litindex_bits(const ua_litindex *x);

static inline bool ua_bit(const uint64_t *bits, uint32_t id) {
        return (bits[id >> 6] >> (id & 63)) & 1;
}

/* ---- ua_match.c ----------------------------------------------------------------------- */

enum { UA_SEC_UA, UA_SEC_OS, UA_SEC_DEVICE, UA_SEC_COUNT };

/* Fields of one section's result:
 *   UA:     family, major, minor, patch
 *   OS:     family, major, minor, patch, patch_minor
 *   device: family, brand, model
 * set[i] false is uap-core's null. Longer values are cut at UA_FIELD_MAX - 1 bytes. */
#define UA_FIELDS 5
#define UA_FIELD_MAX 256
typedef struct ua_fields {
        char v[UA_FIELDS][UA_FIELD_MAX];
        bool set[UA_FIELDS];
} ua_fields;

typedef struct ua_rules ua_rules;

/* Loads rules from a file or a buffer. -EBADMSG with errbuf naming the line, -ENOMEM. */
int ua_rules_load_file(const char *path, ua_rules **ret, char *errbuf, size_t errlen);
int ua_rules_load_buf(const char *buf, size_t len, ua_rules **ret, char *errbuf, size_t errlen);
ua_rules *ua_rules_free(ua_rules *r);

size_t ua_rules_count(const ua_rules *r, int section);

/* How many of a section's rules have a literal prefilter. */
size_t ua_rules_prefiltered(const ua_rules *r, int section);

/* Turns the literal prefilter off or on (on by default); the tests prove it changes nothing. */
void ua_rules_set_prefilter(ua_rules *r, bool on);

/* Regex runs stopped by a PCRE2 limit so far. */
uint64_t ua_rules_limit_errors(const ua_rules *r);

/* Runs a section's rules in order on s; the first match fills *ret as uap-core specifies.
 * Returns 1 on a match, 0 when none matched (*ret: family "Other", the rest null). */
int ua_rules_match(ua_rules *r, int section, const ua_subject *s, ua_fields *ret);

/* ---- ua_cache.c ----------------------------------------------------------------------- */

typedef struct ua_cache ua_cache;

/* A cache of capacity results (>= 1). -ENOMEM, -EINVAL. */
int ua_cache_new(size_t capacity, ua_cache **ret);
ua_cache *ua_cache_free(ua_cache *c);

/* True and *ret filled when key (len bytes) is cached. */
bool ua_cache_get(ua_cache *c, const char *key, size_t len, oa_ua_result *ret);

/* Caches res under key, evicting an entry when full (CLOCK). Returns 1 when an entry was
 * evicted, 0 otherwise, -ENOMEM (nothing cached). key must not be cached already. */
int ua_cache_put(ua_cache *c, const char *key, size_t len, const oa_ua_result *res);

size_t ua_cache_size(const ua_cache *c);
size_t ua_cache_capacity(const ua_cache *c);

/* ---- ua_bots.c ------------------------------------------------------------------------ */

/* The bot marker found in the lower-case User-Agent of s, or NULL. An empty or blank
 * User-Agent gives "(empty)". */
const char *ua_bot_marker(const ua_subject *s);

/* ---- ua_device.c ---------------------------------------------------------------------- */

typedef enum ua_device_type {
        UA_DEVICE_DESKTOP,
        UA_DEVICE_MOBILE,
        UA_DEVICE_TABLET,
        UA_DEVICE_BOT,
        UA_DEVICE_OTHER,
} ua_device_type;

/* The device type of s given uap-core's results (see the rule in ua_device.c). */
ua_device_type ua_device_classify(const ua_subject *s, const ua_fields *os,
                                  const ua_fields *dev);

/* "desktop", "mobile", "tablet", "bot", "other". */
const char *ua_device_name(ua_device_type t);

#endif

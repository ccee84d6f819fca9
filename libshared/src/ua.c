/*
 * oa_ua_ (include/oa/ua.h): a User-Agent goes through the cache (ua_cache.c); on a miss
 * through uap-core's three rule lists (ua_match.c, with the literal prefilter of
 * ua_prefilter.c), our bot markers (ua_bots.c) and the device-type rule (ua_device.c);
 * the result is cleaned to valid UTF-8 and fixed-size fields, then cached.
 *
 * Assumes one thread per oa_ua: the subject buffer and PCRE2's match data are shared by
 * every call on the same handle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oa/ua.h"
#include "ua_internal.h"

struct oa_ua {
        ua_rules *rules;
        ua_cache *cache;        /* NULL: caching off */
        uint64_t hits;
        uint64_t misses;
        uint64_t evictions;
        ua_subject subj;        /* scratch of a miss; its bigram set is kept all zero */
};

oa_ua *oa_ua_free(oa_ua *u) {
        if (!u)
                return NULL;
        ua_rules_free(u->rules);
        ua_cache_free(u->cache);
        free(u);
        return NULL;
}

int oa_ua_new(const char *regexes_path, size_t cache_entries, oa_ua **ret,
              char *errbuf, size_t errlen) {
        oa_ua *u = NULL;
        int r;

        if (!ret || cache_entries > OA_UA_MAX_CACHE)
                return ua_errf(-EINVAL, errbuf, errlen, "oa_ua_new: invalid arguments");
        if (!regexes_path)
                regexes_path = OA_UA_DEFAULT_REGEXES;
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        r = ua_rules_load_file(regexes_path, &u->rules, errbuf, errlen);
        if (r < 0)
                goto out;
        for (int s = 0; s < UA_SEC_COUNT; s++) {
                if (ua_rules_count(u->rules, s) == 0) {
                        r = ua_errf(-EBADMSG, errbuf, errlen, "%s: one of user_agent_parsers, "
                                    "os_parsers, device_parsers is missing or empty",
                                    regexes_path);
                        goto out;
                }
        }
        if (cache_entries > 0) {
                r = ua_cache_new(cache_entries, &u->cache);
                if (r < 0)
                        goto out;
        }
        *ret = u;
        u = NULL;
        r = 0;
out:
        oa_ua_free(u);
        return r;
}

/* Is s[0..len) one whole, valid UTF-8 character that is not a control character? */
static size_t utf8_char(const unsigned char *s, size_t len) {
        unsigned char c = s[0];
        size_t n;

        if (c < 0x80)
                return (c >= 0x20 && c != 0x7F) ? 1 : 0;
        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF)
                n = 3;
        else if (c >= 0xF0 && c <= 0xF4)
                n = 4;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
            (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
                return 0;               /* overlong, surrogate, beyond U+10FFFF */
        if (c == 0xC2 && s[1] < 0xA0)
                return 0;               /* C1 controls */
        return n;
}

/* Appends src to dst (holding *n bytes, array of cap), as valid UTF-8 without control
 * characters ('?' stands for a bad byte), whole characters only. */
static void put_clean(char *dst, size_t cap, size_t *n, const char *src, size_t len) {
        const unsigned char *p = (const unsigned char *)src;

        for (size_t i = 0; i < len;) {
                size_t k = utf8_char(p + i, len - i);
                size_t w = k ? k : 1;

                if (*n + w > cap - 1)
                        break;
                if (k)
                        memcpy(dst + *n, p + i, k);
                else
                        dst[*n] = '?';
                *n += w;
                i += k ? k : 1;
        }
        dst[*n] = '\0';
}

static void copy_clean(char *dst, size_t cap, const char *src) {
        size_t n = 0;

        put_clean(dst, cap, &n, src, strlen(src));
}

/* "major[.minor[.patch]]" from fields 1..3, stopping at the first null or at a component
 * that does not fit whole. */
static void version(char *dst, size_t cap, const ua_fields *f) {
        size_t n = 0;

        dst[0] = '\0';
        for (int i = 1; i <= 3 && f->set[i]; i++) {
                size_t len = strlen(f->v[i]);

                if (i == 1) {
                        put_clean(dst, cap, &n, f->v[i], len);
                        continue;
                }
                if (n + 1 + len > cap - 1)
                        break;
                put_clean(dst, cap, &n, ".", 1);
                put_clean(dst, cap, &n, f->v[i], len);
        }
}

static void compute(oa_ua *u, const char *ua, size_t len, oa_ua_result *ret) {
        ua_fields f_ua, f_os, f_dev;
        ua_device_type t;

        ua_subject_set(&u->subj, ua, len);
        ua_rules_match(u->rules, UA_SEC_UA, &u->subj, &f_ua);
        ua_rules_match(u->rules, UA_SEC_OS, &u->subj, &f_os);
        ua_rules_match(u->rules, UA_SEC_DEVICE, &u->subj, &f_dev);
        t = ua_device_classify(&u->subj, &f_os, &f_dev);
        ua_subject_clear(&u->subj);

        memset(ret, 0, sizeof(*ret));
        copy_clean(ret->browser, sizeof(ret->browser), f_ua.v[0]);
        version(ret->version, sizeof(ret->version), &f_ua);
        copy_clean(ret->os, sizeof(ret->os), f_os.v[0]);
        version(ret->os_version, sizeof(ret->os_version), &f_os);
        copy_clean(ret->device, sizeof(ret->device), ua_device_name(t));
        ret->is_bot = t == UA_DEVICE_BOT;
}

int oa_ua_parse(oa_ua *u, const char *ua, size_t len, oa_ua_result *ret) {
        oa_ua_result res;

        if (!u || !ret || (!ua && len > 0))
                return -EINVAL;
        if (!ua)
                ua = "";
        if (len > OA_UA_MAX_INPUT)
                len = OA_UA_MAX_INPUT;
        if (u->cache && ua_cache_get(u->cache, ua, len, ret)) {
                u->hits++;
                return 0;
        }
        u->misses++;
        compute(u, ua, len, &res);
        /* a full cache that cannot allocate a key just does not remember this one */
        if (u->cache && ua_cache_put(u->cache, ua, len, &res) == 1)
                u->evictions++;
        *ret = res;
        return 0;
}

void oa_ua_get_stats(const oa_ua *u, oa_ua_stats *ret) {
        *ret = (oa_ua_stats){
                .hits = u->hits,
                .misses = u->misses,
                .evictions = u->evictions,
                .limit_errors = ua_rules_limit_errors(u->rules),
                .entries = u->cache ? ua_cache_size(u->cache) : 0,
                .capacity = u->cache ? ua_cache_capacity(u->cache) : 0,
        };
        for (int s = 0; s < UA_SEC_COUNT; s++)
                ret->rules += ua_rules_count(u->rules, s);
}

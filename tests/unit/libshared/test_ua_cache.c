/* Tests for libshared/src/ua_cache.c: the CLOCK cache of User-Agent results. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ua_internal.h"

static oa_ua_result tagged(const char *tag) {
        oa_ua_result r;

        memset(&r, 0, sizeof(r));
        snprintf(r.browser, sizeof(r.browser), "%s", tag);
        return r;
}

static bool has(ua_cache *c, const char *key, size_t len, const char *tag) {
        oa_ua_result got;

        if (!ua_cache_get(c, key, len, &got))
                return false;
        cr_assert_str_eq(got.browser, tag, "key %.*s", (int)len, key);
        return true;
}

Test(ua_cache, bad_capacity_is_einval) {
        ua_cache *c = NULL;

        cr_assert_eq(ua_cache_new(0, &c), -EINVAL);
        cr_assert_eq(ua_cache_new((size_t)OA_UA_MAX_CACHE + 1, &c), -EINVAL);
        cr_assert_null(c);
}

Test(ua_cache, put_then_get) {
        ua_cache *c = NULL;
        oa_ua_result r = tagged("one");

        cr_assert_eq(ua_cache_new(10, &c), 0);
        cr_assert_not(has(c, "a", 1, "one"));
        cr_assert_eq(ua_cache_put(c, "a", 1, &r), 0);
        cr_assert(has(c, "a", 1, "one"));
        cr_assert_eq(ua_cache_size(c), 1);
        cr_assert_eq(ua_cache_capacity(c), 10);
        ua_cache_free(c);
}

Test(ua_cache, keys_are_bytes) {
        ua_cache *c = NULL;
        oa_ua_result a = tagged("ab"), abc = tagged("abc"), nul = tagged("nul"), empty = tagged("empty");

        cr_assert_eq(ua_cache_new(10, &c), 0);
        ua_cache_put(c, "ab", 2, &a);
        ua_cache_put(c, "abc", 3, &abc);
        ua_cache_put(c, "ab\0c", 4, &nul);
        ua_cache_put(c, "", 0, &empty);
        cr_assert(has(c, "ab", 2, "ab"));
        cr_assert(has(c, "abc", 3, "abc"));
        cr_assert(has(c, "ab\0c", 4, "nul"));
        cr_assert(has(c, "", 0, "empty"));
        cr_assert_not(has(c, "ab\0d", 4, "-"));
        cr_assert_not(has(c, "a", 1, "-"));
        ua_cache_free(c);
}

Test(ua_cache, clock_keeps_recently_hit_entries) {
        ua_cache *c = NULL;
        oa_ua_result r;

        cr_assert_eq(ua_cache_new(3, &c), 0);
        r = tagged("a");
        ua_cache_put(c, "a", 1, &r);
        r = tagged("b");
        ua_cache_put(c, "b", 1, &r);
        r = tagged("c");
        ua_cache_put(c, "c", 1, &r);
        cr_assert(has(c, "a", 1, "a"));         /* a gets its reference bit */
        r = tagged("d");
        cr_assert_eq(ua_cache_put(c, "d", 1, &r), 1);   /* evicts b, not a */
        cr_assert_eq(ua_cache_size(c), 3);
        cr_assert(has(c, "a", 1, "a"));
        cr_assert_not(has(c, "b", 1, "b"));
        cr_assert(has(c, "c", 1, "c"));
        cr_assert(has(c, "d", 1, "d"));
        ua_cache_free(c);
}

/* Many inserts through a small cache: whatever it holds must be found, with its own result,
 * which checks the index after thousands of backward-shift deletions. */
Test(ua_cache, index_survives_churn) {
        enum { CAP = 97, KEYS = 20000 };
        ua_cache *c = NULL;
        char key[64];
        size_t found = 0;

        cr_assert_eq(ua_cache_new(CAP, &c), 0);
        srand(42);
        for (int i = 0; i < KEYS; i++) {
                /* keys vary in length so buffers get reused and reallocated */
                int n = i % 7 == 0 ? snprintf(key, sizeof(key), "k%d", i)
                                   : snprintf(key, sizeof(key), "Mozilla/5.0 key %d", i);
                oa_ua_result r = tagged(key);

                cr_assert_geq(ua_cache_put(c, key, (size_t)n, &r), 0);
                if (rand() % 3 == 0) {          /* hit a random recent key */
                        int j = i - rand() % 50;
                        int m = j % 7 == 0 ? snprintf(key, sizeof(key), "k%d", j)
                                           : snprintf(key, sizeof(key), "Mozilla/5.0 key %d", j);
                        if (j >= 0)
                                has(c, key, (size_t)m, key);
                }
        }
        cr_assert_eq(ua_cache_size(c), CAP);
        for (int i = 0; i < KEYS; i++) {
                int n = i % 7 == 0 ? snprintf(key, sizeof(key), "k%d", i)
                                   : snprintf(key, sizeof(key), "Mozilla/5.0 key %d", i);
                found += has(c, key, (size_t)n, key);
        }
        cr_assert_eq(found, CAP);
        ua_cache_free(c);
}

Test(ua_cache, capacity_one) {
        ua_cache *c = NULL;
        oa_ua_result r = tagged("x");

        cr_assert_eq(ua_cache_new(1, &c), 0);
        cr_assert_eq(ua_cache_put(c, "x", 1, &r), 0);
        r = tagged("y");
        cr_assert_eq(ua_cache_put(c, "y", 1, &r), 1);
        cr_assert_not(has(c, "x", 1, "x"));
        cr_assert(has(c, "y", 1, "y"));
        ua_cache_free(c);
}

Test(ua_cache, free_null) {
        cr_assert_null(ua_cache_free(NULL));
}

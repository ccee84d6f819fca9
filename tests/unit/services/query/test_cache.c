/* Tests for services/query/cache.c: the read cache of the stats routes. */
#include "query.h"

#include <criterion/criterion.h>
#include <string.h>

Test(oa_query_cache, hit_within_ttl_miss_after) {
        oa_query_cache *c = NULL;
        const char *v;
        size_t n = 0;

        cr_assert_eq(oa_query_cache_new(5000, 10, &c), 0);
        cr_assert_eq(oa_query_cache_put(c, "k", 1, "answer", 6, 1000), 0);
        v = oa_query_cache_get(c, "k", 1, 5999, &n);
        cr_assert_not_null(v);
        cr_assert_eq(n, 6);
        cr_assert_eq(memcmp(v, "answer", 6), 0);
        cr_assert_null(oa_query_cache_get(c, "k", 1, 6000, &n));
        cr_assert_null(oa_query_cache_get(c, "other", 5, 1000, &n));
        c = oa_query_cache_free(c);
        cr_assert_null(c);
}

Test(oa_query_cache, put_replaces_the_same_key) {
        oa_query_cache *c = NULL;
        size_t n = 0;

        cr_assert_eq(oa_query_cache_new(5000, 10, &c), 0);
        oa_query_cache_put(c, "k", 1, "one", 3, 0);
        oa_query_cache_put(c, "k", 1, "three", 5, 100);
        cr_assert_eq(memcmp(oa_query_cache_get(c, "k", 1, 200, &n), "three", 5), 0);
        cr_assert_eq(n, 5);
        oa_query_cache_free(c);
}

Test(oa_query_cache, full_evicts_the_oldest_and_keeps_max) {
        oa_query_cache *c = NULL;
        char key[8];
        size_t n = 0;

        cr_assert_eq(oa_query_cache_new(60000, 3, &c), 0);
        for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                cr_assert_eq(oa_query_cache_put(c, key, 2, "v", 1, 1000 + i), 0);
        }
        cr_assert_null(oa_query_cache_get(c, "k0", 2, 2000, &n));
        cr_assert_null(oa_query_cache_get(c, "k1", 2, 2000, &n));
        for (int i = 2; i < 5; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                cr_assert_not_null(oa_query_cache_get(c, key, 2, 2000, &n), "%s", key);
        }
        oa_query_cache_free(c);
}

Test(oa_query_cache, ttl_zero_caches_nothing) {
        oa_query_cache *c = NULL;
        size_t n = 0;

        cr_assert_eq(oa_query_cache_new(0, 10, &c), 0);
        cr_assert_eq(oa_query_cache_put(c, "k", 1, "v", 1, 0), 0);
        cr_assert_null(oa_query_cache_get(c, "k", 1, 0, &n));
        oa_query_cache_free(c);
}

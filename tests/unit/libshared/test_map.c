/* Tests for libshared/src/map.c, checked against a brute-force model. */
#include "oa/map.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(oa_map, put_get_replace_delete) {
        oa_map *m = oa_map_new();
        int a = 1, b = 2;
        void *old = &a;

        cr_assert_not_null(m);
        cr_assert_eq(oa_map_put(m, "k", 1, &a, &old), 0);
        cr_assert_null(old);
        cr_assert_eq(oa_map_get(m, "k", 1), &a);
        cr_assert_eq(oa_map_put(m, "k", 1, &b, &old), 0);
        cr_assert_eq(old, &a);
        cr_assert_eq(oa_map_size(m), 1);
        cr_assert_eq(oa_map_del(m, "k", 1), &b);
        cr_assert_null(oa_map_get(m, "k", 1));
        cr_assert_null(oa_map_del(m, "k", 1));
        cr_assert_eq(oa_map_size(m), 0);
        m = oa_map_free(m);
        cr_assert_null(m);
}

Test(oa_map, binary_keys_with_nul_are_distinct) {
        oa_map *m = oa_map_new();
        int a, b;

        oa_map_put(m, "a\0b", 3, &a, NULL);
        oa_map_put(m, "a\0c", 3, &b, NULL);
        cr_assert_eq(oa_map_get(m, "a\0b", 3), &a);
        cr_assert_eq(oa_map_get(m, "a\0c", 3), &b);
        cr_assert_null(oa_map_get(m, "a", 1));
        oa_map_free(m);
}

/* Random puts and deletes against a plain array model: after each step every key's
 * presence and value agree, which exercises growth and backward-shift deletion. */
Test(oa_map, random_operations_match_model) {
        enum { N = 3000 };
        static int present[N];
        static int vals[N];
        oa_map *m = oa_map_new();
        char k[16];
        unsigned seed = 12345;
        size_t count = 0;

        for (int step = 0; step < 60000; step++) {
                int i;

                seed = seed * 1103515245u + 12345u;
                i = (int) ((seed >> 8) % N);
                snprintf(k, sizeof(k), "key%d", i);
                if ((seed >> 4) & 1) {
                        cr_assert_eq(oa_map_put(m, k, strlen(k), &vals[i], NULL), 0);
                        count += !present[i];
                        present[i] = 1;
                } else {
                        void *v = oa_map_del(m, k, strlen(k));
                        cr_assert_eq(v, present[i] ? &vals[i] : NULL);
                        count -= present[i];
                        present[i] = 0;
                }
        }
        cr_assert_eq(oa_map_size(m), count);
        for (int i = 0; i < N; i++) {
                snprintf(k, sizeof(k), "key%d", i);
                cr_assert_eq(oa_map_get(m, k, strlen(k)), present[i] ? &vals[i] : NULL, "key%d", i);
        }
        oa_map_free(m);
}

static int count_cb(const void *key, size_t klen, void *value, void *ud) {
        (*(int *) ud)++;
        return 0;
}

Test(oa_map, foreach_visits_every_entry) {
        oa_map *m = oa_map_new();
        int x, n = 0;
        char k[8];

        for (int i = 0; i < 100; i++) {
                snprintf(k, sizeof(k), "%d", i);
                oa_map_put(m, k, strlen(k), &x, NULL);
        }
        cr_assert_eq(oa_map_foreach(m, count_cb, &n), 0);
        cr_assert_eq(n, 100);
        oa_map_free(m);
}

/* Tests for libshared/src/arena.c: alignment, growth, the cap, reset, big one-offs and
 * the caller's allocator. */
#include "oa/arena.h"

#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

Test(oa_arena, allocations_are_aligned_distinct_and_writable) {
        oa_arena a;
        char *prev = NULL;

        oa_arena_init(&a, 0);
        for (size_t n = 0; n < 3000; n++) {
                char *p = oa_arena_alloc(&a, n % 97);

                cr_assert_not_null(p);
                cr_assert_eq((uintptr_t) p % alignof(max_align_t), 0);
                cr_assert_neq(p, prev);
                memset(p, 0xab, n % 97);
                prev = p;
        }
        oa_arena_done(&a);
        oa_arena_done(&a);              /* twice is fine */
}

Test(oa_arena, cap_refuses_and_leaves_the_arena_usable) {
        oa_arena a;

        oa_arena_init(&a, 1024);
        cr_assert_not_null(oa_arena_alloc(&a, 1000));
        cr_assert_null(oa_arena_alloc(&a, 100));
        cr_assert_not_null(oa_arena_alloc(&a, 8));
        cr_assert_null(oa_arena_alloc(&a, SIZE_MAX));
        cr_assert_null(oa_arena_alloc(&a, SIZE_MAX - 8));
        cr_assert_null(oa_arena_strndup(&a, "x", SIZE_MAX));
        oa_arena_done(&a);
}

Test(oa_arena, big_one_off_does_not_waste_the_current_chunk) {
        oa_arena a;
        char *small1, *big, *small2;

        oa_arena_init(&a, 0);
        small1 = oa_arena_alloc(&a, 16);
        big = oa_arena_alloc(&a, 2u << 20);
        small2 = oa_arena_alloc(&a, 16);
        cr_assert_not_null(big);
        memset(big, 1, 2u << 20);
        /* the small ones share the first chunk */
        cr_assert_eq(small2 - small1, (ptrdiff_t) ((16 + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t)));
        oa_arena_done(&a);
}

Test(oa_arena, reset_keeps_one_chunk_and_reuses_it) {
        oa_arena a;
        char *first;

        oa_arena_init(&a, 0);
        for (int i = 0; i < 1000; i++)
                cr_assert_not_null(oa_arena_alloc(&a, 100));
        oa_arena_reset(&a);
        cr_assert_eq(a.used, 0);
        cr_assert_not_null(a.chunks);
        cr_assert_gt(a.left, 100);              /* the kept chunk serves the next one */
        first = a.cur;
        cr_assert_eq(oa_arena_alloc(&a, 100), first);
        oa_arena_done(&a);
        oa_arena_reset(&a);             /* on an empty arena */
        cr_assert_null(a.chunks);
}

Test(oa_arena, strndup_copies_and_terminates) {
        oa_arena a;
        char *s;

        oa_arena_init(&a, 0);
        s = oa_arena_strndup(&a, "hello world", 5);
        cr_assert_str_eq(s, "hello");
        s = oa_arena_strndup(&a, NULL, 0);
        cr_assert_str_eq(s, "");
        s = oa_arena_zalloc(&a, 64);
        for (int i = 0; i < 64; i++)
                cr_assert_eq(s[i], 0);
        oa_arena_done(&a);
}

struct pool {
        int calls;
        size_t bytes;
        void *blocks[16];
};

static void *pool_alloc(void *ctx, size_t n) {
        struct pool *p = ctx;

        if (p->calls == 16)
                return NULL;
        p->bytes += n;
        return p->blocks[p->calls++] = malloc(n);
}

Test(oa_arena, caller_allocator_gets_every_allocation_and_the_cap_holds) {
        struct pool p = { 0 };
        oa_arena a;

        oa_arena_init_with(&a, pool_alloc, &p, 256);
        cr_assert_not_null(oa_arena_alloc(&a, 10));
        cr_assert_not_null(oa_arena_strndup(&a, "abc", 3));
        cr_assert_null(oa_arena_alloc(&a, 300));
        cr_assert_eq(p.calls, 2);
        cr_assert_eq(a.used, p.bytes);
        oa_arena_done(&a);              /* frees nothing of the pool's */
        for (int i = 0; i < p.calls; i++)
                free(p.blocks[i]);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* A loop's arena is reset after every request: what a pointer kept past the reset reaches
 * must be poisoned until the arena hands it out again. */
Test(oa_arena, reset_poisons_what_it_keeps_until_handed_out_again) {
        oa_arena a;
        char *p, *q;

        oa_arena_init(&a, 0);
        p = oa_arena_alloc(&a, 100);
        cr_assert_not_null(p);
        memset(p, 'x', 100);
        oa_arena_reset(&a);
        cr_assert(__asan_address_is_poisoned(p), "kept chunk readable after the reset");
        q = oa_arena_alloc(&a, 100);
        cr_assert_eq(q, p, "the kept chunk is reused");
        cr_assert(!__asan_address_is_poisoned(q));
        cr_assert(__asan_address_is_poisoned(q + 128), "the rest stays poisoned");
        oa_arena_done(&a);
}
#endif

/* Tests for libshared/src/rl.c: window arithmetic and the in-process fallback. The Redis
 * path is tested in tests/integration against a real Redis. */
#include "oa/rl.h"

#include <criterion/criterion.h>
#include <stdio.h>

Test(oa_rl, decide_at_window_edges) {
        oa_rl_result r;

        /* now = 120 is the first second of the window [120, 180). */
        oa_rl_decide(1, 60, 120, 60, &r);
        cr_assert(r.allowed);
        cr_assert_eq(r.remaining, 59);
        cr_assert_eq(r.reset, 180);
        cr_assert_eq(r.retry_after, 0);
        oa_rl_decide(60, 60, 179, 60, &r);
        cr_assert(r.allowed, "the 60th request of a 60/min budget is allowed");
        cr_assert_eq(r.remaining, 0);
        cr_assert_eq(r.reset, 180);
        oa_rl_decide(61, 60, 179, 60, &r);
        cr_assert_not(r.allowed, "the 61st is not");
        cr_assert_eq(r.remaining, 0);
        cr_assert_eq(r.retry_after, 1, "last second of the window");
        oa_rl_decide(61, 60, 121, 60, &r);
        cr_assert_eq(r.retry_after, 59);
        oa_rl_decide(1000, 60, 130, 60, &r);
        cr_assert_eq(r.remaining, 0, "never negative");
}

Test(oa_rl, local_counts_per_window_and_id) {
        oa_rl *rl = NULL;
        oa_rl_result r;

        cr_assert_eq(oa_rl_new(NULL, 1000, &rl), 0);
        for (int i = 1; i <= 60; i++) {
                cr_assert_eq(oa_rl_hit_local(rl, "key:a", 60, 60, 1000 + (i % 19), &r), 0);
                cr_assert(r.allowed, "request %d", i);
                cr_assert(r.local);
                cr_assert_eq(r.remaining, 60 - i);
        }
        oa_rl_hit_local(rl, "key:a", 60, 60, 1019, &r);
        cr_assert_not(r.allowed);
        cr_assert_eq(r.reset, 1020);
        oa_rl_hit_local(rl, "key:b", 60, 60, 1019, &r);
        cr_assert(r.allowed, "another id has its own budget");
        oa_rl_hit_local(rl, "key:a", 60, 60, 1020, &r);
        cr_assert(r.allowed, "a new window starts over");
        cr_assert_eq(r.remaining, 59);
        oa_rl_free(rl);
}

Test(oa_rl, local_table_is_bounded) {
        oa_rl *rl = NULL;
        oa_rl_result r;
        char id[32];

        cr_assert_eq(oa_rl_new(NULL, 100, &rl), 0);
        for (int i = 0; i < 10000; i++) {
                snprintf(id, sizeof(id), "ip:%d", i);
                cr_assert_eq(oa_rl_hit_local(rl, id, 5, 60, 600 + i / 1000 * 60, &r), 0);
                cr_assert(r.allowed);
        }
        /* The same id hammered after the flood is still limited. */
        for (int i = 0; i < 5; i++)
                oa_rl_hit_local(rl, "ip:x", 5, 60, 1200, &r);
        cr_assert(r.allowed);
        oa_rl_hit_local(rl, "ip:x", 5, 60, 1200, &r);
        cr_assert_not(r.allowed);
        oa_rl_free(rl);
}

Test(oa_rl, without_redis_hit_falls_back_and_is_not_degraded) {
        oa_rl *rl = NULL;
        oa_rl_result r;

        cr_assert_eq(oa_rl_new(NULL, 10, &rl), 0);
        cr_assert_eq(oa_rl_hit(rl, "key:z", 2, 60, &r), 0);
        cr_assert(r.local);
        cr_assert_not(oa_rl_degraded(rl), "no Redis configured is not a degradation");
        oa_rl_free(rl);
}

Test(oa_rl, peek_does_not_count) {
        oa_rl *rl = NULL;
        oa_rl_result r;

        cr_assert_eq(oa_rl_new(NULL, 10, &rl), 0);
        for (int i = 0; i < 5; i++) {
                cr_assert_eq(oa_rl_peek(rl, "authfail:x", 2, 60, &r), 0);
                cr_assert(r.allowed);
        }
        oa_rl_hit(rl, "authfail:x", 2, 60, &r);
        oa_rl_peek(rl, "authfail:x", 2, 60, &r);
        cr_assert(r.allowed, "one failure of two: one more would pass");
        oa_rl_hit(rl, "authfail:x", 2, 60, &r);
        cr_assert(r.allowed);
        oa_rl_peek(rl, "authfail:x", 2, 60, &r);
        cr_assert_not(r.allowed, "two of two: the next is refused");
        oa_rl_free(rl);
}

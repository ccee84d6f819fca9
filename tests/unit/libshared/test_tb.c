/* Tests for libshared/src/tb.c: GCRA arithmetic and the in-process buckets. The Redis
 * script is exercised by oa-edge's integration tests against a real Redis. */
#include "oa/tb.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#define S 1000000LL     /* one second in microseconds */

Test(oa_tb, a_full_bucket_gives_its_burst_then_refuses) {
        long long tat = 0, now = 1000 * S;
        oa_tb_result r;

        /* 50/s, burst 100: 100 at once, the 101st waits one token (20 ms) */
        for (int i = 1; i <= 100; i++) {
                oa_tb_gcra(&tat, now, 50, 100, 1, &r);
                cr_assert(r.allowed, "take %d", i);
                cr_assert_eq(r.remaining, 100 - i, "take %d: %lld left", i, r.remaining);
        }
        oa_tb_gcra(&tat, now, 50, 100, 1, &r);
        cr_assert_not(r.allowed);
        cr_assert_eq(r.remaining, 0);
        cr_assert_eq(r.retry_after_ms, 20);
        cr_assert_not(r.local);
}

Test(oa_tb, refills_at_the_rate) {
        long long tat = 0, now = 1000 * S;
        oa_tb_result r;

        for (int i = 0; i < 100; i++)
                oa_tb_gcra(&tat, now, 50, 100, 1, &r);
        /* 1 s later: 50 tokens back, no more */
        now += S;
        for (int i = 0; i < 50; i++) {
                oa_tb_gcra(&tat, now, 50, 100, 1, &r);
                cr_assert(r.allowed, "take %d", i);
        }
        oa_tb_gcra(&tat, now, 50, 100, 1, &r);
        cr_assert_not(r.allowed);
        /* a long pause refills to the burst, never above */
        now += 3600 * S;
        oa_tb_gcra(&tat, now, 50, 100, 1, &r);
        cr_assert(r.allowed);
        cr_assert_eq(r.remaining, 99);
}

Test(oa_tb, refused_take_changes_nothing) {
        long long tat = 0, now = 5 * S, before;
        oa_tb_result r;

        oa_tb_gcra(&tat, now, 10, 10, 10, &r);
        cr_assert(r.allowed);
        before = tat;
        oa_tb_gcra(&tat, now, 10, 10, 1, &r);
        cr_assert_not(r.allowed);
        cr_assert_eq(tat, before);
        cr_assert_eq(r.retry_after_ms, 100);
}

Test(oa_tb, several_tokens_at_once) {
        long long tat = 0, now = 5 * S;
        oa_tb_result r;

        oa_tb_gcra(&tat, now, 100, 100, 60, &r);
        cr_assert(r.allowed);
        cr_assert_eq(r.remaining, 40);
        oa_tb_gcra(&tat, now, 100, 100, 60, &r);
        cr_assert_not(r.allowed, "only 40 left");
        cr_assert_eq(r.remaining, 40);
        cr_assert_eq(r.retry_after_ms, 200, "20 tokens at 100/s");
        oa_tb_gcra(&tat, now, 100, 100, 101, &r);
        cr_assert_not(r.allowed, "more than the burst never passes");
}

Test(oa_tb, very_high_rates_do_not_divide_by_zero) {
        long long tat = 0;
        oa_tb_result r;

        oa_tb_gcra(&tat, 7 * S, 5000000, 10, 1, &r);
        cr_assert(r.allowed);
}

Test(oa_tb, local_buckets_are_per_id) {
        oa_tb *tb = NULL;
        oa_tb_result r;

        cr_assert_eq(oa_tb_new(NULL, 100, &tb), 0);
        for (int i = 0; i < 3; i++)
                cr_assert_eq(oa_tb_take_local(tb, "ip:a", 1, 3, 1, 10 * S, &r), 0);
        cr_assert(r.allowed);
        cr_assert(r.local);
        oa_tb_take_local(tb, "ip:a", 1, 3, 1, 10 * S, &r);
        cr_assert_not(r.allowed);
        oa_tb_take_local(tb, "ip:b", 1, 3, 1, 10 * S, &r);
        cr_assert(r.allowed, "another id has its own bucket");
        cr_assert_eq(oa_tb_take_local(tb, "ip:a", 0, 3, 1, 10 * S, &r), -EINVAL);
        cr_assert_eq(oa_tb_take_local(tb, "ip:a", 1, 0, 1, 10 * S, &r), -EINVAL);
        cr_assert_eq(oa_tb_take_local(tb, "ip:a", 1, 3, 0, 10 * S, &r), -EINVAL);
        oa_tb_free(tb);
}

Test(oa_tb, local_table_is_bounded_and_keeps_busy_buckets) {
        oa_tb *tb = NULL;
        oa_tb_result r;
        char id[32];

        cr_assert_eq(oa_tb_new(NULL, 100, &tb), 0);
        /* a busy bucket, emptied at 10 s: full again only at 15 s */
        for (int i = 0; i < 5; i++)
                oa_tb_take_local(tb, "busy", 1, 5, 1, 10 * S, &r);
        /* 99 more ids fill the table; each is full again a millisecond later */
        for (int i = 0; i < 99; i++) {
                snprintf(id, sizeof(id), "ip:%d", i);
                oa_tb_take_local(tb, id, 1000, 1000, 1, 10 * S, &r);
        }
        /* a flood of new ids at 12 s: the full buckets go, the busy one stays */
        for (int i = 0; i < 10000; i++) {
                snprintf(id, sizeof(id), "new:%d", i);
                cr_assert_eq(oa_tb_take_local(tb, id, 1000, 1000, 1, 12 * S, &r), 0);
                cr_assert(r.allowed);
                if (i == 0) {
                        oa_tb_take_local(tb, "busy", 1, 5, 1, 12 * S, &r);
                        cr_assert(r.allowed, "two tokens came back in 2 s");
                        cr_assert_eq(r.remaining, 1, "the bucket was kept, not started afresh");
                }
        }
        oa_tb_free(tb);
}

Test(oa_tb, without_redis_take_falls_back_and_is_not_degraded) {
        oa_tb *tb = NULL;
        oa_tb_result r;

        cr_assert_eq(oa_tb_new(NULL, 10, &tb), 0);
        cr_assert_eq(oa_tb_take(tb, "site:s", 50, 100, 1, &r), 0);
        cr_assert(r.allowed);
        cr_assert(r.local);
        cr_assert_not(oa_tb_degraded(tb));
        cr_assert_null(oa_tb_free(tb));
        cr_assert_null(oa_tb_free(NULL));
}

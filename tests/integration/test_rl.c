/* Integration tests of libshared's rate limiter (oa/rl.h) against a real Redis
 * (OA_REDIS_URL): two limiters stand for two replicas sharing one budget. Bucket ids carry
 * the process id so runs do not share counters. Windows are an hour long, so no test
 * straddles a window's end unless it starts in its last seconds (then it waits). */
#include "oa/rds.h"
#include "oa/rl.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 3600

static oa_rds *rds_a, *rds_b;
static oa_rl *rl_a, *rl_b;
static char id[64];

static const char *need_env(const char *name) {
        const char *v = getenv(name);

        cr_assert(v && *v, "%s is not set: run the integration tests with tests/integration/run.sh", name);
        return v;
}

/* Redis's clock, seconds. */
static long long redis_now(void) {
        redisReply *rep = oa_rds_command(rds_a, "TIME");
        long long now;

        cr_assert_not_null(rep, "%s", oa_rds_errstr(rds_a));
        now = atoll(rep->element[0]->str);
        freeReplyObject(rep);
        return now;
}

/* The window's count as Redis holds it. */
static long long redis_count(void) {
        long long now = redis_now();
        redisReply *rep = oa_rds_command(rds_a, "GET oa:rl:{%s}:%lld", id, now - now % WINDOW);
        long long c;

        cr_assert_not_null(rep);
        c = rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : 0;
        freeReplyObject(rep);
        return c;
}

static void setup(void) {
        static int n;
        char err[256];

        signal(SIGPIPE, SIG_IGN);
        cr_assert_eq(oa_rds_new(need_env("OA_REDIS_URL"), 2000, &rds_a, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_rds_new(need_env("OA_REDIS_URL"), 2000, &rds_b, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_rl_new(rds_a, 1000, &rl_a), 0);
        cr_assert_eq(oa_rl_new(rds_b, 1000, &rl_b), 0);
        snprintf(id, sizeof(id), "it:%ld:%d:%ld", (long) getpid(), n++, (long) time(NULL));
        /* Not in the last 20 s of a window: every test fits in one. */
        while (WINDOW - redis_now() % WINDOW < 20)
                sleep(1);
}

static void teardown(void) {
        rl_a = oa_rl_free(rl_a);
        rl_b = oa_rl_free(rl_b);
        rds_a = oa_rds_free(rds_a);
        rds_b = oa_rds_free(rds_b);
}

TestSuite(rl_integration, .init = setup, .fini = teardown, .timeout = 120);

Test(rl_integration, small_limit_is_exact_across_two_replicas) {
        oa_rl_result r;
        int allowed = 0;

        for (int i = 0; i < 80; i++) {
                cr_assert_eq(oa_rl_hit(i % 2 ? rl_b : rl_a, id, 60, WINDOW, &r), 0);
                cr_assert_not(r.local, "decided in Redis");
                if (r.allowed) {
                        allowed++;
                        cr_assert_eq(r.remaining, 60 - allowed, "remaining after %d", allowed);
                } else {
                        cr_assert_eq(r.remaining, 0);
                        cr_assert_geq(r.retry_after, 1);
                }
        }
        cr_assert_eq(allowed, 60);
        cr_assert_eq(redis_count(), 60);
}

Test(rl_integration, large_limit_is_leased_and_never_exceeded) {
        oa_rl_result r;
        long long allowed = 0, limit = 64000;

        /* The first request takes a lease of limit / 64 = 1,000 at once. */
        cr_assert_eq(oa_rl_hit(rl_a, id, limit, WINDOW, &r), 0);
        cr_assert(r.allowed);
        cr_assert_eq(redis_count(), 1000);
        for (int i = 1; i < 1000; i++) {
                cr_assert_eq(oa_rl_hit(rl_a, id, limit, WINDOW, &r), 0);
                cr_assert(r.allowed);
        }
        cr_assert_eq(redis_count(), 1000, "999 more requests spent the lease without asking Redis");
        cr_assert_eq(r.remaining, limit - 1000);
        /* Two replicas spend the whole budget: exactly the limit passes. */
        allowed = 1000;
        for (int i = 0; i < 70000; i++) {
                cr_assert_eq(oa_rl_hit(i % 3 ? rl_b : rl_a, id, limit, WINDOW, &r), 0);
                allowed += r.allowed;
        }
        cr_assert_eq(allowed, limit, "allowed %lld of %lld", allowed, limit);
        cr_assert_eq(redis_count(), limit);
}

Test(rl_integration, idle_lease_is_handed_back) {
        oa_rl_result r;

        cr_assert_eq(oa_rl_hit(rl_a, id, 64000, WINDOW, &r), 0);
        for (int i = 0; i < 9; i++)
                oa_rl_hit(rl_a, id, 64000, WINDOW, &r);
        cr_assert_eq(redis_count(), 1000);
        usleep(200 * 1000);
        oa_rl_tick(rl_a);
        cr_assert_eq(redis_count(), 10, "the 990 unspent requests went back");
        /* Freeing a limiter hands back what it holds too. */
        oa_rl_hit(rl_b, id, 64000, WINDOW, &r);
        cr_assert_eq(redis_count(), 10 + 1000, "a lease of 1,000 for the second replica");
        rl_b = oa_rl_free(rl_b);
        cr_assert_eq(redis_count(), 11);
}

Test(rl_integration, peek_reads_without_counting) {
        oa_rl_result r;

        for (int i = 0; i < 3; i++)
                oa_rl_hit(rl_a, id, 3, WINDOW, &r);
        cr_assert(r.allowed);
        cr_assert_eq(oa_rl_peek(rl_b, id, 3, WINDOW, &r), 0);
        cr_assert_not(r.allowed, "the budget of 3 is spent");
        cr_assert_eq(redis_count(), 3);
}

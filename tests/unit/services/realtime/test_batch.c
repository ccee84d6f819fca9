/* Tests for services/realtime/batch.c: the arguments of a batch's script (the offsets
 * check, the commands of each event, one expiry per touched key), what an old event still
 * writes, a bad project id, and that a retry sends the same arguments. */
#include "realtime.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1747000000000LL             /* a Unix time in ms */

static Oa__Event event(const char *type, const char *visitor, const char *path, int64_t received_ms) {
        Oa__Event ev = OA__EVENT__INIT;

        ev.project_id = "prj_A1";
        ev.event_id = "e";
        ev.event_type = (char *) type;
        ev.visitor_id = (char *) visitor;
        ev.path = (char *) path;
        ev.referrer_host = "google.com";
        ev.country = "GB";
        ev.source = OA__EVENT_SOURCE__EVENT_SOURCE_API;
        ev.received_ms = received_ms;
        ev.timestamp_ms = received_ms;
        ev.ip = "203.0.113.9";
        ev.user_agent = "SecretAgent";
        return ev;
}

/* The commands after the head, as "CMD key arg..." lines. */
static char *commands(const char **args, size_t n, size_t head) {
        size_t cap = 1 << 16, len = 0;
        char *out = calloc(1, cap);

        for (size_t i = head; i < n;) {
                int argc = atoi(args[i++]);

                for (int k = 0; k < argc; k++, i++)
                        len += (size_t) snprintf(out + len, cap - len, "%s%s", k ? " " : "", args[i]);
                len += (size_t) snprintf(out + len, cap - len, "\n");
        }
        return out;
}

Test(oa_rt_batch, head_says_what_redis_must_hold_per_partition) {
        oa_rt_batch b;
        Oa__Event ev = event("pageview", "v1", "/", NOW);
        const char **args;
        size_t n;

        cr_assert_eq(oa_rt_batch_init(&b, 1000), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &ev, 3, 10, -1, NOW, 1), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &ev, 3, 11, -1, NOW, 2), 0);
        cr_assert_eq(oa_rt_batch_add(&b, NULL, 5, 0, -1, NOW, 3), 0);     /* a bad message */
        cr_assert_eq(oa_rt_batch_add(&b, &ev, 7, 40, 40, NOW, 4), 0);     /* just rewound here */
        cr_assert_eq(b.n_msgs, 4);
        cr_assert_eq(b.n_events, 3);
        cr_assert_eq(b.started_ms, 1);
        cr_assert_eq(oa_rt_batch_args(&b, &args, &n), 0);
        cr_assert_str_eq(args[0], "3");
        cr_assert_str_eq(args[1], "3");
        cr_assert_str_eq(args[2], "9");         /* Redis must have applied 9 */
        cr_assert_str_eq(args[3], "11");
        cr_assert_str_eq(args[4], "5");
        cr_assert_str_eq(args[5], "-1");        /* offset 0: nothing before it */
        cr_assert_str_eq(args[6], "0");
        cr_assert_str_eq(args[7], "7");
        cr_assert_str_eq(args[8], "-1");        /* rewound: Redis may know nothing */
        cr_assert_str_eq(args[9], "40");
        free(args);
        oa_rt_batch_done(&b);
}

Test(oa_rt_batch, an_event_writes_every_counter_and_every_key_expires_once) {
        oa_rt_batch b;
        Oa__Event pv = event("pageview", "v1", "/pricing", NOW), click = event("click", "v2", "/x", NOW);
        int64_t m = oa_rt_minute(NOW);
        const char **args;
        char *cmds, want[256];
        size_t n;

        cr_assert_eq(oa_rt_batch_init(&b, 1000), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &pv, 0, 0, -1, NOW, 1), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &click, 0, 1, -1, NOW, 1), 0);
        cr_assert_eq(oa_rt_batch_args(&b, &args, &n), 0);
        cmds = commands(args, n, 4);
#define HAS(...) do { snprintf(want, sizeof(want), __VA_ARGS__); \
                cr_assert_not_null(strstr(cmds, want), "no '%s' in:\n%s", want, cmds); } while (0)
        HAS("PFADD oa:rt:{prj_A1}:v:%lld v1\n", (long long) m);
        HAS("PFADD oa:rt:{prj_A1}:v:%lld v2\n", (long long) m);
        HAS("HINCRBY oa:rt:{prj_A1}:n:%lld pv 1\n", (long long) m);
        HAS("HINCRBY oa:rt:{prj_A1}:n:%lld ev 1\n", (long long) m);
        HAS("HINCRBY oa:rt:{prj_A1}:n:%lld api 1\n", (long long) m);
        HAS("ZINCRBY oa:rt:{prj_A1}:pg:%lld 1 /pricing\n", (long long) m);
        HAS("ZINCRBY oa:rt:{prj_A1}:rf:%lld 1 google.com\n", (long long) m);
        HAS("ZINCRBY oa:rt:{prj_A1}:co:%lld 1 GB\n", (long long) m);
        HAS("LPUSH oa:rt:{prj_A1}:recent {");
        HAS("LTRIM oa:rt:{prj_A1}:recent 0 99\n");
        HAS("EXPIRE oa:rt:{prj_A1}:recent 7200\n");
        HAS("ZREMRANGEBYRANK oa:rt:{prj_A1}:pg:%lld 0 -1001\n", (long long) m);
        /* a click is not a page: only pageviews rank pages */
        cr_assert_null(strstr(cmds, " 1 /x\n"));
        /* every key written gets exactly one expiry, at most two hours away */
        {
                const char *kinds[] = { "v", "n", "pg", "rf", "co" };

                for (size_t i = 0; i < 5; i++) {
                        char *first, *again;

                        snprintf(want, sizeof(want), "EXPIREAT oa:rt:{prj_A1}:%s:%lld %lld\n", kinds[i], (long long) m,
                                 (long long) oa_rt_minute_expire_at(m));
                        first = strstr(cmds, want);
                        cr_assert_not_null(first, "no '%s' in:\n%s", want, cmds);
                        again = strstr(first + 1, want);
                        cr_assert_null(again, "expiry twice: %s", want);
                        cr_assert_leq(oa_rt_minute_expire_at(m) - NOW / 1000, 7200);
                }
        }
        /* the recent entry keeps neither IP nor User-Agent */
        cr_assert_null(strstr(cmds, "203.0.113.9"));
        cr_assert_null(strstr(cmds, "SecretAgent"));
#undef HAS
        free(cmds);
        free(args);
        oa_rt_batch_done(&b);
}

Test(oa_rt_batch, an_event_older_than_the_series_only_goes_to_the_recent_list) {
        oa_rt_batch b;
        Oa__Event old = event("pageview", "v1", "/", NOW - 40LL * 60000);
        const char **args;
        char *cmds;
        size_t n;

        cr_assert_eq(oa_rt_batch_init(&b, 1000), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &old, 0, 0, -1, NOW, 1), 0);
        cr_assert_eq(oa_rt_batch_args(&b, &args, &n), 0);
        cmds = commands(args, n, 4);
        cr_assert_null(strstr(cmds, "PFADD"));
        cr_assert_null(strstr(cmds, "HINCRBY"));
        cr_assert_not_null(strstr(cmds, "LPUSH"));
        free(cmds);
        free(args);
        oa_rt_batch_done(&b);
}

Test(oa_rt_batch, a_bad_project_id_writes_nothing_but_keeps_the_offset) {
        oa_rt_batch b;
        Oa__Event ev = event("pageview", "v1", "/", NOW);

        ev.project_id = "prj}{evil";
        cr_assert_eq(oa_rt_batch_init(&b, 1000), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &ev, 2, 5, -1, NOW, 1), -EINVAL);
        cr_assert_eq(b.n_args, 0);
        cr_assert_eq(b.n_events, 0);
        cr_assert_eq(oa_rt_batch_part(&b, 2)->last, 5);
        oa_rt_batch_done(&b);
}

Test(oa_rt_batch, a_retry_sends_the_same_arguments_and_reset_empties) {
        oa_rt_batch b;
        Oa__Event ev = event("pageview", "v1", "/", NOW);
        const char **a1, **a2;
        size_t n1, n2;

        cr_assert_eq(oa_rt_batch_init(&b, 1000), 0);
        cr_assert_eq(oa_rt_batch_add(&b, &ev, 1, 7, -1, NOW, 1), 0);
        cr_assert_eq(oa_rt_batch_args(&b, &a1, &n1), 0);
        cr_assert_eq(oa_rt_batch_args(&b, &a2, &n2), 0);
        cr_assert_eq(n1, n2);
        for (size_t i = 0; i < n1; i++)
                cr_assert_str_eq(a1[i], a2[i]);
        free(a1);
        free(a2);
        oa_rt_batch_reset(&b);
        cr_assert_eq(b.n_msgs, 0);
        cr_assert_eq(b.n_parts, 0);
        cr_assert_null(oa_rt_batch_part(&b, 1));
        oa_rt_batch_done(&b);
}

Test(oa_rt_batch, the_script_checks_before_it_writes) {
        const char *check = strstr(oa_rt_script, "if #bad > 0 then return bad end");
        const char *write = strstr(oa_rt_script, "redis.call(unpack(");

        cr_assert_not_null(check);
        cr_assert_not_null(write);
        cr_assert_lt(check, write);
}

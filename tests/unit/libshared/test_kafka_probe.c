/* Tests for libshared/src/kafka_probe.c: the health probe answers up against a (mock)
 * broker and down against none, and oa_kprobe_poll never blocks the caller, even while a
 * question waits for a broker that does not answer. */
#include "test_kafka_mock.h"

#include <errno.h>
#include <string.h>

TestSuite(oa_kprobe, .timeout = 60);

typedef struct probe {
        mock m;
        oa_kprod *kp;
        oa_kprobe *p;
} probe;

static void dr_ignore(const oa_kprod_report *r, void *cb_opaque) {
}

/* A producer on a mock broker with topic "t" (or on a closed port when !up), and a
 * probe of "t" due at once. */
static void probe_start(probe *t, bool up) {
        oa_kafka_cfg c = { .client_id = "test-probe", .envp = no_env };
        char err[256] = "";

        *t = (probe) { 0 };
        if (up) {
                mock_start(&t->m, 1);
                mock_topic(&t->m, "t", 1);
        } else {
                quiet_logs();
        }
        c.brokers = up ? t->m.brokers : "127.0.0.1:1";
        cr_assert_eq(oa_kprod_new(&c, dr_ignore, NULL, &t->kp, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_kprobe_new(oa_kprod_rk(t->kp), "t", mono_ms() - OA_KPROBE_EVERY_MS, &t->p), 0);
}

static void probe_stop(probe *t) {
        cr_assert_null(oa_kprobe_free(t->p));
        oa_kprod_free(t->kp);
        mock_stop(&t->m);
}

/* Poll until an answer comes (at most 5 s); asserts that no call took long. */
static int poll_answer(oa_kprobe *p, char *err, size_t errlen) {
        const int64_t end = mono_ms() + 5000;
        int r = -EAGAIN;

        while (r == -EAGAIN && mono_ms() < end) {
                int64_t t = mono_ms();

                r = oa_kprobe_poll(p, t, err, errlen);
                cr_assert_lt(mono_ms() - t, 20, "oa_kprobe_poll blocked for %lld ms",
                             (long long) (mono_ms() - t));
                if (r == -EAGAIN)
                        usleep(1000);
        }
        return r;
}

Test(oa_kprobe, a_broker_that_answers_is_up) {
        probe t;
        char err[256] = "";

        probe_start(&t, true);
        cr_assert_eq(poll_answer(t.p, err, sizeof(err)), 1, "%s", err);
        /* the next question is not due yet */
        cr_assert_eq(oa_kprobe_poll(t.p, mono_ms(), err, sizeof(err)), -EAGAIN);
        probe_stop(&t);
}

Test(oa_kprobe, no_broker_is_down_and_the_caller_never_waits) {
        probe t;
        char err[256] = "";

        probe_start(&t, false);
        cr_assert_eq(poll_answer(t.p, err, sizeof(err)), 0);
        cr_assert_neq(err[0], '\0', "the reason is given");
        probe_stop(&t);
}

Test(oa_kprobe, answered_postpones_the_next_question) {
        probe t;
        char err[256] = "";

        probe_start(&t, true);
        oa_kprobe_answered(t.p, mono_ms());
        for (int i = 0; i < 3; i++) {
                usleep(100 * 1000);
                cr_assert_eq(oa_kprobe_poll(t.p, mono_ms(), err, sizeof(err)), -EAGAIN, "nothing was asked");
        }
        cr_assert_null(oa_kprobe_free(NULL));
        probe_stop(&t);
}

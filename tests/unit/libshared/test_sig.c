/* Tests for libshared/src/sig.c: a stop request wakes a poll loop. */
#include "oa/sig.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

Test(oa_sig, sigterm_sets_flag_and_wakes_fd) {
        struct pollfd p;

        cr_assert_eq(oa_sig_setup(), 0);
        cr_assert_geq(oa_sig_fd(), 0);
        cr_assert_not(oa_sig_stop_requested());
        p.fd = oa_sig_fd();
        p.events = POLLIN;
        cr_assert_eq(poll(&p, 1, 0), 0, "not readable before a signal");
        cr_assert_eq(kill(getpid(), SIGTERM), 0);
        cr_assert_eq(poll(&p, 1, 1000), 1, "readable after SIGTERM");
        cr_assert(oa_sig_stop_requested());
        cr_assert_eq(oa_sig_last(), SIGTERM);
}

Test(oa_sig, sigpipe_is_ignored) {
        int fds[2];

        cr_assert_eq(oa_sig_setup(), 0);
        cr_assert_eq(pipe(fds), 0);
        close(fds[0]);
        cr_assert_eq(write(fds[1], "x", 1), -1, "EPIPE instead of death");
        close(fds[1]);
}

Test(oa_sig, request_stop_wakes_fd) {
        struct pollfd p;

        cr_assert_eq(oa_sig_setup(), 0);
        oa_sig_request_stop();
        p.fd = oa_sig_fd();
        p.events = POLLIN;
        cr_assert_eq(poll(&p, 1, 1000), 1);
        cr_assert(oa_sig_stop_requested());
}

/* Async-signal-safe stop requests: the handler only stores a flag and writes one byte to a
 * non-blocking pipe. */
#include "oa/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t last_sig;
static int pipe_fds[2] = { -1, -1 };

static void wake(void) {
        int saved = errno;

        if (pipe_fds[1] >= 0) {
                char c = 1;
                /* A full pipe already wakes the reader; the result does not matter. */
                if (write(pipe_fds[1], &c, 1) < 0) {
                }
        }
        errno = saved;
}

static void on_stop(int sig) {
        stop_flag = 1;
        last_sig = sig;
        wake();
}

int oa_sig_setup(void) {
        struct sigaction sa;

        if (pipe_fds[0] < 0) {
                if (pipe(pipe_fds) < 0)
                        return -errno;
                for (int i = 0; i < 2; i++) {
                        fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
                        fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
                }
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return -errno;
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) < 0)
                return -errno;
        return 0;
}

bool oa_sig_stop_requested(void) {
        return stop_flag != 0;
}

void oa_sig_request_stop(void) {
        stop_flag = 1;
        wake();
}

int oa_sig_fd(void) {
        return pipe_fds[0];
}

int oa_sig_last(void) {
        return last_sig;
}

/* Integration tests of libshared's Redis client (oa/rds.h) against a real Redis:
 * OA_REDIS_URL, and OA_STACK_CMD (a command that takes "restart redis") for the restart
 * test, as written by tests/integration/run.sh. Keys are prefixed with the process id. */
#include "oa/rds.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static oa_rds *rds;
static char prefix[64];

static const char *need_env(const char *name) {
        const char *v = getenv(name);

        cr_assert(v && *v, "%s is not set: run the integration tests with tests/integration/run.sh "
                  "(or export it by hand)", name);
        return v;
}

static void setup(void) {
        char err[256];

        signal(SIGPIPE, SIG_IGN);       /* as the daemons do (oa_sig_setup): hiredis uses write(2) */
        cr_assert_eq(oa_rds_new(need_env("OA_REDIS_URL"), 2000, &rds, err, sizeof(err)), 0, "%s", err);
        snprintf(prefix, sizeof(prefix), "oa:it:%ld", (long) getpid());
}

static void teardown(void) {
        redisReply *rep;

        if (rds && (rep = oa_rds_command(rds, "EVAL %s 0 %s", "for _, k in ipairs(redis.call('KEYS', "
                                         "ARGV[1] .. '*')) do redis.call('DEL', k) end return 0", prefix)))
                freeReplyObject(rep);
        rds = oa_rds_free(rds);
}

TestSuite(rds_integration, .init = setup, .fini = teardown, .timeout = 60);

/* sh -c cmd with SIGPIPE back to its default (we ignore it, and children would inherit
 * that, turning every `cmd | head` of a script into "write error: Broken pipe") and
 * without our descriptors beyond stderr: the Redis it starts outlives us and must not
 * keep Criterion's pipes open. Returns the exit status, or -1. */
static int run_shell(const char *cmd) {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                signal(SIGPIPE, SIG_DFL);
                closefrom(3);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long long elapsed_ms(const struct timespec *t0) {
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

Test(rds_integration, ping_answers) {
        cr_assert_eq(oa_rds_ping(rds), 0, "%s", oa_rds_errstr(rds));
        cr_assert(oa_rds_connected(rds));
}

Test(rds_integration, binary_value_round_trips) {
        const char value[] = { 'a', '\0', '\xff', '\r', '\n', 'z' };
        redisReply *rep;

        rep = oa_rds_command(rds, "SET %s:bin %b", prefix, value, sizeof(value));
        cr_assert_not_null(rep, "%s", oa_rds_errstr(rds));
        cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
        freeReplyObject(rep);
        rep = oa_rds_command(rds, "GET %s:bin", prefix);
        cr_assert_not_null(rep, "%s", oa_rds_errstr(rds));
        cr_assert_eq(rep->type, REDIS_REPLY_STRING);
        cr_assert_eq(rep->len, sizeof(value));
        cr_assert_eq(memcmp(rep->str, value, sizeof(value)), 0);
        freeReplyObject(rep);
}

Test(rds_integration, pipeline_replies_in_order) {
        redisReply *rep;
        char key[96];

        snprintf(key, sizeof(key), "%s:ctr", prefix);
        for (int i = 0; i < 100; i++)
                cr_assert_eq(oa_rds_append_argv(rds, 2, (const char *[]) { "INCR", key }, NULL), 0);
        for (long long i = 1; i <= 100; i++) {
                cr_assert_eq(oa_rds_get_reply(rds, &rep), 0, "%s", oa_rds_errstr(rds));
                cr_assert_eq(rep->type, REDIS_REPLY_INTEGER);
                cr_assert_eq(rep->integer, i);
                freeReplyObject(rep);
        }
        cr_assert_eq(oa_rds_get_reply(rds, &rep), -EINVAL);
}

static const char script[] =
        "local c = redis.call('INCR', KEYS[1])\n"
        "return {c, tonumber(ARGV[1])}\n";

Test(rds_integration, eval_works_after_script_flush) {
        char key[96];
        const char *keys[] = { key }, *args[] = { "60" };
        long long a = 0, b = 0;
        redisReply *rep;

        snprintf(key, sizeof(key), "%s:eval", prefix);
        cr_assert_eq(oa_rds_eval_ll2(rds, script, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(rds));
        cr_assert_eq(a, 1);
        cr_assert_eq(b, 60);
        rep = oa_rds_command(rds, "SCRIPT FLUSH");
        cr_assert_not_null(rep);
        freeReplyObject(rep);
        cr_assert_eq(oa_rds_eval_ll2(rds, script, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(rds));
        cr_assert_eq(a, 2, "NOSCRIPT answered by EVAL, which ran the script once");
        cr_assert_eq(oa_rds_eval_ll2(rds, script, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(rds));
        cr_assert_eq(a, 3);
}

Test(rds_integration, script_error_is_eproto) {
        const char *keys[] = { "k" };
        long long a, b;

        cr_assert_eq(oa_rds_eval_ll2(rds, "return redis.call('NOPE')", 1, keys, 0, NULL, &a, &b), -EPROTO);
        cr_assert(strstr(oa_rds_errstr(rds), "redis script"), "%s", oa_rds_errstr(rds));
        cr_assert_eq(oa_rds_ping(rds), 0, "the connection survives a script error");
}

/* The same handle works again within a few seconds after Redis restarts, and a script
 * cached before the restart runs again (NOSCRIPT, then EVAL). */
Test(rds_integration, reconnects_after_redis_restart) {
        const char *stack = need_env("OA_STACK_CMD");
        char cmd[1024], key[96];
        const char *keys[] = { key }, *args[] = { "1" };
        struct timespec t0;
        long long a = 0, b = 0, ms;
        int r = -1, failures = 0;

        snprintf(key, sizeof(key), "%s:restart", prefix);
        cr_assert_eq(oa_rds_eval_ll2(rds, script, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(rds));
        /* OA_STACK_CMD may be a command with arguments: the shell splits it. */
        snprintf(cmd, sizeof(cmd), "%s restart redis", stack);
        cr_assert_eq(run_shell(cmd), 0, "'%s' failed", cmd);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while ((ms = elapsed_ms(&t0)) < 10000) {
                r = oa_rds_ping(rds);
                if (r == 0)
                        break;
                failures++;
                cr_assert(r == -ECONNRESET || r == -ECONNREFUSED || r == -EAGAIN || r == -EIO ||
                          r == -ETIMEDOUT, "unexpected error %d: %s", r, oa_rds_errstr(rds));
                usleep(50 * 1000);
        }
        cr_assert_eq(r, 0, "still failing after %lld ms: %s", ms, oa_rds_errstr(rds));
        cr_assert_geq(failures, 1, "the old connection must have been seen dead first");
        cr_assert_eq(oa_rds_eval_ll2(rds, script, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(rds));
        cr_assert_eq(b, 1);
}

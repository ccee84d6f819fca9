/* Tests for libshared/src/rds.c and rds_url.c: redis:// URL parsing with hostile rows,
 * and the client's reconnect, backoff, pipeline and EVALSHA fallback against a fake
 * RESP server in a thread that follows a script of answers. The real Redis is exercised
 * in tests/integration/test_redis.c. */
#include "oa/rds.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Criterion runs each row in a fresh process: rows hold their bytes, not pointers. */
struct url_row {
        char url[96];
        bool ok;
        char host[40];
        int port;
        int db;
        char user[16];
        char password[16];
};

ParameterizedTestParameters(oa_rds, url_parse) {
        static struct url_row rows[] = {
                { "redis://127.0.0.1:6379", true, "127.0.0.1", 6379, 0, "", "" },
                { "redis://localhost", true, "localhost", 6379, 0, "", "" },
                { "redis://cache-1.svc.local:7000/3", true, "cache-1.svc.local", 7000, 3, "", "" },
                { "redis://h/", true, "h", 6379, 0, "", "" },
                { "REDIS://h:1/65535", true, "h", 1, 65535, "", "" },
                { "redis://:s3cret@h:6380", true, "h", 6380, 0, "", "s3cret" },
                { "redis://alice:p%40ss%3Aw@h", true, "h", 6379, 0, "alice", "p@ss:w" },
                { "redis://[::1]:6380/2", true, "::1", 6380, 2, "", "" },
                { "redis://[::1]", true, "::1", 6379, 0, "", "" },
                { "", false, "", 0, 0, "", "" },
                { "http://h:6379", false, "", 0, 0, "", "" },
                { "rediss://h:6379", false, "", 0, 0, "", "" },
                { "redis:/h", false, "", 0, 0, "", "" },
                { "redis://", false, "", 0, 0, "", "" },
                { "redis://:6379", false, "", 0, 0, "", "" },
                { "redis://h:", false, "", 0, 0, "", "" },
                { "redis://h:0", false, "", 0, 0, "", "" },
                { "redis://h:65536", false, "", 0, 0, "", "" },
                { "redis://h:99999999999", false, "", 0, 0, "", "" },
                { "redis://h:-1", false, "", 0, 0, "", "" },
                { "redis://h:+80", false, "", 0, 0, "", "" },
                { "redis://h:12ab", false, "", 0, 0, "", "" },
                { "redis://h:6379:1", false, "", 0, 0, "", "" },
                { "redis://h/abc", false, "", 0, 0, "", "" },
                { "redis://h/1/2", false, "", 0, 0, "", "" },
                { "redis://h/65536", false, "", 0, 0, "", "" },
                { "redis://h/-1", false, "", 0, 0, "", "" },
                { "redis://h?db=1", false, "", 0, 0, "", "" },
                { "redis://h#frag", false, "", 0, 0, "", "" },
                { "redis://h x", false, "", 0, 0, "", "" },
                { "redis://h\n", false, "", 0, 0, "", "" },
                { "redis://h/1 ", false, "", 0, 0, "", "" },
                { "redis://h;rm -rf /", false, "", 0, 0, "", "" },
                { "redis://ho$t", false, "", 0, 0, "", "" },
                { "redis://a@b@h", false, "", 0, 0, "", "" },
                { "redis://u:%zz@h", false, "", 0, 0, "", "" },
                { "redis://u:%00@h", false, "", 0, 0, "", "" },
                { "redis://u:%4@h", false, "", 0, 0, "", "" },
                { "redis://[::1", false, "", 0, 0, "", "" },
                { "redis://[::1]x", false, "", 0, 0, "", "" },
                { "redis://[zz::1]", false, "", 0, 0, "", "" },
                { "redis://[]:6379", false, "", 0, 0, "", "" },
        };

        return cr_make_param_array(struct url_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct url_row *row, oa_rds, url_parse) {
        oa_rds_url u;
        char err[128] = "";
        int r;

        memset(&u, 0x55, sizeof(u));
        r = oa_rds_url_parse(row->url, &u, err, sizeof(err));
        if (!row->ok) {
                cr_assert_eq(r, -EINVAL, "\"%s\" must be rejected", row->url);
                cr_assert(strncmp(err, "redis url ", 10) == 0, "%s", err);
                return;
        }
        cr_assert_eq(r, 0, "\"%s\": %s", row->url, err);
        cr_assert_str_eq(u.host, row->host);
        cr_assert_eq(u.port, row->port);
        cr_assert_eq(u.db, row->db);
        cr_assert_str_eq(u.user, row->user);
        cr_assert_str_eq(u.password, row->password);
}

Test(oa_rds, url_error_never_shows_password) {
        oa_rds_url u;
        char err[256];

        cr_assert_eq(oa_rds_url_parse("redis://u:topsecret@h:0", &u, err, sizeof(err)), -EINVAL);
        cr_assert_null(strstr(err, "topsecret"), "%s", err);
}

Test(oa_rds, url_host_too_long_is_rejected) {
        char url[400];
        oa_rds_url u;
        char err[128];

        snprintf(url, sizeof(url), "redis://%0300d", 1);
        cr_assert_eq(oa_rds_url_parse(url, &u, err, sizeof(err)), -EINVAL);
}

Test(oa_rds, url_null_is_rejected) {
        oa_rds_url u;
        char err[128];

        cr_assert_eq(oa_rds_url_parse(NULL, &u, err, sizeof(err)), -EINVAL);
}

/* The fake server: a script of steps; each step waits for one command (logged) and
 * then answers, closes the connection, or stays silent. */
enum step_kind { ANSWER, CLOSE, SILENT };

typedef struct step {
        enum step_kind kind;
        const char *resp;       /* ANSWER: raw RESP bytes */
} step;

typedef struct fake_resp {
        int lfd, port;
        const step *steps;
        size_t n_steps;
        char log[8192];         /* each command's arguments joined by ' ', one per line */
        size_t log_len;
        int connections;
        pthread_t thread;
} fake_resp;

static fake_resp fake;

/* Read one RESP array command from fd into the log. Returns false on EOF. */
static bool read_command(int fd, char *buf, size_t *len) {
        for (;;) {
                char *p = buf, *end = buf + *len, *nl;
                long n, k;

                /* Try to parse: *N\r\n then N times $L\r\n<L bytes>\r\n */
                if (*len && *p == '*' && (nl = memchr(p, '\n', (size_t) (end - p)))) {
                        n = strtol(p + 1, NULL, 10);
                        p = nl + 1;
                        for (k = 0; k < n && p < end && *p == '$'; k++) {
                                long l = strtol(p + 1, NULL, 10);

                                nl = memchr(p, '\n', (size_t) (end - p));
                                if (!nl || end - (nl + 1) < l + 2)
                                        break;
                                if (fake.log_len + (size_t) l + 2 < sizeof(fake.log)) {
                                        memcpy(fake.log + fake.log_len, nl + 1, (size_t) l);
                                        fake.log_len += (size_t) l;
                                        fake.log[fake.log_len++] = k + 1 < n ? ' ' : '\n';
                                }
                                p = nl + 1 + l + 2;
                        }
                        if (k == n) {
                                memmove(buf, p, (size_t) (end - p));
                                *len = (size_t) (end - p);
                                return true;
                        }
                }
                n = read(fd, buf + *len, 4096 - *len);
                if (n <= 0)
                        return false;
                *len += (size_t) n;
        }
}

static void *fake_run(void *arg) {
        char buf[4096];
        size_t len = 0, i = 0;
        int fd = -1;

        (void) arg;
        while (i < fake.n_steps) {
                if (fd < 0) {
                        fd = accept(fake.lfd, NULL, NULL);
                        if (fd < 0)
                                return NULL;
                        fake.connections++;
                        len = 0;
                }
                if (!read_command(fd, buf, &len)) {
                        close(fd);
                        fd = -1;
                        continue;
                }
                switch (fake.steps[i].kind) {
                case ANSWER:
                        if (write(fd, fake.steps[i].resp, strlen(fake.steps[i].resp)) < 0)
                                break;
                        break;
                case CLOSE:
                        close(fd);
                        fd = -1;
                        break;
                case SILENT:
                        break;
                }
                i++;
        }
        if (fd >= 0) {
                while (read(fd, buf, sizeof(buf)) > 0)  /* until the client closes */
                        ;
                close(fd);
        }
        return NULL;
}

static void fake_start(const step *steps, size_t n) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);

        memset(&fake, 0, sizeof(fake));
        fake.steps = steps;
        fake.n_steps = n;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fake.lfd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(bind(fake.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        cr_assert_eq(listen(fake.lfd, 4), 0);
        cr_assert_eq(getsockname(fake.lfd, (struct sockaddr *) &sa, &sl), 0);
        fake.port = ntohs(sa.sin_port);
        cr_assert_eq(pthread_create(&fake.thread, NULL, fake_run, NULL), 0);
}

static void fake_stop(void) {
        pthread_join(fake.thread, NULL);
        close(fake.lfd);
        fake.log[fake.log_len] = '\0';
}

static oa_rds *client(const char *userinfo, long timeout_ms) {
        char url[128], err[128];
        oa_rds *r = NULL;

        snprintf(url, sizeof(url), "redis://%s127.0.0.1:%d", userinfo, fake.port);
        cr_assert_eq(oa_rds_new(url, timeout_ms, &r, err, sizeof(err)), 0, "%s", err);
        return r;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

        nanosleep(&ts, NULL);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(oa_rds, failed_connect_is_not_fatal_and_backs_off) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        char url[64], err[128];
        oa_rds *r = NULL;

        /* A port where nothing listens. */
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        getsockname(fd, (struct sockaddr *) &sa, &sl);
        close(fd);
        snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
        cr_assert_eq(oa_rds_new(url, 500, &r, err, sizeof(err)), 0);
        cr_assert_not(oa_rds_connected(r));
        cr_assert_eq(oa_rds_last_error(r), -ECONNREFUSED, "%s", oa_rds_errstr(r));
        cr_assert_null(oa_rds_command(r, "PING"));
        cr_assert_eq(oa_rds_last_error(r), -EAGAIN, "within the backoff no connect is tried");
        cr_assert(strstr(oa_rds_errstr(r), "refused"), "%s", oa_rds_errstr(r));
        sleep_ms(120);
        cr_assert_eq(oa_rds_ping(r), -ECONNREFUSED, "after 100 ms it tries again");
        cr_assert_eq(oa_rds_ping(r), -EAGAIN);
        sleep_ms(50);
        cr_assert_eq(oa_rds_ping(r), -EAGAIN, "the second wait is 200 ms");
        sleep_ms(200);
        cr_assert_eq(oa_rds_ping(r), -ECONNREFUSED);
        oa_rds_free(r);
}

Test(oa_rds, reconnects_after_server_closed_connection) {
        static const step steps[] = {
                { ANSWER, "+PONG\r\n" }, { CLOSE, NULL }, { ANSWER, "+PONG\r\n" },
        };
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client("", 1000);
        cr_assert_eq(oa_rds_ping(r), 0, "%s", oa_rds_errstr(r));
        cr_assert_eq(oa_rds_ping(r), -ECONNRESET, "%s", oa_rds_errstr(r));
        cr_assert_not(oa_rds_connected(r));
        cr_assert_eq(oa_rds_ping(r), 0, "the next call connects again: %s", oa_rds_errstr(r));
        cr_assert_eq(oa_rds_last_error(r), 0);
        cr_assert_str_eq(oa_rds_errstr(r), "");
        oa_rds_free(r);
        fake_stop();
        cr_assert_eq(fake.connections, 2);
}

Test(oa_rds, silent_server_times_out) {
        static const step steps[] = { { SILENT, NULL } };
        struct timespec t0, t1;
        oa_rds *r;
        long ms;

        fake_start(steps, N(steps));
        r = client("", 200);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_assert_null(oa_rds_command(r, "GET %s", "k"));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cr_assert_eq(oa_rds_last_error(r), -ETIMEDOUT, "%s", oa_rds_errstr(r));
        ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        cr_assert(ms >= 150 && ms < 2000, "gave up after %ld ms", ms);
        oa_rds_free(r);
        fake_stop();
}

Test(oa_rds, auth_and_select_on_connect) {
        static const step steps[] = {
                { ANSWER, "+OK\r\n" }, { ANSWER, "+OK\r\n" }, { ANSWER, "$1\r\nv\r\n" },
        };
        char url[128], err[128];
        redisReply *rep;
        oa_rds *r = NULL;

        fake_start(steps, N(steps));
        snprintf(url, sizeof(url), "redis://app:pw%%20x@127.0.0.1:%d/5", fake.port);
        cr_assert_eq(oa_rds_new(url, 1000, &r, err, sizeof(err)), 0, "%s", err);
        rep = oa_rds_command(r, "GET %s", "k");
        cr_assert_not_null(rep, "%s", oa_rds_errstr(r));
        cr_assert_eq(rep->type, REDIS_REPLY_STRING);
        cr_assert_str_eq(rep->str, "v");
        freeReplyObject(rep);
        oa_rds_free(r);
        fake_stop();
        cr_assert_str_eq(fake.log, "AUTH app pw x\nSELECT 5\nGET k\n");
}

Test(oa_rds, refused_auth_is_eacces) {
        static const step steps[] = {
                { ANSWER, "-WRONGPASS invalid username-password pair or user is disabled.\r\n" },
        };
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client(":bad@", 1000);
        cr_assert_eq(oa_rds_last_error(r), -EACCES, "%s", oa_rds_errstr(r));
        cr_assert(strstr(oa_rds_errstr(r), "WRONGPASS"), "%s", oa_rds_errstr(r));
        cr_assert_not(oa_rds_connected(r));
        oa_rds_free(r);
        fake_stop();
}

Test(oa_rds, error_reply_is_a_reply_not_a_failure) {
        static const step steps[] = { { ANSWER, "-ERR unknown command 'NOPE'\r\n" } };
        redisReply *rep;
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client("", 1000);
        rep = oa_rds_command(r, "NOPE");
        cr_assert_not_null(rep);
        cr_assert_eq(rep->type, REDIS_REPLY_ERROR);
        cr_assert_eq(oa_rds_last_error(r), 0);
        cr_assert(oa_rds_connected(r));
        freeReplyObject(rep);
        oa_rds_free(r);
        fake_stop();
}

/* The SHA-1 of the script, as `printf %s "$script" | sha1sum` prints it. */
#define SCRIPT "return {tonumber(ARGV[1]), 7}"
#define SCRIPT_SHA "4dd831df57e11e79d1374fd5ad6284f674e8f698"

Test(oa_rds, eval_falls_back_to_eval_on_noscript) {
        static const step steps[] = {
                { ANSWER, "-NOSCRIPT No matching script. Please use EVAL.\r\n" },
                { ANSWER, "*2\r\n:5\r\n:7\r\n" },
                { ANSWER, "*2\r\n:6\r\n:7\r\n" },
        };
        const char *keys[] = { "oa:rl:{k}" }, *args[] = { "5" };
        long long a = 0, b = 0;
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client("", 1000);
        cr_assert_eq(oa_rds_eval_ll2(r, SCRIPT, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(r));
        cr_assert_eq(a, 5);
        cr_assert_eq(b, 7);
        cr_assert_eq(oa_rds_eval_ll2(r, SCRIPT, 1, keys, 1, args, &a, &b), 0, "%s", oa_rds_errstr(r));
        cr_assert_eq(a, 6);
        oa_rds_free(r);
        fake_stop();
        /* EVALSHA first, EVAL with the source after NOSCRIPT, then EVALSHA again. */
        cr_assert_str_eq(fake.log, "EVALSHA " SCRIPT_SHA " 1 oa:rl:{k} 5\n"
                         "EVAL " SCRIPT " 1 oa:rl:{k} 5\n"
                         "EVALSHA " SCRIPT_SHA " 1 oa:rl:{k} 5\n");
}

Test(oa_rds, eval_ll2_rejects_other_shapes) {
        static const step steps[] = {
                { ANSWER, ":1\r\n" }, { ANSWER, "-ERR Error running script\r\n" },
        };
        const char *keys[] = { "k" };
        long long a = 0, b = 0;
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client("", 1000);
        cr_assert_eq(oa_rds_eval_ll2(r, SCRIPT, 1, keys, 0, NULL, &a, &b), -EPROTO);
        cr_assert_eq(oa_rds_eval_ll2(r, SCRIPT, 1, keys, 0, NULL, &a, &b), -EPROTO);
        cr_assert(strstr(oa_rds_errstr(r), "Error running script"), "%s", oa_rds_errstr(r));
        cr_assert(oa_rds_connected(r), "a script error keeps the connection");
        oa_rds_free(r);
        fake_stop();
}

Test(oa_rds, pipeline_lost_connection_is_epipe_then_recovers) {
        static const step steps[] = {
                { ANSWER, ":1\r\n" }, { CLOSE, NULL },
                { ANSWER, ":10\r\n" },
        };
        redisReply *rep = NULL;
        oa_rds *r;

        fake_start(steps, N(steps));
        r = client("", 1000);
        cr_assert_eq(oa_rds_append(r, "INCR %s", "a"), 0);
        cr_assert_eq(oa_rds_append(r, "INCR %s", "b"), 0);
        cr_assert_eq(oa_rds_append(r, "INCR %s", "c"), 0);
        cr_assert_null(oa_rds_command(r, "PING"));
        cr_assert_eq(oa_rds_last_error(r), -EBUSY, "no command while replies are pending");
        cr_assert_eq(oa_rds_get_reply(r, &rep), 0);
        cr_assert_eq(rep->integer, 1);
        freeReplyObject(rep);
        cr_assert_eq(oa_rds_get_reply(r, &rep), -ECONNRESET, "%s", oa_rds_errstr(r));
        cr_assert_eq(oa_rds_get_reply(r, &rep), -EPIPE, "the rest of the batch is gone");
        cr_assert_eq(oa_rds_append_argv(r, 2, (const char *[]) { "INCR", "d" }, NULL), 0,
                     "a new batch starts on a new connection: %s", oa_rds_errstr(r));
        cr_assert_eq(oa_rds_get_reply(r, &rep), 0);
        cr_assert_eq(rep->integer, 10);
        freeReplyObject(rep);
        cr_assert_eq(oa_rds_get_reply(r, &rep), -EINVAL, "nothing queued");
        oa_rds_free(r);
        fake_stop();
        cr_assert_eq(fake.connections, 2);
}

Test(oa_rds, new_rejects_bad_url) {
        char err[128];
        oa_rds *r = NULL;

        cr_assert_eq(oa_rds_new("redis://h:0", 1000, &r, err, sizeof(err)), -EINVAL);
        cr_assert_null(r);
        cr_assert(strstr(err, "port"), "%s", err);
}

Test(oa_rds, free_null_returns_null) {
        cr_assert_null(oa_rds_free(NULL));
}

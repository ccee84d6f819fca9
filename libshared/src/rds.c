/* The reconnecting Redis client. hiredis 0.14 leaves a context unusable after any error
 * on it, so an error drops the context and the next call makes a new one; connect
 * attempts are spaced by a short backoff. Blocking I/O with timeouts: this is for the
 * consumer daemons and for short calls from the HTTP daemons (rate limits). */
#include "oa/rds.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 500

struct oa_rds {
        oa_rds_url url;
        struct timeval timeout;
        redisContext *c;
        long backoff_ms;        /* 0 while connects succeed */
        long long next_connect_ms;
        int pending;            /* pipelined commands whose reply was not read */
        bool broken;            /* the pipeline lost its connection */
        int last_err;
        char errstr[256];
        char connect_err[256];  /* why the last connect failed, for -EAGAIN */
};

static long long now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_ok(oa_rds *r) {
        r->last_err = 0;
        r->errstr[0] = '\0';
}

static int set_err(oa_rds *r, int err, const char *fmt, const char *detail) {
        r->last_err = err;
        snprintf(r->errstr, sizeof(r->errstr), fmt, detail);
        return err;
}

/* The errno for a failed context; saved_errno is errno right after the failing call. */
static int context_errno(const redisContext *c, int saved_errno) {
        switch (c->err) {
        case REDIS_ERR_IO:
                if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT ||
                    saved_errno == EINPROGRESS)
                        return -ETIMEDOUT;
                if (saved_errno == ECONNREFUSED)
                        return -ECONNREFUSED;
                return -EIO;
        case REDIS_ERR_EOF:
                return -ECONNRESET;
        case REDIS_ERR_PROTOCOL:
                return -EPROTO;
        case REDIS_ERR_OOM:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static void drop(oa_rds *r) {
        if (r->c)
                redisFree(r->c);
        r->c = NULL;
        if (r->pending)
                r->broken = true;
        r->pending = 0;
}

/* Record the context's error, drop the connection; returns the errno. */
static int fail(oa_rds *r, int saved_errno) {
        int err = context_errno(r->c, saved_errno);

        set_err(r, err, "redis: %s", r->c->errstr[0] ? r->c->errstr : "connection error");
        drop(r);
        return err;
}

/* Run a set-up command (AUTH, SELECT) on a fresh connection: an error answer gives err,
 * a connection error what fail() says. */
static int setup_command(oa_rds *r, int err, int argc, const char **argv) {
        redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
        int ret = 0;

        if (!rep)
                return fail(r, errno);
        if (rep->type == REDIS_REPLY_ERROR) {
                set_err(r, err, "redis: %s", rep->str);
                ret = err;
        }
        freeReplyObject(rep);
        return ret;
}

static int do_connect(oa_rds *r) {
        char db[12];
        int err;

        r->c = redisConnectWithTimeout(r->url.host, r->url.port, r->timeout);
        if (!r->c)
                return set_err(r, -ENOMEM, "redis: %s", "out of memory");
        if (r->c->err)
                return fail(r, errno);
        if (redisSetTimeout(r->c, r->timeout) != REDIS_OK || redisEnableKeepAlive(r->c) != REDIS_OK)
                return fail(r, errno);
        if (r->url.password[0]) {
                const char *argv[3] = { "AUTH" };
                int argc = 1;

                if (r->url.user[0])
                        argv[argc++] = r->url.user;     /* Redis 6 ACL: AUTH user password */
                argv[argc++] = r->url.password;
                err = setup_command(r, -EACCES, argc, argv);
                if (err < 0)
                        return err;
        }
        if (r->url.db) {
                snprintf(db, sizeof(db), "%d", r->url.db);
                err = setup_command(r, -EINVAL, 2, (const char *[]) { "SELECT", db });
                if (err < 0)
                        return err;
        }
        return 0;
}

/* Make sure a connection is open, within the backoff rules. */
static int ensure(oa_rds *r) {
        long long now = now_ms();
        int err;

        if (r->c)
                return 0;
        if (now < r->next_connect_ms)
                return set_err(r, -EAGAIN, "redis unavailable, not retrying yet: %.200s", r->connect_err);
        err = do_connect(r);
        if (err == 0) {
                r->backoff_ms = 0;
                return 0;
        }
        drop(r);
        r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (r->backoff_ms > BACKOFF_MAX_MS)
                r->backoff_ms = BACKOFF_MAX_MS;
        r->next_connect_ms = now + r->backoff_ms;
        snprintf(r->connect_err, sizeof(r->connect_err), "%s", r->errstr);
        return err;
}

int oa_rds_new(const char *url, long timeout_ms, oa_rds **ret_r, char *errbuf, size_t errlen) {
        oa_rds *r;
        int err;

        if (timeout_ms < 0) {
                snprintf(errbuf, errlen, "redis timeout must not be negative");
                return -EINVAL;
        }
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        err = oa_rds_url_parse(url, &r->url, errbuf, errlen);
        if (err < 0) {
                free(r);
                return err;
        }
        if (!timeout_ms)
                timeout_ms = 1000;
        r->timeout.tv_sec = timeout_ms / 1000;
        r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
        (void) ensure(r);               /* a failure now is retried by the next call */
        *ret_r = r;
        return 0;
}

oa_rds *oa_rds_free(oa_rds *r) {
        if (!r)
                return NULL;
        drop(r);
        explicit_bzero(&r->url, sizeof(r->url));
        free(r);
        return NULL;
}

/* Common start of a command: no pipeline in flight, a connection open. */
static int begin_command(oa_rds *r) {
        r->broken = false;
        if (r->pending)
                return set_err(r, -EBUSY, "redis: %s", "a pipeline still has replies to read");
        return ensure(r);
}

redisReply *oa_rds_commandv(oa_rds *r, const char *fmt, va_list ap) {
        redisReply *rep;

        if (begin_command(r) < 0)
                return NULL;
        rep = redisvCommand(r->c, fmt, ap);
        if (!rep) {
                fail(r, errno);
                return NULL;
        }
        set_ok(r);
        return rep;
}

redisReply *oa_rds_command(oa_rds *r, const char *fmt, ...) {
        redisReply *rep;
        va_list ap;

        va_start(ap, fmt);
        rep = oa_rds_commandv(r, fmt, ap);
        va_end(ap);
        return rep;
}

redisReply *oa_rds_command_argv(oa_rds *r, int argc, const char *const *argv,
                                const size_t *argvlen) {
        redisReply *rep;

        if (argc <= 0) {
                set_err(r, -EINVAL, "redis: %s", "no command");
                return NULL;
        }
        if (begin_command(r) < 0)
                return NULL;
        rep = redisCommandArgv(r->c, argc, (const char **) argv, argvlen);
        if (!rep) {
                fail(r, errno);
                return NULL;
        }
        set_ok(r);
        return rep;
}

/* Common start of an append: a new batch forgets a broken one. */
static int begin_append(oa_rds *r) {
        if (r->pending == 0)
                r->broken = false;
        if (r->broken)
                return set_err(r, -EPIPE, "redis: %s", "pipeline lost with its connection");
        return ensure(r);
}

int oa_rds_append(oa_rds *r, const char *fmt, ...) {
        va_list ap;
        int ok, err;

        err = begin_append(r);
        if (err < 0)
                return err;
        va_start(ap, fmt);
        ok = redisvAppendCommand(r->c, fmt, ap);
        va_end(ap);
        if (ok != REDIS_OK)
                return set_err(r, -EINVAL, "redis: %s", "cannot format the command");
        r->pending++;
        set_ok(r);
        return 0;
}

int oa_rds_append_argv(oa_rds *r, int argc, const char *const *argv, const size_t *argvlen) {
        int err;

        if (argc <= 0)
                return set_err(r, -EINVAL, "redis: %s", "no command");
        err = begin_append(r);
        if (err < 0)
                return err;
        if (redisAppendCommandArgv(r->c, argc, (const char **) argv, argvlen) != REDIS_OK)
                return set_err(r, -ENOMEM, "redis: %s", "out of memory");
        r->pending++;
        set_ok(r);
        return 0;
}

int oa_rds_get_reply(oa_rds *r, redisReply **ret_reply) {
        void *rep = NULL;

        if (r->broken)
                return set_err(r, -EPIPE, "redis: %s", "pipeline lost with its connection");
        if (r->pending == 0 || !r->c)
                return set_err(r, -EINVAL, "redis: %s", "no pipelined command to read");
        if (redisGetReply(r->c, &rep) != REDIS_OK)
                return fail(r, errno);
        r->pending--;
        set_ok(r);
        *ret_reply = rep;
        return 0;
}

/* The SHA-1 of script as 40 lowercase hex digits: what EVALSHA wants. */
static int script_sha1(const char *script, char out[41]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (!EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL) || n != 20)
                return -EIO;
        for (unsigned int i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return 0;
}

redisReply *oa_rds_eval(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                        int nargs, const char *const *args) {
        const char **argv = NULL;
        redisReply *rep = NULL;
        char sha[41], nk[12];
        int argc = 3 + nkeys + nargs;

        if (nkeys < 0 || nargs < 0 || !script) {
                set_err(r, -EINVAL, "redis: %s", "bad script arguments");
                goto out;
        }
        argv = calloc((size_t) argc, sizeof(*argv));
        if (!argv || script_sha1(script, sha) < 0) {
                set_err(r, -ENOMEM, "redis: %s", "cannot prepare the script");
                goto out;
        }
        snprintf(nk, sizeof(nk), "%d", nkeys);
        argv[0] = "EVALSHA";
        argv[1] = sha;
        argv[2] = nk;
        for (int i = 0; i < nkeys; i++)
                argv[3 + i] = keys[i];
        for (int i = 0; i < nargs; i++)
                argv[3 + nkeys + i] = args[i];
        rep = oa_rds_command_argv(r, argc, argv, NULL);
        if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
                /* Not cached (first use, restart, SCRIPT FLUSH): EVAL caches it again. */
                freeReplyObject(rep);
                argv[0] = "EVAL";
                argv[1] = script;
                rep = oa_rds_command_argv(r, argc, argv, NULL);
        }
out:
        free(argv);
        return rep;
}

int oa_rds_eval_lln(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                    int nargs, const char *const *args, long long *ret, size_t n) {
        redisReply *rep = oa_rds_eval(r, script, nkeys, keys, nargs, args);
        int err = 0;

        if (!rep)
                return r->last_err;
        if (rep->type == REDIS_REPLY_ERROR)
                err = set_err(r, -EPROTO, "redis script: %s", rep->str);
        else if (rep->type != REDIS_REPLY_ARRAY || rep->elements < n)
                err = set_err(r, -EPROTO, "redis script: %s", "did not return the integers expected");
        else {
                for (size_t i = 0; i < n && !err; i++)
                        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
                                err = set_err(r, -EPROTO, "redis script: %s", "did not return the integers expected");
                for (size_t i = 0; i < n && !err; i++)
                        ret[i] = rep->element[i]->integer;
        }
        freeReplyObject(rep);
        return err;
}

int oa_rds_eval_ll2(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                    int nargs, const char *const *args, long long *ret_a, long long *ret_b) {
        long long v[2];
        int err = oa_rds_eval_lln(r, script, nkeys, keys, nargs, args, v, 2);

        if (err == 0) {
                *ret_a = v[0];
                *ret_b = v[1];
        }
        return err;
}

int oa_rds_ping(oa_rds *r) {
        redisReply *rep = oa_rds_command(r, "PING");
        int err = 0;

        if (!rep)
                return r->last_err;
        if (rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, "PONG") != 0)
                err = set_err(r, -EPROTO, "redis: PING answered %s",
                              rep->type == REDIS_REPLY_ERROR ? rep->str : "something else than PONG");
        freeReplyObject(rep);
        return err;
}

bool oa_rds_connected(const oa_rds *r) {
        return r->c != NULL;
}

int oa_rds_last_error(const oa_rds *r) {
        return r->last_err;
}

const char *oa_rds_errstr(const oa_rds *r) {
        return r->errstr;
}

/* Redis through hiredis 0.14, with reconnection: a connection error (I/O error, EOF,
 * timeout, protocol error) drops the connection and the next call connects again. After a
 * failed connect the next attempt waits 100 ms, then 200, 400 and at most 500 ms, so a
 * Redis that is down is not hammered; calls in between fail at once with -EAGAIN.
 * Commands are never retried by this module: after an error the caller cannot know
 * whether Redis ran the command (INCR twice is not INCR once), so it decides.
 *
 * An oa_rds is not thread-safe: use one per thread. hiredis writes with write(2), so the
 * process must ignore SIGPIPE (oa_sig_setup does), or a write to a connection Redis has
 * closed kills it.
 *
 * Replies are hiredis's redisReply: the caller frees each one with freeReplyObject().
 * A Redis error answer ("-ERR ...") is a reply of type REDIS_REPLY_ERROR, not a failure.
 * A failure is a NULL reply (or a negative errno), with oa_rds_last_error() and
 * oa_rds_errstr() telling why:
 *   -ECONNREFUSED  nothing listens           -ETIMEDOUT   connect, read or write timeout
 *   -ECONNRESET    Redis closed the connection (restart, timeout, CLIENT KILL)
 *   -EIO           other I/O or resolver error
 *   -EAGAIN        not connected, and the backoff forbids trying yet
 *   -EACCES        AUTH refused                -EPROTO      protocol error, bad reply
 *   -EBUSY         a command while a pipeline still has replies to read
 *   -EPIPE         the pipeline's connection was lost: its replies are gone
 *   -ENOMEM        -EINVAL: bad arguments */
#ifndef OA_RDS_H
#define OA_RDS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct oa_rds oa_rds;

/* A parsed redis://[[user]:password@]host[:port][/db] URL. */
typedef struct oa_rds_url {
        char host[256];         /* name or address; an IPv6 address without brackets */
        int port;               /* 1..65535; default 6379 */
        int db;                 /* 0..65535; default 0 */
        char user[128];         /* Redis 6 ACL user; "" for AUTH password alone */
        char password[256];     /* secret; "" for no AUTH */
} oa_rds_url;

/* Parse url. User and password may be percent-encoded (%40 for '@'). Rejected: another
 * scheme (rediss:// too: no TLS in hiredis 0.14), an empty host, a port or db that is
 * not all digits or is out of range, a query or fragment, anything after the db,
 * blanks and control characters, fields too long. Returns 0 and fills *ret_url, or -EINVAL
 * with the reason in errbuf (which never contains the password). */
int oa_rds_url_parse(const char *url, oa_rds_url *ret_url, char *errbuf, size_t errlen);

/* Create a client for url with timeout_ms (0: 1000) for connect, each read and each
 * write, and try to connect now. A failed connect is not an error: the next call tries
 * again (see oa_rds_last_error). Returns 0 and sets *ret_r, or -EINVAL (bad URL, reason
 * in errbuf) or -ENOMEM. */
int oa_rds_new(const char *url, long timeout_ms, oa_rds **ret_r, char *errbuf, size_t errlen);

/* Close and free r; the password is wiped. NULL-safe; returns NULL. */
oa_rds *oa_rds_free(oa_rds *r);

/* Run one command, formatted as hiredis's redisCommand ("%s" for a C string, "%b" for
 * pointer and size_t length). Connects first if needed. Returns the reply (the caller
 * frees it), or NULL with the reason in oa_rds_last_error / oa_rds_errstr. */
redisReply *oa_rds_command(oa_rds *r, const char *fmt, ...);
redisReply *oa_rds_commandv(oa_rds *r, const char *fmt, va_list ap);

/* Run one command given as argc arguments (argvlen may be NULL for C strings). As
 * oa_rds_command. */
redisReply *oa_rds_command_argv(oa_rds *r, int argc, const char *const *argv,
                                const size_t *argvlen);

/* Pipelining: queue commands with oa_rds_append*, then read exactly one reply per queued
 * command with oa_rds_get_reply; the commands are sent with the first read. Returns 0 or
 * a negative errno. When the connection is lost in between, the queued commands are
 * gone: every further oa_rds_get_reply of that batch returns -EPIPE, until the next
 * append after all replies were asked for, or the next command, starts afresh. */
int oa_rds_append(oa_rds *r, const char *fmt, ...);
int oa_rds_append_argv(oa_rds *r, int argc, const char *const *argv, const size_t *argvlen);

/* Read the next pipelined reply into *ret_reply (the caller frees it). Returns 0, a
 * connection error, -EPIPE (see above) or -EINVAL when nothing is queued. */
int oa_rds_get_reply(oa_rds *r, redisReply **ret_reply);

/* Run a Lua script: EVALSHA with its SHA-1 (computed here), and EVAL with the source
 * when Redis answers NOSCRIPT (first use, or after a restart or SCRIPT FLUSH), which also
 * caches it again. keys and args are C strings. Returns the reply as oa_rds_command. */
redisReply *oa_rds_eval(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                        int nargs, const char *const *args);

/* oa_rds_eval for a script that returns an array of at least two integers: sets
 * *ret_a and *ret_b to the first two. Returns 0, a connection error, or -EPROTO when
 * Redis answered an error or another shape (the text in oa_rds_errstr). */
int oa_rds_eval_ll2(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                    int nargs, const char *const *args, long long *ret_a, long long *ret_b);

/* As oa_rds_eval_ll2 for n integers: ret[0..n-1] are set only when all n came back. */
int oa_rds_eval_lln(oa_rds *r, const char *script, int nkeys, const char *const *keys,
                    int nargs, const char *const *args, long long *ret, size_t n);

/* PING: 0 when Redis answers PONG, else a negative errno (-EPROTO: another answer). */
int oa_rds_ping(oa_rds *r);

/* True when a connection is open (no I/O is done; a dead peer shows on the next call). */
bool oa_rds_connected(const oa_rds *r);

/* The negative errno of the last failure, 0 when the last call succeeded. */
int oa_rds_last_error(const oa_rds *r);

/* A one-line description of the last failure; "" when the last call succeeded. Valid
 * until the next call on r. */
const char *oa_rds_errstr(const oa_rds *r);

#endif

/* ClickHouse over its HTTP interface (libcurl). Checked against clickhouse-server 18.16;
 * the error formats of current releases (23.x to 25.x) are handled as documented.
 *
 * One oa_ch holds one CURL easy handle, so successive requests reuse one keep-alive
 * connection. An oa_ch is not thread-safe: use one per thread.
 *
 * Every request carries these settings in its URL: wait_end_of_query=1 (an error found
 * while the result is produced comes back as an HTTP error, not as a 200 with the error
 * appended), output_format_json_quote_64bit_integers=0, max_execution_time (the query
 * timeout in whole seconds), database (unless configured empty), and the per-call
 * settings, which replace ours of the same name. Credentials travel as HTTP Basic
 * authentication, never in the URL.
 *
 * ClickHouse 18.16 has no query parameters, so SQL is text we build: every string
 * literal goes through oa_ch_quote and every identifier comes from a whitelist checked
 * with oa_ch_ident_ok. Raw user text is never appended to SQL.
 *
 * Errors are negative errno values:
 *   transport (retry later; after a timeout or a broken connection the statement may
 *   still have run, so only retry what is idempotent or deduplicated):
 *     -ECONNREFUSED  nothing listens at the URL
 *     -ETIMEDOUT     connect or whole-request timeout
 *     -EHOSTUNREACH  the host name does not resolve
 *     -EIO           connection broken, or a proxy in front answered 502/503/504
 *   server (ClickHouse refused the statement; retrying the same text will not help unless
 *   oa_ch_code_transient says so):
 *     -EPROTO        code in oa_ch_last_code(), one-line message in errbuf
 *   caller:
 *     -E2BIG         the result passed the cap of the caller's oa_buf
 *     -EINVAL        bad argument (identifier, setting name, URL)
 *     -ENOMEM
 */
#ifndef OA_CH_H
#define OA_CH_H

#include <stdbool.h>
#include <stddef.h>

#include "oa/buf.h"

typedef struct oa_ch oa_ch;

typedef struct oa_ch_cfg {
        const char *url;                /* "http://127.0.0.1:8123"; no query string */
        const char *user;               /* NULL or "": "default" */
        const char *password;           /* secret; NULL: empty */
        const char *database;           /* NULL: "oa"; "": the server's default */
        long connect_timeout_ms;        /* 0: 2000 */
        long query_timeout_ms;          /* 0: 30000; max_execution_time is this rounded
                                         * down to seconds (at least 1), and the client
                                         * gives up 500 ms after it */
} oa_ch_cfg;

/* A setting for one request, e.g. { "max_block_size", "1000" }. The name must pass
 * oa_ch_ident_ok and not be "query", "user" or "password"; the value is URL-encoded.
 * 18.16 answers an unknown setting name with error 115, so send only settings it has. */
typedef struct oa_ch_setting {
        const char *name;
        const char *value;
} oa_ch_setting;

/* One request: the general form behind oa_ch_exec, oa_ch_query and oa_ch_insert. */
typedef struct oa_ch_req {
        const char *sql;                /* the statement; with data, it is sent in the
                                         * URL ("INSERT INTO t FORMAT RowBinary") */
        const void *data;               /* body after the statement, or NULL */
        size_t data_len;
        oa_buf *out;                    /* response body is appended here, or NULL to
                                         * discard it; its max is the cap */
        /* Or (out NULL) the body of a 200 answer handed over as it arrives, in pieces:
         * nothing of the answer is held but its last 32 KB (where ClickHouse appends an
         * error that happens mid-answer; the sink has seen those bytes too, so on an
         * error the caller throws away what it got). A sink returning a negative errno
         * stops the transfer, and the request returns that errno. */
        int (*sink)(const char *p, size_t n, void *ud);
        void *sink_ud;
        bool json;                      /* the answer should be JSON (see
                                         * oa_ch_body_error) */
        const oa_ch_setting *settings;  /* may be NULL */
        size_t n_settings;
} oa_ch_req;

/* Create a client for c (copied; c may be freed after). No connection is made yet.
 * Returns 0 and sets *ret_ch, or -EINVAL (bad URL or database name, reason in errbuf)
 * or -ENOMEM. */
int oa_ch_new(const oa_ch_cfg *c, oa_ch **ret_ch, char *errbuf, size_t errlen);

/* Close the connection and free ch (the password is wiped). NULL-safe; returns NULL. */
oa_ch *oa_ch_free(oa_ch *ch);

/* Run a statement that returns no result: DDL, ALTER, INSERT ... VALUES. Whatever the
 * server answers is discarded but still checked for an error. Returns 0 or an error
 * (see the top of this file). */
int oa_ch_exec(oa_ch *ch, const char *sql, char *errbuf, size_t errlen);

/* Run a SELECT and put the answer in out (reset first) in ClickHouse's FORMAT JSON:
 * {"meta":[{"name","type"}...],"data":[{column:value}...],"rows":N,
 *  "rows_before_limit_at_least":N (with LIMIT),"statistics":{...}}.
 * The format comes from the default_format setting, so sql has no FORMAT clause.
 * 64-bit integers are JSON numbers (a UInt64 may pass INT64_MAX: read numbers as text,
 * with yajl's number callback or YAJL_GET_NUMBER); NaN and infinities are null.
 * Strings that are not valid UTF-8 come back with U+FFFD in place of the bad bytes
 * (select hex(s) to get bytes). Do not name a result column "exception" (newer servers
 * use that key for errors). Returns 0 or an error; out->max is the cap (-E2BIG past
 * it). */
int oa_ch_query(oa_ch *ch, const char *sql, oa_buf *out, char *errbuf, size_t errlen);

/* Insert len bytes of data in the given format ("RowBinary", "JSONEachRow", ...) into
 * table ("name" or "database.name", each part an identifier). The data is sent from
 * memory as is. Returns 0 or an error; -EINVAL for a bad table or format name. */
int oa_ch_insert(oa_ch *ch, const char *table, const char *format, const void *data,
                 size_t len, char *errbuf, size_t errlen);

/* Run one request as described by req. Returns 0 or an error. */
int oa_ch_request(oa_ch *ch, const oa_ch_req *req, char *errbuf, size_t errlen);

/* GET /ping: 0 when the server answers "Ok.", else a transport error or -EPROTO. */
int oa_ch_ping(oa_ch *ch, char *errbuf, size_t errlen);

/* The ClickHouse error code of the last request that failed with -EPROTO (e.g. 62 for a
 * syntax error, 60 for an unknown table); 0 after a success or any other failure, so a
 * caller reads it right after its own call without checking for -EPROTO first. */
int oa_ch_last_code(const oa_ch *ch);

/* True for the codes that name a passing condition (timeouts, too many parts or
 * queries, memory limit, network trouble between servers, read-only replica), where
 * the same statement may succeed later. */
bool oa_ch_code_transient(int code);

/* Append s (n bytes, may hold NUL) to out as a ClickHouse string literal in single
 * quotes. Backslash and quote are escaped with a backslash; NUL, \b \f \n \r \t as
 * their short escapes; every other byte below 0x20, 0x7f and every byte from 0x80 up as
 * \xHH. So the literal is plain ASCII, any byte string (invalid UTF-8 included) comes
 * back exactly, and nothing in s can end the literal. Returns 0, or -E2BIG / -ENOMEM
 * with out unchanged. */
int oa_ch_quote(oa_buf *out, const char *s, size_t n);

/* True when s is an identifier we may put in SQL unquoted: [A-Za-z_][A-Za-z0-9_]*,
 * 1 to 128 characters. NULL is not. */
bool oa_ch_ident_ok(const char *s);

/* Append the request URL to out: base (trailing '/' optional) + "/?" + our settings +
 * the given settings (+ "&query=" and the URL-encoded sql when sql is not NULL).
 * database NULL or "" leaves it out; max_execution_s 0 leaves it out. Returns 0,
 * -EINVAL (a bad setting name, see oa_ch_setting; out unchanged) or an oa_buf error. */
int oa_ch_url_build(oa_buf *out, const char *base, const char *database,
                    long max_execution_s, const char *sql,
                    const oa_ch_setting *settings, size_t n_settings);

/* Parse a ClickHouse error text (an HTTP error body, the tail of a 200 body, or a
 * "__exception__" block), 18.16 style "Code: 62, e.displayText() = DB::Exception: ...,
 * e.what() = DB::Exception" or current "Code: 62. DB::Exception: ... (SYNTAX_ERROR)
 * (version 25.3.1)". Writes a one-line message (no "DB::Exception:", no version) to
 * errbuf. Returns the code (> 0), or 0 when the text is not a ClickHouse error (errbuf
 * then holds its first line, cleaned). */
int oa_ch_error_parse(const char *body, size_t len, char *errbuf, size_t errlen);

/* Look for an error inside a 200 answer: the "__exception__" block of current servers
 * (tag: the X-ClickHouse-Exception-Tag header, or NULL; with a tag only a block carrying
 * it counts), the "Code: N ... Exception" text 18.16 appends after the rows, or an
 * "exception" key at the top of a JSON answer.
 * Bodies without "Code: " or "__exception__" are clean at the cost of one scan. json
 * says the body should be JSON (one value or several, as JSONEachRow): then a body that
 * parses whole is data whatever its strings hold, and one that does not is an error even
 * when no message can be found in it. Without json, only error text at the start of the
 * body or of a line counts. Returns 1 with the code in *ret_code (0 when the text
 * carries none) and the message in errbuf, 0 when the body is clean, or -ENOMEM. */
int oa_ch_body_error(const char *body, size_t len, bool json, const char *tag,
                     int *ret_code, char *errbuf, size_t errlen);

#endif

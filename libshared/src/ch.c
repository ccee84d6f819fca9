/* The ClickHouse HTTP client: one CURL easy handle per oa_ch (the connection is kept
 * alive between requests), every request a POST to "/?settings" with the statement in
 * the body, or in the URL when data follows it. Assumes libcurl >= 7.85 (Debian 12 has
 * 7.88). What counts as an error and how it is reported is explained in oa/ch.h; the
 * parsing of error texts lives in ch_error.c, the building of SQL text and URLs in
 * ch_escape.c. */
#include "oa/ch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CH_URL_MAX 2048
#define CH_URL_BUF_MAX (1024 * 1024)    /* ClickHouse's own limit on a request URL */
#define CH_ERRBODY_MAX (64 * 1024)      /* what we keep of an error body */
#define CH_DISCARD_KEEP (32 * 1024)     /* what we keep of a discarded body: its tail */
#define CH_GRACE_MS 500                 /* client waits this long past max_execution_time */

struct oa_ch {
        CURL *curl;
        struct curl_slist *headers;
        char *base, *user, *password, *database;
        long connect_timeout_ms, query_timeout_ms;
        int last_code;
        oa_buf url;                     /* the current request's URL */
        oa_buf scratch;                 /* error bodies and discarded answers */
        char curl_err[CURL_ERROR_SIZE];
        /* Per response, from the header and write callbacks. */
        long status;
        int hdr_code;                   /* X-ClickHouse-Exception-Code */
        char hdr_tag[64];               /* X-ClickHouse-Exception-Tag */
        oa_buf *out;                    /* where a 200 body goes; NULL: scratch */
        int sink_err;                   /* -E2BIG / -ENOMEM / the sink's, from the write
                                         * callback */
        int (*sink)(const char *p, size_t n, void *ud);        /* this request's (oa_ch_req) */
        void *sink_ud;
};

oa_ch *oa_ch_free(oa_ch *ch) {
        if (!ch)
                return NULL;
        if (ch->curl) {
                curl_easy_cleanup(ch->curl);
                curl_global_cleanup();
        }
        curl_slist_free_all(ch->headers);
        if (ch->password)
                explicit_bzero(ch->password, strlen(ch->password));
        free(ch->base);
        free(ch->user);
        free(ch->password);
        free(ch->database);
        oa_buf_done(&ch->url);
        oa_buf_done(&ch->scratch);
        free(ch);
        return NULL;
}

static int check_url(const char *url, char *errbuf, size_t errlen) {
        size_t n, scheme;

        if (url && strncmp(url, "http://", 7) == 0)
                scheme = 7;
        else if (url && strncmp(url, "https://", 8) == 0)
                scheme = 8;
        else {
                snprintf(errbuf, errlen, "clickhouse url must start with http:// or https://");
                return -EINVAL;
        }
        n = strlen(url);
        if (n > CH_URL_MAX || n == scheme) {
                snprintf(errbuf, errlen, "clickhouse url is empty or too long");
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) url[i];

                if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
                        snprintf(errbuf, errlen, "clickhouse url must have no query, fragment, "
                                 "blank or control character");
                        return -EINVAL;
                }
        }
        return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
        static const char code_h[] = "X-ClickHouse-Exception-Code:";
        static const char tag_h[] = "X-ClickHouse-Exception-Tag:";
        oa_ch *ch = ctx;
        size_t len = size * n, k;

        if (len > sizeof(code_h) - 1 && strncasecmp(p, code_h, sizeof(code_h) - 1) == 0) {
                ch->hdr_code = 0;
                for (k = sizeof(code_h) - 1; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
                        ;
                for (; k < len && p[k] >= '0' && p[k] <= '9' && ch->hdr_code < 100000000; k++)
                        ch->hdr_code = ch->hdr_code * 10 + (p[k] - '0');
        } else if (len > sizeof(tag_h) - 1 && strncasecmp(p, tag_h, sizeof(tag_h) - 1) == 0) {
                size_t o = 0;

                for (k = sizeof(tag_h) - 1; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
                        ;
                for (; k < len && p[k] > ' ' && o + 1 < sizeof(ch->hdr_tag); k++)
                        ch->hdr_tag[o++] = p[k];
                ch->hdr_tag[o] = '\0';
        }
        return len;
}

/* A 200 body goes to the caller's buffer (up to its cap) or, when discarded, keeps only
 * its tail in scratch, where an appended error would be. Any other status goes to
 * scratch, whose start holds the message. */
static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
        oa_ch *ch = ctx;
        size_t len = size * n;
        oa_buf *b;
        int r;

        if (!ch->status)
                curl_easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &ch->status);
        if (ch->status != 200) {
                size_t room = ch->scratch.max - ch->scratch.len;

                r = oa_buf_add(&ch->scratch, p, len < room ? len : room);
                goto out;
        }
        if (ch->sink) {
                r = ch->sink(p, len, ch->sink_ud);
                if (r < 0)
                        goto out;
        }
        b = ch->out ? ch->out : &ch->scratch;
        r = oa_buf_add(b, p, len);
        if (r == -E2BIG && !ch->out) {
                size_t keep = len >= CH_DISCARD_KEEP ? 0 : CH_DISCARD_KEEP - len;

                if (keep > b->len)
                        keep = b->len;
                if (keep)
                        memmove(b->data, b->data + b->len - keep, keep);
                b->len = keep;
                if (len > CH_DISCARD_KEEP) {
                        p += len - CH_DISCARD_KEEP;
                        len = CH_DISCARD_KEEP;
                }
                r = oa_buf_add(b, p, len);
        }
out:
        if (r < 0) {
                ch->sink_err = r;
                return 0;               /* makes curl stop with CURLE_WRITE_ERROR */
        }
        return size * n;
}

int oa_ch_new(const oa_ch_cfg *c, oa_ch **ret_ch, char *errbuf, size_t errlen) {
        const char *db = c->database ? c->database : "oa";
        oa_ch *ch = NULL;
        int r;

        if (errlen)
                errbuf[0] = '\0';
        r = check_url(c->url, errbuf, errlen);
        if (r < 0)
                goto out;
        if (*db && !oa_ch_ident_ok(db)) {
                snprintf(errbuf, errlen, "clickhouse database name must be an identifier");
                r = -EINVAL;
                goto out;
        }
        if (c->connect_timeout_ms < 0 || c->query_timeout_ms < 0) {
                snprintf(errbuf, errlen, "clickhouse timeouts must not be negative");
                r = -EINVAL;
                goto out;
        }
        r = -ENOMEM;
        ch = calloc(1, sizeof(*ch));
        if (!ch)
                goto out;
        oa_buf_init(&ch->url, CH_URL_BUF_MAX);
        oa_buf_init(&ch->scratch, CH_ERRBODY_MAX);
        ch->base = strdup(c->url);
        ch->user = strdup(c->user && *c->user ? c->user : "default");
        ch->password = strdup(c->password ? c->password : "");
        ch->database = strdup(db);
        ch->connect_timeout_ms = c->connect_timeout_ms ? c->connect_timeout_ms : 2000;
        ch->query_timeout_ms = c->query_timeout_ms ? c->query_timeout_ms : 30000;
        if (!ch->base || !ch->user || !ch->password || !ch->database)
                goto out;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                goto out;
        ch->curl = curl_easy_init();
        if (!ch->curl) {
                curl_global_cleanup();
                goto out;
        }
        /* No "Expect: 100-continue" round trip before large inserts. */
        ch->headers = curl_slist_append(NULL, "Expect:");
        if (!ch->headers)
                goto out;
        curl_easy_setopt(ch->curl, CURLOPT_HTTPHEADER, ch->headers);
        curl_easy_setopt(ch->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(ch->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(ch->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(ch->curl, CURLOPT_CONNECTTIMEOUT_MS, ch->connect_timeout_ms);
        curl_easy_setopt(ch->curl, CURLOPT_TIMEOUT_MS, ch->query_timeout_ms + CH_GRACE_MS);
        curl_easy_setopt(ch->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(ch->curl, CURLOPT_USERNAME, ch->user);
        curl_easy_setopt(ch->curl, CURLOPT_PASSWORD, ch->password);
        curl_easy_setopt(ch->curl, CURLOPT_ERRORBUFFER, ch->curl_err);
        curl_easy_setopt(ch->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(ch->curl, CURLOPT_HEADERDATA, ch);
        curl_easy_setopt(ch->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(ch->curl, CURLOPT_WRITEDATA, ch);
        *ret_ch = ch;
        ch = NULL;
        r = 0;
out:
        oa_ch_free(ch);
        return r;
}

static int map_curl_error(CURLcode rc) {
        switch (rc) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* Turn a non-200 answer into an error: ClickHouse's own text gives -EPROTO and a code;
 * a proxy's 502/503/504 is a transport error. */
static int status_error(oa_ch *ch, char *errbuf, size_t errlen) {
        char msg[512];
        int code;

        code = oa_ch_error_parse(ch->scratch.data ? ch->scratch.data : "", ch->scratch.len,
                                 msg, sizeof(msg));
        if (code <= 0)
                code = ch->hdr_code;
        if (code > 0) {
                ch->last_code = code;
                snprintf(errbuf, errlen, "%s", msg);
                return -EPROTO;
        }
        snprintf(errbuf, errlen, "clickhouse answered HTTP %ld: %s", ch->status, msg);
        return ch->status == 502 || ch->status == 503 || ch->status == 504 ? -EIO : -EPROTO;
}

/* Perform the prepared transfer and judge the answer. */
static int perform(oa_ch *ch, bool json, char *errbuf, size_t errlen) {
        const oa_buf *body;
        CURLcode rc;
        int code = 0, r;

        ch->status = 0;
        ch->hdr_code = 0;
        ch->hdr_tag[0] = '\0';
        ch->sink_err = 0;
        ch->curl_err[0] = '\0';
        oa_buf_reset(&ch->scratch);
        rc = curl_easy_perform(ch->curl);
        if (ch->sink_err) {
                snprintf(errbuf, errlen, "%s", ch->sink_err == -E2BIG ?
                         "clickhouse answer is larger than the caller's limit" : ch->sink_err == -ENOMEM ?
                         "out of memory" : strerror(-ch->sink_err));
                return ch->sink_err;
        }
        if (rc != CURLE_OK) {
                snprintf(errbuf, errlen, "clickhouse: %s",
                         ch->curl_err[0] ? ch->curl_err : curl_easy_strerror(rc));
                return map_curl_error(rc);
        }
        curl_easy_getinfo(ch->curl, CURLINFO_RESPONSE_CODE, &ch->status);
        if (ch->status != 200)
                return status_error(ch, errbuf, errlen);
        body = ch->out ? ch->out : &ch->scratch;
        r = oa_ch_body_error(body->data ? body->data : "", body->len, json, ch->hdr_tag,
                             &code, errbuf, errlen);
        if (r < 0)
                return r;
        if (r == 0 && ch->hdr_code == 0)
                return 0;
        if (r == 0)
                snprintf(errbuf, errlen, "clickhouse reported error %d in a 200 answer",
                         ch->hdr_code);
        ch->last_code = code > 0 ? code : ch->hdr_code;
        return -EPROTO;
}

int oa_ch_request(oa_ch *ch, const oa_ch_req *req, char *errbuf, size_t errlen) {
        long max_exec = ch->query_timeout_ms / 1000;
        int r;

        ch->last_code = 0;
        if (errlen)
                errbuf[0] = '\0';
        if (!req->sql || !*req->sql) {
                snprintf(errbuf, errlen, "empty statement");
                return -EINVAL;
        }
        oa_buf_reset(&ch->url);
        r = oa_ch_url_build(&ch->url, ch->base, ch->database, max_exec > 0 ? max_exec : 1,
                            req->data ? req->sql : NULL, req->settings, req->n_settings);
        if (r < 0) {
                snprintf(errbuf, errlen, r == -EINVAL ? "setting name is not an identifier"
                         : "request URL too long");
                return r;
        }
        curl_easy_setopt(ch->curl, CURLOPT_URL, ch->url.data);
        if (req->data) {
                curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDS, req->data);
                curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->data_len);
        } else {
                curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDS, req->sql);
                curl_easy_setopt(ch->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(req->sql));
        }
        ch->out = req->out;
        ch->sink = req->out ? NULL : req->sink;
        ch->sink_ud = req->sink_ud;
        r = perform(ch, req->json, errbuf, errlen);
        ch->out = NULL;
        ch->sink = NULL;
        return r;
}

int oa_ch_exec(oa_ch *ch, const char *sql, char *errbuf, size_t errlen) {
        const oa_ch_req req = { .sql = sql };

        return oa_ch_request(ch, &req, errbuf, errlen);
}

int oa_ch_query(oa_ch *ch, const char *sql, oa_buf *out, char *errbuf, size_t errlen) {
        static const oa_ch_setting json_format[] = { { "default_format", "JSON" } };
        const oa_ch_req req = {
                .sql = sql, .out = out, .json = true, .settings = json_format, .n_settings = 1,
        };

        oa_buf_reset(out);
        return oa_ch_request(ch, &req, errbuf, errlen);
}

/* "name" or "database.name", each part an identifier. */
static bool table_ok(const char *t) {
        char part[130];
        const char *dot = strchr(t, '.');

        if (!dot)
                return oa_ch_ident_ok(t);
        if ((size_t) (dot - t) >= sizeof(part))
                return false;
        memcpy(part, t, (size_t) (dot - t));
        part[dot - t] = '\0';
        return oa_ch_ident_ok(part) && oa_ch_ident_ok(dot + 1);
}

int oa_ch_insert(oa_ch *ch, const char *table, const char *format, const void *data,
                 size_t len, char *errbuf, size_t errlen) {
        oa_ch_req req = { .data = data ? data : "", .data_len = len };
        char sql[512];          /* 12 + 257 + 8 + 128: the longest names fit */

        if (!table || !table_ok(table) || !oa_ch_ident_ok(format)) {
                ch->last_code = 0;
                snprintf(errbuf, errlen, "insert: table or format name is not an identifier");
                return -EINVAL;
        }
        snprintf(sql, sizeof(sql), "INSERT INTO %s FORMAT %s", table, format);
        req.sql = sql;
        return oa_ch_request(ch, &req, errbuf, errlen);
}

int oa_ch_ping(oa_ch *ch, char *errbuf, size_t errlen) {
        int r;

        ch->last_code = 0;
        if (errlen)
                errbuf[0] = '\0';
        oa_buf_reset(&ch->url);
        r = oa_buf_adds(&ch->url, ch->base);
        if (r == 0 && (ch->url.len == 0 || ch->url.data[ch->url.len - 1] != '/'))
                r = oa_buf_addc(&ch->url, '/');
        if (r == 0)
                r = oa_buf_adds(&ch->url, "ping");
        if (r < 0)
                return r;
        curl_easy_setopt(ch->curl, CURLOPT_URL, ch->url.data);
        curl_easy_setopt(ch->curl, CURLOPT_HTTPGET, 1L);
        r = perform(ch, false, errbuf, errlen);
        if (r == 0 && !(ch->scratch.len >= 3 && memcmp(ch->scratch.data, "Ok.", 3) == 0)) {
                snprintf(errbuf, errlen, "clickhouse /ping did not answer \"Ok.\"");
                r = -EPROTO;
        }
        return r;
}

int oa_ch_last_code(const oa_ch *ch) {
        return ch->last_code;
}

bool oa_ch_code_transient(int code) {
        switch (code) {
        case 159:       /* TIMEOUT_EXCEEDED */
        case 202:       /* TOO_MANY_SIMULTANEOUS_QUERIES */
        case 203:       /* NO_FREE_CONNECTION */
        case 209:       /* SOCKET_TIMEOUT */
        case 210:       /* NETWORK_ERROR */
        case 241:       /* MEMORY_LIMIT_EXCEEDED */
        case 242:       /* TABLE_IS_READ_ONLY */
        case 252:       /* TOO_MANY_PARTS */
        case 285:       /* TOO_FEW_LIVE_REPLICAS */
        case 319:       /* UNKNOWN_STATUS_OF_INSERT */
        case 999:       /* KEEPER_EXCEPTION */
                return true;
        default:
                return false;
        }
}

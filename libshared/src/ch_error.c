/* ClickHouse error texts: parsing the body of an HTTP error, and finding an error inside
 * a 200 answer.
 *
 * Seen on 18.16 (HTTP 400 syntax, 404 unknown table/database/setting, 401 wrong
 * password, 500 the rest), text/plain, often with newlines inside:
 *   Code: 62, e.displayText() = DB::Exception: Syntax error: ..., e.what() = DB::Exception
 * Current servers:
 *   Code: 62. DB::Exception: Syntax error: ... (SYNTAX_ERROR) (version 25.3.2.39 (official build))
 * An error after the first rows went out (only without wait_end_of_query, or when the
 * result outgrew the server's buffer) keeps the 200 and is appended to the body: on 18.16
 * right after the last complete row, even mid-line in FORMAT JSON ("}Code: 395, ...");
 * on 24.x-25.10 as a plain "Code: ..." line, or with http_write_exception_in_output_format
 * as an "exception" key of the JSON; from 25.11 in a framed block
 *   \r\n__exception__\r\n<TAG>\r\n<message>\n<length> <TAG>\r\n__exception__\r\n
 * whose TAG is also sent in the X-ClickHouse-Exception-Tag header. */
#include "oa/ch.h"

#include <errno.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define CODE_PREFIX "Code: "
#define MARKER "__exception__"
#define EXC_KEY_MAX 4096

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The last occurrence of needle in [h, h + n), or NULL. */
static const char *mem_rfind(const char *h, size_t n, const char *needle) {
        size_t k = strlen(needle);

        if (k == 0 || k > n)
                return NULL;
        for (size_t i = n - k + 1; i-- > 0;)
                if (h[i] == needle[0] && memcmp(h + i, needle, k) == 0)
                        return h + i;
        return NULL;
}

static bool starts_with(const char *p, const char *end, const char *prefix) {
        size_t k = strlen(prefix);

        return (size_t) (end - p) >= k && memcmp(p, prefix, k) == 0;
}

/* Copy [p, end) to errbuf on one line: control bytes become spaces, runs of blanks one
 * space, no blanks at either end. Truncates to errlen - 1. */
static void copy_line(char *errbuf, size_t errlen, const char *p, const char *end) {
        size_t o = 0;
        bool blank = false;

        if (!errlen)
                return;
        for (; p < end && o + 1 < errlen; p++) {
                unsigned char c = (unsigned char) *p;

                if (c < 0x20 || c == 0x7f || c == ' ') {
                        blank = o > 0;
                        continue;
                }
                if (blank && o + 2 < errlen)
                        errbuf[o++] = ' ';
                blank = false;
                if (o + 1 < errlen)
                        errbuf[o++] = (char) c;
        }
        errbuf[o] = '\0';
}

int oa_ch_error_parse(const char *body, size_t len, char *errbuf, size_t errlen) {
        const char *p = body, *end = body + len, *cut;
        int code = 0;

        while (p < end && is_space(*p))
                p++;
        if (!starts_with(p, end, CODE_PREFIX) || p + 6 >= end || !is_digit(p[6])) {
                cut = memchr(p, '\n', (size_t) (end - p));
                copy_line(errbuf, errlen, p, cut ? cut : end);
                return 0;
        }
        for (p += 6; p < end && is_digit(*p); p++)
                if (code < 100000000)
                        code = code * 10 + (*p - '0');
        if (starts_with(p, end, ", e.displayText() = "))
                p += strlen(", e.displayText() = ");
        else if (starts_with(p, end, ". ") || starts_with(p, end, ", "))
                p += 2;
        if (starts_with(p, end, "DB::Exception: "))
                p += strlen("DB::Exception: ");
        /* 18.16 ends with ", e.what() = DB::Exception"; current servers with
         * " (version X (official build))". Neither is part of the message. */
        cut = mem_rfind(p, (size_t) (end - p), ", e.what() = ");
        if (cut)
                end = cut;
        cut = mem_rfind(p, (size_t) (end - p), " (version ");
        if (cut) {
                const char *q = end;

                while (q > cut && is_space(q[-1]))
                        q--;
                if (q > cut && q[-1] == ')')
                        end = cut;
        }
        cut = mem_rfind(p, (size_t) (end - p), "\nStack trace");
        if (cut)
                end = cut;
        copy_line(errbuf, errlen, p, end);
        return code;
}

/* The JSON scan: is there a string under the key "exception" at the top level? */
typedef struct json_scan {
        int depth;
        bool want;              /* the last key was "exception" at depth 1 */
        bool found;
        size_t len;
        char text[EXC_KEY_MAX];
} json_scan;

static int js_value(void *ctx) {
        ((json_scan *) ctx)->want = false;
        return 1;
}

static int js_bool(void *ctx, int b) {
        return js_value(ctx);
}

static int js_number(void *ctx, const char *s, size_t n) {
        return js_value(ctx);
}

static int js_string(void *ctx, const unsigned char *s, size_t n) {
        json_scan *js = ctx;

        if (js->want && !js->found) {
                js->found = true;
                js->len = n < sizeof(js->text) ? n : sizeof(js->text);
                memcpy(js->text, s, js->len);
        }
        js->want = false;
        return 1;
}

static int js_open(void *ctx) {
        json_scan *js = ctx;

        js->want = false;
        js->depth++;
        return 1;
}

static int js_close(void *ctx) {
        ((json_scan *) ctx)->depth--;
        return 1;
}

static int js_key(void *ctx, const unsigned char *s, size_t n) {
        json_scan *js = ctx;

        js->want = js->depth == 1 && n == 9 && memcmp(s, "exception", 9) == 0;
        return 1;
}

static const yajl_callbacks js_callbacks = {
        .yajl_null = js_value,
        .yajl_boolean = js_bool,
        .yajl_number = js_number,       /* raw text: UInt64 past INT64_MAX is no error */
        .yajl_string = js_string,
        .yajl_start_map = js_open,
        .yajl_map_key = js_key,
        .yajl_end_map = js_close,
        .yajl_start_array = js_open,
        .yajl_end_array = js_close,
};

/* Parse body as JSON (one or more values: FORMAT JSON or JSONEachRow). Returns 1 when
 * it is whole JSON, 0 when not, -1 when out of memory; js says whether it had an
 * "exception" key. */
static int json_whole(const char *body, size_t len, json_scan *js) {
        yajl_handle h = yajl_alloc(&js_callbacks, NULL, js);
        yajl_status st;

        if (!h)
                return -1;
        yajl_config(h, yajl_allow_multiple_values, 1);
        yajl_config(h, yajl_dont_validate_strings, 1);
        st = yajl_parse(h, (const unsigned char *) body, len);
        if (st == yajl_status_ok)
                st = yajl_complete_parse(h);
        yajl_free(h);
        return st == yajl_status_ok;
}

/* The message of a "__exception__" block whose closing marker ends body: after the
 * opening marker and the tag line, up to the "<length> <tag>" line. */
static bool framed_error(const char *body, const char *end, const char *tag,
                         const char **ret_p, const char **ret_end) {
        const char *open, *p, *q;

        while (end > body && is_space(end[-1]))
                end--;
        if ((size_t) (end - body) < strlen(MARKER) || memcmp(end - strlen(MARKER), MARKER, strlen(MARKER)))
                return false;
        end -= strlen(MARKER);
        open = mem_rfind(body, (size_t) (end - body), MARKER);
        if (!open)
                return false;
        p = open + strlen(MARKER);
        while (p < end && is_space(*p))
                p++;
        q = memchr(p, '\n', (size_t) (end - p));        /* the tag line */
        if (!q)
                return false;
        if (tag && *tag && !(starts_with(p, end, tag) && (size_t) (q - p) <= strlen(tag) + 1))
                return false;
        p = q + 1;
        while (end > p && is_space(end[-1]))
                end--;
        q = mem_rfind(p, (size_t) (end - p), "\n");     /* cut "<length> <tag>" */
        *ret_p = p;
        *ret_end = q ? q : end;
        return true;
}

/* The last "Code: <digit>" followed by "Exception" that may start an error text: in JSON
 * that failed to parse anywhere, otherwise only at the start of the body or of a line. */
static const char *code_trailer(const char *body, const char *end, bool anywhere) {
        size_t n = (size_t) (end - body);
        const char *c;

        while ((c = mem_rfind(body, n, CODE_PREFIX))) {
                bool placed = anywhere || c == body || c[-1] == '\n';

                if (placed && c + 6 < end && is_digit(c[6]) &&
                    mem_rfind(c, (size_t) (end - c), "Exception"))
                        return c;
                n = (size_t) (c - body);
        }
        return NULL;
}

int oa_ch_body_error(const char *body, size_t len, bool json, const char *tag,
                     int *ret_code, char *errbuf, size_t errlen) {
        static const char not_json[] = "the answer is not valid JSON";
        const char *end = body + len, *p, *q;
        json_scan js = { 0 };

        /* Fast path: no error text can hide in a body without one of these. */
        if (len == 0 || (!mem_rfind(body, len, CODE_PREFIX) && !mem_rfind(body, len, MARKER)))
                return 0;
        if (json) {
                switch (json_whole(body, len, &js)) {
                case -1:
                        return -ENOMEM;
                case 1:
                        if (!js.found)
                                return 0;       /* data that merely mentions an error */
                        *ret_code = oa_ch_error_parse(js.text, js.len, errbuf, errlen);
                        return 1;
                }
        }
        if (framed_error(body, end, tag, &p, &q)) {
                *ret_code = oa_ch_error_parse(p, (size_t) (q - p), errbuf, errlen);
                return 1;
        }
        /* A server that sends a tag frames every error it appends: other text is data. */
        p = tag && *tag ? NULL : code_trailer(body, end, json);
        if (p) {
                *ret_code = oa_ch_error_parse(p, (size_t) (end - p), errbuf, errlen);
                return 1;
        }
        if (!json)
                return 0;
        /* Broken JSON with no error text in it: never hand it on as a result. */
        *ret_code = 0;
        copy_line(errbuf, errlen, not_json, not_json + strlen(not_json));
        return 1;
}

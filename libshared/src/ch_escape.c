/* Text that goes into ClickHouse requests: string literals, identifiers and the request
 * URL. ClickHouse 18.16 has no query parameters, so oa_ch_quote is the one function that
 * turns data into SQL; everything here is pure and tested without a server.
 *
 * String literal rules (both 18.16 and current servers): inside '...' a backslash starts
 * an escape: \\ \' \0 \b \f \n \r \t \a \v \e and \xHH (exactly two hex digits; one digit
 * is a syntax error on 18.16); an unknown escape like \u stands for the letter itself, so
 * we never rely on it. */
#include "oa/ch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CH_IDENT_MAX 128

static const char hex_digits[] = "0123456789ABCDEF";

int oa_ch_quote(oa_buf *out, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        size_t orig = out->len, start = 0, i;
        int r;

        r = oa_buf_addc(out, '\'');
        if (r < 0)
                goto fail;
        for (i = 0; i < n; i++) {
                unsigned char c = u[i];
                char esc[4];
                size_t el = 2;

                if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
                        continue;
                esc[0] = '\\';
                switch (c) {
                case '\\': esc[1] = '\\'; break;
                case '\'': esc[1] = '\''; break;
                case '\0': esc[1] = '0'; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                default:
                        /* Other control bytes and every byte >= 0x80: the literal stays
                         * ASCII and invalid UTF-8 survives byte for byte. */
                        esc[1] = 'x';
                        esc[2] = hex_digits[c >> 4];
                        esc[3] = hex_digits[c & 0xf];
                        el = 4;
                        break;
                }
                r = oa_buf_add(out, s + start, i - start);
                if (r < 0)
                        goto fail;
                r = oa_buf_add(out, esc, el);
                if (r < 0)
                        goto fail;
                start = i + 1;
        }
        r = oa_buf_add(out, s + start, n - start);
        if (r < 0)
                goto fail;
        r = oa_buf_addc(out, '\'');
        if (r < 0)
                goto fail;
        return 0;
fail:
        out->len = orig;
        if (out->data)
                out->data[orig] = '\0';
        return r;
}

bool oa_ch_ident_ok(const char *s) {
        size_t i;

        if (!s)
                return false;
        for (i = 0; s[i]; i++) {
                char c = s[i];
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

                if (i >= CH_IDENT_MAX)
                        return false;
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return false;
        }
        return i > 0;
}

/* Append s percent-encoded: only RFC 3986 unreserved characters stay as they are. */
static int url_escape(oa_buf *out, const char *s) {
        const unsigned char *u = (const unsigned char *) s;
        int r = 0;

        for (; *u && r == 0; u++) {
                unsigned char c = *u;
                char pct[3];

                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~') {
                        r = oa_buf_addc(out, (char) c);
                        continue;
                }
                pct[0] = '%';
                pct[1] = hex_digits[c >> 4];
                pct[2] = hex_digits[c & 0xf];
                r = oa_buf_add(out, pct, 3);
        }
        return r;
}

/* Names that are not settings: the statement and the credentials have their own place. */
static bool reserved_name(const char *name) {
        return strcmp(name, "query") == 0 || strcmp(name, "user") == 0 || strcmp(name, "password") == 0;
}

static bool setting_given(const oa_ch_setting *settings, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(settings[i].name, name) == 0)
                        return true;
        return false;
}

static int add_param(oa_buf *out, bool *first, const char *name, const char *value) {
        int r;

        r = oa_buf_adds(out, *first ? "" : "&");
        if (r == 0)
                r = oa_buf_adds(out, name);
        if (r == 0)
                r = oa_buf_addc(out, '=');
        if (r == 0)
                r = url_escape(out, value);
        *first = false;
        return r;
}

int oa_ch_url_build(oa_buf *out, const char *base, const char *database,
                    long max_execution_s, const char *sql,
                    const oa_ch_setting *settings, size_t n_settings) {
        char max_exec[24];
        const struct { const char *name, *value; } ours[] = {
                { "wait_end_of_query", "1" },
                { "output_format_json_quote_64bit_integers", "0" },
                { "max_execution_time", max_execution_s > 0 ? max_exec : NULL },
                { "database", database && *database ? database : NULL },
        };
        size_t orig = out->len, blen;
        bool first = true;
        int r;

        snprintf(max_exec, sizeof(max_exec), "%ld", max_execution_s);
        for (size_t i = 0; i < n_settings; i++)
                if (!oa_ch_ident_ok(settings[i].name) || !settings[i].value ||
                    reserved_name(settings[i].name))
                        return -EINVAL;
        blen = strlen(base);
        while (blen > 0 && base[blen - 1] == '/')
                blen--;
        r = oa_buf_add(out, base, blen);
        if (r == 0)
                r = oa_buf_adds(out, "/?");
        for (size_t i = 0; r == 0 && i < sizeof(ours) / sizeof(ours[0]); i++)
                if (ours[i].value && !setting_given(settings, n_settings, ours[i].name))
                        r = add_param(out, &first, ours[i].name, ours[i].value);
        for (size_t i = 0; r == 0 && i < n_settings; i++)
                r = add_param(out, &first, settings[i].name, settings[i].value);
        if (r == 0 && sql)
                r = add_param(out, &first, "query", sql);
        if (r < 0) {
                out->len = orig;
                if (out->data)
                        out->data[orig] = '\0';
        }
        return r;
}

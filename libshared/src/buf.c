/* Bounded growable buffer. Growth doubles the allocation, never beyond max + 1 (the NUL);
 * a failed add leaves the buffer exactly as it was. */
#include "oa/buf.h"
#include "oa/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oa_buf_init(oa_buf *b, size_t max) {
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
}

void oa_buf_done(oa_buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

void oa_buf_reset(oa_buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL. */
static int buf_reserve(oa_buf *b, size_t n) {
        size_t need, cap;
        char *p;

        if (n > b->max || b->len > b->max - n)
                return -E2BIG;
        need = b->len + n + 1;
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap - 1 > b->max)   /* max + 1 could overflow; cap - 1 cannot */
                cap = b->max + 1;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int oa_buf_add(oa_buf *b, const void *p, size_t n) {
        int r = buf_reserve(b, n);

        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int oa_buf_adds(oa_buf *b, const char *s) {
        return oa_buf_add(b, s, strlen(s));
}

int oa_buf_addc(oa_buf *b, char c) {
        return oa_buf_add(b, &c, 1);
}

int oa_buf_vaddf(oa_buf *b, const char *fmt, va_list ap) {
        va_list aq;
        int n, r;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int oa_buf_addf(oa_buf *b, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = oa_buf_vaddf(b, fmt, ap);
        va_end(ap);
        return r;
}

int oa_buf_add_json_str(oa_buf *b, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0, start = 0, orig = b->len;
        int r = 0;

        while (i < n) {
                unsigned char c = u[i];
                char esc[7];
                size_t l;

                if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0x80) {
                        l = oa_utf8_seq(u + i, n - i);
                        if (l) {
                                i += l;
                                continue;
                        }
                }
                r = oa_buf_add(b, s + start, i - start);
                if (r < 0)
                        goto fail;
                if (c >= 0x80) {
                        r = oa_buf_add(b, "\xef\xbf\xbd", 3);   /* U+FFFD */
                } else if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) c;
                        r = oa_buf_add(b, esc, 2);
                } else if (c == '\n') {
                        r = oa_buf_add(b, "\\n", 2);
                } else if (c == '\r') {
                        r = oa_buf_add(b, "\\r", 2);
                } else if (c == '\t') {
                        r = oa_buf_add(b, "\\t", 2);
                } else {
                        memcpy(esc, "\\u00", 4);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        r = oa_buf_add(b, esc, 6);
                }
                if (r < 0)
                        goto fail;
                i++;
                start = i;
        }
        r = oa_buf_add(b, s + start, i - start);
        if (r < 0)
                goto fail;
        return 0;
fail:
        b->len = orig;
        if (b->data)
                b->data[orig] = '\0';
        return r;
}

char *oa_buf_steal(oa_buf *b, size_t *ret_len) {
        char *p = b->data;

        if (ret_len)
                *ret_len = b->len;
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        return p;
}

int oa_buf_add_json_quoted(oa_buf *b, const char *s) {
        return oa_buf_add_json_quotedn(b, s, s ? strlen(s) : 0);
}

int oa_buf_add_json_quotedn(oa_buf *b, const char *s, size_t n) {
        size_t orig = b->len;
        int r = oa_buf_addc(b, '"');

        if (r == 0 && s)
                r = oa_buf_add_json_str(b, s, n);
        if (r == 0)
                r = oa_buf_addc(b, '"');
        if (r < 0 && b->data) {
                b->len = orig;
                b->data[orig] = '\0';
        }
        return r;
}

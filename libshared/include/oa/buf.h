/* A bounded growable byte buffer (curl's dynbuf, sds's idea): every buffer fed by the
 * network has a hard cap, so a hostile peer cannot make us allocate without limit.
 * The content is always NUL-terminated for convenience; len does not count the NUL. */
#ifndef OA_BUF_H
#define OA_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct oa_buf {
        char *data;     /* NULL until the first add */
        size_t len;     /* bytes used, without the trailing NUL */
        size_t cap;     /* bytes allocated */
        size_t max;     /* hard cap on len */
} oa_buf;

/* Prepare an empty buffer that will never hold more than max bytes. */
void oa_buf_init(oa_buf *b, size_t max);

/* Free the memory; the buffer is empty and usable again (same max). */
void oa_buf_done(oa_buf *b);

/* Forget the content but keep the memory. */
void oa_buf_reset(oa_buf *b);

/* Append n bytes. Returns 0, -E2BIG when len would pass max (nothing is appended),
 * or -ENOMEM. */
int oa_buf_add(oa_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string (as oa_buf_add). */
int oa_buf_adds(oa_buf *b, const char *s);

/* Append one byte (as oa_buf_add). */
int oa_buf_addc(oa_buf *b, char c);

/* Append printf-formatted text (as oa_buf_add). */
int oa_buf_addf(oa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int oa_buf_vaddf(oa_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Append s as the body of a JSON string (no surrounding quotes): escapes quotes,
 * backslashes and control characters, and replaces invalid UTF-8 by U+FFFD, so the
 * output is always valid JSON. Returns as oa_buf_add. */
int oa_buf_add_json_str(oa_buf *b, const char *s, size_t n);

/* The same in double quotes: a whole JSON string of n bytes; a NULL s gives "". On
 * failure b is unchanged. */
int oa_buf_add_json_quotedn(oa_buf *b, const char *s, size_t n);

/* oa_buf_add_json_quotedn for a NUL-terminated s. */
int oa_buf_add_json_quoted(oa_buf *b, const char *s);

/* v as an unsigned LEB128 varint (protobuf's varints, ClickHouse RowBinary's lengths) at
 * p, which has room for OA_VARINT_MAX bytes. Returns the byte after it. */
#define OA_VARINT_MAX 10

static inline uint8_t *oa_varint_put(uint8_t *p, uint64_t v) {
        while (v >= 0x80) {
                *p++ = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        *p++ = (uint8_t) v;
        return p;
}

/* Hand the content over to the caller (malloc'ed, NUL-terminated; NULL when empty) and
 * leave the buffer empty. */
char *oa_buf_steal(oa_buf *b, size_t *ret_len);

#endif

/* A strict pull tokenizer for JSON request bodies (RFC 8259), internal to the event
 * parsers. Why not yajl: probing yajl 2.1 showed it turns a lone "\ud800" into "?",
 * combines "\ud800\u0041" into U+10041 and accepts overlong UTF-8 (C0 80), so hostile
 * bodies would be silently rewritten; this one reports them.
 *
 * It reads a body held in memory (not NUL-terminated), one token per call, in linear
 * time and without allocating: a string without escapes is returned as a pointer into
 * the body; a string with escapes is decoded into a fixed scratch buffer, and only its
 * first OA_EJ_SCRATCH bytes are kept (len still tells the full decoded length, so a
 * 10 MB string costs one scan and no copy). Invalid UTF-8, unpaired surrogates and
 * "\u0000" do not stop the parse: they are flagged on the string so the caller can reject
 * that one field; so are control characters, so that checking a field costs nothing. Syntax errors, nesting deeper than OA_EJ_MAX_DEPTH and trailing bytes
 * after the value stop it for good. */
#ifndef OA_EVENT_JSON_H
#define OA_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OA_EJ_MAX_DEPTH 16      /* containers open at once */
#define OA_EJ_SCRATCH 4096      /* decoded bytes kept of an escaped string */

typedef enum oa_ej_tok {
        OA_EJ_ERROR = -1,
        OA_EJ_END = 0,          /* the whole body is consumed and was one value */
        OA_EJ_OBJ,              /* '{' */
        OA_EJ_OBJ_END,          /* '}' */
        OA_EJ_ARR,              /* '[' */
        OA_EJ_ARR_END,          /* ']' */
        OA_EJ_KEY,              /* a member name: str, len, flags */
        OA_EJ_STR,              /* a string value: str, len, flags */
        OA_EJ_NUM,              /* a number: its text in str, len; is_int */
        OA_EJ_TRUE,
        OA_EJ_FALSE,
        OA_EJ_NULL,
} oa_ej_tok;

#define OA_EJ_BAD_UTF8 1u       /* invalid UTF-8 or an unpaired surrogate escape */
#define OA_EJ_HAS_NUL 2u        /* "\u0000" */
#define OA_EJ_HAS_CTRL 4u       /* a control character but tab, LF, CR: C0, DEL, C1 */
#define OA_EJ_HAS_WS 8u         /* tab, line feed or carriage return */

typedef struct oa_ej {
        const unsigned char *body;
        size_t len, pos;        /* pos: offset of the next unread byte */
        size_t tok_off;         /* offset of the current token's first byte */
        unsigned depth;
        uint32_t stack;         /* bit d set: level d + 1 is an object */
        int state;
        const char *err;        /* after OA_EJ_ERROR: what is wrong (static text) */
        size_t err_off;

        /* the current token */
        const char *str;
        size_t slen;            /* decoded length; > OA_EJ_SCRATCH: str holds a prefix */
        unsigned flags;
        bool is_int;            /* a number without fraction or exponent */
        char scratch[OA_EJ_SCRATCH];
} oa_ej;

/* Start reading len bytes at body. */
void oa_ej_init(oa_ej *j, const void *body, size_t len);

/* The next token. After OA_EJ_ERROR or OA_EJ_END every call returns the same. */
oa_ej_tok oa_ej_next(oa_ej *j);

/* Consume the rest of the value that tok (just returned) starts: nothing for a scalar,
 * everything up to the matching end for '{' or '['. Returns OA_EJ_ERROR or tok. */
oa_ej_tok oa_ej_skip(oa_ej *j, oa_ej_tok tok);

#endif

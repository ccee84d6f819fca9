/* The strict JSON pull tokenizer of the event parsers (event_json.h). A small state
 * machine over the bytes: every byte is looked at a bounded number of times, nothing is
 * allocated, and the nesting stack is one 32-bit word. */
#include "event_json.h"

#include <string.h>

#include "bytescan.h"
#include "oa/utf8.h"

enum {
        ST_VALUE,       /* a value must come (top level, after ':', after ',' in an array) */
        ST_ARR_FIRST,   /* after '[': a value or ']' */
        ST_OBJ_FIRST,   /* after '{': a member name or '}' */
        ST_KEY,         /* after ',' in an object: a member name */
        ST_COLON,       /* after a member name: ':' then a value */
        ST_AFTER,       /* after a value in a container: ',' or the closing bracket */
        ST_DONE,        /* after the top-level value: only whitespace may follow */
        ST_END,
        ST_ERR,
};

void oa_ej_init(oa_ej *j, const void *body, size_t len) {
        j->body = body;
        j->len = len;
        j->pos = 0;
        j->tok_off = 0;
        j->depth = 0;
        j->stack = 0;
        j->state = ST_VALUE;
        j->err = NULL;
        j->err_off = 0;
        j->str = NULL;
        j->slen = 0;
        j->flags = 0;
        j->is_int = false;
}

static oa_ej_tok fail(oa_ej *j, const char *why) {
        j->state = ST_ERR;
        j->err = why;
        j->err_off = j->pos;
        return OA_EJ_ERROR;
}

static void skip_ws(oa_ej *j) {
        size_t pos = j->pos;

        while (pos < j->len) {
                unsigned char c = j->body[pos];

                if (c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t'))
                        break;
                pos++;
        }
        j->pos = pos;
}

static bool top_is_object(const oa_ej *j) {
        return j->depth > 0 && (j->stack >> (j->depth - 1) & 1u);
}

static void value_done(oa_ej *j) {
        j->state = j->depth == 0 ? ST_DONE : ST_AFTER;
}

/* The flag a decoded control character sets: tab, line feed and carriage return are
 * allowed in free text, the rest of C0, DEL and C1 nowhere. */
static unsigned ctrl_flag(unsigned long cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r')
                return OA_EJ_HAS_WS;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                return OA_EJ_HAS_CTRL;
        return 0;
}

/* Append k decoded bytes, keeping at most OA_EJ_SCRATCH of them; *dlen counts them all. */
static void put(oa_ej *j, size_t *dlen, const void *p, size_t k) {
        if (*dlen < OA_EJ_SCRATCH) {
                size_t m = OA_EJ_SCRATCH - *dlen < k ? OA_EJ_SCRATCH - *dlen : k;

                memcpy(j->scratch + *dlen, p, m);
        }
        *dlen += k;
}

static int hex4(const unsigned char *s) {
        int v = 0;

        for (int i = 0; i < 4; i++) {
                unsigned char c = s[i];

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

static size_t utf8_put(unsigned char *out, unsigned long cp) {
        if (cp < 0x80) {
                out[0] = (unsigned char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (unsigned char) (0xc0 | cp >> 6);
                out[1] = (unsigned char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (unsigned char) (0xe0 | cp >> 12);
                out[1] = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
                out[2] = (unsigned char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (unsigned char) (0xf0 | cp >> 18);
        out[1] = (unsigned char) (0x80 | (cp >> 12 & 0x3f));
        out[2] = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
        out[3] = (unsigned char) (0x80 | (cp & 0x3f));
        return 4;
}

/* Decode the escape at b[*i] == '\\' into the scratch buffer. Returns false on a syntax
 * error. */
static bool escape(oa_ej *j, size_t *i, size_t *dlen) {
        const unsigned char *b = j->body;
        size_t n = j->len;
        unsigned char out[4];
        unsigned long cp;
        int v;

        if (*i + 1 >= n)
                return false;
        switch (b[*i + 1]) {
        case '"': out[0] = '"'; break;
        case '\\': out[0] = '\\'; break;
        case '/': out[0] = '/'; break;
        case 'b': out[0] = '\b'; j->flags |= OA_EJ_HAS_CTRL; break;
        case 'f': out[0] = '\f'; j->flags |= OA_EJ_HAS_CTRL; break;
        case 'n': out[0] = '\n'; j->flags |= OA_EJ_HAS_WS; break;
        case 'r': out[0] = '\r'; j->flags |= OA_EJ_HAS_WS; break;
        case 't': out[0] = '\t'; j->flags |= OA_EJ_HAS_WS; break;
        case 'u':
                if (n - *i < 6 || (v = hex4(b + *i + 2)) < 0)
                        return false;
                *i += 6;
                cp = (unsigned long) v;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                        j->flags |= OA_EJ_BAD_UTF8;     /* a low surrogate alone */
                        return true;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        int lo;

                        if (n - *i < 6 || b[*i] != '\\' || b[*i + 1] != 'u' ||
                            (lo = hex4(b + *i + 2)) < 0xdc00 || lo > 0xdfff) {
                                /* a high surrogate alone: whatever follows is read as usual */
                                j->flags |= OA_EJ_BAD_UTF8;
                                return true;
                        }
                        *i += 6;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long) lo - 0xdc00);
                }
                if (cp == 0)
                        j->flags |= OA_EJ_HAS_NUL;
                j->flags |= ctrl_flag(cp);
                put(j, dlen, out, utf8_put(out, cp));
                return true;
        default:
                return false;
        }
        *i += 2;
        put(j, dlen, out, 1);
        return true;
}

/* The first byte at or after i that is not plain: below 0x20, '"', '\\', DEL, non-ASCII. */
static size_t scan(const unsigned char *b, size_t i, size_t n) {
        return oa_bytescan(b, i, n, 0x20, '"', '\\', true);
}

/* The rest of a string from b[i], the first byte that is not plain (lex_string). */
__attribute__((noinline))
static oa_ej_tok lex_string_slow(oa_ej *j, oa_ej_tok tok, size_t i) {
        const unsigned char *b = j->body;
        size_t n = j->len, start = j->pos + 1, seg = start, dlen = 0;
        bool escaped = false;

        for (;;) {
                unsigned char c;
                size_t k;

                if (i >= n) {
                        j->pos = i;
                        return fail(j, "unterminated string");
                }
                c = b[i];
                if (c == '"')
                        break;
                if (c < 0x20) {
                        j->pos = i;
                        return fail(j, "control character in a string");
                }
                if (c == 0x7f) {
                        j->flags |= OA_EJ_HAS_CTRL;
                        i = scan(b, i + 1, n);
                        continue;
                }
                if (c >= 0x80) {
                        k = oa_utf8_seq(b + i, n - i);
                        if (k == 0) {
                                j->flags |= OA_EJ_BAD_UTF8;
                                k = 1;
                        } else if (c == 0xc2 && b[i + 1] <= 0x9f) {
                                j->flags |= OA_EJ_HAS_CTRL;     /* C1 */
                        }
                        i = scan(b, i + k, n);
                        continue;
                }
                /* a backslash: from here on the string is decoded into scratch */
                if (escaped)
                        put(j, &dlen, b + seg, i - seg);
                else
                        dlen = 0, put(j, &dlen, b + start, i - start);
                escaped = true;
                if (!escape(j, &i, &dlen)) {
                        j->pos = i;
                        return fail(j, "invalid escape in a string");
                }
                seg = i;
                i = scan(b, i, n);
        }
        if (escaped) {
                put(j, &dlen, b + seg, i - seg);
                j->str = j->scratch;
                j->slen = dlen;
        } else {
                j->str = (const char *) b + start;
                j->slen = i - start;
        }
        j->pos = i + 1;
        return tok;
}

/* A string or member name at j->pos == '"'. The usual string, plain bytes up to its
 * closing quote, takes only the scan; the rest is lex_string_slow's. */
static oa_ej_tok lex_string(oa_ej *j, oa_ej_tok tok) {
        size_t start = j->pos + 1, i = scan(j->body, start, j->len);

        j->flags = 0;
        if (i >= j->len || j->body[i] != '"')
                return lex_string_slow(j, tok, i);
        j->str = (const char *) j->body + start;
        j->slen = i - start;
        j->pos = i + 1;
        return tok;
}

static bool digits(oa_ej *j) {
        size_t s = j->pos;

        while (j->pos < j->len && j->body[j->pos] >= '0' && j->body[j->pos] <= '9')
                j->pos++;
        return j->pos > s;
}

static oa_ej_tok lex_number(oa_ej *j) {
        const unsigned char *b = j->body;
        size_t start = j->pos;

        if (b[j->pos] == '-')
                j->pos++;
        if (j->pos < j->len && b[j->pos] == '0')
                j->pos++;
        else if (j->pos >= j->len || b[j->pos] < '1' || b[j->pos] > '9' || !digits(j))
                return fail(j, "invalid number");
        j->is_int = true;
        if (j->pos < j->len && b[j->pos] == '.') {
                j->pos++;
                if (!digits(j))
                        return fail(j, "invalid number");
                j->is_int = false;
        }
        if (j->pos < j->len && (b[j->pos] == 'e' || b[j->pos] == 'E')) {
                j->pos++;
                if (j->pos < j->len && (b[j->pos] == '+' || b[j->pos] == '-'))
                        j->pos++;
                if (!digits(j))
                        return fail(j, "invalid number");
                j->is_int = false;
        }
        j->str = (const char *) b + start;
        j->slen = j->pos - start;
        j->flags = 0;
        return OA_EJ_NUM;
}

static oa_ej_tok lex_literal(oa_ej *j, const char *word, size_t wlen, oa_ej_tok tok) {
        if (j->len - j->pos < wlen || memcmp(j->body + j->pos, word, wlen) != 0)
                return fail(j, "invalid literal");
        j->pos += wlen;
        return tok;
}

static oa_ej_tok open_container(oa_ej *j, bool object) {
        if (j->depth >= OA_EJ_MAX_DEPTH)
                return fail(j, "nested deeper than 16 levels");
        if (object)
                j->stack |= 1u << j->depth;
        else
                j->stack &= ~(1u << j->depth);
        j->depth++;
        j->pos++;
        j->state = object ? ST_OBJ_FIRST : ST_ARR_FIRST;
        return object ? OA_EJ_OBJ : OA_EJ_ARR;
}

static oa_ej_tok close_container(oa_ej *j, bool object) {
        if (!j->depth || top_is_object(j) != object)
                return fail(j, "mismatched bracket");
        j->depth--;
        j->pos++;
        value_done(j);
        return object ? OA_EJ_OBJ_END : OA_EJ_ARR_END;
}

static oa_ej_tok lex_value(oa_ej *j) {
        oa_ej_tok t;

        if (j->pos >= j->len)
                return fail(j, j->depth == 0 ? "empty body" : "unexpected end of input");
        switch (j->body[j->pos]) {
        case '{': return open_container(j, true);
        case '[': return open_container(j, false);
        case '"': t = lex_string(j, OA_EJ_STR); break;
        case 't': t = lex_literal(j, "true", 4, OA_EJ_TRUE); break;
        case 'f': t = lex_literal(j, "false", 5, OA_EJ_FALSE); break;
        case 'n': t = lex_literal(j, "null", 4, OA_EJ_NULL); break;
        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
                t = lex_number(j);
                break;
        default:
                return fail(j, "unexpected character");
        }
        if (t != OA_EJ_ERROR)
                value_done(j);
        return t;
}

static oa_ej_tok lex_key(oa_ej *j) {
        oa_ej_tok t;

        if (j->pos >= j->len || j->body[j->pos] != '"')
                return fail(j, j->pos >= j->len ? "unexpected end of input" : "expected a member name");
        t = lex_string(j, OA_EJ_KEY);
        if (t != OA_EJ_ERROR)
                j->state = ST_COLON;
        return t;
}

oa_ej_tok oa_ej_next(oa_ej *j) {
        unsigned char c;

        if (j->state == ST_ERR)
                return OA_EJ_ERROR;
        if (j->state == ST_END)
                return OA_EJ_END;
        skip_ws(j);
        j->tok_off = j->pos;
        c = j->pos < j->len ? j->body[j->pos] : 0;
        switch (j->state) {
        case ST_DONE:
                if (j->pos < j->len)
                        return fail(j, "trailing bytes after the JSON value");
                j->state = ST_END;
                return OA_EJ_END;
        case ST_COLON:
                if (c != ':' || j->pos >= j->len)
                        return fail(j, "expected ':'");
                j->pos++;
                skip_ws(j);
                j->tok_off = j->pos;
                return lex_value(j);
        case ST_AFTER:
                if (j->pos < j->len && c == ',') {
                        j->pos++;
                        skip_ws(j);
                        j->tok_off = j->pos;
                        return top_is_object(j) ? lex_key(j) : lex_value(j);
                }
                if (j->pos < j->len && (c == '}' || c == ']'))
                        return close_container(j, c == '}');
                return fail(j, j->pos >= j->len ? "unexpected end of input" : "expected ',' or a closing bracket");
        case ST_OBJ_FIRST:
                if (j->pos < j->len && c == '}')
                        return close_container(j, true);
                return lex_key(j);
        case ST_KEY:
                return lex_key(j);
        case ST_ARR_FIRST:
                if (j->pos < j->len && c == ']')
                        return close_container(j, false);
                return lex_value(j);
        default:
                return lex_value(j);
        }
}

oa_ej_tok oa_ej_skip(oa_ej *j, oa_ej_tok tok) {
        unsigned target;

        if (tok != OA_EJ_OBJ && tok != OA_EJ_ARR)
                return tok;
        target = j->depth - 1;
        for (;;) {
                oa_ej_tok t = oa_ej_next(j);

                if (t == OA_EJ_ERROR || t == OA_EJ_END)
                        return OA_EJ_ERROR;
                if ((t == OA_EJ_OBJ_END || t == OA_EJ_ARR_END) && j->depth == target)
                        return tok;
        }
}

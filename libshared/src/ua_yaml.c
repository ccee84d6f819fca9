/*
 * A line parser for exactly the YAML that uap-core ships (regexes.yaml and the test files):
 * top-level keys holding lists of flat mappings of quoted scalars. No YAML library exists
 * for C on these machines and the files are regular, so this reads them line by line and
 * refuses, naming the line, whatever does not fit the shape described in ua_internal.h.
 * Refusing is the point: a newer uap-core that starts using another YAML construct must
 * stop oa_ua_new() rather than be half-read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ua_internal.h"

#define YAML_MAX_FILE (64u << 20)
#define YAML_MAX_KEY 63
#define YAML_MAX_PAIRS 16       /* keys in one item: regexes.yaml uses at most 6 */

int ua_errf(int err, char *errbuf, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (errbuf && errlen > 0) {
                va_start(ap, fmt);
                vsnprintf(errbuf, errlen, fmt, ap);
                va_end(ap);
        }
        return err;
}

typedef struct yaml_state {
        ua_yaml_cb cb;
        void *userdata;
        char *errbuf;
        size_t errlen;
        size_t line;
        bool in_section;
        bool item_open;
        long dash_indent;               /* -1 until the section's first item */
        long key_indent;
        char keys[YAML_MAX_PAIRS][YAML_MAX_KEY + 1];
        size_t nkeys;
        char *scratch;                  /* the current value, unescaped */
        size_t scratch_cap;
} yaml_state;

static int bad(yaml_state *st, const char *what) {
        return ua_errf(-EBADMSG, st->errbuf, st->errlen, "line %zu: %s", st->line, what);
}

static int emit(yaml_state *st, ua_yaml_event_type type, const char *key, const char *value,
                size_t value_len) {
        ua_yaml_event ev = {
                .type = type, .line = st->line, .key = key, .value = value,
                .value_len = value_len,
        };

        return st->cb(&ev, st->userdata, st->errbuf, st->errlen);
}

static int close_item(yaml_state *st) {
        if (!st->item_open)
                return 0;
        st->item_open = false;
        st->nkeys = 0;
        return emit(st, UA_YAML_ITEM_END, NULL, NULL, 0);
}

static bool is_key_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
}

/* After a value or a key: only spaces, then the end or a comment. */
static bool rest_is_empty(const char *p, const char *end) {
        while (p < end && *p == ' ')
                p++;
        return p == end || *p == '#';
}

/* Reads "key:" at p into key; returns the position after the colon, or NULL. */
static const char *parse_key(yaml_state *st, const char *p, const char *end, char *key) {
        size_t n = 0;

        while (p < end && is_key_char(*p)) {
                if (n == YAML_MAX_KEY)
                        return NULL;
                key[n++] = *p++;
        }
        key[n] = '\0';
        if (n == 0 || p == end || *p != ':')
                return NULL;
        return p + 1;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Appends code point cp as UTF-8 (cp already checked: 1..0x10FFFF, no surrogates). */
static size_t put_utf8(char *out, unsigned cp) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* A double-quoted escape at p (after the backslash); writes to out. NULL when invalid. */
static const char *parse_escape(const char *p, const char *end, char *out, size_t *ret_n) {
        unsigned cp = 0;
        int digits = 0;

        if (p == end)
                return NULL;
        switch (*p) {
        case '\\': *out = '\\'; *ret_n = 1; return p + 1;
        case '"':  *out = '"';  *ret_n = 1; return p + 1;
        case '/':  *out = '/';  *ret_n = 1; return p + 1;
        case 't':  *out = '\t'; *ret_n = 1; return p + 1;
        case 'n':  *out = '\n'; *ret_n = 1; return p + 1;
        case 'r':  *out = '\r'; *ret_n = 1; return p + 1;
        case 'x':  digits = 2; break;
        case 'u':  digits = 4; break;
        default:   return NULL;
        }
        p++;
        for (int i = 0; i < digits; i++, p++) {
                int v = p < end ? hexval(*p) : -1;
                if (v < 0)
                        return NULL;
                cp = cp * 16 + (unsigned)v;
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                return NULL;
        *ret_n = put_utf8(out, cp);
        return p;
}

/* A quoted scalar at p (on its opening quote) into st->scratch; NULL on error (*why set). */
static const char *parse_quoted(yaml_state *st, const char *p, const char *end, size_t *ret_len,
                                const char **why) {
        char quote = *p++;
        size_t n = 0;

        for (;;) {
                if (p == end) {
                        *why = "unterminated quoted scalar (multi-line scalars are not supported)";
                        return NULL;
                }
                if (*p == quote) {
                        if (quote == '\'' && p + 1 < end && p[1] == '\'') {
                                st->scratch[n++] = '\'';
                                p += 2;
                                continue;
                        }
                        p++;
                        break;
                }
                if (quote == '"' && *p == '\\') {
                        size_t k = 0;
                        p = parse_escape(p + 1, end, st->scratch + n, &k);
                        if (!p) {
                                *why = "unsupported escape in a double-quoted scalar";
                                return NULL;
                        }
                        n += k;
                        continue;
                }
                st->scratch[n++] = *p++;
        }
        st->scratch[n] = '\0';
        *ret_len = n;
        return p;
}

/* "key: value" at p, which is at column st->key_indent of the current item. */
static int parse_pair(yaml_state *st, const char *p, const char *end) {
        char key[YAML_MAX_KEY + 1];
        const char *why = NULL;
        size_t vlen = 0;

        p = parse_key(st, p, end, key);
        if (!p)
                return bad(st, "expected 'key:' (letters, digits, '_')");
        for (size_t i = 0; i < st->nkeys; i++)
                if (strcmp(st->keys[i], key) == 0)
                        return bad(st, "the same key twice in one item");
        if (st->nkeys == YAML_MAX_PAIRS)
                return bad(st, "too many keys in one item");
        memcpy(st->keys[st->nkeys++], key, sizeof(key));

        if (rest_is_empty(p, end))
                return emit(st, UA_YAML_PAIR, key, NULL, 0);
        if (*p != ' ')
                return bad(st, "expected a space after ':'");
        while (p < end && *p == ' ')
                p++;
        if (*p != '\'' && *p != '"')
                return bad(st, "expected a quoted scalar (plain scalars are not supported)");
        p = parse_quoted(st, p, end, &vlen, &why);
        if (!p)
                return bad(st, why);
        if (memchr(st->scratch, '\0', vlen))
                return bad(st, "NUL byte in a value");
        if (!rest_is_empty(p, end))
                return bad(st, "unexpected text after the quoted scalar");
        return emit(st, UA_YAML_PAIR, key, st->scratch, vlen);
}

static int parse_line(yaml_state *st, const char *p, const char *end) {
        const char *start = p;
        char key[YAML_MAX_KEY + 1];
        long indent;
        int r;

        while (p < end && *p == ' ')
                p++;
        if (p < end && *p == '\t')
                return bad(st, "tab in indentation");
        if (p == end || *p == '#')
                return 0;
        indent = (long)(p - start);

        if (indent == 0) {
                p = parse_key(st, p, end, key);
                if (!p || !rest_is_empty(p, end))
                        return bad(st, "expected a top-level 'key:' holding a list");
                r = close_item(st);
                if (r < 0)
                        return r;
                st->in_section = true;
                st->dash_indent = -1;
                return emit(st, UA_YAML_SECTION, key, NULL, 0);
        }
        if (!st->in_section)
                return bad(st, "indented text before any top-level key");

        if (*p == '-') {
                const char *k = p + 1;

                if (k == end || *k != ' ')
                        return bad(st, "expected '- key: value'");
                while (k < end && *k == ' ')
                        k++;
                if (rest_is_empty(k, end))
                        return bad(st, "empty list item");
                if (st->dash_indent < 0) {
                        st->dash_indent = indent;
                } else if (indent != st->dash_indent) {
                        return bad(st, "list item at a different indentation");
                }
                st->key_indent = (long)(k - start);
                r = close_item(st);
                if (r < 0)
                        return r;
                st->item_open = true;
                r = emit(st, UA_YAML_ITEM, NULL, NULL, 0);
                if (r < 0)
                        return r;
                return parse_pair(st, k, end);
        }
        if (!st->item_open)
                return bad(st, "expected a list item ('- key: value')");
        if (indent != st->key_indent)
                return bad(st, "unexpected indentation (nested structures are not supported)");
        return parse_pair(st, p, end);
}

int ua_yaml_parse(const char *buf, size_t len, ua_yaml_cb cb, void *userdata,
                  char *errbuf, size_t errlen) {
        yaml_state st = {
                .cb = cb, .userdata = userdata, .errbuf = errbuf, .errlen = errlen,
                .dash_indent = -1,
        };
        const char *p = buf, *end = buf + len;
        bool any_section = false;
        int r = 0;

        if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *eol = nl ? nl : end;
                size_t need = (size_t)(eol - p) + 1;

                st.line++;
                if (eol > p && eol[-1] == '\r')
                        eol--;
                if (memchr(p, '\0', (size_t)(eol - p))) {
                        r = bad(&st, "NUL byte");
                        goto out;
                }
                if (need > st.scratch_cap) {
                        char *s = realloc(st.scratch, need);
                        if (!s) {
                                r = -ENOMEM;
                                goto out;
                        }
                        st.scratch = s;
                        st.scratch_cap = need;
                }
                r = parse_line(&st, p, eol);
                if (r < 0)
                        goto out;
                any_section |= st.in_section;
                p = nl ? nl + 1 : end;
        }
        r = close_item(&st);
        if (r < 0)
                goto out;
        if (!any_section)
                r = ua_errf(-EBADMSG, errbuf, errlen, "no top-level key in the document");
out:
        free(st.scratch);
        return r;
}

int ua_yaml_read_file(const char *path, char **ret_buf, size_t *ret_len,
                      char *errbuf, size_t errlen) {
        FILE *f = NULL;
        char *buf = NULL;
        struct stat stb;
        size_t n;
        int r;

        f = fopen(path, "rbe");
        if (!f) {
                r = -errno;
                ua_errf(r, errbuf, errlen, "%s: %s", path, strerror(errno));
                goto out;
        }
        if (fstat(fileno(f), &stb) < 0) {
                r = -errno;
                ua_errf(r, errbuf, errlen, "%s: %s", path, strerror(errno));
                goto out;
        }
        if (!S_ISREG(stb.st_mode) || stb.st_size > (off_t)YAML_MAX_FILE) {
                r = ua_errf(-EBADMSG, errbuf, errlen, "%s: not a regular file of at most %u bytes",
                            path, YAML_MAX_FILE);
                goto out;
        }
        buf = malloc((size_t)stb.st_size + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        n = fread(buf, 1, (size_t)stb.st_size, f);
        if (n != (size_t)stb.st_size || ferror(f)) {
                r = ua_errf(-EIO, errbuf, errlen, "%s: short read", path);
                goto out;
        }
        buf[n] = '\0';
        *ret_buf = buf;
        *ret_len = n;
        buf = NULL;
        r = 0;
out:
        free(buf);
        if (f)
                fclose(f);
        return r;
}

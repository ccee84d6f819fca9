/* Field checks shared by the /collect and /v1 body parsers (event_internal.h). Strings
 * are checked on the tokenizer's view of them and copied into the arena only once they
 * passed, so a rejected 10 MB value costs one scan and nothing else. */
#include "event_internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oa/url.h"

bool oa_evp_begin(oa_evp *p, oa_ej *j, oa_arena *a, Oa__EventSource src) {
        p->j = j;
        p->a = a;
        p->err[0] = '\0';
        p->nomem = false;
        p->n_props = 0;
        p->ev = oa_event_new(a);
        if (!p->ev)
                return false;
        p->ev->source = src;
        return true;
}

void oa_evp_fail(oa_evp *p, const char *field, const char *fmt, ...) {
        va_list ap;
        int n;

        if (p->err[0])
                return;
        n = snprintf(p->err, sizeof(p->err), "%s: ", field);
        if (n < 0 || (size_t) n >= sizeof(p->err))
                return;
        va_start(ap, fmt);
        vsnprintf(p->err + n, sizeof(p->err) - (size_t) n, fmt, ap);
        va_end(ap);
}

bool oa_evp_skip_rest(oa_ej *j) {
        unsigned target = j->depth - 1;

        for (;;) {
                oa_ej_tok t = oa_ej_next(j);

                if (t == OA_EJ_ERROR || t == OA_EJ_END)
                        return false;
                if ((t == OA_EJ_OBJ_END || t == OA_EJ_ARR_END) && j->depth == target)
                        return true;
        }
}

static const char *type_name(oa_ej_tok t) {
        switch (t) {
        case OA_EJ_OBJ: return "an object";
        case OA_EJ_ARR: return "an array";
        case OA_EJ_STR: return "a string";
        case OA_EJ_NUM: return "a number";
        case OA_EJ_TRUE: case OA_EJ_FALSE: return "a boolean";
        case OA_EJ_NULL: return "null";
        default: return "no value";
        }
}

/* The value t is of the wrong type: say so and consume it. */
static bool wrong_type(oa_evp *p, oa_ej_tok t, const char *field, const char *want) {
        oa_evp_fail(p, field, "must be %s, not %s", want, type_name(t));
        oa_ej_skip(p->j, t);
        return false;
}

/* The first control character of s[0..n) that mode forbids, or -1. */
static int control_at(const unsigned char *s, size_t n, oa_evp_text mode) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];

                if (c < 0x20) {
                        if (mode == OA_EVP_FREE && (c == '\t' || c == '\n' || c == '\r'))
                                continue;
                        return c;
                }
                if (c == 0x7f)
                        return c;
                if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
                        return s[i + 1];        /* C1, U+0080 to U+009F */
        }
        return -1;
}

bool oa_evp_string(oa_evp *p, oa_ej_tok t, const char *field, size_t max, oa_evp_text mode) {
        oa_ej *j = p->j;
        int c;

        if (t != OA_EJ_STR)
                return wrong_type(p, t, field, "a string");
        if (j->flags & OA_EJ_HAS_NUL) {
                oa_evp_fail(p, field, "must not contain NUL characters");
                return false;
        }
        if (j->flags & OA_EJ_BAD_UTF8) {
                oa_evp_fail(p, field, "must be valid UTF-8");
                return false;
        }
        if (j->slen > max) {
                oa_evp_fail(p, field, "must be at most %zu bytes", max);
                return false;
        }
        if (!(j->flags & (mode == OA_EVP_FREE ? OA_EJ_HAS_CTRL : OA_EJ_HAS_CTRL | OA_EJ_HAS_WS)))
                return true;
        /* the slow path only says which one */
        c = control_at((const unsigned char *) j->str, j->slen < OA_EJ_SCRATCH ? j->slen : OA_EJ_SCRATCH, mode);
        if (c >= 0)
                oa_evp_fail(p, field, "must not contain control characters (U+%04X)", (unsigned) c);
        else
                oa_evp_fail(p, field, "must not contain control characters");
        return false;
}

bool oa_evp_string_dup(oa_evp *p, oa_ej_tok t, const char *field, size_t max, oa_evp_text mode,
                       char **ret) {
        char *s;

        if (!oa_evp_string(p, t, field, max, mode))
                return false;
        s = oa_arena_strndup(p->a, p->j->str, p->j->slen);
        if (!s) {
                p->nomem = true;
                return false;
        }
        *ret = s;
        return true;
}

bool oa_evp_url(oa_evp *p, oa_ej_tok t, const char *field, char **ret) {
        oa_url u;

        if (!oa_evp_string(p, t, field, OA_EVENT_MAX_URL, OA_EVP_IDENT))
                return false;
        if (oa_url_split(p->j->str, p->j->slen, &u) < 0 || !oa_url_is_web(&u)) {
                oa_evp_fail(p, field, "must be an absolute http or https URL");
                return false;
        }
        return oa_evp_string_dup(p, t, field, OA_EVENT_MAX_URL, OA_EVP_IDENT, ret);
}

/* The double of a JSON number (the tokenizer checked its syntax) when Clinger's fast path
 * gives it exactly as strtod would: at most 15 digits, so the digits are an exact double
 * below 2^53, scaled by an exact power of ten (at most 10^22) in one correctly rounded
 * operation. False when strtod must do it. */
static bool fast_number(const char *s, size_t n, double *ret) {
        static const double pow10[] = {
                1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        };
        size_t i = 0, ndigits = 0;
        uint64_t m = 0;
        long e = 0, ex = 0;
        bool neg = false, eneg = false;
        double v;

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
        return false;           /* wider intermediates would round twice */
#endif
        if (s[i] == '-')
                neg = true, i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ndigits++)
                m = m * 10 + (uint64_t) (s[i] - '0');
        if (i < n && s[i] == '.')
                for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, ndigits++, e--)
                        m = m * 10 + (uint64_t) (s[i] - '0');
        if (ndigits > 15)
                return false;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (s[i] == '+' || s[i] == '-')
                        eneg = s[i++] == '-';
                for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                        ex = ex * 10 + (s[i] - '0');
                        if (ex > 1000)
                                return false;
                }
        }
        e += eneg ? -ex : ex;
        if (m == 0) {
                *ret = 0;
                return true;
        }
        if (e < -22 || e > 22)
                return false;
        v = e < 0 ? (double) m / pow10[-e] : (double) m * pow10[e];
        *ret = neg ? -v : v;
        return true;
}

bool oa_evp_number(oa_evp *p, oa_ej_tok t, const char *field, double *ret) {
        char buf[64];
        double v;

        if (t != OA_EJ_NUM)
                return wrong_type(p, t, field, "a number");
        /* no finite double needs more digits than this; strtod wants a C string */
        if (p->j->slen >= sizeof(buf)) {
                oa_evp_fail(p, field, "must be a finite number of at most %zu characters", sizeof(buf) - 1);
                return false;
        }
        if (fast_number(p->j->str, p->j->slen, &v)) {
                *ret = v == 0 ? 0.0 : v;
                return true;
        }
        memcpy(buf, p->j->str, p->j->slen);
        buf[p->j->slen] = '\0';
        v = strtod(buf, NULL);
        if (!isfinite(v)) {
                oa_evp_fail(p, field, "must be a finite number");
                return false;
        }
        *ret = v == 0 ? 0.0 : v;
        return true;
}

bool oa_evp_integer(oa_ej *j, oa_ej_tok t, int64_t *ret, bool *ret_overflow) {
        const char *s = j->str;
        size_t n = j->slen, i = 0;
        bool neg = false;
        uint64_t v = 0, lim;

        if (t != OA_EJ_NUM || !j->is_int)
                return false;
        if (s[0] == '-') {
                neg = true;
                i = 1;
        }
        lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        *ret_overflow = false;
        for (; i < n; i++) {
                unsigned d = (unsigned) (s[i] - '0');

                if (v > (lim - d) / 10) {
                        *ret_overflow = true;
                        *ret = neg ? INT64_MIN : INT64_MAX;
                        return true;
                }
                v = v * 10 + d;
        }
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return true;
}

bool oa_evp_currency(oa_evp *p, oa_ej_tok t, const char *field, char **ret) {
        const char *s;

        if (t != OA_EJ_STR)
                return wrong_type(p, t, field, "a string");
        s = p->j->str;
        if (p->j->slen != 3 || p->j->flags || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' ||
            s[2] < 'A' || s[2] > 'Z') {
                oa_evp_fail(p, field, "must be an ISO 4217 code of 3 upper-case letters such as USD");
                return false;
        }
        return oa_evp_string_dup(p, t, field, 3, OA_EVP_IDENT, ret);
}

int oa_evp_field(const oa_evp_name *names, int count, const char *key, size_t n) {
        if (n == 0)
                return -1;
        for (int i = 0; i < count; i++)
                if (names[i].len == n && names[i].name[0] == key[0] && memcmp(names[i].name, key, n) == 0)
                        return i;
        return -1;
}

#define EXACT_INT_MAX 9007199254740992LL       /* 2^53 */

/* Read one property value into prop; false when it was refused (error kept). Errors
 * are first said of field and then renamed "<field>.<key>", so the hot path formats
 * nothing. */
static bool prop_value(oa_evp *p, oa_ej_tok t, const char *field, const char *key, size_t max_value,
                       bool strings_only, Oa__Property *prop) {
        oa_ej *j = p->j;
        bool had = p->err[0], ok, exact = true;

        if (t == OA_EJ_STR) {
                ok = oa_evp_string_dup(p, t, field, max_value, OA_EVP_FREE, &prop->string_value);
                prop->value_case = OA__PROPERTY__VALUE_STRING_VALUE;
        } else if (strings_only) {
                ok = wrong_type(p, t, field, "a string");
        } else if (t == OA_EJ_TRUE || t == OA_EJ_FALSE) {
                prop->bool_value = t == OA_EJ_TRUE;
                prop->value_case = OA__PROPERTY__VALUE_BOOL_VALUE;
                ok = true;
        } else if (t != OA_EJ_NUM) {
                ok = wrong_type(p, t, field, "a string, number or boolean");
        } else {
                ok = oa_evp_number(p, t, field, &prop->number_value);
                if (ok && j->is_int) {
                        int64_t v;
                        bool over;

                        /* the text, not the double: 2^53 + 1 rounds to 2^53 */
                        oa_evp_integer(j, t, &v, &over);
                        exact = !over && v >= -EXACT_INT_MAX && v <= EXACT_INT_MAX;
                }
                if (ok && !exact) {
                        oa_evp_fail(p, field, "integers beyond 2^53 lose precision; send it as a string");
                        ok = false;
                }
                prop->value_case = OA__PROPERTY__VALUE_NUMBER_VALUE;
        }
        if (!ok && !had && p->err[0]) {
                char msg[OA_EVENT_ERR_MAX];
                size_t flen = strlen(field);

                snprintf(msg, sizeof(msg), "%s.%s%s", field, key, p->err + flen);
                memcpy(p->err, msg, sizeof(msg));
        }
        return ok;
}

bool oa_evp_props(oa_evp *p, oa_ej_tok t, const char *field, size_t max_keys, size_t max_value,
                  bool strings_only) {
        oa_ej *j = p->j;

        if (t != OA_EJ_OBJ)
                return wrong_type(p, t, field, "an object");
        for (;;) {
                Oa__Property *prop;
                size_t klen;
                char *key;

                t = oa_ej_next(j);
                if (t == OA_EJ_OBJ_END)
                        break;
                if (t != OA_EJ_KEY)
                        return false;           /* a syntax error: the caller sees it next */
                if (j->slen == 0 || j->flags || j->slen > OA_EVENT_MAX_PROP_KEY) {
                        oa_evp_fail(p, field, "keys must be 1 to %d bytes of UTF-8 without control characters",
                                    OA_EVENT_MAX_PROP_KEY);
                        oa_evp_skip_rest(j);
                        return false;
                }
                for (size_t i = 0; i < p->n_props; i++) {
                        if (p->key_len[i] == j->slen && memcmp(p->props[i]->key, j->str, j->slen) == 0) {
                                oa_evp_fail(p, field, "duplicate key \"%.*s\"", (int) j->slen, j->str);
                                oa_evp_skip_rest(j);
                                return false;
                        }
                }
                klen = j->slen;
                key = oa_arena_strndup(p->a, j->str, klen);
                prop = oa_arena_alloc(p->a, sizeof(*prop));
                if (!key || !prop) {
                        p->nomem = true;
                        oa_evp_skip_rest(j);
                        return false;
                }
                oa__property__init(prop);
                prop->key = key;
                t = oa_ej_next(j);
                if (t == OA_EJ_NULL)
                        continue;               /* null: as if absent */
                if (!prop_value(p, t, field, key, max_value, strings_only, prop)) {
                        oa_evp_skip_rest(j);
                        return false;
                }
                if (p->n_props == max_keys) {
                        oa_evp_fail(p, field, "at most %zu keys", max_keys);
                        oa_evp_skip_rest(j);
                        return false;
                }
                p->key_len[p->n_props] = (uint8_t) klen;
                p->props[p->n_props++] = prop;
        }
        if (p->n_props) {
                p->ev->properties = oa_arena_alloc(p->a, p->n_props * sizeof(*p->ev->properties));
                if (!p->ev->properties) {
                        p->nomem = true;
                        return false;
                }
                memcpy(p->ev->properties, p->props, p->n_props * sizeof(*p->ev->properties));
                p->ev->n_properties = p->n_props;
        }
        return true;
}

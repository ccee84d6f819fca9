/* Shared by the two body parsers (event_collect.c, event_api.c): the state of one event
 * being read and the field checks both routes use. Internal to libshared. Each check
 * takes the token just read and consumes the whole value, also when it fails, so the
 * caller simply goes on with the next member. The first failure of an event is kept as
 * its "<field>: <reason>" message. */
#ifndef OA_EVENT_INTERNAL_H
#define OA_EVENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "event_json.h"
#include "oa/event.h"

typedef struct oa_evp {
        oa_ej *j;
        oa_arena *a;
        Oa__Event *ev;
        char err[OA_EVENT_ERR_MAX];     /* the first error; "" while there is none */
        bool nomem;
        size_t n_props;
        Oa__Property *props[OA_EVENT_API_MAX_PROPS];
        uint8_t key_len[OA_EVENT_API_MAX_PROPS];        /* <= OA_EVENT_MAX_PROP_KEY */
} oa_evp;

/* How strict a string check is about control characters. */
typedef enum oa_evp_text {
        OA_EVP_IDENT,   /* no C0, DEL or C1 at all: names, ids, keys, URLs */
        OA_EVP_FREE,    /* tab, line feed and carriage return allowed: titles, values */
} oa_evp_text;

/* Start reading an event into a fresh oa.Event of source src. Returns false on ENOMEM. */
bool oa_evp_begin(oa_evp *p, oa_ej *j, oa_arena *a, Oa__EventSource src);

/* Keep the first error: "<field>: <printf text>". */
void oa_evp_fail(oa_evp *p, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Consume tokens up to the end of the container the reader is in. False on a syntax
 * error. */
bool oa_evp_skip_rest(oa_ej *j);

/* Check a string value of at most max bytes. On success the text is j->str, j->slen. */
bool oa_evp_string(oa_evp *p, oa_ej_tok t, const char *field, size_t max, oa_evp_text mode);

/* As oa_evp_string, then an arena copy into *ret ("" is kept as ""). */
bool oa_evp_string_dup(oa_evp *p, oa_ej_tok t, const char *field, size_t max, oa_evp_text mode,
                       char **ret);

/* An absolute http or https URL of at most OA_EVENT_MAX_URL bytes, copied into *ret. */
bool oa_evp_url(oa_evp *p, oa_ej_tok t, const char *field, char **ret);

/* A finite JSON number into *ret (-0 becomes 0). */
bool oa_evp_number(oa_evp *p, oa_ej_tok t, const char *field, double *ret);

/* An integer JSON number (no fraction or exponent). *ret_overflow is set when it does
 * not fit an int64 (then *ret is INT64_MIN or INT64_MAX). False when it is no integer. */
bool oa_evp_integer(oa_ej *j, oa_ej_tok t, int64_t *ret, bool *ret_overflow);

/* An ISO 4217 code: three upper-case ASCII letters, copied into *ret. */
bool oa_evp_currency(oa_evp *p, oa_ej_tok t, const char *field, char **ret);

/* A flat object of properties into ev->properties: at most max_keys keys of 1 to
 * OA_EVENT_MAX_PROP_KEY bytes, no duplicates; values strings of at most max_value bytes,
 * and when !strings_only also finite numbers (integers within +-2^53) and booleans;
 * null values are dropped. */
bool oa_evp_props(oa_evp *p, oa_ej_tok t, const char *field, size_t max_keys, size_t max_value,
                  bool strings_only);

/* A member name and its length, for oa_evp_field. */
typedef struct oa_evp_name {
        const char *name;
        size_t len;
} oa_evp_name;

#define OA_EVP_NAME(s) { s, sizeof(s) - 1 }

/* Find key (n bytes) in names[0..count): its index, or -1. */
int oa_evp_field(const oa_evp_name *names, int count, const char *key, size_t n);

#endif

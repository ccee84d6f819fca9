/* The protobuf bytes of an oa.Event (oa_event_pack in oa/event.h), written by hand: the
 * very bytes protobuf-c 1.4's generic oa__event__pack writes, without walking its field
 * descriptors and with each strlen done once. protobuf-c's rules are kept exactly:
 * fields in number order; a proto3 string is left out when NULL or "", a number when it
 * is 0 (a double also when -0), a message when NULL; a oneof member is written when its
 * case is set, even as 0 or "", unless a string member is NULL or protobuf-c's own empty
 * string; a bool is written as 0 or 1; negative enums (read as int32, as protobuf-c
 * does, whatever type the compiler gave the enum) and int64s take 10 bytes. An event
 * carrying unknown fields (decoded from a newer writer) is left to protobuf-c.
 * tests/unit/libshared/test_event_pack.c and tests/fuzz hold this to protobuf-c byte for
 * byte. */
#include "oa/event.h"

#include "oa/buf.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2 };

/* The string fields of oa.Event in number order, split where a scalar comes between. */
#define STR(f) offsetof(Oa__Event, f)
static const struct {
        uint8_t num;
        uint16_t off;
} strings[] = {
        { 2, STR(event_id) }, { 3, STR(project_id) }, { 4, STR(site_id) },
        /* 5: source */
        { 6, STR(event_type) }, { 7, STR(event_name) },
        /* 8, 9: timestamp_ms, received_ms */
        { 10, STR(visitor_id) }, { 11, STR(user_id) }, { 12, STR(url) }, { 13, STR(hostname) },
        { 14, STR(path) }, { 15, STR(title) }, { 16, STR(referrer) }, { 17, STR(referrer_host) },
        { 18, STR(referrer_source) }, { 19, STR(utm_source) }, { 20, STR(utm_medium) },
        { 21, STR(utm_campaign) }, { 22, STR(utm_content) }, { 23, STR(utm_term) }, { 24, STR(ip) },
        { 25, STR(user_agent) }, { 26, STR(country) }, { 27, STR(browser) }, { 28, STR(browser_version) },
        { 29, STR(os) }, { 30, STR(os_version) }, { 31, STR(device) },
        /* 32: screen_width, 33: properties, 34: revenue */
};
#undef STR
#define N_STRINGS (sizeof(strings) / sizeof(strings[0]))
#define BEFORE_SOURCE 3         /* strings[0..3) come before field 5 */
#define BEFORE_TIMES 5          /* strings[3..5) before field 8 */

#define PROP_CACHE 64           /* properties whose sizes are kept between the passes */

/* What the size pass learnt, so that the write pass measures nothing again. */
typedef struct sizes {
        size_t str[N_STRINGS];          /* strlen of each string field; 0: left out */
        size_t prop[PROP_CACHE];        /* body size of each of the first properties */
        size_t revenue;                 /* body size of the revenue */
} sizes;

static size_t varint_size(uint64_t v) {
        size_t n = 1;

        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

static uint8_t *put_tag(uint8_t *p, unsigned num, unsigned wt) {
        return oa_varint_put(p, (uint64_t) num << 3 | wt);
}

static size_t tag_size(unsigned num) {
        return num < 16 ? 1 : 2;        /* every field number here is below 2048 */
}

static size_t len_field_size(unsigned num, size_t len) {
        return tag_size(num) + varint_size(len) + len;
}

static uint8_t *put_bytes(uint8_t *p, unsigned num, const void *s, size_t len) {
        p = put_tag(p, num, WT_LEN);
        p = oa_varint_put(p, len);
        memcpy(p, s, len);
        return p + len;
}

static uint8_t *put_double(uint8_t *p, unsigned num, double d) {
        uint64_t bits;

        memcpy(&bits, &d, sizeof(bits));
        p = put_tag(p, num, WT_64BIT);
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (bits >> (8 * i));
        return p + 8;
}

/* A proto3 string: its length, or 0 when it is left out. */
static size_t str_len(const char *s) {
        return s && *s ? strlen(s) : 0;
}

static const char *str_at(const Oa__Event *ev, size_t i) {
        return *(const char *const *) ((const char *) ev + strings[i].off);
}

/* The oneof string member: written even when "", but not when NULL or protobuf-c's
 * default (the pointer protobuf_c_empty_string itself). */
static bool oneof_string_set(const char *s) {
        return s && s != protobuf_c_empty_string;
}

static size_t prop_size(const Oa__Property *pr) {
        size_t n = 0, k;

        if (!pr)
                return 0;
        k = str_len(pr->key);
        if (k)
                n += len_field_size(1, k);
        switch (pr->value_case) {
        case OA__PROPERTY__VALUE_STRING_VALUE:
                if (oneof_string_set(pr->string_value))
                        n += len_field_size(2, strlen(pr->string_value));
                break;
        case OA__PROPERTY__VALUE_NUMBER_VALUE:
                n += 1 + 8;
                break;
        case OA__PROPERTY__VALUE_BOOL_VALUE:
                n += 1 + 1;
                break;
        default:
                break;
        }
        return n;
}

static uint8_t *put_prop(uint8_t *p, const Oa__Property *pr) {
        size_t k;

        if (!pr)
                return p;
        k = str_len(pr->key);
        if (k)
                p = put_bytes(p, 1, pr->key, k);
        switch (pr->value_case) {
        case OA__PROPERTY__VALUE_STRING_VALUE:
                if (oneof_string_set(pr->string_value))
                        p = put_bytes(p, 2, pr->string_value, strlen(pr->string_value));
                break;
        case OA__PROPERTY__VALUE_NUMBER_VALUE:
                p = put_double(p, 3, pr->number_value);
                break;
        case OA__PROPERTY__VALUE_BOOL_VALUE:
                p = put_tag(p, 4, WT_VARINT);
                *p++ = pr->bool_value ? 1 : 0;
                break;
        default:
                break;
        }
        return p;
}

static size_t revenue_size(const Oa__Revenue *r) {
        size_t n = 0, c = str_len(r->currency);

        if (r->amount != 0)
                n += 1 + 8;
        if (c)
                n += len_field_size(2, c);
        return n;
}

static bool has_unknown_fields(const Oa__Event *ev) {
        if (ev->base.n_unknown_fields || (ev->revenue && ev->revenue->base.n_unknown_fields))
                return true;
        for (size_t i = 0; i < ev->n_properties; i++)
                if (ev->properties[i] && ev->properties[i]->base.n_unknown_fields)
                        return true;
        return false;
}

/* The size pass: the exact length of the bytes, and s for the write pass. */
static size_t packed_size(const Oa__Event *ev, sizes *s) {
        size_t n = 0;

        if (ev->version)
                n += 1 + varint_size(ev->version);
        if (ev->source)
                n += 1 + varint_size((uint64_t) (int64_t) (int32_t) ev->source);
        if (ev->timestamp_ms)
                n += 1 + varint_size((uint64_t) ev->timestamp_ms);
        if (ev->received_ms)
                n += 1 + varint_size((uint64_t) ev->received_ms);
        for (size_t i = 0; i < N_STRINGS; i++) {
                s->str[i] = str_len(str_at(ev, i));
                if (s->str[i])
                        n += len_field_size(strings[i].num, s->str[i]);
        }
        if (ev->screen_width)
                n += 2 + varint_size(ev->screen_width);
        for (size_t i = 0; i < ev->n_properties; i++) {
                size_t b = prop_size(ev->properties[i]);

                if (i < PROP_CACHE)
                        s->prop[i] = b;
                n += len_field_size(33, b);
        }
        if (ev->revenue) {
                s->revenue = revenue_size(ev->revenue);
                n += len_field_size(34, s->revenue);
        }
        return n;
}

static uint8_t *put_strings(uint8_t *p, const Oa__Event *ev, const sizes *s, size_t from, size_t to) {
        for (size_t i = from; i < to; i++)
                if (s->str[i])
                        p = put_bytes(p, strings[i].num, str_at(ev, i), s->str[i]);
        return p;
}

/* The write pass: buf holds exactly the size packed_size returned. */
static void write_event(const Oa__Event *ev, const sizes *s, uint8_t *p) {
        if (ev->version) {
                p = put_tag(p, 1, WT_VARINT);
                p = oa_varint_put(p, ev->version);
        }
        p = put_strings(p, ev, s, 0, BEFORE_SOURCE);
        if (ev->source) {
                p = put_tag(p, 5, WT_VARINT);
                p = oa_varint_put(p, (uint64_t) (int64_t) (int32_t) ev->source);
        }
        p = put_strings(p, ev, s, BEFORE_SOURCE, BEFORE_TIMES);
        if (ev->timestamp_ms) {
                p = put_tag(p, 8, WT_VARINT);
                p = oa_varint_put(p, (uint64_t) ev->timestamp_ms);
        }
        if (ev->received_ms) {
                p = put_tag(p, 9, WT_VARINT);
                p = oa_varint_put(p, (uint64_t) ev->received_ms);
        }
        p = put_strings(p, ev, s, BEFORE_TIMES, N_STRINGS);
        if (ev->screen_width) {
                p = put_tag(p, 32, WT_VARINT);
                p = oa_varint_put(p, ev->screen_width);
        }
        for (size_t i = 0; i < ev->n_properties; i++) {
                const Oa__Property *pr = ev->properties[i];

                p = put_tag(p, 33, WT_LEN);
                p = oa_varint_put(p, i < PROP_CACHE ? s->prop[i] : prop_size(pr));
                p = put_prop(p, pr);
        }
        if (ev->revenue) {
                const Oa__Revenue *r = ev->revenue;
                size_t c = str_len(r->currency);

                p = put_tag(p, 34, WT_LEN);
                p = oa_varint_put(p, s->revenue);
                if (r->amount != 0)
                        p = put_double(p, 1, r->amount);
                if (c)
                        put_bytes(p, 2, r->currency, c);
        }
}

/* The exact size of the bytes and, for the write, s and whether protobuf-c writes them. */
static size_t measure(const Oa__Event *ev, sizes *s, bool *ret_generic) {
        *ret_generic = has_unknown_fields(ev);
        return *ret_generic ? oa__event__get_packed_size(ev) : packed_size(ev, s);
}

static void write_out(const Oa__Event *ev, const sizes *s, bool generic, uint8_t *buf) {
        if (generic)
                oa__event__pack(ev, buf);
        else
                write_event(ev, s, buf);
}

int oa_event_pack(const Oa__Event *ev, oa_arena *a, uint8_t **ret_buf, size_t *ret_len) {
        sizes s;
        bool generic;
        size_t n = measure(ev, &s, &generic);
        uint8_t *buf = oa_arena_alloc(a, n);

        if (!buf)
                return -ENOMEM;
        write_out(ev, &s, generic, buf);
        *ret_buf = buf;
        *ret_len = n;
        return 0;
}

int oa_event_pack_into(const Oa__Event *ev, uint8_t *buf, size_t cap, size_t *ret_len) {
        sizes s;
        bool generic;
        size_t n = measure(ev, &s, &generic);

        if (n > cap)
                return -E2BIG;
        write_out(ev, &s, generic, buf);
        *ret_len = n;
        return 0;
}

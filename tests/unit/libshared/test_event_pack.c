/* Tests for libshared/src/event_pack.c: the hand-written encoder against protobuf-c's
 * generic oa__event__pack, byte for byte, over events built by hand (each row a builder:
 * empty, realistic, unicode, maximum sizes, lengths needing 2 to 4 varint bytes, negative
 * numbers, every oneof case with zero values, NULL strings, hundreds of properties,
 * unknown fields) and over events parsed and enriched from both routes. */
#include "oa/event.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1747000000000LL

static char *repeat(oa_arena *a, const char *unit, size_t times) {
        size_t n = strlen(unit);
        char *s = oa_arena_alloc(a, n * times + 1);

        cr_assert_not_null(s);
        for (size_t i = 0; i < times; i++)
                memcpy(s + i * n, unit, n);
        s[n * times] = '\0';
        return s;
}

static Oa__Property *prop(oa_arena *a, const char *key, int value_case) {
        Oa__Property *p = oa_arena_alloc(a, sizeof(*p));

        cr_assert_not_null(p);
        oa__property__init(p);
        p->key = (char *) key;
        p->value_case = value_case;
        return p;
}

static void add_props(Oa__Event *ev, oa_arena *a, Oa__Property **list, size_t n) {
        ev->properties = oa_arena_alloc(a, n * sizeof(*list));
        cr_assert_not_null(ev->properties);
        memcpy(ev->properties, list, n * sizeof(*list));
        ev->n_properties = n;
}

static Oa__Revenue *revenue(oa_arena *a, double amount, const char *currency) {
        Oa__Revenue *r = oa_arena_alloc(a, sizeof(*r));

        cr_assert_not_null(r);
        oa__revenue__init(r);
        r->amount = amount;
        r->currency = (char *) currency;
        return r;
}

/* Every string field set, so the field order is checked in full. */
static void every_field(Oa__Event *ev, oa_arena *a) {
        (void) a;
        ev->event_id = "0196c150-7e00-7abc-8def-0123456789ab";
        ev->project_id = "prj_0123456789abcdef";
        ev->site_id = "site_0123456789abcdefABCD";
        ev->source = OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT;
        ev->event_type = "pageview";
        ev->event_name = "signup";
        ev->timestamp_ms = NOW - 5;
        ev->received_ms = NOW;
        ev->visitor_id = "0123456789abcdef0123456789abcdef";
        ev->user_id = "u_1";
        ev->url = "https://shop.example/p?utm_source=nl";
        ev->hostname = "shop.example";
        ev->path = "/p";
        ev->title = "Shoes";
        ev->referrer = "https://www.google.com/";
        ev->referrer_host = "www.google.com";
        ev->referrer_source = "search";
        ev->utm_source = "nl";
        ev->utm_medium = "email";
        ev->utm_campaign = "may";
        ev->utm_content = "top";
        ev->utm_term = "shoes";
        ev->ip = "2001:db8::1";
        ev->user_agent = "Mozilla/5.0";
        ev->country = "DE";
        ev->browser = "Safari";
        ev->browser_version = "17.4";
        ev->os = "macOS";
        ev->os_version = "14";
        ev->device = "desktop";
        ev->screen_width = 1440;
}

static void empty(Oa__Event *ev, oa_arena *a) {
        (void) ev;
        (void) a;
}

static void all_zero(Oa__Event *ev, oa_arena *a) {
        (void) a;
        ev->version = 0;
}

static void full(Oa__Event *ev, oa_arena *a) {
        Oa__Property *p[3];

        every_field(ev, a);
        p[0] = prop(a, "plan", OA__PROPERTY__VALUE_STRING_VALUE);
        p[0]->string_value = "pro";
        p[1] = prop(a, "seats", OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[1]->number_value = 5;
        p[2] = prop(a, "annual", OA__PROPERTY__VALUE_BOOL_VALUE);
        p[2]->bool_value = 1;
        add_props(ev, a, p, 3);
        ev->revenue = revenue(a, 49.99, "USD");
}

static void unicode(Oa__Event *ev, oa_arena *a) {
        Oa__Property *p = prop(a, "\xc3\xa9t\xc3\xa9", OA__PROPERTY__VALUE_STRING_VALUE);

        ev->title = "Running shoes \xe2\x80\x93 \xf0\x9f\x91\x9f \xe6\x97\xa5\xe6\x9c\xac";
        ev->user_agent = "UA \xc3\xa9\t\xef\xbf\xbd";
        p->string_value = "\xf0\x9f\x98\x80";
        add_props(ev, a, &p, 1);
}

/* The largest values the parsers accept, and past them: lengths of 2, 3 and 4 varint bytes */
static void max_sizes(Oa__Event *ev, oa_arena *a) {
        Oa__Property *p = prop(a, repeat(a, "k", OA_EVENT_MAX_PROP_KEY), OA__PROPERTY__VALUE_STRING_VALUE);

        ev->url = repeat(a, "u", OA_EVENT_MAX_URL);
        ev->title = repeat(a, "\xc3\xa9", OA_EVENT_MAX_TITLE / 2);
        ev->user_agent = repeat(a, "a", OA_EVENT_MAX_USER_AGENT);
        ev->event_name = repeat(a, "n", 127);
        ev->event_type = repeat(a, "t", 128);
        ev->referrer = repeat(a, "r", 16383);
        ev->path = repeat(a, "p", 16384);
        ev->user_id = repeat(a, "x", (1u << 21) + 3);
        p->string_value = repeat(a, "v", OA_EVENT_API_MAX_PROP_VALUE);
        add_props(ev, a, &p, 1);
        ev->screen_width = UINT32_MAX;
        ev->timestamp_ms = INT64_MAX;
        ev->received_ms = 1;
}

static void negative_numbers(Oa__Event *ev, oa_arena *a) {
        (void) a;
        ev->timestamp_ms = -1;
        ev->received_ms = INT64_MIN;
        ev->source = (Oa__EventSource) -7;
        ev->version = UINT32_MAX;
        ev->screen_width = 127;
}

/* A oneof member is written even as 0 or "", but not as NULL or protobuf-c's "" */
static void oneof_zeroes(Oa__Event *ev, oa_arena *a) {
        Oa__Property *p[11];
        char *arena_empty = oa_arena_strndup(a, "", 0);

        p[0] = prop(a, "s", OA__PROPERTY__VALUE_STRING_VALUE);
        p[0]->string_value = arena_empty;
        p[1] = prop(a, "e", OA__PROPERTY__VALUE_STRING_VALUE);
        p[1]->string_value = (char *) protobuf_c_empty_string;
        p[2] = prop(a, "n", OA__PROPERTY__VALUE_STRING_VALUE);
        p[2]->string_value = NULL;
        p[3] = prop(a, "z", OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[3]->number_value = 0;
        p[4] = prop(a, "m", OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[4]->number_value = -0.0;
        p[5] = prop(a, "f", OA__PROPERTY__VALUE_BOOL_VALUE);
        p[5]->bool_value = 0;
        p[6] = prop(a, "t", OA__PROPERTY__VALUE_BOOL_VALUE);
        p[6]->bool_value = 7;
        p[7] = prop(a, "unset", OA__PROPERTY__VALUE__NOT_SET);
        p[7]->string_value = "ignored";
        p[8] = prop(a, "", OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[8]->number_value = NAN;
        p[9] = prop(a, NULL, OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[9]->number_value = -INFINITY;
        p[10] = prop(a, "big", OA__PROPERTY__VALUE_NUMBER_VALUE);
        p[10]->number_value = 9007199254740993.0;
        add_props(ev, a, p, 11);
}

static void revenue_zero(Oa__Event *ev, oa_arena *a) {
        ev->revenue = revenue(a, 0, "");
}

static void revenue_negative_zero(Oa__Event *ev, oa_arena *a) {
        ev->revenue = revenue(a, -0.0, NULL);
}

static void revenue_nan(Oa__Event *ev, oa_arena *a) {
        ev->revenue = revenue(a, NAN, "EUR");
}

static void null_strings(Oa__Event *ev, oa_arena *a) {
        every_field(ev, a);
        ev->event_id = NULL;
        ev->title = NULL;
        ev->device = NULL;
        ev->url = oa_arena_strndup(a, "", 0);
}

/* More properties than the encoder keeps sizes of between its passes */
static void many_props(Oa__Event *ev, oa_arena *a) {
        Oa__Property *p[300];

        for (size_t i = 0; i < 300; i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%zu", i);
                p[i] = prop(a, oa_arena_strndup(a, key, strlen(key)), (int) (i % 3) + 2);
                /* the value members share their storage */
                if (p[i]->value_case == OA__PROPERTY__VALUE_STRING_VALUE)
                        p[i]->string_value = repeat(a, "w", i);
                else if (p[i]->value_case == OA__PROPERTY__VALUE_NUMBER_VALUE)
                        p[i]->number_value = (double) i / 7;
                else
                        p[i]->bool_value = (int) (i & 1);
        }
        add_props(ev, a, p, 300);
}

/* One unknown field, as protobuf-c keeps what a newer writer added. */
static void add_unknown(ProtobufCMessage *m, oa_arena *a, uint32_t tag, ProtobufCWireType wt) {
        static uint8_t data[] = { 0x01, 0x2a };
        ProtobufCMessageUnknownField *u = oa_arena_alloc(a, sizeof(*u));

        cr_assert_not_null(u);
        u->tag = tag;
        u->wire_type = wt;
        u->len = wt == PROTOBUF_C_WIRE_TYPE_VARINT ? 1 : 2;
        u->data = wt == PROTOBUF_C_WIRE_TYPE_VARINT ? data + 1 : data;
        m->n_unknown_fields = 1;
        m->unknown_fields = u;
}

static void unknown_fields(Oa__Event *ev, oa_arena *a) {
        full(ev, a);
        add_unknown(&ev->base, a, 99, PROTOBUF_C_WIRE_TYPE_VARINT);
}

static void unknown_fields_in_property(Oa__Event *ev, oa_arena *a) {
        full(ev, a);
        add_unknown(&ev->properties[1]->base, a, 7, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
}

/* The rows by index: criterion hands a parameter to a fresh process, where a function
 * pointer from the parent would point nowhere. */
static const struct {
        const char *name;
        void (*build)(Oa__Event *ev, oa_arena *a);
} builders[] = {
        { "empty", empty },
        { "all_zero", all_zero },
        { "full", full },
        { "unicode", unicode },
        { "max_sizes", max_sizes },
        { "negative_numbers", negative_numbers },
        { "oneof_zeroes", oneof_zeroes },
        { "revenue_zero", revenue_zero },
        { "revenue_negative_zero", revenue_negative_zero },
        { "revenue_nan", revenue_nan },
        { "null_strings", null_strings },
        { "many_props", many_props },
        { "unknown_fields", unknown_fields },
        { "unknown_fields_in_property", unknown_fields_in_property },
};
#define N_BUILDERS (sizeof(builders) / sizeof(builders[0]))

ParameterizedTestParameters(oa_event_pack, rows) {
        static size_t rows[N_BUILDERS];

        for (size_t i = 0; i < N_BUILDERS; i++)
                rows[i] = i;
        return cr_make_param_array(size_t, rows, N_BUILDERS);
}

/* oa_event_pack and oa_event_pack_into write exactly protobuf-c's bytes, which decode. */
static void same_as_protobuf_c(const Oa__Event *ev, oa_arena *a, const char *name) {
        size_t want_len = oa__event__get_packed_size(ev), len = 0, len2 = 0;
        uint8_t *want = oa_arena_alloc(a, want_len + 1), *got = NULL, *into = oa_arena_alloc(a, want_len + 1);

        cr_assert(want && into);
        cr_assert_eq(oa__event__pack(ev, want), want_len);
        cr_assert_eq(oa_event_pack(ev, a, &got, &len), 0, "%s", name);
        cr_assert_eq(len, want_len, "%s: %zu bytes, protobuf-c %zu", name, len, want_len);
        cr_assert_eq(memcmp(got, want, len), 0, "%s: the bytes differ from protobuf-c's", name);
        if (want_len > 0)
                cr_assert_eq(oa_event_pack_into(ev, into, want_len - 1, &len2), -E2BIG, "%s", name);
        cr_assert_eq(oa_event_pack_into(ev, into, want_len, &len2), 0, "%s", name);
        cr_assert_eq(len2, want_len, "%s", name);
        cr_assert_eq(memcmp(into, want, len2), 0, "%s", name);
        cr_assert_not_null(oa_event_unpack(got, len, a), "%s: does not decode", name);
}

ParameterizedTest(size_t *row, oa_event_pack, rows) {
        oa_arena a;
        Oa__Event *ev;

        oa_arena_init(&a, 0);
        ev = oa_event_new(&a);
        cr_assert_not_null(ev);
        builders[*row].build(ev, &a);
        same_as_protobuf_c(ev, &a, builders[*row].name);
        oa_arena_done(&a);
}

/* Events as oa-edge makes them: parsed, enriched (all three visitor-id paths) */
Test(oa_event_pack, parsed_and_enriched_events_match_protobuf_c) {
        static const char *const collect_bodies[] = {
                "{\"site_id\":\"site_0123456789abcdefABCD\",\"type\":\"pageview\",\"url\":"
                "\"https://shop.example.com/p?utm_source=nl&utm_medium=email\",\"referrer\":\"https://www.google.com/\","
                "\"title\":\"Shoes \\u2013 \\ud83d\\udc5f\",\"screen_width\":1440,\"props\":{\"a\":\"1\",\"b\":\"\"}}",
                "{\"site_id\":\"site_0123456789abcdefABCD\",\"type\":\"event\",\"name\":\"signup\",\"url\":"
                "\"https://a.example/\",\"revenue\":{\"amount\":-0,\"currency\":\"EUR\"}}",
        };
        static const char *const api_bodies[] = {
                "{\"events\":[{\"event_type\":\"conversion\",\"event_name\":\"purchase\",\"user_id\":\"u_1\","
                "\"url\":\"https://example.com/t?gclid=x\",\"properties\":{\"plan\":\"pro\",\"seats\":5,\"annual\":true,"
                "\"zero\":0,\"no\":false,\"neg\":-1.5e300},\"revenue\":49.99,\"currency\":\"USD\",\"timestamp\":1746999990000,"
                "\"ip\":\"203.0.113.42\",\"user_agent\":\"curl/8\",\"referrer\":\"https://www.bing.com/\"},"
                "{\"event_type\":\"pageview\",\"url\":\"https://example.com/\",\"event_id\":"
                "\"0190A6F0-7C4E-7B3A-9F1E-2C3D4E5F6A7B\"},"
                "{\"event_type\":\"custom_thing\",\"revenue\":0,\"currency\":\"JPY\"}]}",
        };
        const char ua[] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0";
        oa_visitor_key *k = NULL;
        char err[OA_EVENT_ERR_MAX];
        oa_event_api_opts o;
        oa_event_batch b;
        oa_arena a;

        cr_assert_eq(oa_visitor_key_new("0123456789abcdef", 16, &k), 0);
        oa_arena_init(&a, 0);
        oa_event_api_opts_default(&o, NOW);
        for (size_t i = 0; i < sizeof(collect_bodies) / sizeof(collect_bodies[0]); i++) {
                oa_event_enrich_in in = { .project_id = "prj_0123456789abcdef", .now_ms = NOW, .salt = k,
                                          .ip = "198.51.100.23", .user_agent = ua, .user_agent_len = strlen(ua) };
                Oa__Event *ev = NULL;

                cr_assert_eq(oa_event_parse_collect(collect_bodies[i], strlen(collect_bodies[i]), &a, &ev, err,
                                                    sizeof(err)), 0, "%s", err);
                cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
                same_as_protobuf_c(ev, &a, "collect");
        }
        for (size_t i = 0; i < sizeof(api_bodies) / sizeof(api_bodies[0]); i++) {
                oa_event_enrich_in in = { .project_id = "prj_0123456789abcdef", .now_ms = NOW, .salt = k };

                cr_assert_eq(oa_event_parse_api(api_bodies[i], strlen(api_bodies[i]), &o, &a, &b, err, sizeof(err)),
                             0, "%s", err);
                for (size_t e = 0; e < b.n; e++) {
                        cr_assert_not_null(b.items[e].ev, "%s", b.items[e].error);
                        cr_assert_eq(oa_event_enrich(b.items[e].ev, &in, &a), 0);
                        same_as_protobuf_c(b.items[e].ev, &a, "api");
                }
        }
        oa_visitor_key_free(k);
        oa_arena_done(&a);
}

/* event_pack.c lists the fields of oa.Event, oa.Property and oa.Revenue by hand: a field
 * added to protos/event.proto must be added there too, and this test says so. */
Test(oa_event_pack, knows_every_field_of_the_proto) {
        cr_assert_eq(oa__event__descriptor.n_fields, 34, "a new oa.Event field: teach event_pack.c");
        cr_assert_eq(oa__property__descriptor.n_fields, 4, "a new oa.Property field: teach event_pack.c");
        cr_assert_eq(oa__revenue__descriptor.n_fields, 2, "a new oa.Revenue field: teach event_pack.c");
}

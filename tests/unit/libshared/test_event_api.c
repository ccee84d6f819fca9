/* Tests for libshared/src/event_api.c: POST /v1/projects/{id}/events bodies, one event
 * or a batch, per-event results and request-level errors, with the hostile rows. */
#include "oa/event.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1747000000000LL
#define EV "\"event_type\":\"event\",\"event_name\":\"signup\""

static int parse(const char *body, size_t len, oa_arena *a, oa_event_batch *b, char *err, size_t errlen) {
        oa_event_api_opts o;

        oa_event_api_opts_default(&o, NOW);
        return oa_event_parse_api(body, len, &o, a, b, err, errlen);
}

Test(oa_event_api, seed_example_is_accepted_with_every_field) {
        const char body[] = "{\"event_type\":\"conversion\",\"event_name\":\"purchase\",\"user_id\":\"sha256_hash_of_user_id\","
                            "\"url\":\"https://example.com/thanks\",\"properties\":{\"plan\":\"pro\",\"seats\":3,\"trial\":false,"
                            "\"ratio\":-0.5,\"gone\":null},\"revenue\":49.99,\"currency\":\"USD\",\"timestamp\":1747000000000,"
                            "\"event_id\":\"0190A6F0-7C4E-7B3A-9F1E-2C3D4E5F6A7B\",\"ip\":\"::FFFF:192.0.2.1\","
                            "\"user_agent\":\"Mozilla/5.0\",\"referrer\":\"https://news.ycombinator.com/\",\"title\":\"ignored\"}";
        char err[OA_EVENT_ERR_MAX] = "";
        oa_event_batch b;
        Oa__Event *ev;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(parse(body, strlen(body), &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert_not(b.is_batch);
        cr_assert_eq(b.n, 1);
        cr_assert_eq(b.n_accepted, 1);
        ev = b.items[0].ev;
        cr_assert_not_null(ev, "%s", b.items[0].error);
        cr_assert_eq(ev->source, OA__EVENT_SOURCE__EVENT_SOURCE_API);
        cr_assert_str_eq(ev->event_type, "conversion");
        cr_assert_str_eq(ev->event_name, "purchase");
        cr_assert_str_eq(ev->user_id, "sha256_hash_of_user_id");
        cr_assert_str_eq(ev->url, "https://example.com/thanks");
        cr_assert_eq(ev->n_properties, 4);
        cr_assert_eq(ev->properties[1]->value_case, OA__PROPERTY__VALUE_NUMBER_VALUE);
        cr_assert_float_eq(ev->properties[1]->number_value, 3.0, 0);
        cr_assert_eq(ev->properties[2]->value_case, OA__PROPERTY__VALUE_BOOL_VALUE);
        cr_assert_eq(ev->properties[2]->bool_value, 0);
        cr_assert_float_eq(ev->revenue->amount, 49.99, 1e-9);
        cr_assert_str_eq(ev->revenue->currency, "USD");
        cr_assert_eq(ev->timestamp_ms, 1747000000000LL);
        cr_assert_str_eq(ev->event_id, "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b");
        cr_assert_str_eq(ev->ip, "192.0.2.1");
        cr_assert_str_eq(ev->user_agent, "Mozilla/5.0");
        cr_assert_str_eq(ev->referrer, "https://news.ycombinator.com/");
        cr_assert_str_eq(ev->title, "");                /* not a /v1 field */
        oa_arena_done(&a);
}

struct api_row {
        char body[400];
        int rc;
        char err[120];          /* rc 0: the single event's error ("" = accepted); else errbuf */
};

ParameterizedTestParameters(oa_event_api, single_event_rows) {
        static struct api_row rows[] = {
                { "{" EV "}", 0, "" },
                { "{\"event_type\":\"pageview\",\"url\":\"http://a.example\"}", 0, "" },
                { "{\"event_type\":\"signup_done\"}", 0, "" },                /* custom type, no name */
                { "{" EV ",\"user_id\":\"\",\"url\":\"\",\"event_id\":\"\",\"ip\":null,\"currency\":null}", 0, "" },
                { "{" EV ",\"timestamp\":1744321600000}", 0, "" },            /* 31 days back */
                { "{" EV ",\"timestamp\":1747000600000}", 0, "" },            /* 10 minutes ahead */
                { "{" EV ",\"revenue\":-0,\"currency\":\"EUR\"}", 0, "" },
                { "{" EV ",\"properties\":{\"n\":9007199254740992,\"f\":1.5e300}}", 0, "" },
                { "{" EV ",\"unknown\":{\"a\":[1,{\"b\":null}]},\"unknown\":1}", 0, "" },  /* ignored */
                /* event_type and event_name */
                { "{\"event_name\":\"x\"}", 0, "event_type: required" },
                { "{\"event_type\":null}", 0, "event_type: required" },
                { "{\"event_type\":\"\"}", 0, "event_type: must be pageview, event, conversion or a custom name" },
                { "{\"event_type\":\"Signup\"}", 0, "event_type: must be pageview, event, conversion" },
                { "{\"event_type\":\"sign-up\"}", 0, "event_type: must be pageview, event, conversion" },
                { "{\"event_type\":\"abcdefghijklmnopqrstuvwxyzabcdefg\"}", 0, "event_type: must be pageview" },
                { "{\"event_type\":1}", 0, "event_type: must be a string, not a number" },
                { "{\"event_type\":\"event\"}", 0, "event_name: required when event_type is event" },
                { "{\"event_type\":\"conversion\",\"event_name\":\"\"}", 0, "event_name: required when event_type is conversion" },
                { "{\"event_type\":\"pageview\"}", 0, "url: required when event_type is pageview" },
                { "{\"event_type\":\"event\",\"event_name\":\"a\\u0000\"}", 0, "event_name: must not contain NUL" },
                { "{\"event_type\":\"event\",\"event_name\":\"a\\nb\"}", 0, "event_name: must not contain control characters" },
                { "{" EV ",\"event_type\":\"event\"}", 0, "event_type: duplicate field" },
                /* user_id */
                { "{" EV ",\"user_id\":\"u\\u001b[31m\"}", 0, "user_id: must not contain control characters (U+001B)" },
                { "{" EV ",\"user_id\":\"\xc3\x28\"}", 0, "user_id: must be valid UTF-8" },
                { "{" EV ",\"user_id\":42}", 0, "user_id: must be a string, not a number" },
                /* url, referrer, user_agent, ip, event_id */
                { "{" EV ",\"url\":\"example.com/x\"}", 0, "url: must be an absolute http or https URL" },
                { "{" EV ",\"url\":\"https://\"}", 0, "url: must be an absolute http or https URL" },
                { "{" EV ",\"url\":\"https://a b.example/\"}", 0, "url: must be an absolute http or https URL" },
                { "{" EV ",\"referrer\":[]}", 0, "referrer: must be a string, not an array" },
                { "{" EV ",\"user_agent\":\"a\\u0000\"}", 0, "user_agent: must not contain NUL" },
                { "{" EV ",\"ip\":\"256.1.1.1\"}", 0, "ip: must be an IPv4 or IPv6 address" },
                { "{" EV ",\"ip\":\"fe80::1%eth0\"}", 0, "ip: must be an IPv4 or IPv6 address" },
                { "{" EV ",\"ip\":\"1.2.3.4:80\"}", 0, "ip: must be an IPv4 or IPv6 address" },
                { "{" EV ",\"event_id\":\"00000000-0000-0000-0000-000000000000\"}", 0, "event_id: must be a UUID" },
                { "{" EV ",\"event_id\":\"0190a6f07c4e7b3a9f1e2c3d4e5f6a7b\"}", 0, "event_id: must be a UUID" },
                { "{" EV ",\"event_id\":\"{0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a7b}\"}", 0, "event_id: must be" },
                /* properties */
                { "{" EV ",\"properties\":{\"a\":{\"b\":1}}}", 0, "properties.a: must be a string, number or boolean, not an object" },
                { "{" EV ",\"properties\":{\"a\":[1]}}", 0, "properties.a: must be a string, number or boolean, not an array" },
                { "{" EV ",\"properties\":{\"a\":1,\"a\":2}}", 0, "properties: duplicate key \"a\"" },
                { "{" EV ",\"properties\":{\"n\":9007199254740993}}", 0, "properties.n: integers beyond 2^53" },
                { "{" EV ",\"properties\":{\"n\":1e400}}", 0, "properties.n: must be a finite number" },
                { "{" EV ",\"properties\":{\"s\":\"\\udfff\"}}", 0, "properties.s: must be valid UTF-8" },
                { "{" EV ",\"properties\":\"plan=pro\"}", 0, "properties: must be an object, not a string" },
                /* revenue, currency */
                { "{" EV ",\"revenue\":10}", 0, "currency: required when revenue is given" },
                { "{" EV ",\"currency\":\"USD\"}", 0, "revenue: required when currency is given" },
                { "{" EV ",\"revenue\":\"10\",\"currency\":\"USD\"}", 0, "revenue: must be a number, not a string" },
                { "{" EV ",\"revenue\":1e309,\"currency\":\"USD\"}", 0, "revenue: must be a finite number" },
                { "{" EV ",\"revenue\":10,\"currency\":\"\"}", 0, "currency: must be an ISO 4217 code" },
                { "{" EV ",\"revenue\":10,\"currency\":\"EURO\"}", 0, "currency: must be an ISO 4217 code" },
                /* timestamp */
                { "{" EV ",\"timestamp\":1744321599999}", 0, "timestamp: must not be more than 31 days in the past" },
                { "{" EV ",\"timestamp\":1747000600001}", 0, "timestamp: must not be more than 10 minutes in the future" },
                { "{" EV ",\"timestamp\":1747000000}", 0, "timestamp: looks like Unix seconds" },
                { "{" EV ",\"timestamp\":1747000000000.5}", 0, "timestamp: must be an integer (Unix milliseconds)" },
                { "{" EV ",\"timestamp\":1.747e12}", 0, "timestamp: must be an integer" },
                { "{" EV ",\"timestamp\":\"1747000000000\"}", 0, "timestamp: must be an integer" },
                { "{" EV ",\"timestamp\":99999999999999999999999999}", 0, "timestamp: must not be more than 31 days in the past" },
                { "{" EV ",\"timestamp\":-9223372036854775809}", 0, "timestamp: must not be more than 31 days in the past" },
                { "{" EV ",\"timestamp\":0}", 0, "timestamp: must not be more than 31 days in the past" },
                /* request-level */
                { "", -EINVAL, "body: malformed JSON at byte 0: empty body" },
                { "null", -EINVAL, "body: must be an event object or {\"events\": [...]}" },
                { "{" EV "} trailing", -EINVAL, "body: malformed JSON at byte" },
                { "{" EV ",}", -EINVAL, "body: malformed JSON" },
                { "{\"events\":{}}", -EINVAL, "events: must be an array of event objects" },
                { "{\"events\":[]}", -EINVAL, "events: must hold at least one event" },
                { "[]", -EINVAL, "events: must hold at least one event" },
                { "{\"events\":[{" EV "}],\"events\":[{" EV "}]}", -EINVAL, "events: duplicate field" },
                { "{\"events\":[{" EV "}]", -EINVAL, "body: malformed JSON" },
        };
        return cr_make_param_array(struct api_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct api_row *row, oa_event_api, single_event_rows) {
        char err[OA_EVENT_ERR_MAX] = "";
        oa_event_batch b;
        oa_arena a;
        int r;

        oa_arena_init(&a, 0);
        r = parse(row->body, strlen(row->body), &a, &b, err, sizeof(err));
        cr_assert_eq(r, row->rc, "body %s: got %d (%s)", row->body, r, err);
        if (r < 0) {
                cr_assert_eq(strncmp(err, row->err, strlen(row->err)), 0, "body %s: got \"%s\"", row->body, err);
        } else if (!row->err[0]) {
                cr_assert_eq(b.n_accepted, 1, "body %s: %s", row->body, b.items[0].error);
                cr_assert_not_null(b.items[0].ev);
                cr_assert_null(b.items[0].error);
        } else {
                cr_assert_eq(b.n, 1);
                cr_assert_eq(b.n_accepted, 0, "body %s accepted", row->body);
                cr_assert_null(b.items[0].ev);
                cr_assert_eq(strncmp(b.items[0].error, row->err, strlen(row->err)), 0,
                             "body %s: got \"%s\", want \"%s\"", row->body, b.items[0].error, row->err);
        }
        oa_arena_done(&a);
}

Test(oa_event_api, batch_judges_each_event_and_keeps_order) {
        const char body[] = "{\"sent_at\":1,\"events\":[{" EV "},{\"event_type\":\"Bad\"},7,{\"event_type\":\"pageview\","
                            "\"url\":\"https://a.example/\",\"timestamp\":1746999999000},{" EV ",\"event_type\":\"x\"}],\"x\":{}}";
        char err[OA_EVENT_ERR_MAX] = "";
        oa_event_batch b;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(parse(body, strlen(body), &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert(b.is_batch);
        cr_assert_eq(b.n, 5);
        cr_assert_eq(b.n_accepted, 2);
        cr_assert_not_null(b.items[0].ev);
        cr_assert_eq(b.items[0].ev->timestamp_ms, NOW);        /* missing: now */
        cr_assert_str_eq(b.items[1].error, "event_type: must be pageview, event, conversion or a custom name of 1 to 32 characters a-z and _");
        cr_assert_str_eq(b.items[2].error, "event: must be a JSON object");
        cr_assert_eq(b.items[3].ev->timestamp_ms, 1746999999000LL);
        cr_assert_str_eq(b.items[4].error, "event_type: duplicate field");
        oa_arena_done(&a);
}

Test(oa_event_api, envelope_after_event_fields_and_bare_array_are_batches) {
        const char body1[] = "{" EV ",\"events\":[{" EV "},{" EV "}]}";
        const char body2[] = "[{" EV "}]";
        char err[OA_EVENT_ERR_MAX] = "";
        oa_event_batch b;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(parse(body1, strlen(body1), &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert(b.is_batch);
        cr_assert_eq(b.n, 2);
        cr_assert_eq(b.n_accepted, 2);
        cr_assert_eq(parse(body2, strlen(body2), &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert(b.is_batch);
        cr_assert_eq(b.n, 1);
        oa_arena_done(&a);
}

/* A batch of n copies of ev. */
static char *batch(size_t n, const char *ev, size_t *ret_len) {
        size_t el = strlen(ev), len = 0;
        char *s = malloc(16 + n * (el + 1));

        len += (size_t) sprintf(s, "{\"events\":[");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        s[len++] = ',';
                memcpy(s + len, ev, el);
                len += el;
        }
        len += (size_t) sprintf(s + len, "]}");
        *ret_len = len;
        return s;
}

Test(oa_event_api, five_hundred_events_pass_and_501_is_a_request_error) {
        char err[OA_EVENT_ERR_MAX] = "";
        oa_event_batch b;
        oa_arena a;
        size_t len;
        char *s;

        oa_arena_init(&a, 0);
        s = batch(500, "{" EV "}", &len);
        cr_assert_eq(parse(s, len, &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(b.n, 500);
        cr_assert_eq(b.n_accepted, 500);
        free(s);
        s = batch(501, "{" EV "}", &len);
        cr_assert_eq(parse(s, len, &a, &b, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "events: at most 500 events per request");
        free(s);
        oa_arena_done(&a);
}

Test(oa_event_api, event_over_32k_is_rejected_alone_and_body_over_1m_is_too_large) {
        char err[OA_EVENT_ERR_MAX] = "", *big, *body;
        size_t pad = OA_EVENT_API_MAX_EVENT_BYTES, len;
        oa_event_batch b;
        oa_arena a;

        /* padding in an unknown field: the event's text passes 32 KB */
        big = malloc(pad + 64);
        len = (size_t) sprintf(big, "{" EV ",\"pad\":\"");
        memset(big + len, 'x', pad);
        len += pad;
        len += (size_t) sprintf(big + len, "\"}");
        body = malloc(2 * len + 64);
        len = (size_t) sprintf(body, "{\"events\":[%s,{" EV "}]}", big);
        oa_arena_init(&a, 0);
        cr_assert_eq(parse(body, len, &a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(b.n, 2);
        cr_assert_eq(b.n_accepted, 1);
        cr_assert_str_eq(b.items[0].error, "event: larger than 32768 bytes");
        free(body);
        free(big);

        body = malloc(OA_EVENT_API_MAX_BODY + 1);
        memset(body, ' ', OA_EVENT_API_MAX_BODY + 1);
        cr_assert_eq(parse(body, OA_EVENT_API_MAX_BODY + 1, &a, &b, err, sizeof(err)), -E2BIG);
        cr_assert_str_eq(err, "body: larger than 1048576 bytes");
        free(body);
        oa_arena_done(&a);
}

Test(oa_event_api, properties_cap_at_50_and_long_values) {
        char body[8192], err[OA_EVENT_ERR_MAX], v[1100];
        oa_event_batch b;
        oa_arena a;
        size_t len;

        oa_arena_init(&a, 0);
        for (int n = 50; n <= 51; n++) {
                len = (size_t) sprintf(body, "{" EV ",\"properties\":{");
                for (int i = 0; i < n; i++)
                        len += (size_t) sprintf(body + len, "%s\"k%d\":%d", i ? "," : "", i, i);
                len += (size_t) sprintf(body + len, "}}");
                cr_assert_eq(parse(body, len, &a, &b, err, sizeof(err)), 0);
                if (n == 50)
                        cr_assert_eq(b.items[0].ev->n_properties, 50);
                else
                        cr_assert_str_eq(b.items[0].error, "properties: at most 50 keys");
        }
        memset(v, 'v', sizeof(v));
        len = (size_t) sprintf(body, "{" EV ",\"properties\":{\"k\":\"%.1024s\"}}", v);
        cr_assert_eq(parse(body, len, &a, &b, err, sizeof(err)), 0);
        cr_assert_not_null(b.items[0].ev);
        len = (size_t) sprintf(body, "{" EV ",\"properties\":{\"k\":\"%.1025s\"}}", v);
        cr_assert_eq(parse(body, len, &a, &b, err, sizeof(err)), 0);
        cr_assert_str_eq(b.items[0].error, "properties.k: must be at most 1024 bytes");
        oa_arena_done(&a);
}

Test(oa_event_api, window_is_configurable) {
        const char body[] = "{" EV ",\"timestamp\":1746990000000}";
        char err[OA_EVENT_ERR_MAX];
        oa_event_api_opts o;
        oa_event_batch b;
        oa_arena a;

        oa_event_api_opts_default(&o, NOW);
        o.past_ms = 3600000;
        oa_arena_init(&a, 0);
        cr_assert_eq(oa_event_parse_api(body, strlen(body), &o, &a, &b, err, sizeof(err)), 0);
        cr_assert_str_eq(b.items[0].error, "timestamp: must not be more than 1 hour in the past");
        oa_arena_done(&a);
}

Test(oa_event_api, hostile_deep_nesting_in_a_batch_is_a_request_error) {
        const char body[] = "{\"events\":[{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}";
        char err[OA_EVENT_ERR_MAX];
        oa_event_batch b;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(parse(body, strlen(body), &a, &b, err, sizeof(err)), -EINVAL);
        cr_assert(strstr(err, "nested deeper than 16 levels"), "%s", err);
        oa_arena_done(&a);
}

/* Numbers take a fast path when they can (at most 15 digits, a power of ten up to 22):
 * every value must be the one strtod gives, bit for bit, fast path or not. */
static void number_as_strtod(const char *text, oa_arena *a) {
        char body[160], err[OA_EVENT_ERR_MAX] = "";
        double want = strtod(text, NULL);
        oa_event_batch b;
        Oa__Event *ev;

        if (want == 0)
                want = 0.0;     /* -0 is sent as 0 */
        snprintf(body, sizeof(body), "{\"event_type\":\"x\",\"properties\":{\"n\":%s}}", text);
        oa_arena_reset(a);
        cr_assert_eq(parse(body, strlen(body), a, &b, err, sizeof(err)), 0, "%s: %s", text, err);
        ev = b.items[0].ev;
        cr_assert_not_null(ev, "%s: %s", text, b.items[0].error);
        cr_assert_eq(memcmp(&ev->properties[0]->number_value, &want, sizeof(want)), 0, "%s: %.17g, strtod %.17g",
                     text, ev->properties[0]->number_value, want);
}

Test(oa_event_api, number_values_are_strtods_bit_for_bit) {
        static const char *const rows[] = {
                "0", "-0", "0.0", "-0.0e5", "1", "-1", "49.99", "0.1", "0.3", "1e22", "1e23", "1e-22", "1e-23",
                "123456789012345", "1234567890123456", "0.000000000000001", "9007199254740992", "1.7976931348623157e308",
                "4.9e-324", "2.2250738585072014e-308", "123456789012345e7", "123456789012345e-7", "1E+2", "5e-0",
                "0.12345678901234567890123456789", "100000000000000000000000.0", "3.14159265358979", "-2.5e-3",
        };
        char text[64];
        uint64_t x = 88172645463325252ULL;
        oa_arena a;

        oa_arena_init(&a, 0);
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                number_as_strtod(rows[i], &a);
        for (int i = 0; i < 20000; i++) {
                int len = 0, int_digits, frac_digits;
                bool with_exp;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;        /* xorshift64 */
                int_digits = 1 + (int) (x % 17);
                frac_digits = (int) ((x >> 8) % 10);
                with_exp = (x >> 16) & 1;
                if (!frac_digits && !with_exp && int_digits > 15)
                        frac_digits = 1;        /* an integer past 2^53 is refused */
                if ((x >> 20) & 1)
                        text[len++] = '-';
                if (int_digits == 1 && ((x >> 21) & 1))
                        text[len++] = '0';
                else
                        text[len++] = (char) ('1' + (x >> 24) % 9);
                for (int d = 1; d < int_digits + frac_digits; d++) {
                        if (d == int_digits)
                                text[len++] = '.';
                        text[len++] = (char) ('0' + (x >> (d * 3 % 60)) % 10);
                }
                if (with_exp)
                        len += snprintf(text + len, sizeof(text) - (size_t) len, "e%d", (int) ((x >> 32) % 61) - 30);
                text[len] = '\0';
                number_as_strtod(text, &a);
        }
        oa_arena_done(&a);
}

/* Tests for libshared/src/event_collect.c: POST /collect bodies into events, or the
 * reason they are dropped, with the hostile rows. */
#include "oa/event.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE "site_0123456789abcdefABCD"
#define PV "\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://shop.example.com/a?b=1\""

Test(oa_event_collect, full_pageview_fills_every_body_field) {
        const char body[] = "{\"site_id\":\"" SITE "\",\"type\":\"event\",\"name\":\"signup\","
                            "\"url\":\"https://Shop.Example.com:8443/p?utm_source=x\",\"referrer\":\"https://www.google.com/\","
                            "\"title\":\"Caf\\u00e9\\tmenu\",\"screen_width\":1440,\"props\":{\"plan\":\"pro\",\"ab\":\"B\"},"
                            "\"revenue\":{\"amount\":49.99,\"currency\":\"EUR\"},\"unknown\":{\"deep\":[1,2,3]}}";
        char err[OA_EVENT_ERR_MAX] = "";
        Oa__Event *ev = NULL;
        oa_arena a;

        oa_arena_init(&a, 0);
        cr_assert_eq(oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(ev->version, 1);
        cr_assert_eq(ev->source, OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT);
        cr_assert_str_eq(ev->site_id, SITE);
        cr_assert_str_eq(ev->event_type, "event");
        cr_assert_str_eq(ev->event_name, "signup");
        cr_assert_str_eq(ev->url, "https://Shop.Example.com:8443/p?utm_source=x");
        cr_assert_str_eq(ev->referrer, "https://www.google.com/");
        cr_assert_str_eq(ev->title, "Caf\xc3\xa9\tmenu");
        cr_assert_eq(ev->screen_width, 1440);
        cr_assert_eq(ev->n_properties, 2);
        cr_assert_str_eq(ev->properties[0]->key, "plan");
        cr_assert_eq(ev->properties[0]->value_case, OA__PROPERTY__VALUE_STRING_VALUE);
        cr_assert_str_eq(ev->properties[0]->string_value, "pro");
        cr_assert_str_eq(ev->properties[1]->key, "ab");
        cr_assert_not_null(ev->revenue);
        cr_assert_float_eq(ev->revenue->amount, 49.99, 1e-9);
        cr_assert_str_eq(ev->revenue->currency, "EUR");
        cr_assert_str_eq(ev->user_id, "");
        cr_assert_eq(ev->timestamp_ms, 0);
        oa_arena_done(&a);
}

struct collect_row {
        char body[700];
        size_t len;             /* 0: strlen */
        int rc;
        char err[120];          /* the message must start with this */
};

ParameterizedTestParameters(oa_event_collect, rows) {
        static struct collect_row rows[] = {
                { "{" PV "}", 0, 0, "" },
                { "{" PV ",\"name\":null,\"title\":null,\"props\":null,\"revenue\":null}", 0, 0, "" },
                { "{" PV ",\"screen_width\":0}", 0, 0, "" },
                { "{" PV ",\"screen_width\":100000}", 0, 0, "" },
                { "{" PV ",\"screen_width\":-0}", 0, 0, "" },
                { "{" PV ",\"props\":{}}", 0, 0, "" },
                { " {" PV "} \n", 0, 0, "" },
                /* required fields and their types */
                { "{\"type\":\"pageview\",\"url\":\"https://a.example/\"}", 0, -EINVAL, "site_id: required" },
                { "{\"site_id\":\"" SITE "\",\"url\":\"https://a.example/\"}", 0, -EINVAL, "type: required" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\"}", 0, -EINVAL, "url: required" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"event\",\"url\":\"https://a.example/\"}", 0, -EINVAL,
                  "name: required when type is event" },
                { "{\"site_id\":null," PV "}", 0, -EINVAL, "site_id: must be a string, not null" },
                { "{\"site_id\":\"site_x\",\"type\":\"pageview\"}", 0, -EINVAL, "site_id: must be a site id" },
                { "{\"site_id\":123}", 0, -EINVAL, "site_id: must be a string, not a number" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"click\"}", 0, -EINVAL, "type: must be pageview or event" },
                { "{\"site_id\":\"" SITE "\",\"type\":[\"pageview\"]}", 0, -EINVAL, "type: must be a string, not an array" },
                /* url */
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"/relative\"}", 0, -EINVAL,
                  "url: must be an absolute http or https URL" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"javascript://x/alert(1)\"}", 0, -EINVAL,
                  "url: must be an absolute http or https URL" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"ftp://a.example/\"}", 0, -EINVAL,
                  "url: must be an absolute http or https URL" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://a.example/\\u0000\"}", 0, -EINVAL,
                  "url: must not contain NUL" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://a.example/\\n\"}", 0, -EINVAL,
                  "url: must not contain control characters" },
                { "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://a.example/\xff\"}", 0, -EINVAL,
                  "url: must be valid UTF-8" },
                /* optional fields */
                { "{" PV ",\"title\":\"a\\u0000b\"}", 0, -EINVAL, "title: must not contain NUL" },
                { "{" PV ",\"title\":\"\\ud800\"}", 0, -EINVAL, "title: must be valid UTF-8" },
                { "{" PV ",\"title\":\"\\u0007\"}", 0, -EINVAL, "title: must not contain control characters (U+0007)" },
                { "{" PV ",\"title\":\"\\u0085\"}", 0, -EINVAL, "title: must not contain control characters (U+0085)" },
                { "{" PV ",\"referrer\":7}", 0, -EINVAL, "referrer: must be a string" },
                { "{" PV ",\"screen_width\":100001}", 0, -EINVAL, "screen_width: must be an integer from 0 to 100000" },
                { "{" PV ",\"screen_width\":-1}", 0, -EINVAL, "screen_width: must be an integer" },
                { "{" PV ",\"screen_width\":1.5}", 0, -EINVAL, "screen_width: must be an integer" },
                { "{" PV ",\"screen_width\":1e3}", 0, -EINVAL, "screen_width: must be an integer" },
                { "{" PV ",\"screen_width\":99999999999999999999999}", 0, -EINVAL, "screen_width: must be an integer" },
                { "{" PV ",\"screen_width\":\"1440\"}", 0, -EINVAL, "screen_width: must be an integer" },
                /* props */
                { "{" PV ",\"props\":{\"a\":1}}", 0, -EINVAL, "props.a: must be a string, not a number" },
                { "{" PV ",\"props\":{\"a\":{\"b\":\"c\"}}}", 0, -EINVAL, "props.a: must be a string, not an object" },
                { "{" PV ",\"props\":{\"a\":\"x\",\"a\":\"y\"}}", 0, -EINVAL, "props: duplicate key \"a\"" },
                { "{" PV ",\"props\":{\"\":\"x\"}}", 0, -EINVAL, "props: keys must be 1 to 64 bytes" },
                { "{" PV ",\"props\":{\"a\\u0000\":\"x\"}}", 0, -EINVAL, "props: keys must be 1 to 64 bytes" },
                { "{" PV ",\"props\":[\"a\"]}", 0, -EINVAL, "props: must be an object, not an array" },
                { "{" PV ",\"props\":{\"k1\":\"v\",\"k2\":\"v\",\"k3\":\"v\",\"k4\":\"v\",\"k5\":\"v\",\"k6\":\"v\","
                  "\"k7\":\"v\",\"k8\":\"v\",\"k9\":\"v\",\"k10\":\"v\",\"k11\":\"v\",\"k12\":\"v\",\"k13\":\"v\",\"k14\":\"v\","
                  "\"k15\":\"v\",\"k16\":\"v\",\"k17\":\"v\",\"k18\":\"v\",\"k19\":\"v\",\"k20\":\"v\",\"k21\":\"v\",\"k22\":\"v\","
                  "\"k23\":\"v\",\"k24\":\"v\",\"k25\":\"v\",\"k26\":\"v\",\"k27\":\"v\",\"k28\":\"v\",\"k29\":\"v\",\"k30\":\"v\"}}",
                  0, 0, "" },
                { "{" PV ",\"props\":{\"k1\":\"v\",\"k2\":\"v\",\"k3\":\"v\",\"k4\":\"v\",\"k5\":\"v\",\"k6\":\"v\","
                  "\"k7\":\"v\",\"k8\":\"v\",\"k9\":\"v\",\"k10\":\"v\",\"k11\":\"v\",\"k12\":\"v\",\"k13\":\"v\",\"k14\":\"v\","
                  "\"k15\":\"v\",\"k16\":\"v\",\"k17\":\"v\",\"k18\":\"v\",\"k19\":\"v\",\"k20\":\"v\",\"k21\":\"v\",\"k22\":\"v\","
                  "\"k23\":\"v\",\"k24\":\"v\",\"k25\":\"v\",\"k26\":\"v\",\"k27\":\"v\",\"k28\":\"v\",\"k29\":\"v\",\"k30\":\"v\","
                  "\"k31\":\"v\"}}", 0, -EINVAL, "props: at most 30 keys" },
                /* revenue */
                { "{" PV ",\"revenue\":{\"amount\":-5,\"currency\":\"USD\"}}", 0, 0, "" },
                { "{" PV ",\"revenue\":{\"amount\":1e400,\"currency\":\"USD\"}}", 0, -EINVAL, "revenue.amount: must be a finite number" },
                { "{" PV ",\"revenue\":{\"amount\":\"5\",\"currency\":\"USD\"}}", 0, -EINVAL, "revenue.amount: must be a number" },
                { "{" PV ",\"revenue\":{\"amount\":5,\"currency\":\"usd\"}}", 0, -EINVAL, "revenue.currency: must be an ISO 4217 code" },
                { "{" PV ",\"revenue\":{\"amount\":5,\"currency\":\"US\"}}", 0, -EINVAL, "revenue.currency: must be an ISO 4217 code" },
                { "{" PV ",\"revenue\":{\"amount\":5}}", 0, -EINVAL, "revenue.currency: required" },
                { "{" PV ",\"revenue\":{\"currency\":\"USD\"}}", 0, -EINVAL, "revenue.amount: required" },
                { "{" PV ",\"revenue\":{\"amount\":5,\"amount\":6,\"currency\":\"USD\"}}", 0, -EINVAL, "revenue.amount: duplicate field" },
                { "{" PV ",\"revenue\":5}", 0, -EINVAL, "revenue: must be an object with amount and currency" },
                /* the body as a whole */
                { "", 0, -EINVAL, "body: malformed JSON at byte 0: empty body" },
                { "[]", 0, -EINVAL, "body: must be a JSON object" },
                { "\"pageview\"", 0, -EINVAL, "body: must be a JSON object" },
                { "{" PV "}x", 0, -EINVAL, "body: malformed JSON at byte" },
                { "{" PV "}{}", 0, -EINVAL, "body: malformed JSON" },
                { "{" PV ",}", 0, -EINVAL, "body: malformed JSON" },
                { "{" PV "", 0, -EINVAL, "body: malformed JSON" },
                { "{" PV ",\"type\":\"event\"}", 0, -EINVAL, "type: duplicate field" },
                { "{" PV ",\"x\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}", 0, -EINVAL, "body: malformed JSON at byte 115: nested deeper than 16 levels" },
                { "{\"site_id\":\"" SITE "\0\",\"type\":\"pageview\"}", 40, -EINVAL, "body: malformed JSON" },
        };
        return cr_make_param_array(struct collect_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct collect_row *row, oa_event_collect, rows) {
        char err[OA_EVENT_ERR_MAX] = "";
        Oa__Event *ev = NULL;
        oa_arena a;
        int r;

        oa_arena_init(&a, 0);
        r = oa_event_parse_collect(row->body, row->len ? row->len : strlen(row->body), &a, &ev, err, sizeof(err));
        cr_assert_eq(r, row->rc, "body %s: got %d (%s)", row->body, r, err);
        if (r == 0)
                cr_assert_not_null(ev);
        else
                cr_assert_eq(strncmp(err, row->err, strlen(row->err)), 0, "body %s: got \"%s\", want \"%s\"",
                             row->body, err, row->err);
        oa_arena_done(&a);
}

Test(oa_event_collect, body_over_16k_is_too_large) {
        size_t n = OA_EVENT_COLLECT_MAX_BODY + 1;
        char *body = malloc(n), err[OA_EVENT_ERR_MAX];
        Oa__Event *ev = NULL;
        oa_arena a;

        memset(body, ' ', n);
        oa_arena_init(&a, 0);
        cr_assert_eq(oa_event_parse_collect(body, n, &a, &ev, err, sizeof(err)), -E2BIG);
        cr_assert_str_eq(err, "body: larger than 16384 bytes");
        cr_assert_null(ev);
        oa_arena_done(&a);
        free(body);
}

Test(oa_event_collect, long_title_and_long_prop_value_are_refused) {
        char body[4096], err[OA_EVENT_ERR_MAX];
        char big[600];
        Oa__Event *ev;
        oa_arena a;

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        oa_arena_init(&a, 0);
        snprintf(body, sizeof(body), "{" PV ",\"title\":\"%.512s\"}", big);
        cr_assert_eq(oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err)), 0, "%s", err);
        snprintf(body, sizeof(body), "{" PV ",\"title\":\"%.513s\"}", big);
        cr_assert_eq(oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "title: must be at most 512 bytes");
        snprintf(body, sizeof(body), "{" PV ",\"props\":{\"k\":\"%.257s\"}}", big);
        cr_assert_eq(oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "props.k: must be at most 256 bytes");
        snprintf(body, sizeof(body), "{" PV ",\"props\":{\"%.65s\":\"v\"}}", big);
        cr_assert_eq(oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err)), -EINVAL);
        cr_assert_str_eq(err, "props: keys must be 1 to 64 bytes of UTF-8 without control characters");
        oa_arena_done(&a);
}

Test(oa_event_collect, arena_cap_gives_enomem_not_a_crash) {
        const char body[] = "{" PV ",\"props\":{\"a\":\"b\"}}";
        char err[OA_EVENT_ERR_MAX];
        Oa__Event *ev;
        oa_arena a;
        int ok = 0, nomem = 0;

        for (size_t cap = 16; cap < 8192; cap += 16) {
                int r;

                oa_arena_init(&a, cap);
                r = oa_event_parse_collect(body, strlen(body), &a, &ev, err, sizeof(err));
                cr_assert(r == 0 || r == -ENOMEM, "cap %zu: %d %s", cap, r, err);
                r == 0 ? ok++ : nomem++;
                oa_arena_done(&a);
        }
        cr_assert_gt(ok, 0);
        cr_assert_gt(nomem, 0);
}

/* Tests for libshared/src/event.c: enrichment of parsed events from both routes, IP
 * normalisation, the Kafka key and the protobuf round trip. */
#include "oa/event.h"
#include "oa/uuid.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#define SITE "site_0123456789abcdefABCD"
#define PRJ "prj_0123456789abcdef"
#define NOW 1747000000000LL

static oa_visitor_key *salt(void) {
        oa_visitor_key *k = NULL;

        cr_assert_eq(oa_visitor_key_new("0123456789abcdef0123456789abcdef", 32, &k), 0);
        return k;
}

static Oa__Event *collect(oa_arena *a, const char *body) {
        char err[OA_EVENT_ERR_MAX];
        Oa__Event *ev = NULL;

        cr_assert_eq(oa_event_parse_collect(body, strlen(body), a, &ev, err, sizeof(err)), 0, "%s", err);
        return ev;
}

static Oa__Event *api(oa_arena *a, const char *body) {
        char err[OA_EVENT_ERR_MAX];
        oa_event_api_opts o;
        oa_event_batch b;

        oa_event_api_opts_default(&o, NOW);
        cr_assert_eq(oa_event_parse_api(body, strlen(body), &o, a, &b, err, sizeof(err)), 0, "%s", err);
        cr_assert_not_null(b.items[0].ev, "%s", b.items[0].error);
        return b.items[0].ev;
}

Test(oa_event, enrich_collect_fills_server_fields) {
        const char ua[] = "Mozilla/5.0 (Macintosh) Safari/605.1.15";
        oa_visitor_key *k = salt();
        char vid[OA_VISITOR_ID_LEN + 1], key[128];
        oa_event_enrich_in in = { .project_id = PRJ, .now_ms = NOW, .salt = k, .ip = "2001:DB8::0:1",
                                  .user_agent = ua, .user_agent_len = strlen(ua) };
        Oa__Event *ev;
        oa_arena a;

        oa_arena_init(&a, 0);
        ev = collect(&a, "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://WWW.Shop.example/p/q"
                         "?utm_source=nl&utm_medium=email&utm_campaign=may\",\"referrer\":\"https://mail.google.com/x\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        cr_assert_str_eq(ev->project_id, PRJ);
        cr_assert_eq(ev->received_ms, NOW);
        cr_assert_eq(ev->timestamp_ms, NOW);
        cr_assert_eq(strlen(ev->event_id), OA_UUID_LEN);
        cr_assert_eq(ev->event_id[14], '7');
        cr_assert_eq(strncmp(ev->event_id, "0196c150-7e00-7", 15), 0, "%s", ev->event_id);  /* NOW in hex */
        cr_assert_str_eq(ev->ip, "2001:db8::1");
        cr_assert_str_eq(ev->user_agent, ua);
        cr_assert_str_eq(ev->hostname, "www.shop.example");
        cr_assert_str_eq(ev->path, "/p/q");
        cr_assert_str_eq(ev->utm_source, "nl");
        cr_assert_str_eq(ev->utm_medium, "email");
        cr_assert_str_eq(ev->utm_campaign, "may");
        cr_assert_str_eq(ev->referrer_host, "mail.google.com");
        cr_assert_str_eq(ev->referrer_source, "email");
        cr_assert_eq(oa_visitor_browser(k, SITE, "2001:db8::1", ua, strlen(ua), vid), 0);
        cr_assert_str_eq(ev->visitor_id, vid);
        cr_assert_eq(oa_event_kafka_key(ev, key, sizeof(key)), (int) strlen(PRJ) + 1 + OA_VISITOR_ID_LEN);
        cr_assert_eq(strncmp(key, PRJ "/", strlen(PRJ) + 1), 0);
        cr_assert_str_eq(key + strlen(PRJ) + 1, vid);
        cr_assert_eq(oa_event_kafka_key(ev, key, strlen(PRJ) + 1 + OA_VISITOR_ID_LEN), -E2BIG);
        oa_visitor_key_free(k);
        oa_arena_done(&a);
}

Test(oa_event, enrich_collect_sanitizes_hostile_user_agent_and_ip) {
        char ua[3000];
        oa_visitor_key *k = salt();
        oa_event_enrich_in in = { .project_id = PRJ, .now_ms = NOW, .salt = k, .ip = "not-an-ip",
                                  .user_agent = ua };
        Oa__Event *ev;
        oa_arena a;

        memset(ua, 'a', sizeof(ua));
        memcpy(ua, "x\xff\x01y\xc3\xa9\0z", 8);
        ua[1022] = '\xc3';              /* a 2-byte sequence across the 1024 cut */
        ua[1023] = '\xa9';
        ua[1024] = '\xe2';
        ua[1025] = '\x82';
        ua[1026] = '\xac';
        in.user_agent_len = sizeof(ua);
        oa_arena_init(&a, 0);
        ev = collect(&a, "{\"site_id\":\"" SITE "\",\"type\":\"pageview\",\"url\":\"https://s.example/\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        cr_assert_str_eq(ev->ip, "");
        cr_assert_eq(strncmp(ev->user_agent, "x??y\xc3\xa9?z", 8), 0, "%s", ev->user_agent);
        cr_assert_eq(strlen(ev->user_agent), 1024);
        cr_assert_eq(ev->referrer_source[0], 'd');      /* direct */
        cr_assert_eq(strlen(ev->visitor_id), OA_VISITOR_ID_LEN);
        oa_visitor_key_free(k);
        oa_arena_done(&a);
}

Test(oa_event, enrich_api_visitor_from_user_id_else_ip_else_event_id) {
        oa_visitor_key *k = salt();
        oa_event_enrich_in in = { .project_id = PRJ, .site_id = SITE, .now_ms = NOW + 5, .salt = k };
        char vid[OA_VISITOR_ID_LEN + 1];
        Oa__Event *ev;
        oa_arena a;

        oa_arena_init(&a, 0);
        ev = api(&a, "{\"event_type\":\"event\",\"event_name\":\"x\",\"user_id\":\"u-1\",\"ip\":\"192.0.2.1\","
                     "\"event_id\":\"F47AC10B-58CC-4372-A567-0E02B2C3D479\",\"url\":\"https://s.example/?gclid=1\","
                     "\"referrer\":\"https://www.google.com/\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        cr_assert_eq(oa_visitor_user(PRJ, "u-1", 3, vid), 0);
        cr_assert_str_eq(ev->visitor_id, vid);
        cr_assert_str_eq(ev->event_id, "f47ac10b-58cc-4372-a567-0e02b2c3d479");   /* kept */
        cr_assert_eq(ev->timestamp_ms, NOW);            /* from the parser: now at parse time */
        cr_assert_eq(ev->received_ms, NOW + 5);
        cr_assert_str_eq(ev->referrer_source, "paid");
        cr_assert_str_eq(ev->ip, "192.0.2.1");

        ev = api(&a, "{\"event_type\":\"event\",\"event_name\":\"x\",\"ip\":\"192.0.2.1\",\"user_agent\":\"curl/8\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        cr_assert_eq(oa_visitor_browser(k, SITE, "192.0.2.1", "curl/8", 6, vid), 0);
        cr_assert_str_eq(ev->visitor_id, vid);           /* same as the snippet would give */
        cr_assert_str_eq(ev->path, "");                  /* no url */
        cr_assert_str_eq(ev->referrer_source, "direct");

        ev = api(&a, "{\"event_type\":\"event\",\"event_name\":\"x\"}");
        in.salt = NULL;                                  /* not needed here */
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        cr_assert_eq(oa_visitor_anonymous(PRJ, ev->event_id, vid), 0);
        cr_assert_str_eq(ev->visitor_id, vid);

        ev = api(&a, "{\"event_type\":\"event\",\"event_name\":\"x\",\"ip\":\"192.0.2.1\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), -EINVAL);    /* needs the salt */
        in.project_id = NULL;
        cr_assert_eq(oa_event_enrich(ev, &in, &a), -EINVAL);
        oa_visitor_key_free(k);
        oa_arena_done(&a);
}

struct ip_row {
        char in[64];
        char want[48];          /* "" = -EINVAL */
};

ParameterizedTestParameters(oa_event, ip_rows) {
        static struct ip_row rows[] = {
                { "192.0.2.1", "192.0.2.1" },
                { "0.0.0.0", "0.0.0.0" },
                { "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
                { "::1", "::1" },
                { "::ffff:198.51.100.7", "198.51.100.7" },
                { "::FFFF:c633:6407", "198.51.100.7" },
                { "192.0.2.01", "" },
                { "192.0.2", "" },
                { "256.0.0.1", "" },
                { "1.2.3.4 ", "" },
                { " 1.2.3.4", "" },
                { "1.2.3.4/24", "" },
                { "[::1]", "" },
                { "fe80::1%lo", "" },
                { "::g", "" },
                { "1:2:3:4:5:6:7:8:9", "" },
                { "0000:0000:0000:0000:0000:0000:0000:0000:0", "" },
                { "", "" },
        };
        return cr_make_param_array(struct ip_row, rows, sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct ip_row *row, oa_event, ip_rows) {
        char out[OA_EVENT_IP_MAX];
        int r = oa_event_ip_normalize(row->in, strlen(row->in), out);

        if (!row->want[0]) {
                cr_assert_eq(r, -EINVAL, "%s", row->in);
        } else {
                cr_assert_eq(r, 0, "%s", row->in);
                cr_assert_str_eq(out, row->want);
        }
}

Test(oa_event, ip_with_embedded_nul_or_too_long_is_refused) {
        char out[OA_EVENT_IP_MAX];

        cr_assert_eq(oa_event_ip_normalize("1.2.3.4\0", 8, out), -EINVAL);
        cr_assert_eq(oa_event_ip_normalize("1111:2222:3333:4444:5555:6666:7777:8888:9999:0", 46, out), -EINVAL);
}

Test(oa_event, pack_round_trips_every_field) {
        oa_visitor_key *k = salt();
        oa_event_enrich_in in = { .project_id = PRJ, .site_id = SITE, .now_ms = NOW, .salt = k };
        uint8_t *buf, small[8], *big;
        size_t len, len2;
        Oa__Event *ev, *back;
        oa_arena a;

        oa_arena_init(&a, 0);
        ev = api(&a, "{\"event_type\":\"conversion\",\"event_name\":\"purchase\",\"user_id\":\"u\",\"url\":"
                     "\"https://e.example/t?utm_source=s\",\"properties\":{\"plan\":\"pro\",\"n\":2.5,\"b\":true},"
                     "\"revenue\":49.99,\"currency\":\"USD\",\"timestamp\":1746999000000,\"ip\":\"192.0.2.9\","
                     "\"user_agent\":\"UA \\u00e9\",\"referrer\":\"https://t.co/x\"}");
        cr_assert_eq(oa_event_enrich(ev, &in, &a), 0);
        ev->country = "DE";
        ev->screen_width = 1280;
        cr_assert_eq(oa_event_pack(ev, &a, &buf, &len), 0);
        cr_assert_gt(len, 100);
        cr_assert_eq(oa_event_pack_into(ev, small, sizeof(small), &len2), -E2BIG);
        big = oa_arena_alloc(&a, len);
        cr_assert_eq(oa_event_pack_into(ev, big, len, &len2), 0);
        cr_assert_eq(len2, len);
        cr_assert_eq(memcmp(big, buf, len), 0);
        back = oa_event_unpack(buf, len, &a);
        cr_assert_not_null(back);
        cr_assert_eq(back->version, 1);
        cr_assert_eq(back->source, OA__EVENT_SOURCE__EVENT_SOURCE_API);
        cr_assert_str_eq(back->event_id, ev->event_id);
        cr_assert_str_eq(back->project_id, PRJ);
        cr_assert_str_eq(back->event_type, "conversion");
        cr_assert_str_eq(back->event_name, "purchase");
        cr_assert_eq(back->timestamp_ms, 1746999000000LL);
        cr_assert_eq(back->received_ms, NOW);
        cr_assert_str_eq(back->visitor_id, ev->visitor_id);
        cr_assert_str_eq(back->user_id, "u");
        cr_assert_str_eq(back->hostname, "e.example");
        cr_assert_str_eq(back->path, "/t");
        cr_assert_str_eq(back->utm_source, "s");
        cr_assert_str_eq(back->referrer_host, "t.co");
        cr_assert_str_eq(back->referrer_source, "social");
        cr_assert_str_eq(back->ip, "192.0.2.9");
        cr_assert_str_eq(back->user_agent, "UA \xc3\xa9");
        cr_assert_str_eq(back->country, "DE");
        cr_assert_eq(back->screen_width, 1280);
        cr_assert_eq(back->n_properties, 3);
        cr_assert_str_eq(back->properties[0]->string_value, "pro");
        cr_assert_float_eq(back->properties[1]->number_value, 2.5, 0);
        cr_assert_eq(back->properties[2]->bool_value, 1);
        cr_assert_float_eq(back->revenue->amount, 49.99, 0);
        cr_assert_str_eq(back->revenue->currency, "USD");
        cr_assert_null(oa_event_unpack((const uint8_t *) "\xff\xff\xff", 3, &a));
        oa_visitor_key_free(k);
        oa_arena_done(&a);
}

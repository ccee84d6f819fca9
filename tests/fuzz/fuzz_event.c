/* libFuzzer harness for the ingestion body parsers (libshared/src/event_*.c): every
 * input goes through POST /collect parsing and POST /v1 parsing (with the default limits
 * and with tight ones, so the per-event size, event count and body caps are reached by
 * small inputs), and every accepted event through enrichment, the Kafka key and a
 * protobuf round trip. Besides the sanitizers it checks what the rest of the pipeline
 * relies on: each string of an event is valid UTF-8 without NUL, an error message is
 * "<field>: <reason>", the bytes are protobuf-c's own (oa__event__pack) and unpack to
 * the same event. Built with -Dfuzz=true by tests/fuzz/run.sh. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oa/event.h"
#include "oa/url.h"
#include "oa/uuid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1747000000000LL

static oa_arena arena;
static oa_visitor_key *salt;

static void check(int ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz_event: invariant broken: %s\n", what);
                abort();
        }
}

static int utf8_ok(const char *s) {
        const unsigned char *u = (const unsigned char *) s;

        for (size_t i = 0; u[i];) {
                unsigned char c = u[i];
                size_t len;
                unsigned long cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        len = 2, cp = c & 0x1f, min = 0x80;
                else if (c >= 0xe0 && c <= 0xef)
                        len = 3, cp = c & 0x0f, min = 0x800;
                else if (c >= 0xf0 && c <= 0xf4)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return 0;
                for (size_t k = 1; k < len; k++) {
                        if ((u[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = cp << 6 | (u[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += len;
        }
        return 1;
}

static void check_strings(const Oa__Event *ev) {
        const char *s[] = { ev->event_id, ev->project_id, ev->site_id, ev->event_type, ev->event_name,
                            ev->visitor_id, ev->user_id, ev->url, ev->hostname, ev->path, ev->title,
                            ev->referrer, ev->referrer_host, ev->referrer_source, ev->utm_source,
                            ev->utm_medium, ev->utm_campaign, ev->utm_content, ev->utm_term, ev->ip,
                            ev->user_agent };

        for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
                check(s[i] && utf8_ok(s[i]), "event string is not valid UTF-8");
        for (size_t i = 0; i < ev->n_properties; i++) {
                check(utf8_ok(ev->properties[i]->key) && ev->properties[i]->key[0], "property key");
                if (ev->properties[i]->value_case == OA__PROPERTY__VALUE_STRING_VALUE)
                        check(utf8_ok(ev->properties[i]->string_value), "property value");
        }
        if (ev->revenue)
                check(strlen(ev->revenue->currency) == 3, "currency");
        check(strlen(ev->path) <= OA_URL_MAX_PATH, "path length");
}

static void pipeline(Oa__Event *ev, const char *ip, const char *ua, size_t ua_len) {
        oa_event_enrich_in in = { .project_id = "prj_0123456789abcdef", .site_id = "site_0123456789abcdefABCD",
                                  .now_ms = NOW, .salt = salt, .ip = ip, .user_agent = ua,
                                  .user_agent_len = ua_len };
        char key[128];
        uint8_t *buf, *ref;
        size_t len;
        Oa__Event *back;

        check(oa_event_enrich(ev, &in, &arena) == 0, "enrich failed");
        check_strings(ev);
        check(oa_event_kafka_key(ev, key, sizeof(key)) > 0, "kafka key");
        check(oa_event_pack(ev, &arena, &buf, &len) == 0, "pack");
        ref = oa_arena_alloc(&arena, oa__event__get_packed_size(ev));
        check(ref && oa__event__pack(ev, ref) == len && memcmp(ref, buf, len) == 0, "bytes differ from protobuf-c");
        back = oa_event_unpack(buf, len, &arena);
        check(back != NULL, "unpack");
        check(strcmp(back->event_id, ev->event_id) == 0 && strcmp(back->url, ev->url) == 0 &&
              back->n_properties == ev->n_properties && back->timestamp_ms == ev->timestamp_ms,
              "round trip");
}

static void check_message(const char *m) {
        check(m && strstr(m, ": ") && strlen(m) < OA_EVENT_ERR_MAX, "error message shape");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[OA_EVENT_ERR_MAX];
        oa_event_api_opts o;
        oa_event_batch b;
        Oa__Event *ev = NULL;
        oa_url_info info;
        char id[OA_UUID_LEN + 1];
        int r;

        if (!salt) {
                oa_arena_init(&arena, 64u << 20);
                if (oa_visitor_key_new("fuzz-salt-0123456789abcdef", 26, &salt) < 0)
                        abort();
        }
        oa_arena_reset(&arena);

        r = oa_event_parse_collect(data, size, &arena, &ev, err, sizeof(err));
        check(r == 0 || r == -EINVAL || r == -E2BIG, "collect return code");
        if (r == 0)
                pipeline(ev, "203.0.113.7", (const char *) data, size < 2000 ? size : 2000);
        else
                check_message(err);

        for (int tight = 0; tight < 2; tight++) {
                oa_event_api_opts_default(&o, NOW);
                if (tight) {
                        o.max_body = 4096;
                        o.max_events = 4;
                        o.max_event_bytes = 256;
                }
                r = oa_event_parse_api(data, size, &o, &arena, &b, err, sizeof(err));
                check(r == 0 || r == -EINVAL || r == -E2BIG, "api return code");
                if (r < 0) {
                        check_message(err);
                        continue;
                }
                check(b.n >= 1 && b.n <= o.max_events && b.n_accepted <= b.n, "batch counts");
                for (size_t i = 0; i < b.n; i++) {
                        check((b.items[i].ev == NULL) != (b.items[i].error == NULL), "item is one of both");
                        if (b.items[i].ev)
                                pipeline(b.items[i].ev, NULL, NULL, 0);
                        else
                                check_message(b.items[i].error);
                }
        }

        /* the enrichers on raw text */
        if (oa_url_info_get((const char *) data, size, &arena, &info) == 0) {
                check(utf8_ok(info.utm_source) && utf8_ok(info.utm_term), "utm");
                (void) oa_referrer_source(info.hostname, "shop.example", info.utm_medium, info.paid_click);
        }
        if (oa_uuid_normalize((const char *) data, size, id) == 0)
                check(strlen(id) == OA_UUID_LEN, "uuid");
        return 0;
}

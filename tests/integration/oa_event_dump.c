/* oa-event-dump: print every record of oa.events.v1 (or another topic of oa.Event
 * records) as one JSON object per line, for the integration tests (Python here has no
 * protobuf). Reads the topic from the beginning to the end it had at start, then exits.
 *
 *   oa-event-dump BROKERS [TOPIC] [PROJECT_ID]
 *   {"partition":0,"offset":3,"key":"prj_.../...","event":{"event_id":"...",...}}
 *
 * With PROJECT_ID only that project's events are printed (the topic of a long-lived stack
 * holds many).
 *
 * Every field of the message is printed, empty ones included; properties as an object
 * of their values, revenue as {"amount":..,"currency":..} or null. A record that does not
 * decode prints {"partition":..,"offset":..,"key":..,"error":"undecodable"}. */
#include "oa/buf.h"
#include "oa/event.h"
#include "oa/kafka.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void str(oa_buf *b, const char *name, const char *v) {
        oa_buf_addf(b, ",\"%s\":\"", name);
        oa_buf_add_json_str(b, v ? v : "", v ? strlen(v) : 0);
        oa_buf_addc(b, '"');
}

static void num(oa_buf *b, double v) {
        if (isfinite(v))
                oa_buf_addf(b, "%.17g", v);
        else
                oa_buf_adds(b, "null");
}

static void event_json(oa_buf *b, const Oa__Event *e) {
        oa_buf_addf(b, "{\"version\":%u", e->version);
        str(b, "event_id", e->event_id);
        str(b, "project_id", e->project_id);
        str(b, "site_id", e->site_id);
        oa_buf_addf(b, ",\"source\":\"%s\"", e->source == OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT ? "collect"
                    : e->source == OA__EVENT_SOURCE__EVENT_SOURCE_API ? "api" : "unspecified");
        str(b, "event_type", e->event_type);
        str(b, "event_name", e->event_name);
        oa_buf_addf(b, ",\"timestamp_ms\":%lld,\"received_ms\":%lld", (long long) e->timestamp_ms,
                    (long long) e->received_ms);
        str(b, "visitor_id", e->visitor_id);
        str(b, "user_id", e->user_id);
        str(b, "url", e->url);
        str(b, "hostname", e->hostname);
        str(b, "path", e->path);
        str(b, "title", e->title);
        str(b, "referrer", e->referrer);
        str(b, "referrer_host", e->referrer_host);
        str(b, "referrer_source", e->referrer_source);
        str(b, "utm_source", e->utm_source);
        str(b, "utm_medium", e->utm_medium);
        str(b, "utm_campaign", e->utm_campaign);
        str(b, "utm_content", e->utm_content);
        str(b, "utm_term", e->utm_term);
        str(b, "ip", e->ip);
        str(b, "user_agent", e->user_agent);
        str(b, "country", e->country);
        str(b, "browser", e->browser);
        str(b, "browser_version", e->browser_version);
        str(b, "os", e->os);
        str(b, "os_version", e->os_version);
        str(b, "device", e->device);
        oa_buf_addf(b, ",\"screen_width\":%u,\"properties\":{", e->screen_width);
        for (size_t i = 0; i < e->n_properties; i++) {
                const Oa__Property *p = e->properties[i];

                oa_buf_adds(b, i ? ",\"" : "\"");
                oa_buf_add_json_str(b, p->key, strlen(p->key));
                oa_buf_adds(b, "\":");
                if (p->value_case == OA__PROPERTY__VALUE_STRING_VALUE) {
                        oa_buf_addc(b, '"');
                        oa_buf_add_json_str(b, p->string_value, strlen(p->string_value));
                        oa_buf_addc(b, '"');
                } else if (p->value_case == OA__PROPERTY__VALUE_NUMBER_VALUE) {
                        num(b, p->number_value);
                } else if (p->value_case == OA__PROPERTY__VALUE_BOOL_VALUE) {
                        oa_buf_adds(b, p->bool_value ? "true" : "false");
                } else {
                        oa_buf_adds(b, "null");
                }
        }
        oa_buf_adds(b, "},\"revenue\":");
        if (e->revenue) {
                oa_buf_adds(b, "{\"amount\":");
                num(b, e->revenue->amount);
                str(b, "currency", e->revenue->currency);
                oa_buf_addc(b, '}');
        } else {
                oa_buf_adds(b, "null");
        }
        oa_buf_addc(b, '}');
}

int main(int argc, char **argv) {
        const char *topic = argc > 2 && argv[2][0] ? argv[2] : OA_TOPIC_EVENTS;
        const char *project = argc > 3 ? argv[3] : NULL;
        oa_kafka_cfg c = { .client_id = "oa-event-dump" };
        oa_kcons *kc = NULL;
        char err[512];
        int r;

        if (argc < 2 || argc > 4) {
                fprintf(stderr, "usage: oa-event-dump BROKERS [TOPIC] [PROJECT_ID]\n");
                return 2;
        }
        c.brokers = argv[1];
        r = oa_kcons_new_reader(&c, topic, 10000, &kc, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "oa-event-dump: %s\n", err);
                return 1;
        }
        while (!oa_kcons_caught_up(kc)) {
                oa_kmsg m;
                oa_arena a;
                oa_buf b;
                Oa__Event *ev;

                r = oa_kcons_poll(kc, 1000, &m, err, sizeof(err));
                if (r < 0) {
                        fprintf(stderr, "oa-event-dump: %s\n", err);
                        oa_kcons_free(kc);
                        return 1;
                }
                if (r == 0)
                        continue;
                oa_arena_init(&a, 0);
                ev = m.value ? oa_event_unpack(m.value, m.value_len, &a) : NULL;
                if (project && (!ev || strcmp(ev->project_id, project) != 0)) {
                        oa_arena_done(&a);
                        oa_kmsg_done(&m);
                        continue;
                }
                oa_buf_init(&b, 16u << 20);
                oa_buf_addf(&b, "{\"partition\":%d,\"offset\":%lld,\"key\":\"", (int) m.partition,
                            (long long) m.offset);
                oa_buf_add_json_str(&b, m.key ? m.key : "", m.key ? m.key_len : 0);
                oa_buf_adds(&b, "\",");
                if (ev) {
                        oa_buf_adds(&b, "\"event\":");
                        event_json(&b, ev);
                        oa_buf_adds(&b, "}\n");
                } else {
                        oa_buf_adds(&b, "\"error\":\"undecodable\"}\n");
                }
                fwrite(b.data, 1, b.len, stdout);
                oa_buf_done(&b);
                oa_arena_done(&a);
                oa_kmsg_done(&m);
        }
        oa_kcons_free(kc);
        return 0;
}

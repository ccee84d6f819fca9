/* bench-sink-produce: fill oa.events.v1 with N realistic events for bench/sink/run.sh, and
 * write the same events as an oa.events RowBinary file (the sink's own encoder,
 * services/sink/rowbin.c) for the clickhouse-client baseline.
 *
 *   bench-sink-produce BROKERS N PROJECT_ID FILE.rowbinary
 *
 * The mix: 100,000 visitors (a few heavy, most light, as web traffic is), each visiting in
 * time order, 80% pageviews over 60 paths of 3 hostnames, 15% custom events with 1 to 3
 * properties, 5% conversions with revenue; referrers (search, social, direct, email), UTM
 * on a fifth, 12 countries, desktop/mobile/tablet browsers and OSes, real User-Agents and
 * IPs, titles; about 420 bytes of protobuf per event. Key = project/visitor as oa-edge
 * makes it. Deterministic (a fixed seed). Prints the count and bytes produced. */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VISITORS 100000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t) (rng >> 11);
}

#define PICK(a) (a[rnd() % (sizeof(a) / sizeof(a[0]))])

static const char *const hosts[] = { "shop.example.com", "www.example.com", "blog.example.com" };
static const char *const sections[] = { "products", "blog", "docs", "pricing", "account", "cart" };
static const char *const refs[][3] = {
        { "https://www.google.com/", "www.google.com", "search" },
        { "https://www.bing.com/search?q=shoes", "www.bing.com", "search" },
        { "https://t.co/abc123", "t.co", "social" },
        { "https://www.facebook.com/", "www.facebook.com", "social" },
        { "", "", "direct" }, { "", "", "direct" }, { "", "", "direct" },
        { "https://mail.example.net/", "mail.example.net", "email" },
        { "https://news.ycombinator.com/item?id=1", "news.ycombinator.com", "referral" },
};
static const char *const countries[] = { "US", "DE", "FR", "GB", "NL", "IN", "BR", "JP", "CA", "ES", "IT", "PL" };
static const char *const uas[][5] = {
        { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
          "Chrome", "124.0.0", "Windows", "desktop" },
        { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
          "Mobile Safari", "17.4", "iOS", "mobile" },
        { "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
          "Safari", "17.4", "Mac OS X", "desktop" },
        { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
          "Chrome Mobile", "124.0.0", "Android", "mobile" },
        { "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
          "Mobile Safari", "17.4", "iOS", "tablet" },
        { "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", "125.0", "Linux", "desktop" },
};
static const char *const names[] = { "signup", "add_to_cart", "video_play", "download", "search", "share" };

typedef struct visitor {
        char id[33];
        int64_t t;              /* time of its last event */
        uint8_t ua, country, ref;
} visitor;

static void on_report(const oa_kprod_report *r, void *opaque) {
        long *failed = opaque;

        if (r->err)
                (*failed)++;
}

int main(int argc, char **argv) {
        static visitor vs[VISITORS];
        oa_kafka_cfg kc = { 0 };
        const char *props[] = { "linger.ms", "50", "batch.size", "1000000", "compression.type", "lz4",
                                "queue.buffering.max.messages", "500000", "queue.buffering.max.kbytes", "1048576",
                                NULL };
        oa_kprod *kp = NULL;
        oa_buf rows;
        FILE *out;
        char err[512], url[256], path[160], title[160], eid[40], key[160], ip[40];
        uint8_t pb[8192];
        long n, failed = 0;
        size_t bytes = 0;
        int64_t t0 = (int64_t) time(NULL) * 1000 - 3LL * 3600 * 1000;

        if (argc != 5 || (n = strtol(argv[2], NULL, 10)) <= 0) {
                fprintf(stderr, "usage: bench-sink-produce BROKERS N PROJECT_ID FILE.rowbinary\n");
                return 2;
        }
        out = fopen(argv[4], "wb");
        if (!out) {
                perror(argv[4]);
                return 1;
        }
        kc.brokers = argv[1];
        kc.client_id = "bench-sink-produce";
        kc.props = props;
        if (oa_kprod_new(&kc, on_report, &failed, &kp, err, sizeof(err)) < 0) {
                fprintf(stderr, "producer: %s\n", err);
                return 1;
        }
        for (int i = 0; i < VISITORS; i++) {
                snprintf(vs[i].id, sizeof(vs[i].id), "%08x%08x%08x%08x", rnd(), rnd(), rnd(), rnd());
                vs[i].t = t0 + rnd() % 600000;
                vs[i].ua = (uint8_t) (rnd() % (sizeof(uas) / sizeof(uas[0])));
                vs[i].country = (uint8_t) (rnd() % (sizeof(countries) / sizeof(countries[0])));
                vs[i].ref = (uint8_t) (rnd() % (sizeof(refs) / sizeof(refs[0])));
        }
        oa_buf_init(&rows, 64u << 20);
        for (long i = 0; i < n; i++) {
                /* a few visitors are heavy: half the events go to the first 5% */
                uint32_t vi = rnd() % 2 ? rnd() % (VISITORS / 20) : rnd() % VISITORS;
                visitor *v = &vs[vi];
                Oa__Event ev = OA__EVENT__INIT;
                Oa__Property p[3] = { OA__PROPERTY__INIT, OA__PROPERTY__INIT, OA__PROPERTY__INIT };
                Oa__Property *pp[3] = { &p[0], &p[1], &p[2] };
                Oa__Revenue rev = OA__REVENUE__INIT;
                uint32_t kind = rnd() % 100, r = vi % 5 == 0;
                const char *host = hosts[vi % 3];
                size_t len;
                int rc;

                v->t += 1000 + rnd() % 240000;          /* seconds to minutes apart: sessions end */
                snprintf(path, sizeof(path), "/%s/item-%u", PICK(sections), rnd() % 10);
                snprintf(url, sizeof(url), "https://%s%s%s", host, path,
                         r ? "?utm_source=newsletter&utm_medium=email&utm_campaign=spring" : "");
                snprintf(title, sizeof(title), "Item %u - Example", rnd() % 10);
                snprintf(eid, sizeof(eid), "%08x-%04x-7%03x-8%03x-%08x%04x", (uint32_t) i, rnd() & 0xffff,
                         rnd() & 0xfff, rnd() & 0xfff, rnd(), rnd() & 0xffff);
                snprintf(ip, sizeof(ip), "203.0.%u.%u", vi % 250, (vi / 250) % 250);
                ev.version = 1;
                ev.event_id = eid;
                ev.project_id = argv[3];
                ev.site_id = (char *) "site_bench0000000000000";
                ev.source = kind < 80 ? OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT : OA__EVENT_SOURCE__EVENT_SOURCE_API;
                ev.event_type = (char *) (kind < 80 ? "pageview" : kind < 95 ? "event" : "conversion");
                ev.event_name = (char *) (kind < 80 ? "" : kind < 95 ? PICK(names) : "purchase");
                ev.timestamp_ms = v->t;
                ev.received_ms = v->t + 40;
                ev.visitor_id = v->id;
                ev.user_id = (char *) "";
                ev.url = url;
                ev.hostname = (char *) host;
                ev.path = path;
                ev.title = title;
                ev.referrer = (char *) refs[v->ref][0];
                ev.referrer_host = (char *) refs[v->ref][1];
                ev.referrer_source = (char *) refs[v->ref][2];
                ev.utm_source = (char *) (r ? "newsletter" : "");
                ev.utm_medium = (char *) (r ? "email" : "");
                ev.utm_campaign = (char *) (r ? "spring" : "");
                ev.utm_content = (char *) "";
                ev.utm_term = (char *) "";
                ev.ip = ip;
                ev.user_agent = (char *) uas[v->ua][0];
                ev.country = (char *) countries[v->country];
                ev.browser = (char *) uas[v->ua][1];
                ev.browser_version = (char *) uas[v->ua][2];
                ev.os = (char *) uas[v->ua][3];
                ev.os_version = (char *) "";
                ev.device = (char *) uas[v->ua][4];
                ev.screen_width = v->ua % 2 ? 390 : 1440;
                if (kind >= 80) {
                        ev.n_properties = 1 + rnd() % 3;
                        ev.properties = pp;
                        p[0].key = (char *) "plan";
                        p[0].value_case = OA__PROPERTY__VALUE_STRING_VALUE;
                        p[0].string_value = (char *) "pro";
                        p[1].key = (char *) "seats";
                        p[1].value_case = OA__PROPERTY__VALUE_NUMBER_VALUE;
                        p[1].number_value = rnd() % 20;
                        p[2].key = (char *) "annual";
                        p[2].value_case = OA__PROPERTY__VALUE_BOOL_VALUE;
                        p[2].bool_value = rnd() % 2;
                }
                if (kind >= 95) {
                        rev.amount = (rnd() % 20000) / 100.0;
                        rev.currency = (char *) "USD";
                        ev.revenue = &rev;
                }
                if (oa_event_pack_into(&ev, pb, sizeof(pb), &len) < 0)
                        return 1;
                snprintf(key, sizeof(key), "%s/%s", ev.project_id, v->id);
                while ((rc = oa_kprod_produce(kp, OA_TOPIC_EVENTS, key, strlen(key), pb, len, NULL)) == -ENOBUFS)
                        oa_kprod_poll(kp), oa_kprod_flush(kp, 10);
                if (rc < 0) {
                        fprintf(stderr, "produce: %s\n", strerror(-rc));
                        return 1;
                }
                bytes += len;
                /* the same row for clickhouse-client: session 0, partition 0, offset i */
                if (oa_sink_rb_event(&rows, &ev, 0, 0, i) < 0)
                        return 1;
                if (rows.len > (48u << 20)) {
                        fwrite(rows.data, 1, rows.len, out);
                        oa_buf_reset(&rows);
                }
                if (i % 10000 == 0)
                        oa_kprod_poll(kp);
        }
        fwrite(rows.data, 1, rows.len, out);
        oa_buf_done(&rows);
        if (fclose(out) != 0 || oa_kprod_flush(kp, 120000) < 0) {
                fprintf(stderr, "could not write everything\n");
                return 1;
        }
        oa_kprod_free(kp);
        printf("%ld %zu %ld\n", n, bytes, failed);
        return failed ? 1 : 0;
}

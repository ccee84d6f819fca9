/* bench-event: the CPU cost of turning request bodies into Kafka messages in oa-edge,
 * without sockets: parse + validate, then enrich (URL, UTM, referrer source, UUIDv7,
 * visitor hash) and pack to protobuf, for a realistic POST /collect body and for a /v1
 * batch of 100 events. Each case runs for BENCH_SECONDS (default 1) on one core, one
 * arena reset per request as oa-edge's per-request pool would be; prints events per
 * CPU-second of the one thread and ns per event; BENCH_CASE=<n> runs only the n-th case
 * (for perf); BENCH_REQUESTS=<n> runs exactly n requests per case instead of a time, so
 * that instructions per event are total instructions / (n * events per request), e.g.
 *   BENCH_CASE=1 BENCH_REQUESTS=2000 valgrind --tool=callgrind --toggle-collect=run \
 *           build-release/bench/bench-event
 * Built with the project (bench/meson.build); meaningful in a release build:
 * bench/event/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oa/event.h"

#define NOW 1747000000000LL

static const char collect_body[] =
        "{\"site_id\":\"site_0123456789abcdefABCD\",\"type\":\"pageview\","
        "\"url\":\"https://shop.example.com/products/running-shoes?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=spring_sale&color=blue\",\"referrer\":\"https://www.google.com/\","
        "\"title\":\"Running shoes \\u2013 Example Shop\",\"screen_width\":1440,"
        "\"props\":{\"logged_in\":\"yes\",\"ab_test\":\"checkout_v2\"}}";

static const char user_agent[] =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15";

static const char api_event[] =
        "{\"event_type\":\"conversion\",\"event_name\":\"purchase\",\"user_id\":\"u_8f14e45fceea167a5a36dedd4bea2543\","
        "\"url\":\"https://example.com/checkout/thanks?utm_source=google&utm_medium=cpc&gclid=EAIaIQobChMI\","
        "\"properties\":{\"plan\":\"pro\",\"seats\":5,\"annual\":true,\"coupon\":\"SPRING24\",\"items\":3},"
        "\"revenue\":49.99,\"currency\":\"USD\",\"timestamp\":1746999990000,"
        "\"ip\":\"203.0.113.42\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0\","
        "\"referrer\":\"https://www.bing.com/\"}";

/* CPU time of this thread: on a shared machine wall time would measure the neighbours */
static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void enrich_pack(Oa__Event *ev, oa_visitor_key *salt, oa_arena *a, bool browser, size_t *bytes) {
        oa_event_enrich_in in = { .project_id = "prj_0123456789abcdef", .site_id = "site_0123456789abcdefABCD",
                                  .now_ms = NOW, .salt = salt };
        char key[96];
        uint8_t *buf;
        size_t len;

        if (browser) {
                in.ip = "198.51.100.23";
                in.user_agent = user_agent;
                in.user_agent_len = sizeof(user_agent) - 1;
        }
        if (oa_event_enrich(ev, &in, a) < 0 || oa_event_kafka_key(ev, key, sizeof(key)) < 0 ||
            oa_event_pack(ev, a, &buf, &len) < 0) {
                fprintf(stderr, "bench-event: enrich or pack failed\n");
                exit(1);
        }
        *bytes += len;
}

typedef enum { COLLECT_PARSE, COLLECT_FULL, API_BATCH_PARSE, API_BATCH_FULL, API_ONE_FULL } bench_case;

/* Run one case for secs, or for exactly requests requests when that is not 0; returns
 * events per second. */
static double run(bench_case c, const char *body, size_t len, size_t per_req, double secs, size_t requests,
                  oa_visitor_key *salt, size_t *ret_bytes) {
        oa_arena a;
        oa_event_api_opts o;
        double start = now_s(), t;
        size_t events = 0, bytes = 0, done = 0;
        char err[OA_EVENT_ERR_MAX];

        oa_arena_init(&a, 0);
        oa_event_api_opts_default(&o, NOW);
        do {
                for (int i = 0; i < 64 && (!requests || done < requests); i++, done++) {
                        Oa__Event *ev;
                        oa_event_batch b;

                        oa_arena_reset(&a);
                        if (c == COLLECT_PARSE || c == COLLECT_FULL) {
                                if (oa_event_parse_collect(body, len, &a, &ev, err, sizeof(err)) < 0)
                                        goto fail;
                                if (c == COLLECT_FULL)
                                        enrich_pack(ev, salt, &a, true, &bytes);
                        } else {
                                if (oa_event_parse_api(body, len, &o, &a, &b, err, sizeof(err)) < 0 ||
                                    b.n_accepted != per_req)
                                        goto fail;
                                if (c != API_BATCH_PARSE)
                                        for (size_t k = 0; k < b.n; k++)
                                                enrich_pack(b.items[k].ev, salt, &a, false, &bytes);
                        }
                        events += per_req;
                }
                t = now_s() - start;
        } while (requests ? done < requests : t < secs);
        oa_arena_done(&a);
        *ret_bytes = events ? bytes / events : 0;
        return (double) events / t;
fail:
        fprintf(stderr, "bench-event: the body was refused: %s\n", err);
        exit(1);
}

int main(void) {
        const char *env = getenv("BENCH_SECONDS"), *only = getenv("BENCH_CASE");
        const char *nreq = getenv("BENCH_REQUESTS");
        double secs = env ? atof(env) : 1.0;
        size_t requests = nreq ? strtoul(nreq, NULL, 10) : 0;
        size_t blen = 0, one = sizeof(api_event) - 1, bytes;
        char *batch = malloc(16 + 100 * (one + 1));
        oa_visitor_key *salt = NULL;
        static const struct {
                const char *name;
                bench_case c;
        } cases[] = {
                { "collect: parse+validate", COLLECT_PARSE },
                { "collect: parse+validate+enrich+pack", COLLECT_FULL },
                { "v1 batch of 100: parse+validate", API_BATCH_PARSE },
                { "v1 batch of 100: parse+validate+enrich+pack", API_BATCH_FULL },
                { "v1 single event: parse+validate+enrich+pack", API_ONE_FULL },
        };

        if (secs <= 0)
                secs = 1.0;
        if (!batch || oa_visitor_key_new("bench-salt-0123456789abcdef", 27, &salt) < 0)
                return 1;
        blen += (size_t) sprintf(batch, "{\"events\":[");
        for (int i = 0; i < 100; i++) {
                if (i)
                        batch[blen++] = ',';
                memcpy(batch + blen, api_event, one);
                blen += one;
        }
        blen += (size_t) sprintf(batch + blen, "]}");

        printf("%-46s %14s %10s %12s\n", "case", "events/cpu-s", "ns/event", "bytes/event");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                bench_case c = cases[i].c;
                bool coll = c == COLLECT_PARSE || c == COLLECT_FULL;
                const char *body = coll ? collect_body : c == API_ONE_FULL ? api_event : batch;
                size_t len = coll ? sizeof(collect_body) - 1 : c == API_ONE_FULL ? one : blen;
                size_t per = c == API_BATCH_PARSE || c == API_BATCH_FULL ? 100 : 1;
                double eps;

                if (only && atoi(only) != (int) i)
                        continue;
                eps = run(c, body, len, per, secs, requests, salt, &bytes);

                printf("%-46s %14.0f %10.0f %12zu\n", cases[i].name, eps, 1e9 / eps, bytes);
        }
        printf("(collect body %zu bytes, v1 event %zu bytes, batch %zu bytes)\n", sizeof(collect_body) - 1, one, blen);
        oa_visitor_key_free(salt);
        free(batch);
        return 0;
}

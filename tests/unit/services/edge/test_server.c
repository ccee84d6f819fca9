/* oa-edge's routes in process, over loopback: the daemon's pieces wired as main.c wires
 * them (catalogue reader and both producers on librdkafka's mock cluster, Redis at an
 * address where nothing listens so limits and salts fall back to the process, the
 * idempotency store replaced by a fake, uap-core's rules and the location database of
 * the machine, the HTTP server on a free port) run on a thread; libcurl asks the
 * questions and a reader of the mock topic checks what was produced. Covers /collect's
 * 204, CORS and drops, /v1's 202 from the delivery report, duplicates, 503 when Kafka
 * refuses (with the idempotency mark removed) and while an id is being written, and the
 * error answers. */
#include "edge.h"

#include "../../libshared/test_kafka_mock.h"

#include "oa/entity.h"
#include "oa/key.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHROME "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
               "Chrome/120.0.0.0 Safari/537.36"
#define EID "0190a6f0-7c4e-7b3a-9f1e-2c3d4e5f6a71"

/* The idempotency store: key -> 'p' or '1'. */
#define FAKE_MAX 16

typedef struct fake {
        char keys[FAKE_MAX][128];
        char val[FAKE_MAX];
} fake;

typedef struct fixture {
        mock m;
        oa_edge_cfg cfg;
        oa_edge e;
        fake store;
        pthread_t thread;
        sem_t done;
        bool running;
        char base[64];
        char acc[OA_ENTITY_ID_MAX], prj[OA_ENTITY_ID_MAX], site[OA_ENTITY_ID_MAX], other_prj[OA_ENTITY_ID_MAX];
        char writer[OA_KEY_SECRET_LEN + 1], reader[OA_KEY_SECRET_LEN + 1];
} fixture;

static fixture fx;

static int find(const char *k) {
        for (int i = 0; i < FAKE_MAX; i++)
                if (fx.store.val[i] && strcmp(fx.store.keys[i], k) == 0)
                        return i;
        return -1;
}

static void fake_set(const char *k, char v) {
        int at = find(k);

        if (at < 0)
                for (at = 0; fx.store.val[at]; at++)
                        ;
        snprintf(fx.store.keys[at], sizeof(fx.store.keys[at]), "%s", k);
        fx.store.val[at] = v;
}

static int fake_mark(void *ctx, const char *const *keys, size_t n, oa_edge_mark *ret) {
        for (size_t i = 0; i < n; i++) {
                int at = find(keys[i]);

                ret[i] = at < 0 ? OA_EDGE_MARK_NEW : fx.store.val[at] == '1' ? OA_EDGE_MARK_DONE : OA_EDGE_MARK_PENDING;
                if (at < 0)
                        fake_set(keys[i], 'p');
        }
        return 0;
}

static int fake_confirm(void *ctx, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++)
                fake_set(keys[i], '1');
        return 0;
}

static int fake_unmark(void *ctx, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int at = find(keys[i]);

                if (at >= 0)
                        fx.store.val[at] = 0;
        }
        return 0;
}

/* ---- seeding the catalogue ---- */

static void publish(oa_kprod *kp, Oa__Record *rec) {
        cr_assert_eq(oa_projects_publish(kp, NULL, rec, NULL), 0);
}

static void seed_project(oa_kprod *kp, char *id, char *site, const char *account) {
        Oa__Record rec = OA__RECORD__INIT;
        Oa__Project p = OA__PROJECT__INIT;
        char other_site[OA_ENTITY_ID_MAX];

        cr_assert_eq(oa_entity_id_new(OA_ENTITY_PROJECT, id), 0);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_SITE, site ? site : other_site), 0);
        p.id = id;
        p.account_id = (char *) account;
        p.site_id = site ? site : other_site;
        p.name = "Shop";
        p.timezone = "UTC";
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        publish(kp, &rec);
}

static void seed_key(oa_kprod *kp, char *secret, const char *scope) {
        char id[OA_ENTITY_ID_MAX], *names[1] = { (char *) scope };
        uint8_t hash[OA_KEY_HASH_LEN];
        Oa__Record rec = OA__RECORD__INIT;
        Oa__ApiKey k = OA__API_KEY__INIT;

        cr_assert_eq(oa_key_generate(secret), 0);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_KEY, id), 0);
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        k.id = id;
        k.account_id = fx.acc;
        k.scopes = names;
        k.n_scopes = 1;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        publish(kp, &rec);
}

static void seed(void) {
        oa_kafka_cfg c = { .brokers = fx.m.brokers, .client_id = "seed", .envp = no_env };
        Oa__Record rec = OA__RECORD__INIT;
        Oa__Account a = OA__ACCOUNT__INIT;
        char other_acc[OA_ENTITY_ID_MAX];
        oa_kprod *kp = NULL;
        char err[256];

        cr_assert_eq(oa_kprod_new(&c, NULL, NULL, &kp, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_ACCOUNT, fx.acc), 0);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_ACCOUNT, other_acc), 0);
        a.id = fx.acc;
        a.plan = OA__PLAN__PLAN_BUSINESS;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        publish(kp, &rec);
        a.id = other_acc;
        publish(kp, &rec);
        seed_project(kp, fx.prj, fx.site, fx.acc);
        seed_project(kp, fx.other_prj, NULL, other_acc);
        seed_key(kp, fx.writer, "events:write");
        seed_key(kp, fx.reader, "stats:read");
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        oa_kprod_free(kp);
}

/* ---- the daemon on a thread ---- */

/* h2o keeps freed pool chunks in thread-local lists: the serving thread parks once the
 * loop returned, so LeakSanitizer sees them still reachable (as in oa-query's test). */
static void *serve(void *arg) {
        oa_http_server_run(fx.e.srv, oa_edge_on_turn, &fx.e);
        sem_post(&fx.done);
        for (;;)
                pause();
        return NULL;
}

static void setup(void) {
        static const char *const fetch_fast[] = { "fetch.wait.max.ms", "10", NULL };
        oa_kafka_cfg kc;
        oa_http_server_cfg hc;
        char err[512];

        memset(&fx, 0, sizeof(fx));
        mock_start(&fx.m, 1);
        mock_topic(&fx.m, OA_TOPIC_PROJECTS, 1);
        mock_topic(&fx.m, OA_TOPIC_EVENTS, 2);
        seed();
        curl_global_init(CURL_GLOBAL_ALL);

        fx.cfg = (oa_edge_cfg) {
                .listen = "127.0.0.1:0", .log_level = "debug", .trusted_proxies = "127.0.0.1",
                .collect_max_body = 16384, .ip_rate = 50, .ip_burst = 100, .site_rate_scale = 1,
                .ts_past_ms = OA_EVENT_API_PAST_MS, .ts_future_ms = OA_EVENT_API_FUTURE_MS,
                .ack_timeout_ms = 1500, .auth_fail_limit = 20, .drops_flush_ms = 100,
        };
        fx.e = (oa_edge) { .cfg = &fx.cfg, .wake = { -1, -1 } };
        cr_assert_eq(oa_edge_cfg_check(&fx.cfg, &fx.e.proxies, err, sizeof(err)), 0, "%s", err);
        oa_event_api_opts_default(&fx.e.api_opts, 0);
        cr_assert_eq(oa_metrics_new(&fx.e.metrics), 0);
        cr_assert_eq(oa_edge_metrics_setup(&fx.e), 0);
        /* nothing listens on port 1: Redis is away, the process decides alone */
        cr_assert_eq(oa_rds_new("redis://127.0.0.1:1", 20, &fx.e.rds, err, sizeof(err)), 0, "%s", err);
        fx.e.idem = (oa_edge_idem_ops) { .mark = fake_mark, .confirm = fake_confirm, .unmark = fake_unmark };
        cr_assert_eq(oa_rl_new(fx.e.rds, 1000, &fx.e.rl), 0);
        cr_assert_eq(oa_tb_new(fx.e.rds, 1000, &fx.e.tb), 0);
        cr_assert_eq(oa_gate_new(fx.e.rl, fx.cfg.auth_fail_limit, &fx.e.gate), 0);
        cr_assert_eq(oa_edge_drops_init(&fx.e.drops, 100), 0);
        fx.e.leases = oa_map_new();
        fx.e.salt.day = -1;
        oa_edge_salt_refresh(&fx.e, oa_edge_now_ms(), oa_edge_mono_ms());
        cr_assert_not_null(fx.e.salt.key, "a process-local salt without Redis");
        cr_assert_eq(oa_ua_new(NULL, 100, &fx.e.ua, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_geo_new(NULL, &fx.e.geo, err, sizeof(err)), 0, "%s", err);
        kc = (oa_kafka_cfg) { .brokers = fx.m.brokers, .client_id = "oa-edge-test", .envp = no_env,
                              .props = fetch_fast };
        cr_assert_eq(oa_projects_new(&kc, NULL, 10000, oa_edge_on_bad_record, &fx.e, &fx.e.projects, err,
                                     sizeof(err)), 0, "%s", err);
        kc.props = NULL;
        kc.close_timeout_ms = 1000;
        kc.message_timeout_ms = 30000;
        cr_assert_eq(oa_kprod_new(&kc, oa_edge_on_delivery, &fx.e, &fx.e.kcollect, err, sizeof(err)), 0, "%s", err);
        kc.message_timeout_ms = (int) fx.cfg.ack_timeout_ms;
        cr_assert_eq(oa_kprod_new(&kc, oa_edge_on_delivery, &fx.e, &fx.e.kapi, err, sizeof(err)), 0, "%s", err);
        oa_http_server_cfg_init(&hc);
        hc.listen = fx.cfg.listen;
        hc.metrics = fx.e.metrics;
        hc.max_request_body = 4u << 20;
        hc.drain_timeout_ms = 4000;
        cr_assert_eq(oa_http_server_new(&hc, &fx.e.srv, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_edge_collect_mount(&fx.e), 0);
        cr_assert_eq(oa_edge_v1_mount(&fx.e), 0);
        cr_assert_eq(oa_http_server_mount_builtin(fx.e.srv, oa_edge_ready, &fx.e), 0);
        cr_assert_eq(oa_edge_feed_start(&fx.e, err, sizeof(err)), 0, "%s", err);
        fx.e.answering = true;
        snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d", oa_http_server_port(fx.e.srv));
        sem_init(&fx.done, 0, 0);
        cr_assert_eq(pthread_create(&fx.thread, NULL, serve, NULL), 0);
        fx.running = true;
}

static void teardown(void) {
        if (fx.running) {
                oa_http_server_stop(fx.e.srv);
                sem_wait(&fx.done);
        }
        fx.e.answering = false;
        oa_edge_feed_stop(&fx.e);
        fx.e.srv = oa_http_server_free(fx.e.srv);
        fx.e.kapi = oa_kprod_free(fx.e.kapi);
        fx.e.kcollect = oa_kprod_free(fx.e.kcollect);
        fx.e.projects = oa_projects_free(fx.e.projects);
        fx.e.geo = oa_geo_free(fx.e.geo);
        fx.e.ua = oa_ua_free(fx.e.ua);
        oa_edge_salt_done(&fx.e);
        oa_edge_leases_free(&fx.e);
        oa_edge_drops_done(&fx.e.drops);
        fx.e.gate = oa_gate_free(fx.e.gate);
        fx.e.tb = oa_tb_free(fx.e.tb);
        fx.e.rl = oa_rl_free(fx.e.rl);
        fx.e.rds = oa_rds_free(fx.e.rds);
        fx.e.metrics = oa_metrics_free(fx.e.metrics);
        mock_stop(&fx.m);
        curl_global_cleanup();
}

/* ---- a small HTTP client ---- */

typedef struct resp {
        long status;
        char body[16384];
        size_t len;
        char headers[4096];
        size_t hlen;
} resp;

static size_t on_data(char *p, size_t size, size_t n, void *ud, char *buf, size_t cap, size_t *len) {
        size_t k = size * n, room = cap - 1 - *len;

        memcpy(buf + *len, p, k < room ? k : room);
        *len += k < room ? k : room;
        buf[*len] = '\0';
        return k;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
        resp *r = ud;

        return on_data(p, size, n, ud, r->body, sizeof(r->body), &r->len);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
        resp *r = ud;

        return on_data(p, size, n, ud, r->headers, sizeof(r->headers), &r->hlen);
}

/* method path body with the key (NULL: none) and extra header lines (NULL-ended). */
static resp *call(const char *method, const char *path, const char *key, const char *body, size_t body_len,
                  const char *const *extra) {
        static resp r;
        struct curl_slist *h = NULL;
        char url[512], line[128];
        CURL *c = curl_easy_init();
        CURLcode rc;

        memset(&r, 0, sizeof(r));
        snprintf(url, sizeof(url), "%s%s", fx.base, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        if (key) {
                snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
                h = curl_slist_append(h, line);
        }
        for (size_t i = 0; extra && extra[i]; i++)
                h = curl_slist_append(h, extra[i]);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) body_len);
        }
        rc = curl_easy_perform(c);
        cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return &r;
}

static resp *events(const char *project, const char *key, const char *body) {
        char path[128];

        snprintf(path, sizeof(path), "/v1/projects/%s/events", project);
        return call("POST", path, key, body, strlen(body), NULL);
}

static resp *collect(const char *body, const char *ua) {
        char ua_line[300];
        const char *extra[] = { "Content-Type: text/plain", ua_line, "X-Forwarded-For: 81.2.69.142", NULL };

        snprintf(ua_line, sizeof(ua_line), "User-Agent: %s", ua);
        return call("POST", "/collect", NULL, body, strlen(body), extra);
}

static bool has_header(const resp *r, const char *line) {
        return strstr(r->headers, line) != NULL;
}

static void wait_ready(void) {
        for (int i = 0; i < 300; i++) {
                if (call("GET", "/readyz", NULL, NULL, 0, NULL)->status == 200)
                        return;
                usleep(20000);
        }
        cr_assert_fail("not ready");
}

/* The events on the mock topic whose event_name or path is tag: how many, and the last
 * one into *ret (copied fields only). */
static int produced_now(const char *tag, char *ret_country, char *ret_browser, char *ret_source) {
        oa_kafka_cfg c = { .brokers = fx.m.brokers, .client_id = "test-reader", .envp = no_env };
        oa_kcons *kc = NULL;
        char err[256];
        int n = 0;

        cr_assert_eq(oa_kcons_new_reader(&c, OA_TOPIC_EVENTS, 10000, &kc, err, sizeof(err)), 0, "%s", err);
        for (int64_t end = mono_ms() + 10000; !oa_kcons_caught_up(kc) && mono_ms() < end;) {
                oa_kmsg m;
                oa_arena a;
                Oa__Event *ev;

                if (oa_kcons_poll(kc, 100, &m, err, sizeof(err)) != 1)
                        continue;
                oa_arena_init(&a, 0);
                ev = oa_event_unpack(m.value, m.value_len, &a);
                if (ev && (strcmp(ev->event_name, tag) == 0 || strcmp(ev->path, tag) == 0)) {
                        n++;
                        if (ret_country)
                                snprintf(ret_country, 3, "%s", ev->country);
                        if (ret_browser)
                                snprintf(ret_browser, 32, "%s", ev->browser);
                        if (ret_source)
                                snprintf(ret_source, 16, "%s", ev->source == OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT
                                         ? "collect" : "api");
                }
                oa_arena_done(&a);
                oa_kmsg_done(&m);
        }
        oa_kcons_free(kc);
        return n;
}

/* produced_now, asked again for up to 3 s until want events are there (a /collect event
 * is answered before Kafka has it), then once more after 300 ms, so that more than want
 * would show. */
static int produced(const char *tag, int want, char *ret_country, char *ret_browser, char *ret_source) {
        for (int64_t end = mono_ms() + 3000; mono_ms() < end; usleep(50000))
                if (produced_now(tag, NULL, NULL, NULL) >= want)
                        break;
        usleep(300000);
        return produced_now(tag, ret_country, ret_browser, ret_source);
}

TestSuite(edge_server, .init = setup, .fini = teardown, .timeout = 90);

Test(edge_server, collect_is_204_with_cors_and_lands_enriched) {
        char body[256], country[3] = "", browser[32] = "", source[16] = "";
        resp *r;

        wait_ready();
        snprintf(body, sizeof(body), "{\"site_id\":\"%s\",\"type\":\"pageview\",\"url\":\"https://shop.example.com/c1\"}",
                 fx.site);
        r = collect(body, CHROME);
        cr_assert_eq(r->status, 204, "%ld %s", r->status, r->body);
        cr_assert_eq(r->len, 0);
        cr_assert(has_header(r, "Access-Control-Allow-Origin: *"), "%s", r->headers);
        r = call("OPTIONS", "/collect", NULL, NULL, 0, NULL);
        cr_assert_eq(r->status, 204);
        cr_assert(has_header(r, "Access-Control-Allow-Methods: POST, OPTIONS"), "%s", r->headers);
        cr_assert(has_header(r, "Access-Control-Allow-Headers: Content-Type"), "%s", r->headers);
        cr_assert_eq(produced("/c1", 1, country, browser, source), 1);
        cr_assert_str_eq(country, "GB");
        cr_assert_str_eq(browser, "Chrome");
        cr_assert_str_eq(source, "collect");
}

Test(edge_server, collect_drops_are_204_and_counted) {
        char body[256];
        resp *r;

        wait_ready();
        snprintf(body, sizeof(body), "{\"site_id\":\"%s\",\"type\":\"pageview\",\"url\":\"https://shop.example.com/b\"}",
                 fx.site);
        cr_assert_eq(collect(body, "Googlebot/2.1 (+http://www.google.com/bot.html)")->status, 204);
        cr_assert_eq(collect("{\"site_id\":\"site_00000000000000000000\",\"type\":\"pageview\",\"url\":\"https://x.io/\"}",
                             CHROME)->status, 204);
        cr_assert_eq(collect("{\"site_id\":", CHROME)->status, 204);
        r = call("GET", "/metrics", NULL, NULL, 0, NULL);
        cr_assert(strstr(r->body, "oa_edge_collect_dropped_total{reason=\"bot\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_edge_collect_dropped_total{reason=\"unknown_site\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_edge_collect_dropped_total{reason=\"invalid\"} 1"), "%s", r->body);
        cr_assert_eq(produced("/b", 0, NULL, NULL, NULL), 0, "a bot's event is not produced");
}

Test(edge_server, v1_is_202_after_the_ack_then_a_duplicate) {
        char key[128];
        resp *r;

        wait_ready();
        r = events(fx.prj, fx.writer, "{\"event_type\":\"event\",\"event_name\":\"once\",\"event_id\":\"" EID "\","
                                      "\"ip\":\"81.2.69.142\",\"user_agent\":\"" CHROME "\"}");
        cr_assert_eq(r->status, 202, "%ld %s", r->status, r->body);
        cr_assert_str_eq(r->body, "{\"status\":\"queued\",\"event_id\":\"" EID "\"}");
        cr_assert(has_header(r, "X-RateLimit-Limit: 6000"), "%s", r->headers);
        snprintf(key, sizeof(key), "oa:idem:%s:%s", fx.prj, EID);
        cr_assert_geq(find(key), 0);
        cr_assert_eq(fx.store.val[find(key)], '1', "acknowledged before the 202: final mark");
        r = events(fx.prj, fx.writer, "{\"event_type\":\"event\",\"event_name\":\"once\",\"event_id\":\"" EID "\"}");
        cr_assert_eq(r->status, 202, "%ld %s", r->status, r->body);
        cr_assert(strstr(r->body, "\"duplicate\":true"), "%s", r->body);
        cr_assert_eq(produced("once", 1, NULL, NULL, NULL), 1, "written exactly once");
}

Test(edge_server, v1_batch_answers_per_item) {
        resp *r;

        wait_ready();
        r = events(fx.prj, fx.writer, "{\"events\":[{\"event_type\":\"event\",\"event_name\":\"b1\"},"
                                      "{\"event_type\":\"BAD\"},{\"event_type\":\"event\",\"event_name\":\"b1\"}]}");
        cr_assert_eq(r->status, 202, "%ld %s", r->status, r->body);
        cr_assert(strstr(r->body, "\"accepted\":2,\"duplicates\":0,\"rejected\":[{\"index\":1,"), "%s", r->body);
        cr_assert_eq(produced("b1", 2, NULL, NULL, NULL), 2);
}

Test(edge_server, v1_kafka_refusing_is_503_and_the_mark_is_removed) {
        char key[128];
        resp *r;

        wait_ready();
        /* a permanent error for the message alone (an authorization error would make the
         * producer forget the topic's partitions for a while) */
        rd_kafka_mock_push_request_errors(fx.m.mc, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        r = events(fx.prj, fx.writer, "{\"event_type\":\"event\",\"event_name\":\"refused\",\"event_id\":\"" EID "\"}");
        cr_assert_eq(r->status, 503, "%ld %s", r->status, r->body);
        cr_assert(has_header(r, "Retry-After: "), "%s", r->headers);
        cr_assert(strstr(r->body, "\"error\":\"unavailable\""), "%s", r->body);
        snprintf(key, sizeof(key), "oa:idem:%s:%s", fx.prj, EID);
        cr_assert_lt(find(key), 0, "the retry must not be a duplicate");
        r = events(fx.prj, fx.writer, "{\"event_type\":\"event\",\"event_name\":\"refused\",\"event_id\":\"" EID "\"}");
        cr_assert_eq(r->status, 202, "the retry is written: %ld %s", r->status, r->body);
        cr_assert_eq(produced("refused", 1, NULL, NULL, NULL), 1);
        cr_assert_eq(fx.store.val[find(key)], '1', "acknowledged: final mark");
}

Test(edge_server, v1_an_id_being_written_is_503_not_duplicate) {
        char key[128];
        resp *r;

        wait_ready();
        snprintf(key, sizeof(key), "oa:idem:%s:%s", fx.prj, EID);
        fake_set(key, 'p');
        r = events(fx.prj, fx.writer, "{\"events\":[{\"event_type\":\"event\",\"event_name\":\"p1\"},"
                                      "{\"event_type\":\"event\",\"event_name\":\"p2\",\"event_id\":\"" EID "\"}]}");
        cr_assert_eq(r->status, 503, "%ld %s", r->status, r->body);
        cr_assert(strstr(r->body, "still being written"), "%s", r->body);
        cr_assert_eq(produced("p1", 0, NULL, NULL, NULL), 0, "nothing of the request is written");
}

Test(edge_server, v1_errors) {
        char big[1100 * 1024];
        resp *r;

        wait_ready();
        r = events(fx.prj, NULL, "{}");
        cr_assert_eq(r->status, 401);
        cr_assert(has_header(r, "WWW-Authenticate: Bearer"), "%s", r->headers);
        cr_assert_eq(events(fx.prj, fx.reader, "{}")->status, 403);
        cr_assert_eq(events(fx.other_prj, fx.writer, "{}")->status, 404);
        cr_assert_eq(events("prj_nope", fx.writer, "{}")->status, 404);
        r = events(fx.prj, fx.writer, "{\"event_type\":\"pageview\",\"timestamp\":1}");
        cr_assert_eq(r->status, 400);
        cr_assert(strstr(r->body, "\"message\":\"timestamp: "), "%s", r->body);
        memset(big, ' ', sizeof(big));
        memcpy(big, "{\"event_type\":\"pageview\"}", 25);
        r = call("POST", "/v1/projects/x/events", fx.writer, big, sizeof(big), NULL);
        cr_assert_eq(r->status, 404, "the project is checked before the body");
        snprintf(big, 64, "/v1/projects/%s/events", fx.prj);
        r = call("POST", big, fx.writer, big + 64, sizeof(big) - 64, NULL);
        cr_assert_eq(r->status, 413, "%ld %s", r->status, r->body);
        cr_assert(strstr(r->body, "payload_too_large"), "%s", r->body);
        r = call("GET", big, fx.writer, NULL, 0, NULL);
        cr_assert_eq(r->status, 405);
        cr_assert_eq(call("GET", "/v1/projects", fx.writer, NULL, 0, NULL)->status, 404);
}

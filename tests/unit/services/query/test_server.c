/* oa-query's routes in process, over loopback: the daemon's pieces wired as main.c wires
 * them (catalogue reader and producer on librdkafka's mock cluster, the limiter in
 * process without Redis, the HTTP server on a free port) run on a thread; libcurl asks the
 * questions. Covers the 401/403/404 matrix, the rate-limit headers, the failed-auth limit
 * per client address behind a trusted proxy, writes answered from Kafka's delivery
 * report (and 503 when Kafka refuses), and the error answers. */
#include "query.h"

#include "../../libshared/test_kafka_mock.h"

#include "oa/key.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define AUTH_FAIL_LIMIT 3
#define SMALL_LIMIT 5                   /* the enterprise account's budget */

typedef struct fixture {
        mock m;
        oa_query_cfg cfg;
        oa_query q;
        pthread_t thread;
        sem_t done;
        bool running;
        char base[64];
        /* ids and secrets of the seeded catalogue */
        char acc_a[OA_ENTITY_ID_MAX], acc_b[OA_ENTITY_ID_MAX], acc_small[OA_ENTITY_ID_MAX];
        char p1[OA_ENTITY_ID_MAX], p2[OA_ENTITY_ID_MAX], pb[OA_ENTITY_ID_MAX];
        char owner[OA_KEY_SECRET_LEN + 1], reader[OA_KEY_SECRET_LEN + 1], stats[OA_KEY_SECRET_LEN + 1],
                limited[OA_KEY_SECRET_LEN + 1], revoked[OA_KEY_SECRET_LEN + 1], other[OA_KEY_SECRET_LEN + 1],
                small[OA_KEY_SECRET_LEN + 1];
        char owner_id[OA_ENTITY_ID_MAX], other_id[OA_ENTITY_ID_MAX];
} fixture;

static fixture fx;

/* ---- seeding the catalogue ---- */

static void publish(oa_kprod *kp, Oa__Record *rec) {
        cr_assert_eq(oa_projects_publish(kp, NULL, rec, NULL), 0);
}

static void seed_account(oa_kprod *kp, char *id, Oa__Plan plan, unsigned limit) {
        Oa__Record rec = OA__RECORD__INIT;
        Oa__Account a = OA__ACCOUNT__INIT;

        cr_assert_eq(oa_entity_id_new(OA_ENTITY_ACCOUNT, id), 0);
        a.id = id;
        a.name = "Acme";
        a.plan = plan;
        a.custom_limit = limit;
        rec.entity_case = OA__RECORD__ENTITY_ACCOUNT;
        rec.account = &a;
        publish(kp, &rec);
}

static void seed_project(oa_kprod *kp, char *id, const char *account, int64_t created) {
        char site[OA_ENTITY_ID_MAX], *domains[] = { "shop.example.com" };
        Oa__Record rec = OA__RECORD__INIT;
        Oa__Project p = OA__PROJECT__INIT;

        cr_assert_eq(oa_entity_id_new(OA_ENTITY_PROJECT, id), 0);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_SITE, site), 0);
        p.id = id;
        p.account_id = (char *) account;
        p.site_id = site;
        p.name = "Shop";
        p.domains = domains;
        p.n_domains = 1;
        p.timezone = "Europe/Berlin";
        p.created_ms = created;
        rec.entity_case = OA__RECORD__ENTITY_PROJECT;
        rec.project = &p;
        publish(kp, &rec);
}

static void seed_key(oa_kprod *kp, char *secret, char *ret_id, const char *account, const char *scopes,
                     char *project, bool revoked) {
        char id[OA_ENTITY_ID_MAX], hint[OA_KEY_HINT_MAX], err[64], *names[8], *projects[] = { project };
        uint8_t hash[OA_KEY_HASH_LEN];
        Oa__Record rec = OA__RECORD__INIT;
        Oa__ApiKey k = OA__API_KEY__INIT;
        unsigned mask;
        size_t n = 0;

        cr_assert_eq(oa_key_generate(secret), 0);
        cr_assert_eq(oa_entity_id_new(OA_ENTITY_KEY, id), 0);
        if (ret_id)
                strcpy(ret_id, id);
        cr_assert_eq(oa_scope_parse(scopes, &mask, err, sizeof(err)), 0);
        for (unsigned b = 1; b <= OA_SCOPE_ALL; b <<= 1)
                if (mask & b)
                        names[n++] = (char *) oa_scope_name(b);
        oa_key_hash(secret, OA_KEY_SECRET_LEN, hash);
        oa_key_hint(secret, hint);
        k.id = id;
        k.account_id = (char *) account;
        k.name = "test";
        k.scopes = names;
        k.n_scopes = n;
        k.project_ids = projects;
        k.n_project_ids = project ? 1 : 0;
        k.secret_sha256.data = hash;
        k.secret_sha256.len = sizeof(hash);
        k.hint = hint;
        k.revoked = revoked;
        rec.entity_case = OA__RECORD__ENTITY_API_KEY;
        rec.api_key = &k;
        publish(kp, &rec);
}

static void seed(void) {
        oa_kafka_cfg c = { .brokers = fx.m.brokers, .client_id = "seed", .envp = no_env };
        oa_kprod *kp = NULL;
        char err[256];

        cr_assert_eq(oa_kprod_new(&c, NULL, NULL, &kp, err, sizeof(err)), 0, "%s", err);
        seed_account(kp, fx.acc_a, OA__PLAN__PLAN_BUSINESS, 0);
        seed_account(kp, fx.acc_b, OA__PLAN__PLAN_PRO, 0);
        seed_account(kp, fx.acc_small, OA__PLAN__PLAN_ENTERPRISE, SMALL_LIMIT);
        seed_project(kp, fx.p1, fx.acc_a, 1000);
        seed_project(kp, fx.p2, fx.acc_a, 2000);
        seed_project(kp, fx.pb, fx.acc_b, 1500);
        seed_key(kp, fx.owner, fx.owner_id, fx.acc_a, "*", NULL, false);
        seed_key(kp, fx.reader, NULL, fx.acc_a, "projects:read,keys:write", NULL, false);
        seed_key(kp, fx.stats, NULL, fx.acc_a, "stats:read", NULL, false);
        seed_key(kp, fx.limited, NULL, fx.acc_a, "projects:read,projects:write,keys:write", fx.p1, false);
        seed_key(kp, fx.revoked, NULL, fx.acc_a, "*", NULL, true);
        seed_key(kp, fx.other, fx.other_id, fx.acc_b, "*", NULL, false);
        seed_key(kp, fx.small, NULL, fx.acc_small, "projects:read", NULL, false);
        cr_assert_eq(oa_kprod_flush(kp, 10000), 0);
        oa_kprod_free(kp);
}

/* ---- the daemon on a thread ---- */

/* h2o keeps freed pool chunks in thread-local lists: the serving thread never ends (it
 * parks once the loop returned), so LeakSanitizer sees them still reachable. */
static void *serve(void *arg) {
        oa_http_server_run(fx.q.srv, oa_query_on_turn, &fx.q);
        sem_post(&fx.done);
        for (;;)
                pause();
        return NULL;
}

static void setup(void) {
        oa_kafka_cfg kc;
        oa_http_server_cfg hc;
        char err[512];

        memset(&fx, 0, sizeof(fx));
        mock_start(&fx.m, 1);
        mock_topic(&fx.m, OA_TOPIC_PROJECTS, 1);
        seed();
        curl_global_init(CURL_GLOBAL_ALL);

        fx.cfg = (oa_query_cfg) {
                .listen = "127.0.0.1:0",
                .log_level = "debug",
                .auth_fail_limit = AUTH_FAIL_LIMIT,
                .trusted_proxies = "127.0.0.1",
                .kafka_timeout_ms = 10000,
                .write_timeout_ms = 3000,
                .export_spool_dir = "/tmp",
        };
        fx.q = (oa_query) { .cfg = &fx.cfg, .wake = { -1, -1 } };
        cr_assert_eq(oa_query_cfg_check(&fx.cfg, &fx.q.proxies, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_metrics_new(&fx.q.metrics), 0);
        cr_assert_eq(oa_query_metrics_setup(&fx.q), 0);
        /* The mock cluster answers a fetch only when fetch.wait.max.ms is over (a broker
         * answers as soon as a record arrives): keep the reader's short. */
        static const char *const fetch_fast[] = { "fetch.wait.max.ms", "10", NULL };
        kc = (oa_kafka_cfg) { .brokers = fx.m.brokers, .client_id = "oa-query-test", .envp = no_env,
                              .props = fetch_fast };
        cr_assert_eq(oa_projects_new(&kc, NULL, 10000, oa_query_on_bad_record, &fx.q, &fx.q.projects, err,
                                     sizeof(err)), 0, "%s", err);
        kc.props = NULL;
        kc.message_timeout_ms = 3000;
        kc.close_timeout_ms = 1000;
        cr_assert_eq(oa_kprod_new(&kc, oa_query_on_delivery, &fx.q, &fx.q.kprod, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_rl_new(NULL, 1000, &fx.q.rl), 0);
        cr_assert_eq(oa_gate_new(fx.q.rl, fx.cfg.auth_fail_limit, &fx.q.gate), 0);
        oa_http_server_cfg_init(&hc);
        hc.listen = fx.cfg.listen;
        hc.metrics = fx.q.metrics;
        hc.drain_timeout_ms = 4000;
        cr_assert_eq(oa_http_server_new(&hc, &fx.q.srv, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_query_api_mount(&fx.q), 0);
        cr_assert_eq(oa_http_server_mount_builtin(fx.q.srv, oa_query_ready, &fx.q), 0);
        cr_assert_eq(oa_query_feed_start(&fx.q, err, sizeof(err)), 0, "%s", err);
        fx.q.answering = true;
        snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%d", oa_http_server_port(fx.q.srv));
        sem_init(&fx.done, 0, 0);
        cr_assert_eq(pthread_create(&fx.thread, NULL, serve, NULL), 0);
        fx.running = true;
}

static void teardown(void) {
        if (fx.running) {
                oa_http_server_stop(fx.q.srv);
                sem_wait(&fx.done);
        }
        fx.q.answering = false;
        oa_query_feed_stop(&fx.q);
        fx.q.srv = oa_http_server_free(fx.q.srv);
        fx.q.gate = oa_gate_free(fx.q.gate);
        fx.q.rl = oa_rl_free(fx.q.rl);
        fx.q.kprod = oa_kprod_free(fx.q.kprod);
        fx.q.projects = oa_projects_free(fx.q.projects);
        fx.q.metrics = oa_metrics_free(fx.q.metrics);
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

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
        resp *r = ud;
        size_t k = size * n, room = sizeof(r->body) - 1 - r->len;

        memcpy(r->body + r->len, p, k < room ? k : room);
        r->len += k < room ? k : room;
        r->body[r->len] = '\0';
        return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
        resp *r = ud;
        size_t k = size * n, room = sizeof(r->headers) - 1 - r->hlen;

        memcpy(r->headers + r->hlen, p, k < room ? k : room);
        r->hlen += k < room ? k : room;
        r->headers[r->hlen] = '\0';
        return k;
}

/* The value of a response header (case-insensitive name), or NULL; static storage. */
static const char *header(const resp *r, const char *name) {
        static char v[256];
        size_t nl = strlen(name);

        for (const char *l = r->headers; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
                        const char *s = l + nl + 1, *e;

                        while (*s == ' ')
                                s++;
                        e = strpbrk(s, "\r\n");
                        snprintf(v, sizeof(v), "%.*s", (int) (e ? e - s : (long) strlen(s)), s);
                        return v;
                }
        return NULL;
}

static long header_num(const resp *r, const char *name) {
        const char *v = header(r, name);

        cr_assert_not_null(v, "no %s in:\n%s", name, r->headers);
        return strtol(v, NULL, 10);
}

/* method path [body] with the key (NULL: no Authorization) from client address xff (NULL:
 * the peer). */
static resp *call(const char *method, const char *path, const char *key, const char *body, const char *xff) {
        static resp r;
        struct curl_slist *h = NULL;
        char url[512], line[128];
        CURL *c = curl_easy_init();
        CURLcode rc;

        memset(&r, 0, sizeof(r));
        snprintf(url, sizeof(url), "%s%s", fx.base, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 8000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        if (key) {
                snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
                h = curl_slist_append(h, line);
        }
        if (xff) {
                snprintf(line, sizeof(line), "X-Forwarded-For: %s", xff);
                h = curl_slist_append(h, line);
        }
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        rc = curl_easy_perform(c);
        cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return &r;
}

static resp *get(const char *path, const char *key) {
        return call("GET", path, key, NULL, NULL);
}

/* An error answer: status, JSON content type, {"error": code, ...}. */
static void expect_error(const resp *r, long status, const char *code) {
        char want[64];

        cr_assert_eq(r->status, status, "status %ld, expected %ld: %s", r->status, status, r->body);
        cr_assert(strstr(header(r, "Content-Type") ? header(r, "Content-Type") : "", "application/json"),
                  "%s", r->headers);
        snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":\"", code);
        cr_assert_eq(strncmp(r->body, want, strlen(want)), 0, "%s", r->body);
}

static void wait_ready(void) {
        for (int i = 0; i < 200; i++) {
                if (get("/readyz", NULL)->status == 200)
                        return;
                usleep(20000);
        }
        cr_assert_fail("not ready: %s", get("/readyz", NULL)->body);
}

/* Poll GET path with key until it answers status (writes reach the catalogue through the
 * reader, shortly after their answer). Each attempt comes from an address of its own: an
 * unknown key's 401s count against the address. */
static resp *eventually(const char *path, const char *key, long status) {
        static int n;
        resp *r = NULL;
        char xff[32];

        for (int i = 0; i < 150; i++) {
                n++;
                snprintf(xff, sizeof(xff), "198.18.%d.%d", n / 250, n % 250 + 1);
                r = call("GET", path, key, NULL, xff);
                if (r->status == status)
                        return r;
                usleep(10000);
        }
        cr_assert_fail("GET %s never answered %ld; last %ld %s", path, status, r->status, r->body);
        return r;
}

/* The in-process limiter counts in minute windows of the local clock: start a test that
 * counts up to a limit with enough of the minute left. */
static void avoid_minute_end(void) {
        time_t now = time(NULL);

        if (now % 60 > 55)
                sleep((unsigned) (61 - now % 60));
}

TestSuite(query_server, .init = setup, .fini = teardown, .timeout = 60);

Test(query_server, auth_matrix_and_rate_limit_headers) {
        char path[128];
        resp *r;

        wait_ready();
        r = get("/v1/projects", fx.owner);
        cr_assert_eq(r->status, 200, "%s", r->body);
        cr_assert(strstr(r->body, fx.p1) && strstr(r->body, fx.p2) && !strstr(r->body, fx.pb), "%s", r->body);
        cr_assert(strstr(r->body, fx.p1) < strstr(r->body, fx.p2), "oldest first: %s", r->body);
        cr_assert_eq(header_num(r, "X-RateLimit-Limit"), 6000);
        cr_assert_eq(header_num(r, "X-RateLimit-Remaining"), 5999);
        cr_assert_eq(header_num(r, "X-RateLimit-Reset") % 60, 0);
        cr_assert_str_eq(header(r, "Cache-Control"), "no-store");

        expect_error(get("/v1/projects", NULL), 401, "unauthorized");
        expect_error(get("/v1/projects", fx.revoked), 401, "unauthorized");
        expect_error(call("GET", "/v1/projects", "oa_live_tooshort", NULL, "198.51.100.1"), 401, "unauthorized");
        cr_assert_str_eq(header(call("GET", "/v1/projects", NULL, NULL, "198.51.100.2"), "WWW-Authenticate"), "Bearer");

        /* another account's project, a missing one, one outside the key's list: 404 alike */
        snprintf(path, sizeof(path), "/v1/projects/%s", fx.pb);
        r = get(path, fx.owner);
        expect_error(r, 404, "not_found");
        cr_assert_eq(header_num(r, "X-RateLimit-Limit"), 6000);
        expect_error(get("/v1/projects/prj_0123456789abcdef", fx.owner), 404, "not_found");
        expect_error(get("/v1/projects/%2e%2e", fx.owner), 404, "not_found");
        snprintf(path, sizeof(path), "/v1/projects/%s", fx.p2);
        expect_error(get(path, fx.limited), 404, "not_found");
        snprintf(path, sizeof(path), "/v1/projects/%s", fx.p1);
        r = get(path, fx.limited);
        cr_assert_eq(r->status, 200, "%s", r->body);
        cr_assert(strstr(r->body, "\"timezone\":\"Europe/Berlin\""), "%s", r->body);

        /* the scope before the project: no 404 to a key without projects:read */
        r = get("/v1/projects/prj_0123456789abcdef", fx.stats);
        expect_error(r, 403, "forbidden");
        cr_assert(header(r, "X-RateLimit-Remaining"));
        expect_error(get("/v1/keys", fx.stats), 403, "forbidden");
        expect_error(call("POST", "/v1/projects", fx.reader, "{}", NULL), 403, "forbidden");

        /* an account without projects lists none */
        r = get("/v1/projects", fx.small);
        cr_assert_eq(r->status, 200, "%s", r->body);
        cr_assert_str_eq(r->body, "{\"projects\":[]}");

        /* the limited key sees only its project */
        r = get("/v1/projects", fx.limited);
        cr_assert(strstr(r->body, fx.p1) && !strstr(r->body, fx.p2), "%s", r->body);
}

Test(query_server, key_budget_is_enforced_with_retry_after) {
        resp *r;

        wait_ready();
        avoid_minute_end();
        for (int i = 1; i <= SMALL_LIMIT; i++) {
                r = get("/v1/projects", fx.small);
                cr_assert_eq(r->status, 200, "request %d: %s", i, r->body);
                cr_assert_eq(header_num(r, "X-RateLimit-Limit"), SMALL_LIMIT);
                if (header_num(r, "X-RateLimit-Remaining") != SMALL_LIMIT - i)
                        return;         /* a minute ended in between: nothing to conclude */
        }
        r = get("/v1/projects", fx.small);
        expect_error(r, 429, "rate_limited");
        cr_assert_eq(header_num(r, "X-RateLimit-Remaining"), 0);
        cr_assert_geq(header_num(r, "Retry-After"), 1);
        cr_assert_leq(header_num(r, "Retry-After"), 60);
        /* another key of another account is not affected */
        cr_assert_eq(get("/v1/projects", fx.owner)->status, 200);
}

Test(query_server, failed_auth_is_limited_per_client_address) {
        resp *r;

        wait_ready();
        avoid_minute_end();
        for (int i = 1; i <= AUTH_FAIL_LIMIT; i++) {
                r = call("GET", "/v1/projects", "oa_live_00000000000000000000000000000000", NULL, "198.51.100.7");
                expect_error(r, 401, "unauthorized");
                cr_assert_eq(header_num(r, "X-RateLimit-Limit"), AUTH_FAIL_LIMIT);
        }
        r = call("GET", "/v1/projects", NULL, NULL, "198.51.100.7");
        expect_error(r, 429, "rate_limited");
        cr_assert_geq(header_num(r, "Retry-After"), 1);
        /* refused before its key is looked at: even a valid key */
        expect_error(call("GET", "/v1/projects", fx.owner, NULL, "198.51.100.7"), 429, "rate_limited");
        /* the address is the last untrusted hop: a forged one to its left changes nothing */
        expect_error(call("GET", "/v1/projects", fx.owner, NULL, "1.1.1.1, 198.51.100.7"), 429, "rate_limited");
        /* another address is fine */
        cr_assert_eq(call("GET", "/v1/projects", fx.owner, NULL, "198.51.100.8")->status, 200);
        expect_error(call("GET", "/v1/projects", NULL, NULL, "198.51.100.8"), 401, "unauthorized");
}

Test(query_server, projects_are_written_through_kafka) {
        char path[128], id[OA_ENTITY_ID_MAX], created[sizeof(((resp *) 0)->body)];
        const char *p;
        resp *r;

        wait_ready();
        r = call("POST", "/v1/projects", fx.owner,
                 "{\"name\":\"Blog\",\"domains\":[\"Blog.Example.com\"],\"timezone\":\"UTC\"}", NULL);
        cr_assert_eq(r->status, 201, "%s", r->body);
        cr_assert(header(r, "X-RateLimit-Limit"));
        cr_assert(strstr(r->body, "\"domains\":[\"blog.example.com\"]"), "%s", r->body);
        p = strstr(r->body, "\"id\":\"prj_");
        cr_assert_not_null(p);
        snprintf(id, sizeof(id), "%.20s", p + 6);
        snprintf(created, sizeof(created), "%s", r->body);
        snprintf(path, sizeof(path), "/v1/projects/%s", id);
        r = eventually(path, fx.owner, 200);
        cr_assert_str_eq(r->body, created);

        r = call("PATCH", path, fx.owner, "{\"name\":\"Blog 2\"}", NULL);
        cr_assert_eq(r->status, 200, "%s", r->body);
        cr_assert(strstr(r->body, "\"name\":\"Blog 2\"") && strstr(r->body, "\"timezone\":\"UTC\""), "%s", r->body);
        /* A PATCH right after another builds on it, though the reader may not have
         * returned the first one yet when the second arrives. */
        for (int i = 0; i < 5; i++) {
                char body[96], want[64];

                snprintf(body, sizeof(body), "{\"domains\":[\"d%d.example\"]}", i);
                cr_assert_eq(call("PATCH", path, fx.owner, body, NULL)->status, 200);
                snprintf(body, sizeof(body), "{\"name\":\"Blog %d\"}", i);
                r = call("PATCH", path, fx.owner, body, NULL);
                cr_assert_eq(r->status, 200, "%s", r->body);
                snprintf(want, sizeof(want), "\"domains\":[\"d%d.example\"]", i);
                cr_assert(strstr(r->body, want), "a PATCH undid the one before: %s", r->body);
        }
        expect_error(call("PATCH", path, fx.owner, "{\"timezone\":\"Mars/Base\"}", NULL), 400, "validation_error");
        expect_error(call("PATCH", path, fx.owner, "{}", NULL), 400, "validation_error");

        r = call("DELETE", path, fx.owner, NULL, NULL);
        cr_assert_eq(r->status, 204);
        cr_assert_eq(r->len, 0);
        cr_assert(header(r, "X-RateLimit-Remaining"));
        eventually(path, fx.owner, 404);

        /* a key limited to some projects creates none */
        expect_error(call("POST", "/v1/projects", fx.limited, "{\"name\":\"x\",\"domain\":\"x.example\"}", NULL),
                     403, "forbidden");
}

Test(query_server, keys_are_created_once_and_revoked) {
        char body[256], path[128], id[OA_ENTITY_ID_MAX], secret[OA_KEY_SECRET_LEN + 1];
        const char *p;
        resp *r;

        wait_ready();
        snprintf(body, sizeof(body), "{\"name\":\"ci\",\"scopes\":[\"projects:read\"],\"project_ids\":[\"%s\"]}", fx.p1);
        r = call("POST", "/v1/keys", fx.owner, body, NULL);
        cr_assert_eq(r->status, 201, "%s", r->body);
        p = strstr(r->body, "\"key\":\"oa_live_");
        cr_assert_not_null(p, "%s", r->body);
        snprintf(secret, sizeof(secret), "%.40s", p + 7);
        cr_assert(oa_key_format_ok(secret, strlen(secret)), "%s", secret);
        p = strstr(r->body, "\"id\":\"key_");
        snprintf(id, sizeof(id), "%.20s", p + 6);
        cr_assert(strstr(r->body, "\"scopes\":[\"projects:read\"]"), "%s", r->body);

        /* the new key works once the reader has its record; it sees only p1 */
        r = eventually("/v1/projects", secret, 200);
        cr_assert(strstr(r->body, fx.p1) && !strstr(r->body, fx.p2), "%s", r->body);
        /* listed without its secret */
        r = get("/v1/keys", fx.owner);
        cr_assert_eq(r->status, 200);
        cr_assert(strstr(r->body, id), "%s", r->body);
        cr_assert_null(strstr(r->body, secret));
        cr_assert_null(strstr(r->body, fx.other_id), "another account's key listed: %s", r->body);

        /* grants beyond the creator's rights */
        expect_error(call("POST", "/v1/keys", fx.reader, "{\"name\":\"x\",\"scopes\":[\"stats:read\"]}", NULL),
                     403, "forbidden");
        expect_error(call("POST", "/v1/keys", fx.limited, "{\"name\":\"x\",\"scopes\":[\"projects:read\"]}", NULL),
                     403, "forbidden");
        snprintf(body, sizeof(body), "{\"name\":\"x\",\"scopes\":[\"projects:read\"],\"project_ids\":[\"%s\"]}", fx.p2);
        expect_error(call("POST", "/v1/keys", fx.limited, body, NULL), 403, "forbidden");
        snprintf(body, sizeof(body), "{\"name\":\"x\",\"scopes\":[\"projects:read\"],\"project_ids\":[\"%s\"]}", fx.pb);
        expect_error(call("POST", "/v1/keys", fx.owner, body, NULL), 403, "forbidden");
        /* the reader (no projects:write) does not see the owner key, so cannot revoke it */
        snprintf(path, sizeof(path), "/v1/keys/%s", fx.owner_id);
        expect_error(call("DELETE", path, fx.reader, NULL, NULL), 404, "not_found");
        snprintf(path, sizeof(path), "/v1/keys/%s", fx.other_id);
        expect_error(call("DELETE", path, fx.owner, NULL, NULL), 404, "not_found");

        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        r = call("DELETE", path, fx.owner, NULL, NULL);
        cr_assert_eq(r->status, 204, "%s", r->body);
        eventually("/v1/projects", secret, 401);
        /* revoking twice is fine */
        cr_assert_eq(call("DELETE", path, fx.owner, NULL, NULL)->status, 204);
        r = get("/v1/keys", fx.owner);
        cr_assert(strstr(r->body, "\"revoked\":true"), "%s", r->body);
}

Test(query_server, kafka_refusing_a_write_is_503) {
        resp *r;

        wait_ready();
        rd_kafka_mock_push_request_errors(fx.m.mc, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        r = call("POST", "/v1/projects", fx.owner, "{\"name\":\"x\",\"domain\":\"x.example\"}", NULL);
        expect_error(r, 503, "unavailable");
        cr_assert_geq(header_num(r, "Retry-After"), 1);
        cr_assert(header(r, "X-RateLimit-Limit"));
        r = get("/metrics", NULL);
        cr_assert(strstr(r->body, "oa_query_kafka_produce_failures_total{stage=\"delivery\"} 1"), "%s", r->body);
}

Test(query_server, routes_methods_and_bodies) {
        static char big[70000];
        resp *r;

        wait_ready();
        r = call("PUT", "/v1/projects", fx.owner, "{}", NULL);
        expect_error(r, 405, "validation_error");
        cr_assert_str_eq(header(r, "Allow"), "GET, HEAD, POST");
        cr_assert(header(r, "X-RateLimit-Limit"));
        r = get("/v1/nothing/here", fx.owner);
        expect_error(r, 404, "not_found");
        cr_assert(header(r, "X-RateLimit-Limit"));
        expect_error(get("/v1/nothing", NULL), 401, "unauthorized");
        r = call("HEAD", "/v1/projects", fx.owner, NULL, NULL);
        cr_assert_eq(r->status, 200);
        cr_assert_eq(r->len, 0);
        expect_error(call("POST", "/v1/projects", fx.owner, "{\"name\": \"x\", ", NULL), 400, "validation_error");
        expect_error(call("POST", "/v1/projects", fx.owner, "[1]", NULL), 400, "validation_error");
        memset(big, ' ', sizeof(big) - 1);
        big[0] = '{';
        big[sizeof(big) - 2] = '}';
        expect_error(call("POST", "/v1/projects", fx.owner, big, NULL), 413, "payload_too_large");
        expect_error(call("DELETE", "/v1/keys/not-a-key", fx.owner, NULL, NULL), 404, "not_found");
}

Test(query_server, metrics_and_probes) {
        resp *r;

        wait_ready();
        get("/v1/projects", fx.owner);
        get("/v1/projects", NULL);
        r = get("/metrics", NULL);
        cr_assert_eq(r->status, 200);
        cr_assert(strstr(r->body, "oa_query_auth_total{result=\"ok\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_auth_total{result=\"unauthorized\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_ratelimit_decisions_total{limit=\"key\",decision=\"allowed\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_ratelimit_local_total{limit=\"key\"} 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_catalog_projects 3"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_catalog_keys 7"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_query_catalog_ready 1"), "%s", r->body);
        cr_assert(strstr(r->body, "oa_http_requests_total{route=\"/v1/projects\",status=\"2xx\"} 1"), "%s", r->body);
        cr_assert_eq(get("/healthz", NULL)->status, 200);
}

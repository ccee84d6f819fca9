/* POST /collect: the browser snippet's endpoint. Public and silent: every POST is
 * answered 204 No Content with an empty body, whatever became of the event, so nobody
 * can probe which site ids exist or what the schema wants. CORS: every answer carries
 * Access-Control-Allow-Origin: *, and OPTIONS preflights are answered (a snippet using
 * navigator.sendBeacon with text/plain needs none).
 *
 * The order of the checks, each dropping the event with its reason (counted in
 * oa_edge_collect_dropped_total{reason} and, per project and day, in Redis):
 *   too_large     the body is over OA_EDGE_COLLECT_MAX_BODY
 *   invalid       a Content-Type other than JSON or text, a body that does not parse
 *   unknown_site  no project has the site_id (or the catalogue is not loaded yet)
 *   bot           the User-Agent is a crawler, a headless browser, a library, a monitor,
 *                 or missing
 *   rate_limited  over the client address's bucket (OA_EDGE_IP_RATE/BURST; IPv6 per /64;
 *                 per process, so a Redis round trip is never on this path), or over the
 *                 site's budget from its plan (shared by the replicas in Redis)
 *   queue_full    the producer's bounded queue is full (Kafka away for long)
 * Bots are not rate-limited first: a crawler does not use a real visitor's tokens.
 * Then the event is enriched and queued for Kafka without waiting, and a delivery that
 * fails later (Kafka away past OA_EDGE_COLLECT_BUFFER_MS) is counted as undelivered.
 *
 * The 204 never depends on the event, so it goes out first: the handler checks the size
 * and the Content-Type, copies the body, the User-Agent and the client's address, and
 * answers; the events of the loop's turn are judged at its end (oa_edge_collect_flush,
 * and once more at the stop before the producers flush). The clients' next requests are
 * on their way meanwhile (about 6% more events per second on two cores shared with the
 * load generator), and one arena serves every event in turn. */
#include "edge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EVENT_ARENA_MAX (256u << 10)

/* oa-edge-bench-bare (bench/meson.build): the ceiling of bench/edge answers 204 and does
 * nothing else. */
#ifdef OA_EDGE_BENCH_BARE
#define BENCH_BARE 1
#else
#define BENCH_BARE 0
#endif

static void answer(h2o_req_t *req, int status) {
        oa_http_add_header(req, "Access-Control-Allow-Origin", "*");
        oa_http_send_empty(req, status);
}

static void preflight(h2o_req_t *req) {
        oa_http_add_header(req, "Access-Control-Allow-Methods", "POST, OPTIONS");
        oa_http_add_header(req, "Access-Control-Allow-Headers", "Content-Type");
        oa_http_add_header(req, "Access-Control-Max-Age", "86400");
        answer(req, 204);
}

bool oa_edge_collect_type_ok(const char *ct, size_t len) {
        static const char *const ok[] = { "application/json", "text/plain" };

        while (len && (*ct == ' ' || *ct == '\t'))
                ct++, len--;
        if (len == 0)
                return true;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                size_t n = strlen(ok[i]);

                if (len >= n && strncasecmp(ct, ok[i], n) == 0 &&
                    (len == n || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
                        return true;
        }
        return false;
}

/* The first n bytes of needle in hay (len bytes), or NULL. */
static const char *find(const char *hay, size_t len, const char *needle, size_t n) {
        const char *p = hay, *end = hay + len;

        while ((size_t) (end - p) >= n && (p = memchr(p, needle[0], (size_t) (end - p) - n + 1))) {
                if (memcmp(p, needle, n) == 0)
                        return p;
                p++;
        }
        return NULL;
}

int oa_edge_sniff_site(const char *body, size_t len, char *ret, size_t retlen) {
        static const char name[] = "\"site_id\"";
        const char *p = body, *end = body + len;

        while (p && p < end) {
                const char *k = find(p, (size_t) (end - p), name, sizeof(name) - 1);
                const char *v;

                if (!k)
                        break;
                p = k + sizeof(name) - 1;
                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                        p++;
                if (p >= end || *p != ':')
                        continue;
                p++;
                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                        p++;
                if (p >= end || *p != '"')
                        continue;
                v = ++p;
                while (p < end && p - v < 64 &&
                       ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                        *p == '_'))
                        p++;
                if (p < end && *p == '"' && p > v && (size_t) (p - v) < retlen) {
                        memcpy(ret, v, (size_t) (p - v));
                        ret[p - v] = '\0';
                        return 0;
                }
        }
        return -ENOENT;
}

/* The project an unparsable body names, for counting its drop; NULL when none. */
static const char *sniffed_project(oa_edge *e, const char *body, size_t len) {
        const Oa__Project *p;
        char site[72];

        if (oa_edge_sniff_site(body, len, site, sizeof(site)) < 0)
                return NULL;
        p = oa_catalog_project_by_site(oa_projects_catalog(e->projects), site);
        return p ? p->id : NULL;
}

/* One token of the client address's bucket at now_us (wall clock, µs). */
static bool ip_take(oa_edge *e, const char *ip, long long now_us) {
        char id[80] = "ip:";
        oa_tb_result res;

        if (oa_proxies_client_bucket(ip, id + 3, sizeof(id) - 3) < 0)
                snprintf(id + 3, sizeof(id) - 3, "unknown");
        if (oa_tb_take_local(e->tb, id, e->cfg->ip_rate, e->cfg->ip_burst, 1, now_us, &res) < 0)
                return true;    /* the limiter failed (memory): let the event through */
        if (!res.allowed)
                oa_metrics_counter_inc(e->m.ip_limited, 1);
        return res.allowed;
}

/* An event received this turn, judged once every answer of the turn went out (see
 * oa_edge_collect_flush): what the judging needs from its request, copied. In e->held,
 * one after another, each followed by the body and then the User-Agent. */
typedef struct held {
        int64_t now_ms;                 /* when it arrived */
        size_t body_len;
        size_t ua_len;
        bool has_ua;
        char ip[64];                    /* the client's address, "" when unknown */
} held;

#define HELD_ALIGN 8
#define HELD_MAX (4u << 20)             /* bytes held before judging at once */

/* The bytes of one held event in e->held: its header, body and User-Agent, padded so
 * the next header is aligned. */
static size_t held_size(size_t body_len, size_t ua_len) {
        size_t n = sizeof(held) + body_len + ua_len;

        return (n + HELD_ALIGN - 1) & ~(size_t) (HELD_ALIGN - 1);
}

/* The events judged so far this turn, queued to Kafka together (oa_kprod_produce_batch:
 * one call for up to OUT_MAX). */
#define OUT_MAX 128
#define OUT_BYTES (4u << 20)            /* encoded bytes kept before queueing them */

typedef struct outgoing {
        oa_kprod_msg msgs[OUT_MAX];
        const char *project[OUT_MAX];   /* whose drop a refused message is */
        size_t n;
} outgoing;

/* Queue what out holds; a message librdkafka refused is dropped (queue_full). */
static void send_out(oa_edge *e, outgoing *out) {
        size_t queued;

        if (out->n == 0)
                return;
        queued = oa_kprod_produce_batch(e->kcollect, OA_TOPIC_EVENTS, out->msgs, out->n);
        for (size_t i = 0; queued < out->n && i < out->n; i++)
                if (out->msgs[i].err < 0)
                        oa_edge_drop(e, out->project[i], OA_EDGE_DROP_QUEUE_FULL);
        oa_metrics_counter_inc(e->m.ev_collect, queued);
        out->n = 0;
        oa_arena_reset(&e->collect_out);
}

/* Judge one held event (bytes: its body, then its User-Agent), its memory in a, and add
 * it to out, its Kafka bytes in e->collect_out; mono_ms: the monotonic clock of this
 * turn, for the site's budget. */
static void judge(oa_edge *e, const held *h, const char *bytes, int64_t mono_ms, oa_arena *a,
                  outgoing *out) {
        const char *body = bytes, *uah = h->has_ua ? bytes + h->body_len : NULL;
        const Oa__Project *p;
        Oa__Event *ev = NULL;
        oa_ua_result ua;
        char err[OA_EVENT_ERR_MAX];
        uint8_t *val;
        char *key;
        size_t vlen, klen;
        int r;

        r = oa_event_parse_collect(body, h->body_len, a, &ev, err, sizeof(err));
        if (r < 0) {
                if (e->log_debug)
                        oa_log_debug("collect: invalid event", "error", err);
                oa_edge_drop(e, sniffed_project(e, body, h->body_len),
                             r == -E2BIG ? OA_EDGE_DROP_TOO_LARGE : OA_EDGE_DROP_INVALID);
                return;
        }
        p = oa_projects_ready(e->projects)
            ? oa_catalog_project_by_site(oa_projects_catalog(e->projects), ev->site_id) : NULL;
        if (!p) {
                oa_edge_drop(e, NULL, OA_EDGE_DROP_UNKNOWN_SITE);
                return;
        }
        oa_ua_parse(e->ua, uah, uah ? h->ua_len : 0, &ua);
        if (ua.is_bot) {
                oa_edge_drop(e, p->id, OA_EDGE_DROP_BOT);
                return;
        }
        /* the address's bucket on the arrival time: one clock read per event, in hold() */
        if (!ip_take(e, h->ip, (long long) h->now_ms * 1000) || !oa_edge_site_take(e, p, mono_ms)) {
                oa_edge_drop(e, p->id, OA_EDGE_DROP_RATE_LIMITED);
                return;
        }
        r = oa_edge_enrich(e, ev, p, h->ip, uah, uah ? h->ua_len : 0, &ua, h->now_ms, a);
        if (r == 0)
                r = oa_edge_encode(ev, &e->collect_out, &val, &vlen, &key, &klen);
        if (r < 0) {
                oa_edge_drop(e, p->id, OA_EDGE_DROP_INVALID);
                return;
        }
        out->msgs[out->n] = (oa_kprod_msg) { .key = key, .key_len = klen, .value = val, .value_len = vlen };
        out->project[out->n++] = p->id;        /* the catalogue does not change in a flush */
        if (out->n == OUT_MAX || e->collect_out.used >= OUT_BYTES)
                send_out(e, out);
}

void oa_edge_collect_flush(oa_edge *e) {
        outgoing out;
        int64_t mono_ms;
        size_t off = 0;

        if (e->held.len == 0)
                return;
        mono_ms = oa_edge_mono_ms();
        out.n = 0;
        while (off < e->held.len) {
                held h;

                memcpy(&h, e->held.data + off, sizeof(h));
                judge(e, &h, e->held.data + off + sizeof(h), mono_ms, &e->collect_arena, &out);
                /* one event's parse at a time; its Kafka bytes wait in collect_out */
                oa_arena_reset(&e->collect_arena);
                off += held_size(h.body_len, h.ua_len);
        }
        send_out(e, &out);
        oa_buf_reset(&e->held);
}

/* Check what is cheap to check now and hold the event for the end of the turn. The 204
 * does not depend on the event, so it goes out first: a client's next request is on its
 * way while the events are judged. */
static void hold(oa_edge *e, h2o_req_t *req) {
        static const char zeros[HELD_ALIGN];
        h2o_iovec_t body, ct, uah;
        held h = { .now_ms = oa_edge_now_ms() };
        size_t start, size;

        if (oa_http_body(req, (size_t) e->cfg->collect_max_body, &body) < 0) {
                oa_edge_drop(e, sniffed_project(e, req->entity.base, req->entity.len < 4096 ? req->entity.len : 4096),
                             OA_EDGE_DROP_TOO_LARGE);
                return;
        }
        if (oa_http_header(req, H2O_TOKEN_CONTENT_TYPE, &ct) == 0 && !oa_edge_collect_type_ok(ct.base, ct.len)) {
                oa_edge_drop(e, sniffed_project(e, body.base, body.len), OA_EDGE_DROP_INVALID);
                return;
        }
        h.has_ua = oa_http_header(req, H2O_TOKEN_USER_AGENT, &uah) == 0;
        if (!h.has_ua)
                uah = h2o_iovec_init(NULL, 0);
        if (oa_http_client_ip(req, &e->proxies, h.ip, sizeof(h.ip)) < 0)
                h.ip[0] = '\0';
        h.body_len = body.len;
        h.ua_len = uah.len;
        size = held_size(body.len, uah.len);
        if (e->held.len + size > HELD_MAX)
                oa_edge_collect_flush(e);
        start = e->held.len;
        if (oa_buf_add(&e->held, &h, sizeof(h)) < 0 || oa_buf_add(&e->held, body.base, body.len) < 0 ||
            oa_buf_add(&e->held, uah.base, uah.len) < 0 ||
            oa_buf_add(&e->held, zeros, size - (sizeof(h) + body.len + uah.len)) < 0) {
                /* out of memory: this one is dropped, what was held before is judged */
                e->held.len = start;
                oa_edge_collect_flush(e);
                oa_edge_drop(e, sniffed_project(e, body.base, body.len), OA_EDGE_DROP_QUEUE_FULL);
        }
}

static int on_collect(h2o_req_t *req, void *userdata) {
        oa_edge *e = userdata;
        h2o_iovec_t path = oa_http_path(req);

        if (!h2o_memis(path.base, path.len, H2O_STRLIT("/collect")))
                return -1;      /* 404 */
        if (oa_http_method_is(req, "OPTIONS")) {
                preflight(req);
                return 0;
        }
        if (!oa_http_method_is(req, "POST")) {
                oa_http_add_header(req, "Allow", "POST, OPTIONS");
                answer(req, 405);
                return 0;
        }
        if (!BENCH_BARE)
                hold(e, req);
        answer(req, 204);
        return 0;
}

int oa_edge_collect_mount(oa_edge *e) {
        oa_arena_init(&e->collect_arena, EVENT_ARENA_MAX);
        oa_arena_init(&e->collect_out, 0);     /* bounded by OUT_MAX and OUT_BYTES */
        /* room for the last event past HELD_MAX: its body is capped by
         * OA_EDGE_COLLECT_MAX_BODY, its User-Agent by h2o's header limit */
        oa_buf_init(&e->held, 2 * HELD_MAX);
#ifdef OA_EDGE_BENCH_BARE
        oa_log_warn("BENCHMARK BUILD: POST /collect answers 204 and ignores every event; "
                    "never deploy this program");
#endif
        return oa_http_server_route(e->srv, "/collect", "/collect", on_collect, e);
}

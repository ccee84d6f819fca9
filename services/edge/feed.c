/* The daemon's loop side: following oa.projects.v1, Kafka's health, readiness, the
 * metrics, and what every turn of the loop does.
 *
 * librdkafka's queues (the reader's, and both producers' delivery reports) write a byte
 * into a pipe the loop watches, so a new record or an acknowledgement a /v1 request
 * waits for is served at once, not at the next 100 ms turn; each turn also reads what
 * arrived (at most every 10 ms once caught up), so a lost wake-up costs milliseconds.
 *
 * Kafka's health: a small probe (oa_kprobe: the projects topic's metadata on the /v1
 * producer's handle, every few seconds) tells whether a broker answers; records read and
 * messages acknowledged count too. While none answers, /v1 answers 503 at once instead
 * of waiting out the ack timeout, and /readyz is 503. /readyz is also 503 until the
 * catalogue is loaded and for a while after the reader reported an error. */
#include "edge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_EVERY_MS 10

int64_t oa_edge_mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t oa_edge_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kafka_state(oa_edge *e, bool up, const char *why);
static void update_date(oa_edge *e, int64_t now_ms);

/* ---- metrics ---- */

static void on_collect(void *userdata) {
        oa_edge *e = userdata;
        const oa_catalog *c = oa_projects_catalog(e->projects);
        oa_ua_stats us;

        oa_metrics_gauge_set(e->m.accounts, (double) oa_catalog_n_accounts(c));
        oa_metrics_gauge_set(e->m.projects, (double) oa_catalog_n_projects(c));
        oa_metrics_gauge_set(e->m.keys, (double) oa_catalog_n_keys(c));
        oa_metrics_gauge_set(e->m.ready, oa_projects_ready(e->projects) ? 1 : 0);
        oa_metrics_gauge_set(e->m.kafka_up, e->kafka_down ? 0 : 1);
        oa_metrics_gauge_set(e->m.queue_collect, e->kcollect ? oa_kprod_outq_len(e->kcollect) : 0);
        oa_metrics_gauge_set(e->m.queue_api, e->kapi ? oa_kprod_outq_len(e->kapi) : 0);
        oa_metrics_gauge_set(e->m.acks_waiting, (double) e->acks_waiting);
        e->m.records->value = oa_projects_n_read(e->projects);
        e->m.bad_records->value = oa_projects_n_bad(e->projects);
        e->m.drops_lost->value = e->drops.lost;
        if (e->ua) {
                oa_ua_get_stats(e->ua, &us);
                e->m.ua_hits->value = us.hits;
                e->m.ua_misses->value = us.misses;
                e->m.ua_limit_errors->value = us.limit_errors;
                oa_metrics_gauge_set(e->m.ua_entries, (double) us.entries);
        }
}

int oa_edge_metrics_setup(oa_edge *e) {
        static const char *const reason[] = { "reason" };
        static const char *const source[] = { "source" };
        static const char *const result[] = { "result" };
        static const char *const source_result[] = { "source", "result" };
        static const char *const limit_decision[] = { "limit", "decision" };
        static const char *const limit[] = { "limit" };
        oa_metrics *m = e->metrics;
        oa_edge_metrics *em = &e->m;
        int r = 0;

#define FAMILY(name, help, labels, out) \
        if (r == 0) \
                r = oa_metrics_counter_family(m, name, help, labels, sizeof(labels) / sizeof(labels[0]), &em->out)
#define COUNTER(name, help, out) \
        if (r == 0) \
                r = oa_metrics_counter_new(m, name, help, &em->out)
#define GAUGE(name, help, out) \
        if (r == 0) \
                r = oa_metrics_gauge_new(m, name, help, &em->out)
#define CHILD(fam, out, ...) \
        if (r == 0) \
                r = oa_metrics_family_counter(em->fam, (const char *const[]) { __VA_ARGS__ }, &em->out)

        FAMILY("oa_edge_collect_dropped_total",
               "POST /collect events dropped, by reason: bot, invalid, unknown_site, rate_limited, "
               "too_large, queue_full (the producer's queue is full: Kafka away too long), "
               "undelivered (queued, not taken by Kafka within OA_EDGE_COLLECT_BUFFER_MS).",
               reason, dropped);
        FAMILY("oa_edge_events_produced_total",
               "Events queued for oa.events.v1, by source (collect, api).", source, events);
        FAMILY("oa_edge_v1_events_total",
               "Events of POST /v1/projects/{id}/events by result: accepted (acknowledged by Kafka "
               "or waiting for it), duplicate (event_id seen in the last 24 h), rejected.",
               result, v1_events);
        FAMILY("oa_edge_kafka_deliveries_total",
               "Delivery reports by source and result (ok, failed).", source_result, delivery);
        FAMILY("oa_edge_auth_total",
               "Authentication outcomes of /v1 requests: ok, unauthorized (401), forbidden (403), "
               "not_found (404), blocked (the address failed too often).", result, auth);
        FAMILY("oa_edge_ratelimit_decisions_total",
               "Rate-limit decisions by limit (key: the plan's budget per minute; authfail: failed "
               "authentications per address; ip and site: /collect token buckets) and decision.",
               limit_decision, limit);
        FAMILY("oa_edge_ratelimit_local_total",
               "Rate-limit decisions made in process because Redis did not answer.", limit, limit_local);
        GAUGE("oa_edge_ratelimit_degraded", "1 while shared limits are counted in process (Redis unreachable).",
              limit_degraded);
        COUNTER("oa_edge_idempotency_skipped_total",
                "/v1 requests whose event ids were not checked for duplicates because Redis did not answer.",
                idem_skipped);
        COUNTER("oa_edge_idempotency_unmark_failures_total",
                "Idempotency marks of events Kafka did not take that could not be removed (a retry "
                "within 24 h is then reported as a duplicate).", idem_unmark_failed);
        GAUGE("oa_edge_salt_local",
              "1 while visitor ids use a process-local salt (Redis did not give the shared one).", salt_local);
        COUNTER("oa_edge_salt_failures_total", "Failed attempts to read or create the daily salt in Redis.",
                salt_failures);
        COUNTER("oa_edge_drops_flush_failures_total", "Failed writes of the drop counts to Redis.",
                drops_flush_failures);
        COUNTER("oa_edge_drops_unrecorded_total",
                "Drops counted here but not in Redis (the table of pending counts was full).", drops_lost);
        GAUGE("oa_edge_kafka_acks_waiting", "/v1 messages waiting for Kafka's acknowledgement.", acks_waiting);
        GAUGE("oa_edge_requests_waiting", "/v1 requests waiting for Kafka's acknowledgements.", requests_waiting);
        GAUGE("oa_edge_kafka_queue_collect", "Messages in the /collect producer's queue.", queue_collect);
        GAUGE("oa_edge_kafka_queue_api", "Messages in the /v1 producer's queue.", queue_api);
        GAUGE("oa_edge_kafka_up", "1 while a Kafka broker answers the health probe.", kafka_up);
        GAUGE("oa_edge_catalog_ready", "1 once oa.projects.v1 was read to the end it had at start.", ready);
        GAUGE("oa_edge_catalog_accounts", "Accounts in the catalogue.", accounts);
        GAUGE("oa_edge_catalog_projects", "Projects in the catalogue.", projects);
        GAUGE("oa_edge_catalog_keys", "API keys in the catalogue (revoked included).", keys);
        COUNTER("oa_edge_catalog_records_total", "Records read from oa.projects.v1.", records);
        COUNTER("oa_edge_catalog_bad_records_total", "Records of oa.projects.v1 the catalogue refused.",
                bad_records);
        COUNTER("oa_edge_ua_cache_hits_total", "User-Agents answered from the cache.", ua_hits);
        COUNTER("oa_edge_ua_cache_misses_total", "User-Agents parsed with uap-core's rules.", ua_misses);
        COUNTER("oa_edge_ua_limit_errors_total", "User-Agent regex runs stopped by a PCRE2 limit.",
                ua_limit_errors);
        GAUGE("oa_edge_ua_cache_entries", "User-Agents in the cache.", ua_entries);

        for (int d = 0; d < OA_EDGE_N_DROPS; d++)
                CHILD(dropped, drop[d], oa_edge_drop_name((oa_edge_drop_reason) d));
        CHILD(events, ev_collect, "collect");
        CHILD(events, ev_api, "api");
        CHILD(v1_events, v1_accepted, "accepted");
        CHILD(v1_events, v1_duplicate, "duplicate");
        CHILD(v1_events, v1_rejected, "rejected");
        CHILD(delivery, dr_collect_ok, "collect", "ok");
        CHILD(delivery, dr_collect_failed, "collect", "failed");
        CHILD(delivery, dr_api_ok, "api", "ok");
        CHILD(delivery, dr_api_failed, "api", "failed");
        if (r == 0)
                r = oa_gate_counters_init(&em->gate, em->auth, em->limit, em->limit_local);
        CHILD(limit, ip_limited, "ip", "limited");
        CHILD(limit, site_limited, "site", "limited");
        CHILD(limit_local, site_local, "site");
#undef FAMILY
#undef COUNTER
#undef GAUGE
#undef CHILD
        if (r == 0)
                r = oa_metrics_on_collect(m, on_collect, e);
        return r;
}

/* ---- the catalogue ---- */

void oa_edge_on_bad_record(const oa_kmsg *m, int err, const char *reason, void *ud) {
        char part[16], off[24];

        snprintf(part, sizeof(part), "%d", (int) m->partition);
        snprintf(off, sizeof(off), "%lld", (long long) m->offset);
        oa_log_warn("catalogue record refused", "topic", m->topic, "partition", part, "offset", off,
                    "reason", reason);
}

static void read_catalog(oa_edge *e, int64_t now) {
        oa_projects_turn t;

        oa_projects_follow(e->projects, now, &t);
        if (t.read > 0)
                oa_edge_kafka_answered(e);
        if (t.err == -ENOTRECOVERABLE) {
                /* A stale catalogue would keep revoked keys working: stop, and let the
                 * supervisor start a fresh process. */
                oa_log_error("projects reader failed for good; stopping", "error", t.errstr);
                e->exit_code = 1;
                oa_http_server_stop(e->srv);
        }
        if (t.err_is_news)
                oa_log_warn("projects reader error", "error", t.errstr);
        if (t.became_ready) {
                const oa_catalog *c = oa_projects_catalog(e->projects);
                char a[24], p[24], k[24];

                e->was_ready = true;
                snprintf(a, sizeof(a), "%zu", oa_catalog_n_accounts(c));
                snprintf(p, sizeof(p), "%zu", oa_catalog_n_projects(c));
                snprintf(k, sizeof(k), "%zu", oa_catalog_n_keys(c));
                oa_log_info("catalogue loaded: ready", "accounts", a, "projects", p, "keys", k);
        }
}

/* ---- Kafka's health ---- */

void oa_edge_kafka_answered(oa_edge *e) {
        if (e->probe)
                oa_kprobe_answered(e->probe, oa_edge_mono_ms());
        if (e->kafka_down)
                kafka_state(e, true, NULL);
}

static void kafka_state(oa_edge *e, bool up, const char *why) {
        if (up && e->kafka_down)
                oa_log_info("kafka answers again");
        else if (!up && (!e->kafka_down || strcmp(why, e->kafka_err) != 0))
                oa_log_warn("kafka does not answer", "error", why);
        e->kafka_down = !up;
        if (!up)
                snprintf(e->kafka_err, sizeof(e->kafka_err), "%.190s", why);
}

static void probe(oa_edge *e, int64_t now) {
        char err[256];
        int r;

        for (int i = 0; i < 2; i++) {
                oa_kprod *kp = i ? e->kapi : e->kcollect;

                if (oa_kprod_fatal_error(kp, err, sizeof(err)) < 0 && e->exit_code == 0) {
                        oa_log_error("kafka producer failed for good; stopping", "error", err);
                        e->exit_code = 1;
                        oa_http_server_stop(e->srv);
                }
        }
        r = oa_kprobe_poll(e->probe, now, err, sizeof(err));
        if (r >= 0) {
                if (e->log_debug)
                        oa_log_debug("kafka probe", "up", r ? "true" : "false");
                kafka_state(e, r == 1, err);
        }
}

/* ---- the loop ---- */

static void on_wake(int fd, void *userdata) {
        oa_edge *e = userdata;
        char buf[256];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        e->woken = true;
}

static void wake_on(rd_kafka_queue_t *q, int fd, const char *tag) {
        if (q) {
                rd_kafka_queue_io_event_enable(q, fd, tag, 1);
                rd_kafka_queue_destroy(q);
        }
}

int oa_edge_feed_start(oa_edge *e, char *errbuf, size_t errlen) {
        int r;

        e->wake[0] = e->wake[1] = -1;
        if (pipe(e->wake) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
                return r;
        }
        for (int i = 0; i < 2; i++) {
                fcntl(e->wake[i], F_SETFD, FD_CLOEXEC);
                fcntl(e->wake[i], F_SETFL, O_NONBLOCK);   /* librdkafka asks for it */
        }
        r = oa_http_server_watch_fd(e->srv, e->wake[0], on_wake, e);
        if (r < 0) {
                snprintf(errbuf, errlen, "watching the wake-up pipe: %s", strerror(-r));
                return r;
        }
        /* The reader's main queue is forwarded to its consumer queue: enable there. /v1
         * answers wait on the API producer's reports; /collect's only feed counters. */
        wake_on(rd_kafka_queue_get_consumer(oa_projects_rk(e->projects)), e->wake[1], "c");
        wake_on(rd_kafka_queue_get_main(oa_kprod_rk(e->kapi)), e->wake[1], "p");
        update_date(e, oa_edge_now_ms());      /* drops may be counted before the first turn */
        r = oa_kprobe_new(oa_kprod_rk(e->kapi), OA_TOPIC_EVENTS, oa_edge_mono_ms(), &e->probe);
        if (r < 0) {
                snprintf(errbuf, errlen, "out of memory");
                return r;
        }
        return 0;
}

static void wake_off(rd_kafka_queue_t *q) {
        if (q) {
                rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
                rd_kafka_queue_destroy(q);
        }
}

void oa_edge_feed_stop(oa_edge *e) {
        if (e->projects)
                wake_off(rd_kafka_queue_get_consumer(oa_projects_rk(e->projects)));
        if (e->kapi)
                wake_off(rd_kafka_queue_get_main(oa_kprod_rk(e->kapi)));
        e->probe = oa_kprobe_free(e->probe);
        for (int i = 0; i < 2; i++)
                if (e->wake[i] >= 0)
                        close(e->wake[i]);
        e->wake[0] = e->wake[1] = -1;
}

/* Today's date (UTC) in e->date, recomputed once a second. */
static void update_date(oa_edge *e, int64_t now_ms) {
        time_t s = (time_t) (now_ms / 1000);
        struct tm tm;

        if (s == e->date_s && e->date[0])
                return;
        gmtime_r(&s, &tm);
        strftime(e->date, sizeof(e->date), "%Y-%m-%d", &tm);
        e->date_s = s;
}

void oa_edge_on_turn(void *userdata) {
        oa_edge *e = userdata;
        int64_t now, wall;

        oa_edge_collect_flush(e);
        now = oa_edge_mono_ms();
        wall = oa_edge_now_ms();
        oa_kprod_poll(e->kapi);
        oa_kprod_poll(e->kcollect);
        oa_rl_tick(e->rl);      /* hand back what idle rate-limit leases did not spend */
        if (e->woken || !e->was_ready || now >= e->next_read_ms) {
                e->woken = false;
                e->next_read_ms = now + READ_EVERY_MS;
                read_catalog(e, now);
        }
        update_date(e, wall);
        if (e->tickets)
                oa_edge_v1_tick(e, now);
        oa_edge_salt_refresh(e, wall, now);
        oa_edge_drops_tick(e, now, false);
        if (e->probe)
                probe(e, now);
}

int oa_edge_ready(void *userdata, char *errbuf, size_t errlen) {
        oa_edge *e = userdata;
        const char *err;

        if (!oa_projects_ready(e->projects)) {
                snprintf(errbuf, errlen, "kafka: projects catalogue not loaded yet");
                return -EAGAIN;
        }
        if (e->kafka_down) {
                snprintf(errbuf, errlen, "kafka: %s", e->kafka_err);
                return -ENOTCONN;
        }
        if ((err = oa_projects_recent_error(e->projects, oa_edge_mono_ms()))) {
                snprintf(errbuf, errlen, "kafka: projects reader: %s", err);
                return -EIO;
        }
        return 0;
}

void oa_edge_note_degraded(oa_edge *e) {
        bool d = oa_rl_degraded(e->rl) || oa_tb_degraded(e->tb);

        if (d == e->rl_degraded)
                return;
        e->rl_degraded = d;
        oa_metrics_gauge_set(e->m.limit_degraded, d ? 1 : 0);
        if (d)
                oa_log_warn("rate limits counted in process: Redis does not answer",
                            "error", oa_rds_errstr(e->rds));
        else
                oa_log_info("rate limits counted in Redis again");
}

/* The daemon's Kafka side: following oa.projects.v1 from the event loop, Kafka's health,
 * readiness and the metrics.
 *
 * librdkafka's queues (the reader's, and the producer's delivery reports) write a byte
 * into a pipe the loop watches, so a new record or an acknowledged write is served at
 * once, not at the next 100 ms turn; each turn also reads what arrived (at most every
 * 10 ms once caught up), so a lost wake-up costs milliseconds.
 *
 * Kafka's health: librdkafka reconnects by itself and says nothing when it is back, so a
 * small probe (the projects topic's metadata, on the producer's handle, every few
 * seconds) tells whether a broker answers; records read and writes acknowledged count
 * too. /readyz is 503 until the catalogue is loaded, while no broker answers, and for
 * a while after the reader reported an error.
 *
 * Catching up before a read-modify-write (PATCH): another replica may have written the
 * entity a moment ago, and a change built on the older state would undo that write. So
 * the topic's end offsets are asked of the broker (one short blocking round trip, writes
 * only) and the request waits, without blocking the loop, until the reader has returned
 * everything before them. */
#include "query.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define READ_EVERY_MS 10
#define SYNC_QUERY_MS 500               /* asking for the end offsets, blocking */
#define SYNC_WAIT_MS 3000               /* reading up to them, not blocking */

struct oa_query_sync {
        oa_query_req *rq;
        oa_query_synced_fn *fn;
        rd_kafka_topic_partition_list_t *ends;  /* offset: the end to reach */
        int64_t deadline_ms;
        struct oa_query_sync *next;
};

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kafka_state(oa_query *q, bool up, const char *why);

/* ---- metrics ---- */

static void on_collect(void *userdata) {
        oa_query *q = userdata;
        const oa_catalog *c = oa_projects_catalog(q->projects);

        oa_metrics_gauge_set(q->m.accounts, (double) oa_catalog_n_accounts(c));
        oa_metrics_gauge_set(q->m.projects, (double) oa_catalog_n_projects(c));
        oa_metrics_gauge_set(q->m.keys, (double) oa_catalog_n_keys(c));
        oa_metrics_gauge_set(q->m.ready, oa_projects_ready(q->projects) ? 1 : 0);
        oa_metrics_gauge_set(q->m.kafka_up, q->kafka_down ? 0 : 1);
        q->m.records->value = oa_projects_n_read(q->projects);
        q->m.bad_records->value = oa_projects_n_bad(q->projects);
}

int oa_query_metrics_setup(oa_query *q) {
        static const char *const result[] = { "result" };
        static const char *const limit_decision[] = { "limit", "decision" };
        static const char *const limit[] = { "limit" };
        static const char *const stage[] = { "stage" };
        oa_metrics *m = q->metrics;
        oa_query_metrics *qm = &q->m;
        int r;

        r = oa_metrics_counter_family(m, "oa_query_auth_total",
                                      "Authentication outcomes of /v1 requests: ok, unauthorized (401), "
                                      "forbidden (403), not_found (404), blocked (the address failed too often).",
                                      result, 1, &qm->auth);
        if (r == 0)
                r = oa_metrics_counter_family(m, "oa_query_ratelimit_decisions_total",
                                              "Rate-limit decisions by limit (key: the plan's budget; authfail: failed "
                                              "authentications per address) and decision.",
                                              limit_decision, 2, &qm->limit);
        if (r == 0)
                r = oa_metrics_counter_family(m, "oa_query_ratelimit_local_total",
                                              "Rate-limit decisions made in process because Redis did not answer.",
                                              limit, 1, &qm->limit_local);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_ratelimit_degraded",
                                         "1 while rate limits are counted in process (Redis unreachable).",
                                         &qm->limit_degraded);
        if (r == 0)
                r = oa_metrics_counter_family(m, "oa_query_kafka_produce_failures_total",
                                              "Writes to oa.projects.v1 that failed: enqueue (refused locally) or "
                                              "delivery (not acknowledged).", stage, 1, &qm->produce_failed);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_writes_in_flight",
                                         "Writes waiting for Kafka's acknowledgement.", &qm->writes);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_kafka_up",
                                         "1 while a Kafka broker answers the health probe.", &qm->kafka_up);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_catalog_ready",
                                         "1 once oa.projects.v1 was read to the end it had at start.", &qm->ready);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_catalog_accounts", "Accounts in the catalogue.", &qm->accounts);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_catalog_projects", "Projects in the catalogue.", &qm->projects);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_catalog_keys", "API keys in the catalogue (revoked included).",
                                         &qm->keys);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_catalog_records_total",
                                           "Records read from oa.projects.v1.", &qm->records);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_catalog_bad_records_total",
                                           "Records of oa.projects.v1 the catalogue refused.", &qm->bad_records);
        if (r == 0)
                r = oa_metrics_counter_family(m, "oa_query_clickhouse_queries_total",
                                              "Stats queries sent to ClickHouse by result: ok, error (refused), "
                                              "unavailable (down, or past its time budget).", result, 1,
                                              &qm->ch_queries);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_cache_hits_total",
                                           "Stats reads answered from the read cache.", &qm->cache_hits);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_cache_misses_total",
                                           "Stats reads that went to ClickHouse.", &qm->cache_misses);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_reads_shared_total",
                                           "Stats reads answered by an identical read already running "
                                           "(cache on).", &qm->reads_shared);
        if (r == 0)
                r = oa_metrics_counter_new(m, "oa_query_reads_refused_total",
                                           "Stats reads answered 503: OA_QUERY_CLICKHOUSE_QUEUE reads were "
                                           "already waiting.", &qm->reads_refused);
        if (r == 0)
                r = oa_metrics_gauge_new(m, "oa_query_clickhouse_reads_in_flight",
                                         "Stats reads waiting for or running on the ClickHouse workers.",
                                         &qm->ch_queued);
#define CHILD(fam, out, ...) \
        if (r == 0) \
                r = oa_metrics_family_counter(qm->fam, (const char *const[]) { __VA_ARGS__ }, &qm->out)
        if (r == 0)
                r = oa_gate_counters_init(&qm->gate, qm->auth, qm->limit, qm->limit_local);
        CHILD(produce_failed, enqueue_failed, "enqueue");
        CHILD(produce_failed, delivery_failed, "delivery");
        CHILD(ch_queries, ch_ok, "ok");
        CHILD(ch_queries, ch_error, "error");
        CHILD(ch_queries, ch_unavailable, "unavailable");
#undef CHILD
        if (r == 0)
                r = oa_metrics_on_collect(m, on_collect, q);
        return r;
}

/* ---- the catalogue ---- */

void oa_query_on_bad_record(const oa_kmsg *m, int err, const char *reason, void *ud) {
        char part[16], off[24];

        snprintf(part, sizeof(part), "%d", (int) m->partition);
        snprintf(off, sizeof(off), "%lld", (long long) m->offset);
        oa_log_warn("catalogue record refused", "topic", m->topic, "partition", part, "offset", off,
                    "reason", reason);
}

bool oa_query_catalog_ready(const oa_query *q) {
        return oa_projects_ready(q->projects);
}

static void read_catalog(oa_query *q, int64_t now) {
        oa_projects_turn t;

        oa_projects_follow(q->projects, now, &t);
        if (t.read > 0)
                oa_query_kafka_answered(q);
        if (t.err == -ENOTRECOVERABLE) {
                /* A stale catalogue would keep revoked keys working: stop, and let the
                 * supervisor start a fresh process. */
                oa_log_error("projects reader failed for good; stopping", "error", t.errstr);
                q->exit_code = 1;
                oa_http_server_stop(q->srv);
        }
        if (t.err_is_news)
                oa_log_warn("projects reader error", "error", t.errstr);
        if (t.became_ready) {
                const oa_catalog *c = oa_projects_catalog(q->projects);
                char a[24], p[24], k[24];

                q->was_ready = true;
                snprintf(a, sizeof(a), "%zu", oa_catalog_n_accounts(c));
                snprintf(p, sizeof(p), "%zu", oa_catalog_n_projects(c));
                snprintf(k, sizeof(k), "%zu", oa_catalog_n_keys(c));
                oa_log_info("catalogue loaded: ready", "accounts", a, "projects", p, "keys", k);
        }
}

/* ---- catching up before a read-modify-write ---- */

/* True when the reader has returned everything before the ends. */
static bool reached(oa_query *q, const rd_kafka_topic_partition_list_t *ends) {
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(ends);
        bool ok = pos && rd_kafka_position(oa_projects_rk(q->projects), pos) == RD_KAFKA_RESP_ERR_NO_ERROR;

        for (int i = 0; ok && i < pos->cnt; i++)
                ok = pos->elems[i].offset >= ends->elems[i].offset;
        if (pos)
                rd_kafka_topic_partition_list_destroy(pos);
        return ok;
}

/* The topic's end offsets now, asked of the broker; partitions with nothing left to read
 * (empty, or compacted to nothing) are left out. NULL when the broker did not answer. */
static rd_kafka_topic_partition_list_t *end_offsets(oa_query *q, char *errbuf, size_t errlen) {
        rd_kafka_t *rk = oa_projects_rk(q->projects);
        rd_kafka_topic_partition_list_t *assigned = NULL, *ends;
        rd_kafka_resp_err_t err;

        err = rd_kafka_assignment(rk, &assigned);
        ends = rd_kafka_topic_partition_list_new(assigned ? assigned->cnt : 0);
        for (int i = 0; !err && ends && i < assigned->cnt; i++) {
                const rd_kafka_topic_partition_t *a = &assigned->elems[i];
                int64_t lo, hi;

                err = rd_kafka_query_watermark_offsets(rk, a->topic, a->partition, &lo, &hi, SYNC_QUERY_MS);
                if (!err && hi > lo)
                        rd_kafka_topic_partition_list_add(ends, a->topic, a->partition)->offset = hi;
        }
        if (assigned)
                rd_kafka_topic_partition_list_destroy(assigned);
        if (err || !ends) {
                snprintf(errbuf, errlen, "%s", err ? rd_kafka_err2str(err) : "out of memory");
                if (ends)
                        rd_kafka_topic_partition_list_destroy(ends);
                return NULL;
        }
        return ends;
}

void oa_query_sync(oa_query *q, oa_query_req *rq, oa_query_synced_fn *fn) {
        struct oa_query_sync *w;
        rd_kafka_topic_partition_list_t *ends;
        char err[256];

        ends = q->kafka_down ? NULL : end_offsets(q, err, sizeof(err));
        if (!ends) {
                fn(rq, -EAGAIN);
                return;
        }
        if (reached(q, ends)) {
                rd_kafka_topic_partition_list_destroy(ends);
                fn(rq, 0);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                rd_kafka_topic_partition_list_destroy(ends);
                fn(rq, -ENOMEM);
                return;
        }
        w->rq = rq;
        w->fn = fn;
        w->ends = ends;
        w->deadline_ms = mono_ms() + SYNC_WAIT_MS;
        w->next = q->syncs;
        q->syncs = w;
        q->woken = true;        /* read at once */
}

/* Resume the requests whose wait is over: caught up (0) or too late (-ETIMEDOUT). With
 * drop, forget them all unanswered (the server is gone). */
static void check_syncs(oa_query *q, int64_t now, bool drop) {
        struct oa_query_sync **pw = &q->syncs;

        while (*pw) {
                struct oa_query_sync *w = *pw;
                int err = 0;

                if (!drop && !reached(q, w->ends)) {
                        if (now < w->deadline_ms) {
                                pw = &w->next;
                                continue;
                        }
                        err = -ETIMEDOUT;
                }
                *pw = w->next;
                if (!drop)
                        w->fn(w->rq, err);
                rd_kafka_topic_partition_list_destroy(w->ends);
                free(w);
        }
}

/* ---- Kafka's health ---- */

void oa_query_kafka_answered(oa_query *q) {
        if (q->probe)
                oa_kprobe_answered(q->probe, mono_ms());
        if (q->kafka_down)
                kafka_state(q, true, NULL);
}

static void kafka_state(oa_query *q, bool up, const char *why) {
        if (up && q->kafka_down) {
                oa_log_info("kafka answers again");
        } else if (!up && (!q->kafka_down || strcmp(why, q->kafka_err) != 0)) {
                oa_log_warn("kafka does not answer", "error", why);
        }
        q->kafka_down = !up;
        if (!up)
                snprintf(q->kafka_err, sizeof(q->kafka_err), "%.190s", why);
}

/* Ask a broker for the projects topic's metadata when due (oa_kprobe in oa/kafka.h: a
 * short blocking round trip every few seconds, every second with a shorter wait while no
 * broker answers). */
static void probe(oa_query *q, int64_t now) {
        char err[256];
        int r;

        if (oa_kprod_fatal_error(q->kprod, err, sizeof(err)) < 0 && q->exit_code == 0) {
                oa_log_error("kafka producer failed for good; stopping", "error", err);
                q->exit_code = 1;
                oa_http_server_stop(q->srv);
        }
        r = oa_kprobe_poll(q->probe, now, err, sizeof(err));
        if (r < 0)
                return;
        if (q->log_debug)
                oa_log_debug("kafka probe", "up", r ? "true" : "false");
        kafka_state(q, r == 1, err);
}

/* ---- the loop ---- */

static void on_wake(int fd, void *userdata) {
        oa_query *q = userdata;
        char buf[256];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        q->woken = true;
}

int oa_query_feed_start(oa_query *q, char *errbuf, size_t errlen) {
        rd_kafka_queue_t *cq, *mq;
        int r;

        q->wake[0] = q->wake[1] = -1;
        if (pipe(q->wake) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
                return r;
        }
        for (int i = 0; i < 2; i++) {
                fcntl(q->wake[i], F_SETFD, FD_CLOEXEC);
                fcntl(q->wake[i], F_SETFL, O_NONBLOCK);   /* librdkafka asks for it */
        }
        r = oa_http_server_watch_fd(q->srv, q->wake[0], on_wake, q);
        if (r < 0) {
                snprintf(errbuf, errlen, "watching the wake-up pipe: %s", strerror(-r));
                return r;
        }
        /* The reader's main queue is forwarded to its consumer queue: enable there. */
        cq = rd_kafka_queue_get_consumer(oa_projects_rk(q->projects));
        mq = rd_kafka_queue_get_main(oa_kprod_rk(q->kprod));
        if (cq) {
                rd_kafka_queue_io_event_enable(cq, q->wake[1], "c", 1);
                rd_kafka_queue_destroy(cq);
        }
        if (mq) {
                rd_kafka_queue_io_event_enable(mq, q->wake[1], "p", 1);
                rd_kafka_queue_destroy(mq);
        }
        r = oa_kprobe_new(oa_kprod_rk(q->kprod), OA_TOPIC_PROJECTS, mono_ms(), &q->probe);
        if (r < 0) {
                snprintf(errbuf, errlen, "out of memory");
                return r;
        }
        return 0;
}

void oa_query_feed_stop(oa_query *q) {
        rd_kafka_queue_t *cq, *mq;

        check_syncs(q, 0, true);
        if (q->projects && (cq = rd_kafka_queue_get_consumer(oa_projects_rk(q->projects)))) {
                rd_kafka_queue_io_event_enable(cq, -1, NULL, 0);
                rd_kafka_queue_destroy(cq);
        }
        if (q->kprod && (mq = rd_kafka_queue_get_main(oa_kprod_rk(q->kprod)))) {
                rd_kafka_queue_io_event_enable(mq, -1, NULL, 0);
                rd_kafka_queue_destroy(mq);
        }
        q->probe = oa_kprobe_free(q->probe);
        for (int i = 0; i < 2; i++)
                if (q->wake[i] >= 0)
                        close(q->wake[i]);
        q->wake[0] = q->wake[1] = -1;
}

void oa_query_on_turn(void *userdata) {
        oa_query *q = userdata;
        int64_t now = mono_ms();

        oa_kprod_poll(q->kprod);
        oa_rl_tick(q->rl);      /* hand back what idle rate-limit leases did not spend */
        if (q->woken || !q->was_ready || now >= q->next_read_ms) {
                q->woken = false;
                q->next_read_ms = now + READ_EVERY_MS;
                read_catalog(q, now);
        }
        if (q->syncs)
                check_syncs(q, now, false);
        if (q->probe)
                probe(q, now);
}

int oa_query_ready(void *userdata, char *errbuf, size_t errlen) {
        oa_query *q = userdata;
        const char *err;

        if (!oa_projects_ready(q->projects)) {
                snprintf(errbuf, errlen, "kafka: projects catalogue not loaded yet");
                return -EAGAIN;
        }
        if (q->kafka_down) {
                snprintf(errbuf, errlen, "kafka: %s", q->kafka_err);
                return -ENOTCONN;
        }
        if ((err = oa_projects_recent_error(q->projects, mono_ms()))) {
                snprintf(errbuf, errlen, "kafka: projects reader: %s", err);
                return -EIO;
        }
        return 0;
}

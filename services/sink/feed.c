/* What oa-sink shows of itself: the metrics (/metrics), readiness (/readyz: ClickHouse
 * answers and nothing waits for it), the lag per partition read from librdkafka's cached
 * high watermarks, and the loop's turn (the age flush, the retries while stuck). */
#include "sink.h"

#include "oa/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RATE_WINDOW_MS 5000
#define BACKOFF_MIN_MS 100

static const double insert_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5, 1, 2.5, 5, 10, 30 };

static void collect(void *userdata) {
        oa_sink *s = userdata;
        rd_kafka_t *rk = s->kc ? oa_kcons_rk(s->kc) : NULL;
        size_t open = 0;

        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++) {
                oa_sink_part *pt = &s->parts[p];
                int64_t lo, hi;

                if (pt->sessions)
                        open += oa_map_size(pt->sessions);
                if (!pt->assigned || !rk)
                        continue;
                if (!pt->lag) {
                        char ps[16];
                        const char *lv[] = { ps };

                        snprintf(ps, sizeof(ps), "%d", p);
                        if (oa_metrics_family_gauge(s->m.lag, lv, &pt->lag) < 0)
                                continue;
                }
                if (rd_kafka_get_watermark_offsets(rk, OA_TOPIC_EVENTS, p, &lo, &hi) == 0 && hi >= 0)
                        oa_metrics_gauge_set(pt->lag, (double) (hi - (pt->next > lo ? pt->next : lo)));
        }
        oa_metrics_gauge_set(s->m.open_sessions, (double) open);
        oa_metrics_gauge_set(s->m.batch_rows, (double) s->batch.rows);
        oa_metrics_gauge_set(s->m.stuck, s->stuck ? 1 : 0);
}

int oa_sink_metrics_setup(oa_sink *s) {
        oa_metrics *m = s->metrics;
        oa_sink_metrics *x = &s->m;
        const char *reason[] = { "reason" }, *partition[] = { "partition" };
        int r = 0;

        r = r ? r : oa_metrics_counter_new(m, "oa_sink_rows_total", "events inserted into oa.events", &x->rows);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_rows_per_second", "events inserted per second over the last 5 s", &x->rows_per_s);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_inserts_total", "inserts ClickHouse acknowledged", &x->inserts);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_insert_errors_total", "inserts that failed (retried)", &x->insert_errors);
        r = r ? r : oa_metrics_histogram_new(m, "oa_sink_insert_seconds", "time of one insert into ClickHouse",
                                             insert_buckets, sizeof(insert_buckets) / sizeof(insert_buckets[0]), &x->insert_seconds);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_last_insert_timestamp_seconds", "Unix time of the last batch ClickHouse acknowledged", &x->last_insert);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_clickhouse_up", "1 when the last ClickHouse request succeeded", &x->ch_up);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_stuck", "1 while a batch or a partition waits for ClickHouse (partitions paused)", &x->stuck);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_skipped_total", "messages skipped: ClickHouse already held their offset", &x->skipped);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_duplicates_total", "events skipped: their event_id was written recently", &x->duplicates);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_suppressed_total", "events dropped because their user asked to be deleted while they were in flight (DSAR)", &x->suppressed);
        r = r ? r : oa_metrics_counter_new(m, "oa_sink_late_events_total", "events more than 30 min older than their visitor's session: a session of their own", &x->late);
        r = r ? r : oa_metrics_counter_family(m, "oa_sink_deadletters_total", "messages sent to oa.deadletter.v1", reason, 1, &x->deadletters);
        r = r ? r : oa_metrics_gauge_family(m, "oa_sink_lag", "messages of oa.events.v1 not yet handled, per partition", partition, 1, &x->lag);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_batch_rows", "events in the batch being built", &x->batch_rows);
        r = r ? r : oa_metrics_gauge_new(m, "oa_sink_open_sessions", "visitors' sessions held in memory", &x->open_sessions);
        r = r ? r : oa_metrics_on_collect(m, collect, s);
        return r;
}

void oa_sink_note_ch(oa_sink *s, int r, const char *err) {
        bool ok = r == 0;

        if (ok != s->ch_ok) {
                if (ok)
                        oa_log_info("clickhouse answers again");
                else
                        oa_log_warn("clickhouse failed", "error", err && *err ? err : strerror(-r));
        }
        s->ch_ok = ok;
        oa_metrics_gauge_set(s->m.ch_up, ok ? 1 : 0);
}

int oa_sink_ready(void *userdata, char *errbuf, size_t errlen) {
        oa_sink *s = userdata;

        if (!s->ch_ok) {
                snprintf(errbuf, errlen, "clickhouse: %s", s->ch_err[0] ? s->ch_err : "not reached yet");
                return -ENOTCONN;
        }
        if (s->stuck) {
                snprintf(errbuf, errlen, "waiting for clickhouse: %s", s->ch_err);
                return -EAGAIN;
        }
        return 0;
}

static void update_rate(oa_sink *s, int64_t now) {
        if (!s->rate_t0_ms) {
                s->rate_t0_ms = now;
                s->rate_rows0 = s->m.rows->value;
        } else if (now - s->rate_t0_ms >= RATE_WINDOW_MS) {
                oa_metrics_gauge_set(s->m.rows_per_s, (double) (s->m.rows->value - s->rate_rows0) * 1000.0 /
                                                          (double) (now - s->rate_t0_ms));
                s->rate_t0_ms = now;
                s->rate_rows0 = s->m.rows->value;
        }
}

/* Pause or resume every assigned partition: while stuck nothing new is fetched, and the
 * message in hand is parked; resuming continues after it. */
static void pause_all(oa_sink *s, bool pause) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);

        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                if (s->parts[p].assigned)
                        rd_kafka_topic_partition_list_add(l, OA_TOPIC_EVENTS, p);
        if (pause)
                rd_kafka_pause_partitions(oa_kcons_rk(s->kc), l);
        else
                rd_kafka_resume_partitions(oa_kcons_rk(s->kc), l);
        rd_kafka_topic_partition_list_destroy(l);
}

void oa_sink_get_stuck(oa_sink *s) {
        int64_t now = oa_sink_mono_ms();

        if (!s->stuck) {
                s->stuck = true;
                s->backoff_ms = BACKOFF_MIN_MS;
                pause_all(s, true);
                oa_log_warn("waiting for clickhouse; partitions paused", "error", s->ch_err);
        } else {
                s->backoff_ms = s->backoff_ms * 2 > s->cfg->retry_max_ms ? s->cfg->retry_max_ms : s->backoff_ms * 2;
        }
        s->next_retry_ms = now + s->backoff_ms;
}

void oa_sink_tick(oa_sink *s) {
        int64_t now = oa_sink_mono_ms();
        oa_sink_batch *b = &s->batch;
        bool full;

        update_rate(s, now);
        if (s->stuck) {
                if (now < s->next_retry_ms)
                        return;
                if (oa_sink_flush(s, false) < 0 ||
                    (s->parked_valid && oa_sink_handle(s, &s->parked) == -EAGAIN)) {
                        oa_sink_get_stuck(s);
                        return;
                }
                if (s->parked_valid) {
                        oa_kmsg_done(&s->parked);
                        s->parked_valid = false;
                }
                s->stuck = false;
                pause_all(s, false);
                oa_log_info("clickhouse took the batch; partitions resumed");
                return;
        }
        full = b->rows >= (size_t) s->cfg->batch_rows || b->events.len >= (size_t) s->cfg->batch_bytes;
        /* while ClickHouse takes the batch in flight, the next one grows (unless full):
         * it is handed over as soon as the one before it is acknowledged */
        if (!full && oa_sink_flight_busy(s))
                return;
        /* the answer is in: taken now (a failure gets stuck at once), the next batch still
         * waits for its age */
        if (s->flight.active && oa_sink_settle(s) < 0) {
                oa_sink_get_stuck(s);
                return;
        }
        if ((b->first_ms && (now - b->first_ms >= s->cfg->batch_ms || full)) ||
            (now - s->sessions_flushed_ms >= s->cfg->sessions_ms && oa_sink_sessions_waiting(s))) {
                if (oa_sink_flush(s, false) < 0)
                        oa_sink_get_stuck(s);
                else
                        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                                if (s->parts[p].sessions && oa_map_size(s->parts[p].sessions) > (size_t) s->cfg->sessions_max)
                                        oa_sink_part_evict(s, p);
        }
}

/* oa-realtime's loop: poll oa.events.v1, gather a batch, run it as one script in Redis
 * (batch.c), store the offsets once Redis applied it, and rewind a partition when Redis
 * says it is elsewhere (see realtime.h). While Redis does not answer the batch is kept
 * and tried again every OA_REALTIME_RETRY_MS; nothing more is read meanwhile (librdkafka
 * keeps the group membership for max.poll.interval.ms; past it the group rebalances and
 * the offsets check keeps the counts exact anyway). /metrics, /healthz and /readyz are
 * served from the same loop. */
#include "realtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MAX_MS 100

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- metrics and readiness ---- */

int oa_realtime_metrics_setup(oa_realtime *rt) {
        static const char *const result[] = { "result" };
        oa_realtime_metrics *m = &rt->m;
        int r;

        r = oa_metrics_counter_new(rt->metrics, "oa_realtime_messages_total",
                                   "Messages read from oa.events.v1.", &m->messages);
        if (r == 0)
                r = oa_metrics_counter_new(rt->metrics, "oa_realtime_events_total",
                                           "Events written to Redis.", &m->events);
        if (r == 0)
                r = oa_metrics_counter_new(rt->metrics, "oa_realtime_bad_messages_total",
                                           "Messages that are not an event (logged, skipped).", &m->bad);
        if (r == 0)
                r = oa_metrics_counter_family(rt->metrics, "oa_realtime_flushes_total",
                                              "Batches sent to Redis: ok (applied), rewind (Redis was elsewhere: "
                                              "partitions sought back), error (Redis did not answer; kept).",
                                              result, 1, &m->flushes);
        if (r == 0)
                r = oa_metrics_family_counter(m->flushes, (const char *const[]) { "ok" }, &m->flush_ok);
        if (r == 0)
                r = oa_metrics_family_counter(m->flushes, (const char *const[]) { "rewind" }, &m->flush_rewind);
        if (r == 0)
                r = oa_metrics_family_counter(m->flushes, (const char *const[]) { "error" }, &m->flush_error);
        if (r == 0)
                r = oa_metrics_counter_new(rt->metrics, "oa_realtime_rewinds_total",
                                           "Partitions sought back to replay what Redis lacks.", &m->rewinds);
        if (r == 0)
                r = oa_metrics_gauge_new(rt->metrics, "oa_realtime_redis_up",
                                         "1 while Redis accepts the batches.", &m->redis_up);
        if (r == 0)
                r = oa_metrics_gauge_new(rt->metrics, "oa_realtime_batch_events",
                                         "Events in the batch waiting for Redis.", &m->batch_events);
        if (r == 0)
                r = oa_metrics_gauge_new(rt->metrics, "oa_realtime_last_event_age_seconds",
                                         "Receive time at oa-edge to applied in Redis, of the last batch's "
                                         "last event.", &m->age);
        if (r == 0)
                oa_metrics_gauge_set(m->redis_up, 1);
        return r;
}

int oa_realtime_ready(void *userdata, char *errbuf, size_t errlen) {
        oa_realtime *rt = userdata;

        if (rt->redis_down) {
                snprintf(errbuf, errlen, "redis: %s", rt->redis_err);
                return -1;
        }
        return 0;
}

/* ---- rewinds ---- */

static int64_t *rewound_slot(oa_realtime *rt, int32_t p) {
        int64_t *v = oa_map_get(rt->rewound, &p, sizeof(p));

        if (v)
                return v;
        v = malloc(sizeof(*v));
        if (!v)
                return NULL;
        *v = -1;
        if (oa_map_put(rt->rewound, &p, sizeof(p), v, NULL) < 0) {
                free(v);
                return NULL;
        }
        return v;
}

/* Where partition p's replay starts when Redis knows nothing of it: the first message of
 * the last OA_RT_SERIES_MIN + 1 minutes, or the end when there is none. */
static int64_t offset_by_time(oa_realtime *rt, int32_t p) {
        rd_kafka_t *rk = oa_kcons_rk(rt->kc);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        int64_t lo = 0, hi = RD_KAFKA_OFFSET_END, off = RD_KAFKA_OFFSET_END;
        rd_kafka_resp_err_t e;

        if (!l)
                return RD_KAFKA_OFFSET_END;
        rd_kafka_topic_partition_list_add(l, OA_TOPIC_EVENTS, p)->offset =
                wall_ms() - (int64_t) (OA_RT_SERIES_MIN + 1) * 60000;
        e = rd_kafka_offsets_for_times(rk, l, (int) rt->cfg->kafka_timeout_ms);
        if (!e && l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0)
                off = l->elems[0].offset;
        else if (rd_kafka_query_watermark_offsets(rk, OA_TOPIC_EVENTS, p, &lo, &hi,
                                                  (int) rt->cfg->kafka_timeout_ms) == 0)
                off = hi;
        rd_kafka_topic_partition_list_destroy(l);
        return off;
}

/* The script refused the batch: reply holds (partition, offset Redis holds or -1) pairs.
 * Seek every partition of the batch to where Redis is; the batch is dropped. */
static void rewind_batch(oa_realtime *rt, const redisReply *reply) {
        const oa_rt_batch *b = &rt->batch;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int) b->n_parts);
        rd_kafka_error_t *err;
        char text[64];

        if (!l)
                return;
        for (size_t i = 0; i < b->n_parts; i++) {
                const oa_rt_part *part = &b->parts[i];
                int64_t target = part->first;

                for (size_t k = 0; k + 1 < reply->elements; k += 2) {
                        long long p = 0, have = 0;

                        if (reply->element[k]->type != REDIS_REPLY_STRING ||
                            reply->element[k + 1]->type != REDIS_REPLY_STRING ||
                            oa_cfg_parse_ll(reply->element[k]->str, 0, INT32_MAX, &p) < 0 ||
                            oa_cfg_parse_ll(reply->element[k + 1]->str, -1, INT64_MAX, &have) < 0 ||
                            p != part->partition)
                                continue;
                        if (have >= 0) {
                                target = have + 1;
                        } else {
                                int64_t *slot = rewound_slot(rt, part->partition);

                                target = offset_by_time(rt, part->partition);
                                if (slot)
                                        *slot = target;
                        }
                        oa_metrics_counter_inc(rt->m.rewinds, 1);
                        snprintf(text, sizeof(text), "%" PRId32 "@%" PRId64 "->%" PRId64, part->partition,
                                 part->first, target);
                        oa_log_info("partition rewound to where Redis is", "partition", text,
                                    "redis_has", reply->element[k + 1]->str);
                }
                rd_kafka_topic_partition_list_add(l, OA_TOPIC_EVENTS, part->partition)->offset = target;
        }
        err = rd_kafka_seek_partitions(oa_kcons_rk(rt->kc), l, (int) rt->cfg->kafka_timeout_ms);
        if (err) {
                oa_log_warn("seek failed", "error", rd_kafka_error_string(err));
                rd_kafka_error_destroy(err);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

/* ---- flushing ---- */

static void redis_state(oa_realtime *rt, bool down) {
        if (down == rt->redis_down)
                return;
        rt->redis_down = down;
        oa_metrics_gauge_set(rt->m.redis_up, down ? 0 : 1);
        if (down)
                oa_log_warn("redis does not accept the batch; consumption paused, the batch is kept",
                            "error", rt->redis_err);
        else
                oa_log_info("redis answers again; consumption resumed");
}

/* Send the batch. Returns 0 when it is done with (applied, or dropped after a rewind),
 * -EAGAIN when it is kept for a retry. */
static int flush(oa_realtime *rt) {
        oa_rt_batch *b = &rt->batch;
        const char *keys[] = { OA_RT_APPLIED_KEY };
        const char **args = NULL;
        redisReply *reply = NULL;
        int64_t started = mono_ms();
        size_t n = 0;
        int r;

        r = oa_rt_batch_args(b, &args, &n);
        if (r < 0) {
                snprintf(rt->redis_err, sizeof(rt->redis_err), "building the batch: %s", strerror(-r));
                goto fail;
        }
        reply = oa_rds_eval(rt->rds, oa_rt_script, 1, keys, (int) n, args);
        free(args);
        if (!reply) {
                snprintf(rt->redis_err, sizeof(rt->redis_err), "%s", oa_rds_errstr(rt->rds));
                goto fail;
        }
        if (reply->type == REDIS_REPLY_ERROR || reply->type != REDIS_REPLY_ARRAY) {
                snprintf(rt->redis_err, sizeof(rt->redis_err), "script: %.160s",
                         reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected answer");
                goto fail;
        }
        if (reply->elements == 0) {
                for (size_t i = 0; i < b->n_parts; i++) {
                        r = oa_kcons_store(rt->kc, OA_TOPIC_EVENTS, b->parts[i].partition, b->parts[i].last);
                        if (r < 0 && r != -ESTALE)
                                oa_log_warn("storing an offset failed", "error", strerror(-r));
                }
                oa_metrics_counter_inc(rt->m.flush_ok, 1);
                oa_metrics_counter_inc(rt->m.events, b->n_events);
                oa_metrics_gauge_set(rt->m.age, (double) (wall_ms() - rt->last_received_ms) / 1000.0);
        } else {
                oa_metrics_counter_inc(rt->m.flush_rewind, 1);
                rewind_batch(rt, reply);
        }
        freeReplyObject(reply);
        redis_state(rt, false);
        oa_rt_batch_reset(b);
        oa_metrics_gauge_set(rt->m.batch_events, 0);
        (void) started;
        rt->retry_at_ms = 0;
        return 0;
fail:
        if (reply)
                freeReplyObject(reply);
        oa_metrics_counter_inc(rt->m.flush_error, 1);
        redis_state(rt, true);
        rt->retry_at_ms = mono_ms() + rt->cfg->retry_ms;
        return -EAGAIN;
}

/* ---- the loop ---- */

static void take(oa_realtime *rt, const oa_kmsg *m) {
        Oa__Event *ev = NULL;
        int64_t *slot = rewound_slot(rt, m->partition);
        char pos[48];
        int r;

        oa_metrics_counter_inc(rt->m.messages, 1);
        if (m->value)
                ev = oa__event__unpack(NULL, m->value_len, m->value);
        r = oa_rt_batch_add(&rt->batch, ev, m->partition, m->offset, slot ? *slot : -1, wall_ms(), mono_ms());
        if (!ev || r == -EINVAL) {
                snprintf(pos, sizeof(pos), "%" PRId32 "@%" PRId64, m->partition, m->offset);
                oa_metrics_counter_inc(rt->m.bad, 1);
                oa_log_warn("skipped a message that is not a usable event", "position", pos);
        } else if (r < 0) {
                oa_log_error("out of memory while batching");
        } else if (ev->received_ms > rt->last_received_ms) {
                rt->last_received_ms = ev->received_ms;
        }
        if (ev)
                oa__event__free_unpacked(ev, NULL);
        oa_metrics_gauge_set(rt->m.batch_events, (double) rt->batch.n_events);
}

int oa_realtime_run(oa_realtime *rt) {
        char err[256];
        oa_kmsg m;
        int r;

        for (;;) {
                int64_t now = mono_ms();
                int wait = POLL_MAX_MS;

                if (oa_http_server_run_once(rt->srv, 0) == 1)
                        break;
                if (rt->batch.n_msgs > 0) {
                        int64_t due = rt->batch.started_ms + rt->cfg->batch_ms;

                        if (rt->retry_at_ms) {
                                if (now < rt->retry_at_ms) {
                                        int64_t left = rt->retry_at_ms - now;

                                        if (oa_http_server_run_once(rt->srv, (int) (left < 50 ? left : 50)) == 1)
                                                break;
                                        continue;
                                }
                                flush(rt);
                                continue;
                        }
                        if ((long long) rt->batch.n_msgs >= rt->cfg->batch_max || now >= due) {
                                flush(rt);
                                continue;
                        }
                        wait = (int) (due - now < POLL_MAX_MS ? due - now : POLL_MAX_MS);
                }
                r = oa_kcons_poll(rt->kc, wait, &m, err, sizeof(err));
                if (r == 1) {
                        take(rt, &m);
                        oa_kmsg_done(&m);
                } else if (r == -ENOTRECOVERABLE) {
                        oa_log_error("kafka consumer failed", "error", err);
                        return r;
                } else if (r < 0 && r != -ESHUTDOWN) {
                        oa_log_warn("kafka consumer error", "error", err);
                }
        }
        /* stopping: one last try for what is batched; what Redis did not take is read
         * again by the next consumer from the committed offsets */
        if (rt->batch.n_msgs > 0)
                flush(rt);
        return 0;
}

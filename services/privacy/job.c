/* One deletion request at a time, from its record on oa.deletions.v1 to `completed`.
 *
 *   LOOKUP     its newest status: completed or failed already (a replay after a crash
 *              between the final status and the offset commit): nothing to do; running
 *              with the rows counted: resume at MUTATE; else start: status `running`.
 *   SINK_WAIT  oa-sink's committed offsets on oa.events.v1 reach the ends taken when the
 *              request began, so the user's events that were in flight are in ClickHouse
 *              (and deleted next), or dropped by oa-sink's suppression list. Bounded by
 *              OA_PRIVACY_SINK_WAIT_MS.
 *   COUNT      count the user's rows per table, remove the entries from the realtime list
 *              in Redis, and record the counts in the `running` status (so a resumed
 *              request still reports what it deleted).
 *   MUTATE     ALTER TABLE oa.events / oa.sessions DELETE WHERE the user's rows.
 *   VERIFY     every OA_PRIVACY_CHECK_EVERY_MS: rows left in both tables and mutations
 *              still running on them (system.mutations); none of either: the Redis list
 *              once more, then FINISH completed. Past the deadline: failed.
 *   FINISH     the final status written, then the offset stored.
 *
 * A step that fails because ClickHouse or Redis is away is tried again later, in the same
 * stage; the loop keeps serving /metrics meanwhile. */
#include "privacy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RETRY_MS 1000
#define KAFKA_ERR_MS 10000

static const char *const tables[] = { "oa.events", "oa.sessions" };

void oa_privacy_job_clear(oa_privacy_job *j) {
        if (j->req)
                oa__deletion_request__free_unpacked(j->req, NULL);
        if (j->marks)
                rd_kafka_topic_partition_list_destroy(j->marks);
        memset(j, 0, sizeof(*j));
        j->stage = STAGE_IDLE;
}

/* The audit trail: one line per action, never the user's data. */
static void audit(const oa_privacy_job *j, const char *action, const char *detail) {
        char t[OA_ENTITY_TIME_MAX];

        oa_entity_time_format(oa_entity_now_ms(), t);
        oa_log_info("dsar", "action", action, "request_id", j->st.request_id, "project_id",
                    j->st.project_id, "key_id", j->st.key_id, "at", t, "detail",
                    detail ? detail : "");
}

static void later(oa_privacy *p, const char *what, const char *err) {
        oa_privacy_job *j = &p->job;

        oa_log_warn("dsar step failed, will retry", "step", what, "request_id",
                    j->st.request_id, "error", err);
        j->next_ms = oa_privacy_mono_ms() + RETRY_MS;
}

/* ---- taking a record ---- */

static void store_offset(oa_privacy *p, int32_t partition, int64_t offset) {
        int r = oa_kcons_store(p->kcons, OA_TOPIC_DELETIONS, partition, offset);

        if (r < 0 && r != -ESTALE)
                oa_log_warn("storing an offset failed", "error", strerror(-r));
}

/* A record we cannot carry out: to the dead-letter topic (acknowledged), then past it. */
static void refuse(oa_privacy *p, oa_kmsg *m, const char *reason, const char *detail) {
        int r = oa_privacy_dead_letter(p, m, reason, detail);

        if (r == 0)
                r = oa_kprod_flush(p->kprod, 10000);
        if (r < 0) {
                /* not acknowledged: keep the offset, the record comes back after a restart */
                oa_log_error("dead letter not written", "error", strerror(-r), "reason", reason);
                return;
        }
        oa_metrics_counter_inc(p->m.dead_letters, 1);
        oa_log_warn("deletion request refused", "reason", reason, "detail", detail,
                    "partition", m->partition);
        store_offset(p, m->partition, m->offset);
}

static void take(oa_privacy *p, oa_kmsg *m) {
        oa_privacy_job *j = &p->job;
        Oa__DeletionRequest *req;
        char err[256];

        if (!m->value) {
                store_offset(p, m->partition, m->offset);
                return;
        }
        req = oa__deletion_request__unpack(NULL, m->value_len, m->value);
        if (!req) {
                refuse(p, m, "decode_error", "not an oa.DeletionRequest");
                return;
        }
        if (oa_dsar_request_check(req, err, sizeof(err)) < 0) {
                oa__deletion_request__free_unpacked(req, NULL);
                refuse(p, m, "invalid", err);
                return;
        }
        oa_privacy_job_clear(j);
        j->req = req;
        j->partition = m->partition;
        j->offset = m->offset;
        oa_dsar_status_from_request(&j->st, req);
        j->stage = STAGE_LOOKUP;
        j->started_mono_ms = oa_privacy_mono_ms();
        oa_metrics_gauge_set(p->m.active, 1);
        audit(j, "received", NULL);
}

/* ---- the stages ---- */

static void write_status(oa_privacy *p, oa_privacy_stage next) {
        oa_privacy_job *j = &p->job;
        char err[512];

        j->st.version = (uint64_t) oa_entity_now_ms();
        if (oa_privacy_status_write(p, &j->st, err, sizeof(err)) < 0) {
                later(p, "status", err);
                return;
        }
        j->stage = next;
        j->next_ms = 0;
}

static void lookup(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        oa_dsar_status old;
        bool found = false;
        char err[512];

        if (oa_privacy_status_read(p, j->st.project_id, j->st.request_id, &old, &found, err,
                                   sizeof(err)) < 0) {
                later(p, "lookup", err);
                return;
        }
        if (found && (old.state == OA_DSAR_COMPLETED || old.state == OA_DSAR_FAILED)) {
                audit(j, "already done", oa_dsar_state_name(old.state));
                store_offset(p, j->partition, j->offset);
                oa_privacy_job_clear(j);
                oa_metrics_gauge_set(p->m.active, 0);
                return;
        }
        if (found && old.state == OA_DSAR_RUNNING && old.counted) {
                j->st = old;
                audit(j, "resumed", "rows already counted");
                j->stage = STAGE_MUTATE;
                j->deadline_ms = oa_privacy_mono_ms() + p->cfg->mutation_timeout_ms;
                return;
        }
        j->st.state = OA_DSAR_RUNNING;
        j->st.started_ms = found && old.started_ms ? old.started_ms : oa_entity_now_ms();
        audit(j, found && old.state == OA_DSAR_RUNNING ? "resumed" : "started", NULL);
        j->deadline_ms = oa_privacy_mono_ms() + p->cfg->sink_wait_ms;
        write_status(p, p->cfg->sink_group[0] && p->cfg->sink_wait_ms > 0 ? STAGE_SINK_WAIT
                                                                        : STAGE_COUNT);
}

static void sink_wait(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        bool done = false;
        char err[512];

        if (!j->marks && oa_privacy_sink_marks(p, &j->marks, err, sizeof(err)) < 0) {
                later(p, "sink offsets", err);
                return;
        }
        if (j->marks && oa_privacy_sink_caught_up(p, j->marks, &done, err, sizeof(err)) < 0)
                oa_log_warn("reading oa-sink's offsets failed", "error", err);
        if (!done && oa_privacy_mono_ms() < j->deadline_ms) {
                j->next_ms = oa_privacy_mono_ms() + p->cfg->check_every_ms;
                return;
        }
        if (!done) {
                oa_metrics_counter_inc(p->m.suppress_waits_timed_out, 1);
                audit(j, "sink wait timed out", "deleting now; oa-sink drops later arrivals");
        } else {
                audit(j, "sink caught up", NULL);
        }
        j->stage = STAGE_COUNT;
        j->next_ms = 0;
}

static void count(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        uint64_t n[2], recent;
        char err[512], detail[128];

        for (size_t i = 0; i < 2; i++)
                if (oa_privacy_count(p, tables[i], j->req, &n[i], err, sizeof(err)) < 0) {
                        later(p, "count", err);
                        return;
                }
        if (oa_privacy_forget_recent(p, j->req, &recent, err, sizeof(err)) < 0) {
                later(p, "redis", err);
                return;
        }
        j->st.counted = true;
        j->st.rows_events = n[0];
        j->st.rows_sessions = n[1];
        j->st.rows_recent = recent;
        snprintf(detail, sizeof(detail), "events=%" PRIu64 " sessions=%" PRIu64 " recent=%" PRIu64,
                 n[0], n[1], recent);
        audit(j, "counted; recent events removed from redis", detail);
        j->deadline_ms = oa_privacy_mono_ms() + p->cfg->mutation_timeout_ms;
        write_status(p, STAGE_MUTATE);
}

static void mutate(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        char err[512];

        for (size_t i = 0; i < 2; i++)
                if (oa_privacy_delete(p, tables[i], j->req, err, sizeof(err)) < 0) {
                        later(p, "delete", err);
                        return;
                }
        audit(j, "deletions issued", "oa.events oa.sessions");
        j->stage = STAGE_VERIFY;
        j->next_ms = oa_privacy_mono_ms() + p->cfg->check_every_ms;
}

static void finish(oa_privacy *p, oa_dsar_state state, const char *error) {
        oa_privacy_job *j = &p->job;

        j->st.state = state;
        j->st.finished_ms = oa_entity_now_ms();
        snprintf(j->st.error, sizeof(j->st.error), "%.*s", (int) sizeof(j->st.error) - 1, error ? error : "");
        j->stage = STAGE_FINISH;
        j->next_ms = 0;
}

static void verify(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        uint64_t left[2], recent = 0, pending = 1;
        char err[512];

        for (size_t i = 0; i < 2; i++)
                if (oa_privacy_count(p, tables[i], j->req, &left[i], err, sizeof(err)) < 0) {
                        later(p, "verify", err);
                        return;
                }
        if (oa_privacy_pending_mutations(p, &pending, err, sizeof(err)) < 0) {
                later(p, "verify", err);
                return;
        }
        if (left[0] == 0 && left[1] == 0 && pending == 0) {
                /* events that reached the realtime list while the mutations ran */
                if (oa_privacy_forget_recent(p, j->req, &recent, err, sizeof(err)) < 0) {
                        later(p, "redis", err);
                        return;
                }
                j->st.rows_recent += recent;
                audit(j, "verified", "no rows of the user remain");
                finish(p, OA_DSAR_COMPLETED, NULL);
                return;
        }
        if (oa_privacy_mono_ms() >= j->deadline_ms) {
                snprintf(err, sizeof(err), "rows remained after %lld ms (events %llu, sessions %llu)",
                         p->cfg->mutation_timeout_ms, (unsigned long long) left[0],
                         (unsigned long long) left[1]);
                finish(p, OA_DSAR_FAILED, err);
                return;
        }
        /* rows written after the mutations were made (late arrivals) are not theirs:
         * once no mutation is pending, delete again */
        if ((left[0] || left[1]) && pending == 0) {
                audit(j, "rows remain with no deletion pending", "deleting again");
                j->stage = STAGE_MUTATE;
        }
        j->next_ms = oa_privacy_mono_ms() + p->cfg->check_every_ms;
}

static void final_status(oa_privacy *p) {
        oa_privacy_job *j = &p->job;
        const char *outcome = oa_dsar_state_name(j->st.state);
        const char *const v[] = { outcome };
        oa_metrics_counter *c = NULL;
        char err[512];

        j->st.version = (uint64_t) oa_entity_now_ms();
        if (oa_privacy_status_write(p, &j->st, err, sizeof(err)) < 0) {
                later(p, "final status", err);
                return;
        }
        if (oa_metrics_family_counter(p->m.requests, v, &c) == 0)
                oa_metrics_counter_inc(c, 1);
        if (j->st.state == OA_DSAR_COMPLETED) {
                const uint64_t rows[3] = { j->st.rows_events, j->st.rows_sessions, j->st.rows_recent };
                const char *names[3] = { "events", "sessions", "recent" };

                for (int i = 0; i < 3; i++) {
                        const char *const tv[] = { names[i] };

                        if (oa_metrics_family_counter(p->m.rows, tv, &c) == 0)
                                oa_metrics_counter_inc(c, rows[i]);
                }
        }
        oa_metrics_histogram_observe(p->m.seconds,
                                     (double) (oa_privacy_mono_ms() - j->started_mono_ms) / 1000.0);
        audit(j, outcome, j->st.error);
        store_offset(p, j->partition, j->offset);
        oa_privacy_job_clear(j);
        oa_metrics_gauge_set(p->m.active, 0);
}

/* ---- the loop's turn ---- */

static void poll_record(oa_privacy *p) {
        oa_kmsg m;
        char err[256];
        int r = oa_kcons_poll(p->kcons, 0, &m, err, sizeof(err));

        if (r < 0) {
                if (r != -ESHUTDOWN) {
                        oa_log_warn("consumer error", "error", err);
                        p->kafka_err_until_ms = oa_privacy_mono_ms() + KAFKA_ERR_MS;
                }
                return;
        }
        if (r == 0)
                return;
        take(p, &m);
        oa_kmsg_done(&m);
}

void oa_privacy_on_turn(void *userdata) {
        oa_privacy *p = userdata;
        oa_privacy_job *j = &p->job;

        oa_kprod_poll(p->kprod);
        if (oa_http_server_stopping(p->srv))
                return;
        if (j->stage == STAGE_IDLE) {
                poll_record(p);
                return;
        }
        if (j->next_ms && oa_privacy_mono_ms() < j->next_ms)
                return;
        switch (j->stage) {
        case STAGE_LOOKUP: lookup(p); break;
        case STAGE_SINK_WAIT: sink_wait(p); break;
        case STAGE_COUNT: count(p); break;
        case STAGE_MUTATE: mutate(p); break;
        case STAGE_VERIFY: verify(p); break;
        case STAGE_FINISH: final_status(p); break;
        case STAGE_IDLE: break;
        }
}

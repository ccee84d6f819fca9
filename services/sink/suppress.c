/* The suppression list (docs/privacy.md): oa-sink reads oa.deletions.v1 from its beginning
 * and follows it, remembering for 7 days each (project, visitor) a user asked to delete,
 * with the request's time. An event of that visitor received at or before that time was in
 * flight when the request was made: oa_sink_handle drops it. The events topic keeps 7 days,
 * so a replay of it cannot bring a deleted user back either. No event is written before
 * the records present at start are read (oa_sink_suppress_ready). */
#include "sink.h"

#include "oa/log.h"

#include <errno.h>
#include <stdio.h>

#define READ_MAX 1000                   /* records per turn */
#define EXPIRE_EVERY_MS 60000

int oa_sink_suppress_start(oa_sink *s, char *errbuf, size_t errlen) {
        oa_kafka_cfg kc = { .brokers = s->cfg->kafka_brokers, .client_id = "oa-sink-deletions" };
        int r;

        s->suppress = oa_dsar_suppress_new();
        if (!s->suppress)
                return -ENOMEM;
        r = oa_kcons_new_reader(&kc, OA_TOPIC_DELETIONS, 10000, &s->deletions, errbuf, errlen);
        return r;
}

static void apply(oa_sink *s, const oa_kmsg *m) {
        Oa__DeletionRequest *req;
        char err[160];

        if (!m->value)
                return;
        req = oa__deletion_request__unpack(NULL, m->value_len, m->value);
        if (!req || oa_dsar_request_check(req, err, sizeof(err)) < 0) {
                /* oa-privacy sends it to the dead letters; nothing to suppress here */
                if (req)
                        oa__deletion_request__free_unpacked(req, NULL);
                return;
        }
        if (req->created_ms >= oa_sink_wall_ms() - OA_DSAR_SUPPRESS_MS &&
            oa_dsar_suppress_add(s->suppress, req->project_id, req->visitor_id, req->created_ms) < 0)
                oa_log_error("suppression list: out of memory; a deleted user's events in flight "
                             "may be written", "request_id", req->request_id);
        oa__deletion_request__free_unpacked(req, NULL);
}

void oa_sink_suppress_poll(oa_sink *s) {
        char err[256];
        oa_kmsg m;
        int r;

        if (!s->deletions)
                return;
        for (int i = 0; i < READ_MAX; i++) {
                r = oa_kcons_poll(s->deletions, 0, &m, err, sizeof(err));
                if (r <= 0) {
                        if (r < 0 && r != -ESHUTDOWN)
                                oa_log_warn("reading oa.deletions.v1", "error", err);
                        break;
                }
                apply(s, &m);
                oa_kmsg_done(&m);
        }
        if (oa_sink_mono_ms() >= s->suppress_expire_ms) {
                oa_dsar_suppress_expire(s->suppress, oa_sink_wall_ms());
                s->suppress_expire_ms = oa_sink_mono_ms() + EXPIRE_EVERY_MS;
        }
}

bool oa_sink_suppress_ready(const oa_sink *s) {
        return !s->deletions || oa_kcons_caught_up(s->deletions);
}

void oa_sink_suppress_stop(oa_sink *s) {
        s->deletions = oa_kcons_free(s->deletions);
        s->suppress = oa_dsar_suppress_free(s->suppress);
}

/* Sessions: per project and visitor, computed from the partition's ordered stream (one
 * visitor's events share a partition: the key is project/visitor).
 *
 * The rule, by event time (the event's timestamp, not its arrival):
 *   - an event more than 30 minutes after the visitor's current session's last event
 *     starts a new session;
 *   - an event within [start - 30 min, end + 30 min] of the current session belongs to
 *     it, whatever order it arrived in: start and end, the entry page (earliest pageview)
 *     and exit page (latest pageview), and the attributes (hostname, referrer, source, UTM,
 *     country, device, browser, OS: those of the earliest event) are all order-free, so
 *     events a little out of order (client clocks, batches) give the same session;
 *   - an event more than 30 minutes before the current session's start (a late event,
 *     e.g. a backfill) gets a one-event session of its own, and the current session stays.
 * A session belongs to the day it started (a session crossing midnight counts there).
 * is_bounce: exactly one pageview and no other event. The user_id is that of the latest
 * event carrying one. The same definitions, in SQL, rebuild a session from oa.events
 * (sql.c: oa_sink_sql_rebuild), so a restart does not change a session. */
#include "sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

oa_sink_sess_step oa_sink_sess_classify(const oa_sink_sess *s, int64_t ts_ms) {
        if (!s || ts_ms > s->cur.end_ms + OA_SINK_SESSION_GAP_MS)
                return OA_SINK_SESS_NEW;
        if (ts_ms < s->cur.start_ms - OA_SINK_SESSION_GAP_MS)
                return OA_SINK_SESS_LATE;
        return OA_SINK_SESS_JOINED;
}

uint64_t oa_sink_session_id(const char *project_id, const char *visitor_id, int64_t start_ms) {
        uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a, then a final mix */
        const char *parts[] = { project_id, visitor_id };

        for (size_t i = 0; i < 2; i++) {
                for (const char *p = parts[i]; p && *p; p++)
                        h = (h ^ (uint8_t) *p) * 0x100000001b3ULL;
                h = (h ^ 0xff) * 0x100000001b3ULL;
        }
        for (int i = 0; i < 8; i++)
                h = (h ^ (uint8_t) ((uint64_t) start_ms >> (8 * i))) * 0x100000001b3ULL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h ? h : 1;
}

static int set_str(char **dst, const char *src) {
        char *c = strdup(src ? src : "");

        if (!c)
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

int oa_sink_srow_add(oa_sink_srow *r, const Oa__Event *ev) {
        int64_t ts = ev->timestamp_ms;
        bool pageview = ev->event_type && strcmp(ev->event_type, "pageview") == 0;
        int rc = 0;

        r->events++;
        if (ts < r->start_ms) {
                const char *attrs[][2] = {
                        { (const char *) (intptr_t) OA_SS_HOSTNAME, ev->hostname },
                        { (const char *) (intptr_t) OA_SS_REFERRER, ev->referrer },
                        { (const char *) (intptr_t) OA_SS_REFERRER_HOST, ev->referrer_host },
                        { (const char *) (intptr_t) OA_SS_REFERRER_SOURCE, ev->referrer_source },
                        { (const char *) (intptr_t) OA_SS_UTM_SOURCE, ev->utm_source },
                        { (const char *) (intptr_t) OA_SS_UTM_MEDIUM, ev->utm_medium },
                        { (const char *) (intptr_t) OA_SS_UTM_CAMPAIGN, ev->utm_campaign },
                        { (const char *) (intptr_t) OA_SS_UTM_CONTENT, ev->utm_content },
                        { (const char *) (intptr_t) OA_SS_UTM_TERM, ev->utm_term },
                        { (const char *) (intptr_t) OA_SS_COUNTRY, ev->country },
                        { (const char *) (intptr_t) OA_SS_DEVICE, ev->device },
                        { (const char *) (intptr_t) OA_SS_BROWSER, ev->browser },
                        { (const char *) (intptr_t) OA_SS_OS, ev->os },
                };

                r->start_ms = ts;
                for (size_t i = 0; rc == 0 && i < sizeof(attrs) / sizeof(attrs[0]); i++)
                        rc = set_str(&r->s[(intptr_t) attrs[i][0]], attrs[i][1]);
        }
        if (ts > r->end_ms)
                r->end_ms = ts;
        if (pageview) {
                r->pageviews++;
                if (rc == 0 && (r->entry_ms < 0 || ts < r->entry_ms)) {
                        r->entry_ms = ts;
                        rc = set_str(&r->s[OA_SS_ENTRY], ev->path);
                }
                if (rc == 0 && (r->exit_ms < 0 || ts >= r->exit_ms)) {
                        r->exit_ms = ts;
                        rc = set_str(&r->s[OA_SS_EXIT], ev->path);
                }
        }
        if (rc == 0 && ev->user_id && *ev->user_id && (r->user_ms < 0 || ts >= r->user_ms)) {
                r->user_ms = ts;
                rc = set_str(&r->s[OA_SS_USER_ID], ev->user_id);
        }
        for (int i = 0; rc == 0 && i < OA_SS_N; i++)
                if (!r->s[i])
                        rc = set_str(&r->s[i], "");
        return rc;
}

int oa_sink_srow_start(oa_sink_srow *r, const Oa__Event *ev) {
        oa_sink_srow_done(r);
        r->start_ms = INT64_MAX;
        r->end_ms = INT64_MIN;
        r->entry_ms = r->exit_ms = r->user_ms = -1;
        return oa_sink_srow_add(r, ev);
}

int oa_sink_srow_copy(oa_sink_srow *dst, const oa_sink_srow *src) {
        oa_sink_srow_done(dst);
        *dst = *src;
        for (int i = 0; i < OA_SS_N; i++)
                dst->s[i] = NULL;
        for (int i = 0; i < OA_SS_N; i++)
                if (set_str(&dst->s[i], src->s[i]) < 0)
                        return -ENOMEM;
        return 0;
}

bool oa_sink_srow_equal(const oa_sink_srow *a, const oa_sink_srow *b) {
        if (a->session_id != b->session_id || a->start_ms != b->start_ms || a->end_ms != b->end_ms ||
            a->pageviews != b->pageviews || a->events != b->events)
                return false;
        for (int i = 0; i < OA_SS_N; i++)
                if (strcmp(a->s[i] ? a->s[i] : "", b->s[i] ? b->s[i] : "") != 0)
                        return false;
        return true;
}

void oa_sink_srow_done(oa_sink_srow *r) {
        for (int i = 0; i < OA_SS_N; i++)
                free(r->s[i]);
        memset(r, 0, sizeof(*r));
}

uint32_t oa_sink_srow_duration(const oa_sink_srow *r) {
        int64_t d = (r->end_ms - r->start_ms) / 1000;

        return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t) d;
}

bool oa_sink_srow_bounce(const oa_sink_srow *r) {
        return r->pageviews == 1 && r->events == 1;
}

oa_sink_sess *oa_sink_sess_new(const char *project_id, const char *visitor_id) {
        oa_sink_sess *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->project_id = strdup(project_id);
        s->visitor_id = strdup(visitor_id);
        if (!s->project_id || !s->visitor_id) {
                oa_sink_sess_free(s);
                return NULL;
        }
        return s;
}

void oa_sink_sess_free(oa_sink_sess *s) {
        if (!s)
                return;
        oa_sink_srow_done(&s->cur);
        oa_sink_srow_done(&s->written);
        free(s->project_id);
        free(s->visitor_id);
        free(s);
}

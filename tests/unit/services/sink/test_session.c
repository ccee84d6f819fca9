/* Tests for services/sink/session.c: the session state machine by event time: a
 * 31-minute gap starts a new session, 30 minutes do not, a session crossing midnight
 * keeps its start, events out of order give the same session, late events get their own,
 * bounce, duration, entry and exit pages, attributes of the earliest event. */
#include "sink.h"

#include <criterion/criterion.h>
#include <string.h>

#define MIN (60 * 1000LL)
/* 2026-11-27 23:50:00 UTC */
#define T0 1795823400000LL

static Oa__Event ev_at(int64_t ts, const char *type, const char *path, const char *ref) {
        Oa__Event ev = OA__EVENT__INIT;

        ev.version = 1;
        ev.project_id = (char *) "prj_a";
        ev.visitor_id = (char *) "v1";
        ev.event_id = (char *) "e";
        ev.event_type = (char *) type;
        ev.path = (char *) path;
        ev.referrer_source = (char *) ref;
        ev.timestamp_ms = ts;
        ev.received_ms = ts;
        return ev;
}

/* Feed the events through classify/start/add as consume.c does; count sessions. */
static int run(const Oa__Event *evs, size_t n, oa_sink_sess *ss) {
        int sessions = 0;

        for (size_t i = 0; i < n; i++) {
                switch (oa_sink_sess_classify(ss->cur.events ? ss : NULL, evs[i].timestamp_ms)) {
                case OA_SINK_SESS_JOINED:
                        cr_assert_eq(oa_sink_srow_add(&ss->cur, &evs[i]), 0);
                        break;
                case OA_SINK_SESS_NEW:
                        cr_assert_eq(oa_sink_srow_start(&ss->cur, &evs[i]), 0);
                        sessions++;
                        break;
                case OA_SINK_SESS_LATE:
                        sessions++;
                        break;
                }
        }
        return sessions;
}

Test(oa_sink_session, gap_of_31_minutes_starts_a_new_session) {
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", "search"), ev_at(T0 + 31 * MIN, "pageview", "/b", "direct") };
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");

        cr_assert_eq(run(evs, 2, ss), 2);
        cr_assert_eq(ss->cur.start_ms, T0 + 31 * MIN);
        cr_assert_str_eq(ss->cur.s[OA_SS_ENTRY], "/b");
        cr_assert(oa_sink_srow_bounce(&ss->cur));
        cr_assert_eq(oa_sink_srow_duration(&ss->cur), 0);
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, gap_of_exactly_30_minutes_continues) {
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", ""), ev_at(T0 + 30 * MIN, "pageview", "/b", "") };
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");

        cr_assert_eq(run(evs, 2, ss), 1);
        cr_assert_eq(oa_sink_srow_duration(&ss->cur), 1800);
        cr_assert_not(oa_sink_srow_bounce(&ss->cur));
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, crossing_midnight_keeps_the_start_day) {
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", "social"), ev_at(T0 + 15 * MIN, "pageview", "/b", ""),
                            ev_at(T0 + 25 * MIN, "pageview", "/c", "") };
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");

        cr_assert_eq(run(evs, 3, ss), 1);
        cr_assert_eq(ss->cur.start_ms, T0, "starts 23:50, the day before the last event");
        cr_assert_eq(ss->cur.end_ms, T0 + 25 * MIN);
        cr_assert_eq(ss->cur.pageviews, 3);
        cr_assert_str_eq(ss->cur.s[OA_SS_ENTRY], "/a");
        cr_assert_str_eq(ss->cur.s[OA_SS_EXIT], "/c");
        cr_assert_str_eq(ss->cur.s[OA_SS_REFERRER_SOURCE], "social");
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, out_of_order_events_give_the_same_session) {
        Oa__Event in_order[] = { ev_at(T0, "pageview", "/a", "email"), ev_at(T0 + 2 * MIN, "event", "/a", "x"),
                                 ev_at(T0 + 5 * MIN, "pageview", "/b", "y") };
        Oa__Event shuffled[] = { in_order[2], in_order[0], in_order[1] };
        oa_sink_sess *a = oa_sink_sess_new("prj_a", "v1"), *b = oa_sink_sess_new("prj_a", "v1");

        cr_assert_eq(run(in_order, 3, a), 1);
        cr_assert_eq(run(shuffled, 3, b), 1);
        a->cur.session_id = b->cur.session_id = 7;
        cr_assert(oa_sink_srow_equal(&a->cur, &b->cur));
        cr_assert_str_eq(b->cur.s[OA_SS_ENTRY], "/a");
        cr_assert_str_eq(b->cur.s[OA_SS_EXIT], "/b");
        cr_assert_str_eq(b->cur.s[OA_SS_REFERRER_SOURCE], "email", "attributes of the earliest event");
        cr_assert_eq(b->cur.events, 3);
        cr_assert_eq(b->cur.pageviews, 2);
        oa_sink_sess_free(a);
        oa_sink_sess_free(b);
}

Test(oa_sink_session, an_event_long_before_the_session_is_late) {
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", ""), ev_at(T0 - 45 * MIN, "pageview", "/old", "") };

        cr_assert_eq(run(evs, 2, ss), 2);
        cr_assert_eq(ss->cur.start_ms, T0, "the current session is untouched");
        cr_assert_eq(oa_sink_sess_classify(ss, T0 - 29 * MIN), OA_SINK_SESS_JOINED);
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, bounce_needs_one_pageview_and_nothing_else) {
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", ""), ev_at(T0 + MIN, "event", "/a", "") };

        run(evs, 1, ss);
        cr_assert(oa_sink_srow_bounce(&ss->cur));
        run(evs + 1, 1, ss);
        cr_assert_not(oa_sink_srow_bounce(&ss->cur));
        cr_assert_eq(oa_sink_srow_duration(&ss->cur), 60);
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, user_id_of_the_latest_event_that_has_one) {
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");
        Oa__Event evs[] = { ev_at(T0, "pageview", "/a", ""), ev_at(T0 + 2 * MIN, "event", "/a", ""),
                            ev_at(T0 + MIN, "event", "/a", "") };

        evs[1].user_id = (char *) "late";
        evs[2].user_id = (char *) "early";
        run(evs, 3, ss);
        cr_assert_str_eq(ss->cur.s[OA_SS_USER_ID], "late");
        oa_sink_sess_free(ss);
}

Test(oa_sink_session, ids_are_stable_and_distinct) {
        uint64_t a = oa_sink_session_id("p", "v", T0), b = oa_sink_session_id("p", "v", T0 + 1);

        cr_assert_eq(a, oa_sink_session_id("p", "v", T0));
        cr_assert_neq(a, b);
        cr_assert_neq(oa_sink_session_id("pv", "", T0), oa_sink_session_id("p", "v", T0));
}

Test(oa_sink_session, copy_then_equal) {
        oa_sink_sess *ss = oa_sink_sess_new("prj_a", "v1");
        Oa__Event e = ev_at(T0, "pageview", "/a", "search");
        oa_sink_srow c = { 0 };

        run(&e, 1, ss);
        cr_assert_eq(oa_sink_srow_copy(&c, &ss->cur), 0);
        cr_assert(oa_sink_srow_equal(&c, &ss->cur));
        c.pageviews++;
        cr_assert_not(oa_sink_srow_equal(&c, &ss->cur));
        oa_sink_srow_done(&c);
        oa_sink_sess_free(ss);
}

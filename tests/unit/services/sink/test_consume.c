/* Tests for services/sink/consume.c without Kafka or ClickHouse: what one message does to
 * the batch. Skipped when ClickHouse holds its offset, dead-lettered when poison (the next
 * message still goes in), skipped when its event_id was written recently, else one
 * RowBinary row and its session marked for the next sessions flush; the offsets to store
 * follow every message; a visitor's new session encodes the previous one's final rows; a
 * failed insert in flight keeps its batch and offsets (ClickHouse where nothing listens). */
#include "sink.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static oa_sink_cfg cfg = { .batch_rows = 1000, .batch_bytes = 1 << 20, .batch_ms = 500,
                           .dedup_window = 1000, .sessions_max = 1000, .retry_max_ms = 1000,
                           .sessions_ms = 5000 };
static oa_sink *s;

static void setup(void) {
        s = calloc(1, sizeof(*s));
        cr_assert_not_null(s);
        s->cfg = &cfg;
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                oa_sink_part_reset(s, p);
        oa_arena_init(&s->arena, 1 << 20);
        oa_sink_batch_init(&s->batch, &cfg);
        cr_assert_eq(oa_metrics_new(&s->metrics), 0);
        cr_assert_eq(oa_sink_metrics_setup(s), 0);
        /* partition 2 as a sync with an empty ClickHouse leaves it */
        s->parts[2].assigned = s->parts[2].synced = true;
        s->parts[2].sessions = oa_map_new();
        cr_assert_eq(oa_sink_ids_init(&s->parts[2].ids, 1000), 0);
}

static void teardown(void) {
        for (int p = 0; p < OA_SINK_PARTITIONS_MAX; p++)
                oa_sink_part_reset(s, p);
        oa_sink_batch_done(&s->batch);
        oa_arena_done(&s->arena);
        oa_metrics_free(s->metrics);
        free(s);
}

TestSuite(oa_sink_consume, .init = setup, .fini = teardown);

static uint8_t pb[4096];

static oa_kmsg msg(int64_t offset, const char *event_id, const char *visitor, int64_t ts) {
        Oa__Event ev = OA__EVENT__INIT;
        size_t len = 0;

        ev.version = 1;
        ev.project_id = (char *) "prj_a";
        ev.event_id = (char *) event_id;
        ev.visitor_id = (char *) visitor;
        ev.event_type = (char *) "pageview";
        ev.path = (char *) "/x";
        ev.timestamp_ms = ts;
        ev.received_ms = ts;
        cr_assert_eq(oa_event_pack_into(&ev, pb, sizeof(pb), &len), 0);
        return (oa_kmsg) { .topic = OA_TOPIC_EVENTS, .partition = 2, .offset = offset,
                           .value = pb, .value_len = len };
}

#define T0 1795823400000LL

Test(oa_sink_consume, an_event_becomes_a_row_and_a_dirty_session) {
        oa_kmsg m = msg(10, "e1", "v1", T0);

        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert_eq(s->batch.rows, 1);
        cr_assert_gt(s->batch.events.len, 0);
        cr_assert_eq(s->batch.n_dirty, 1);
        cr_assert_eq(s->parts[2].pending, 10);
        cr_assert_eq(s->parts[2].batch_row_max, 10);
        cr_assert_neq(s->batch.first_ms, 0, "the batch's age starts");
}

Test(oa_sink_consume, offsets_clickhouse_holds_are_skipped) {
        oa_kmsg m = msg(10, "e1", "v1", T0);

        s->parts[2].ch_max = 10;
        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert_eq(s->batch.rows, 0);
        cr_assert_eq(s->m.skipped->value, 1);
        cr_assert_eq(s->parts[2].pending, 10, "its offset is still stored");
        m = msg(11, "e2", "v1", T0);
        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert_eq(s->batch.rows, 1);
}

Test(oa_sink_consume, an_event_id_seen_again_is_skipped) {
        oa_kmsg m = msg(10, "same", "v1", T0);

        cr_assert_eq(oa_sink_handle(s, &m), 0);
        m = msg(11, "same", "v1", T0 + 1000);
        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert_eq(s->batch.rows, 1);
        cr_assert_eq(s->m.duplicates->value, 1);
        cr_assert_eq(s->parts[2].pending, 11);
}

Test(oa_sink_consume, poison_goes_to_the_dead_letters_and_the_next_flows) {
        static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };
        oa_kmsg bad = { .topic = OA_TOPIC_EVENTS, .partition = 2, .offset = 5, .value = junk,
                        .value_len = sizeof(junk) };
        oa_kmsg empty = { .topic = OA_TOPIC_EVENTS, .partition = 2, .offset = 6 };
        oa_kmsg good;

        cr_assert_eq(oa_sink_handle(s, &bad), 0);
        cr_assert_eq(oa_sink_handle(s, &empty), 0);
        good = msg(7, "e1", "v1", T0);
        cr_assert_eq(oa_sink_handle(s, &good), 0);
        cr_assert_eq(s->batch.n_dls, 2);
        cr_assert_eq(s->batch.rows, 1);
        cr_assert_eq(s->parts[2].pending, 7);
        /* the dead letter holds the original bytes */
        bool found = false;

        for (size_t i = 0; i + sizeof(junk) <= s->batch.dls[0].len && !found; i++)
                found = memcmp(s->batch.dls[0].bytes + i, junk, sizeof(junk)) == 0;
        cr_assert(found);
}

Test(oa_sink_consume, a_new_session_encodes_the_previous_ones_last_state) {
        oa_kmsg m = msg(1, "e1", "v1", T0);

        cr_assert_eq(oa_sink_handle(s, &m), 0);
        m = msg(2, "e2", "v1", T0 + 31 * 60 * 1000);
        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert_eq(s->batch.n_dirty, 1, "only the new one waits");
        cr_assert_gt(s->batch.sessions.len, 0, "the first session's row is in the batch already");
}

Test(oa_sink_consume, sessions_wait_for_their_flush) {
        oa_kmsg m = msg(1, "e1", "v1", T0);

        cr_assert_not(oa_sink_sessions_waiting(s));
        cr_assert_eq(oa_sink_handle(s, &m), 0);
        cr_assert(oa_sink_sessions_waiting(s));
}

Test(oa_sink_consume, unsynced_partition_without_clickhouse_parks) {
        oa_ch_cfg cc = { .url = "http://127.0.0.1:1", .connect_timeout_ms = 200, .query_timeout_ms = 1000 };
        char err[256];
        oa_kmsg m = msg(1, "e1", "v1", T0);

        m.partition = 3;
        cr_assert_eq(oa_ch_new(&cc, &s->ch, err, sizeof(err)), 0);
        cr_assert_eq(oa_sink_handle(s, &m), -EAGAIN);
        cr_assert_eq(s->batch.rows, 0);
        cr_assert_not(s->parts[3].synced);
        s->ch = oa_ch_free(s->ch);
}

Test(oa_sink_consume, a_failed_insert_in_flight_keeps_its_batch_and_offsets) {
        const oa_ch_cfg nowhere = { .url = "http://127.0.0.1:1", .connect_timeout_ms = 500 };
        oa_kmsg m = msg(7, "e1", "v1", T0);
        char err[256];

        oa_buf_init(&s->flight.events, s->batch.events.max);
        cr_assert_eq(oa_ch_new(&nowhere, &s->ch, err, sizeof(err)), 0);
        cr_assert_eq(oa_sink_ins_new(&nowhere, &s->ins, err, sizeof(err)), 0);
        s->sessions_flushed_ms = oa_sink_mono_ms();     /* sessions not due */
        cr_assert_eq(oa_sink_handle(s, &m), 0);

        cr_assert_eq(oa_sink_flush(s, false), 0, "handed over, not waited for");
        cr_assert(s->flight.active);
        cr_assert_eq(s->flight.row_max[2], 7);
        cr_assert_eq(s->batch.rows, 0, "the next batch starts empty");
        cr_assert_eq(oa_sink_flush(s, true), -ECONNREFUSED);
        cr_assert(s->flight.active, "kept for the retry");
        cr_assert_eq(s->flight.rows, 1);
        cr_assert_gt(s->flight.events.len, 0);
        cr_assert_eq(s->parts[2].held, -1, "nothing completes before the flight");
        cr_assert_eq(s->parts[2].stored, -1);
        cr_assert_eq(oa_sink_flush(s, true), -ECONNREFUSED, "the retry, from the loop");
        cr_assert(s->flight.active);
        cr_assert(oa_sink_sessions_waiting(s));

        oa_sink_drop_all(s);
        cr_assert(!s->flight.active);
        s->ins = oa_sink_ins_free(s->ins);
        s->ch = oa_ch_free(s->ch);
        oa_buf_done(&s->flight.events);
}

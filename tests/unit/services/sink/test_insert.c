/* Tests for services/sink/insert.c (the insert worker), against a ClickHouse URL where
 * nothing listens: one insert at a time, its result taken once, free waits for it. The
 * flight of a batch through it is tested in test_consume.c. */
#include "sink.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const oa_ch_cfg nowhere = { .url = "http://127.0.0.1:1", .connect_timeout_ms = 500,
                                   .query_timeout_ms = 2000 };

Test(oa_sink_ins, wait_without_a_submit_is_echild) {
        oa_sink_ins *w = NULL;
        char err[256];
        int64_t ms;

        cr_assert_eq(oa_sink_ins_new(&nowhere, &w, err, sizeof(err)), 0);
        cr_assert_eq(oa_sink_ins_wait(w, &ms, err, sizeof(err)), -ECHILD);
        cr_assert_null(oa_sink_ins_free(w));
}

Test(oa_sink_ins, one_insert_at_a_time_and_its_error_comes_back) {
        oa_sink_ins *w = NULL;
        oa_buf data;
        char err[256] = "";
        int64_t ms = -1;

        oa_buf_init(&data, 1024);
        cr_assert_eq(oa_buf_add(&data, "x", 1), 0);
        cr_assert_eq(oa_sink_ins_new(&nowhere, &w, err, sizeof(err)), 0);
        cr_assert_eq(oa_sink_ins_submit(w, "INSERT INTO t FORMAT RowBinary", &data), 0);
        cr_assert_eq(oa_sink_ins_submit(w, "INSERT INTO t FORMAT RowBinary", &data), -EBUSY,
                     "a second insert waits until the first one's result is taken");
        cr_assert_eq(oa_sink_ins_wait(w, &ms, err, sizeof(err)), -ECONNREFUSED);
        cr_assert_geq(ms, 0);
        cr_assert_eq(oa_sink_ins_busy(w), false);
        cr_assert_eq(oa_sink_ins_wait(w, &ms, err, sizeof(err)), -ECHILD, "taken once");
        cr_assert_eq(oa_sink_ins_submit(w, "INSERT INTO t FORMAT RowBinary", &data), 0);
        cr_assert_null(oa_sink_ins_free(w), "free waits for the insert in flight");
        oa_buf_done(&data);
}

/* Tests for libshared/src/dsar.c: the user_id rule with hostile input, status rows and
 * their round trip through the SELECT's answer shape, the API JSON, request checks and
 * the suppression list. */
#include "oa/dsar.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int check(const char *s, size_t n) {
        char err[128];

        return oa_dsar_user_id_check(s, n, err, sizeof(err));
}

Test(oa_dsar, user_id_rule) {
        char s[4096];

        cr_assert_eq(check("u", 1), 0);
        cr_assert_eq(check("user@example.com", 16), 0);
        cr_assert_eq(check("Zoë/ünïcødé 用户", strlen("Zoë/ünïcødé 用户")), 0);
        cr_assert_eq(check("' OR 1=1; DROP TABLE oa.events --", 33), 0); /* data, not SQL */
        cr_assert_lt(check("", 0), 0);
        cr_assert_lt(check(NULL, 0), 0);
        cr_assert_lt(check("a\0b", 3), 0);
        cr_assert_lt(check("a\nb", 3), 0);
        cr_assert_lt(check("a\x7f", 2), 0);
        cr_assert_lt(check("a\xc2\x85", 3), 0);          /* C1 NEL */
        cr_assert_lt(check("\xff\xfe", 2), 0);           /* not UTF-8 */
        cr_assert_lt(check("\xc0\xaf", 2), 0);           /* overlong */
        cr_assert_lt(check("\xed\xa0\x80", 3), 0);       /* surrogate */
        memset(s, 'a', 256);
        cr_assert_eq(check(s, 256), 0);
        cr_assert_lt(check(s, 257), 0);
        /* 256 characters of 4 bytes each pass; 257 do not */
        for (int i = 0; i < 257; i++)
                memcpy(s + 4 * i, "\xf0\x9f\x98\x80", 4);
        cr_assert_eq(check(s, 1024), 0);
        cr_assert_lt(check(s, 1028), 0);
        memset(s, 'a', 3000);
        cr_assert_lt(check(s, 3000), 0);
}

Test(oa_dsar, state_names) {
        for (int i = OA_DSAR_QUEUED; i <= OA_DSAR_FAILED; i++) {
                const char *n = oa_dsar_state_name((oa_dsar_state) i);

                cr_assert_eq(oa_dsar_state_parse(n, strlen(n)), (oa_dsar_state) i);
        }
        cr_assert_eq(oa_dsar_state_parse("done", 4), OA_DSAR_UNKNOWN);
        cr_assert_eq(oa_dsar_state_parse("queue", 5), OA_DSAR_UNKNOWN);
        cr_assert_str_eq(oa_dsar_state_name((oa_dsar_state) 99), "unknown");
}

static Oa__DeletionRequest request(void) {
        Oa__DeletionRequest r = OA__DELETION_REQUEST__INIT;

        r.version = 1;
        r.request_id = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b";
        r.project_id = "prj_0123456789abcdef";
        r.account_id = "acc_0123456789abcdef";
        r.user_id = "user-42";
        r.visitor_id = "0123456789abcdef0123456789abcdef";
        r.key_id = "key_0123456789abcdef";
        r.created_ms = 1764300000123;
        return r;
}

Test(oa_dsar, request_check) {
        Oa__DeletionRequest r = request();
        char err[128];

        cr_assert_eq(oa_dsar_request_check(&r, err, sizeof(err)), 0);
        r.version = 2;
        cr_assert_lt(oa_dsar_request_check(&r, err, sizeof(err)), 0);
        cr_assert(strstr(err, "version"));
        r = request();
        r.visitor_id = "0123456789ABCDEF0123456789ABCDEF";
        cr_assert_lt(oa_dsar_request_check(&r, err, sizeof(err)), 0);
        r = request();
        r.project_id = "prj_'; DROP";
        cr_assert_lt(oa_dsar_request_check(&r, err, sizeof(err)), 0);
        r = request();
        r.user_id = "";
        cr_assert_lt(oa_dsar_request_check(&r, err, sizeof(err)), 0);
        r = request();
        r.created_ms = 0;
        cr_assert_lt(oa_dsar_request_check(&r, err, sizeof(err)), 0);
}

Test(oa_dsar, row_round_trip) {
        Oa__DeletionRequest r = request();
        oa_dsar_status st, back;
        oa_buf b;

        oa_dsar_status_from_request(&st, &r);
        st.state = OA_DSAR_COMPLETED;
        st.started_ms = 1764300001000;
        st.finished_ms = 1764300009000;
        st.counted = true;
        st.rows_events = 10000;
        st.rows_sessions = 12;
        st.rows_recent = 3;
        st.version = 1764300009001;
        snprintf(st.error, sizeof(st.error), "quote ' and \"double\" and \\");
        oa_buf_init(&b, 1 << 16);
        cr_assert_eq(oa_dsar_status_row(&b, &st), 0);
        cr_assert(strstr(b.data, "\"status\":\"completed\""));
        cr_assert(strstr(b.data, "\"created_at\":1764300000,\"created_millis\":123"));
        cr_assert_eq(b.data[b.len - 1], '\n');
        /* the row as the SELECT returns it parses back to the same status */
        cr_assert_eq(oa_dsar_status_parse(b.data, b.len, &back), 1);
        cr_assert_str_eq(back.request_id, st.request_id);
        cr_assert_str_eq(back.project_id, st.project_id);
        cr_assert_str_eq(back.visitor_id, st.visitor_id);
        cr_assert_str_eq(back.error, st.error);
        cr_assert_eq(back.state, OA_DSAR_COMPLETED);
        cr_assert_eq(back.created_ms, st.created_ms);
        cr_assert_eq(back.finished_ms, st.finished_ms);
        cr_assert_eq(back.rows_events, 10000);
        cr_assert_eq(back.version, st.version);
        cr_assert(back.counted);
        oa_buf_done(&b);
}

Test(oa_dsar, parse_refuses_garbage) {
        oa_dsar_status st;
        const char *two = "{\"a\":1}\n{\"a\":2}\n";

        cr_assert_eq(oa_dsar_status_parse("", 0, &st), 0);
        cr_assert_eq(oa_dsar_status_parse("\n", 1, &st), 0);
        cr_assert_eq(oa_dsar_status_parse("{", 1, &st), -EPROTO);
        cr_assert_eq(oa_dsar_status_parse("[]", 2, &st), -EPROTO);
        cr_assert_eq(oa_dsar_status_parse(two, strlen(two), &st), -EPROTO);
        cr_assert_eq(oa_dsar_status_parse("{\"status\":\"done\"}", 17, &st), -EPROTO);
}

Test(oa_dsar, select_quotes_its_literals) {
        oa_buf b;

        oa_buf_init(&b, 1 << 16);
        cr_assert_eq(oa_dsar_status_select(&b, "prj_x", "a' OR '1'='1"), 0);
        cr_assert(strstr(b.data, "request_id = 'a\\' OR \\'1\\'=\\'1'"));
        cr_assert(strstr(b.data, "argMax(status, version) AS s_status"));
        cr_assert(strstr(b.data, "FORMAT JSONEachRow"));
        oa_buf_done(&b);
}

Test(oa_dsar, api_json) {
        Oa__DeletionRequest r = request();
        oa_dsar_status st;
        oa_buf b;

        oa_dsar_status_from_request(&st, &r);
        oa_buf_init(&b, 1 << 16);
        cr_assert_eq(oa_dsar_status_json(&b, &st), 0);
        cr_assert(strstr(b.data, "\"status\":\"queued\""));
        cr_assert(strstr(b.data, "\"created_at\":\"2025-11-28T03:20:00.123Z\"") ||
                  strstr(b.data, "\"created_at\":\"2025-11-28T03:20:00Z\""));
        cr_assert(strstr(b.data, "\"completed_at\":null"));
        cr_assert(strstr(b.data, "\"rows_deleted\":null"));
        cr_assert_null(strstr(b.data, "user-42"));      /* the user_id never appears */
        cr_assert_null(strstr(b.data, "\"error\""));
        oa_buf_reset(&b);
        st.state = OA_DSAR_FAILED;
        st.finished_ms = st.created_ms + 1000;
        st.counted = true;
        st.rows_events = 5;
        snprintf(st.error, sizeof(st.error), "mutation did not finish");
        cr_assert_eq(oa_dsar_status_json(&b, &st), 0);
        cr_assert(strstr(b.data, "\"rows_deleted\":{\"events\":5,\"sessions\":0,\"recent_events\":0}"));
        cr_assert(strstr(b.data, "\"error\":\"mutation did not finish\""));
        cr_assert_null(strstr(b.data, "\"completed_at\":null"));
        oa_buf_done(&b);
}

Test(oa_dsar, suppression_list) {
        oa_dsar_suppress *s = oa_dsar_suppress_new();
        const char *v = "0123456789abcdef0123456789abcdef";
        const int64_t t = 1764300000000;

        cr_assert_not_null(s);
        cr_assert_not(oa_dsar_suppressed(s, "prj_a", v, t));
        cr_assert_eq(oa_dsar_suppress_add(s, "prj_a", v, t), 0);
        cr_assert(oa_dsar_suppressed(s, "prj_a", v, t));                /* in flight */
        cr_assert(oa_dsar_suppressed(s, "prj_a", v, t - 60000));
        cr_assert_not(oa_dsar_suppressed(s, "prj_a", v, t + 1));        /* came back later */
        cr_assert_not(oa_dsar_suppressed(s, "prj_b", v, t));            /* other project */
        cr_assert_not(oa_dsar_suppressed(s, "prj_a", "ffffffffffffffffffffffffffffffff", t));
        /* a later request for the same visitor moves the line */
        cr_assert_eq(oa_dsar_suppress_add(s, "prj_a", v, t + 5000), 0);
        cr_assert(oa_dsar_suppressed(s, "prj_a", v, t + 4000));
        cr_assert_eq(oa_dsar_suppress_add(s, "prj_a", v, t), 0);         /* older: no change */
        cr_assert(oa_dsar_suppressed(s, "prj_a", v, t + 4000));
        cr_assert_eq(oa_dsar_suppress_add(s, "prj_c", v, t - OA_DSAR_SUPPRESS_MS - 1), 0);
        cr_assert_eq(oa_dsar_suppress_size(s), 2);
        cr_assert_eq(oa_dsar_suppress_expire(s, t), 1);
        cr_assert_eq(oa_dsar_suppress_size(s), 1);
        cr_assert_not(oa_dsar_suppressed(s, "prj_c", v, t - OA_DSAR_SUPPRESS_MS - 1));
        cr_assert_eq(oa_dsar_suppress_expire(s, t + OA_DSAR_SUPPRESS_MS + 5001), 1);
        cr_assert_eq(oa_dsar_suppress_size(s), 0);
        s = oa_dsar_suppress_free(s);
        cr_assert_null(s);
}

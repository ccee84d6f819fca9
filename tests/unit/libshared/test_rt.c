/* Tests for libshared/src/rt.c: the realtime keys in Redis (names, hash tags, the ids a
 * key refuses), their expiry (every key at most two hours), the minute arithmetic and the
 * recent-events JSON (never the IP or the User-Agent). */
#include "oa/rt.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>
#include <yajl/yajl_tree.h>

Test(oa_rt, minute_key_names_each_kind_with_the_project_as_hash_tag) {
        static const char *const want[OA_RT_N_KINDS] = {
                "oa:rt:{prj_A1}:v:29000000", "oa:rt:{prj_A1}:n:29000000", "oa:rt:{prj_A1}:pg:29000000",
                "oa:rt:{prj_A1}:rf:29000000", "oa:rt:{prj_A1}:co:29000000",
        };
        char k[OA_RT_KEY_MAX];

        for (int i = 0; i < OA_RT_N_KINDS; i++) {
                cr_assert_eq(oa_rt_minute_key(k, sizeof(k), "prj_A1", (oa_rt_kind) i, 29000000), (int) strlen(want[i]));
                cr_assert_str_eq(k, want[i]);
        }
}

Test(oa_rt, recent_key) {
        char k[OA_RT_KEY_MAX];

        cr_assert_gt(oa_rt_recent_key(k, sizeof(k), "prj_A1"), 0);
        cr_assert_str_eq(k, "oa:rt:{prj_A1}:recent");
}

ParameterizedTestParameters(oa_rt, hostile_project_ids_make_no_key) {
        static const char ids[][80] = {
                "", "a b", "a:b", "{x}", "x}y", "p\r\nFLUSHALL", "prj/1", "é",
                "0123456789012345678901234567890123456789012345678901234567890123456789",
        };

        return cr_make_param_array(char[80], ids, sizeof(ids) / sizeof(ids[0]));
}

typedef char id_row[80];                /* inline: criterion runs each row in a new process */

ParameterizedTest(id_row *id, oa_rt, hostile_project_ids_make_no_key) {
        char k[OA_RT_KEY_MAX];

        cr_assert_eq(oa_rt_minute_key(k, sizeof(k), *id, OA_RT_VISITORS, 1), -EINVAL);
        cr_assert_eq(oa_rt_recent_key(k, sizeof(k), *id), -EINVAL);
}

Test(oa_rt, null_project_bad_kind_negative_minute_small_buffer) {
        char k[OA_RT_KEY_MAX];

        cr_assert_eq(oa_rt_minute_key(k, sizeof(k), NULL, OA_RT_VISITORS, 1), -EINVAL);
        cr_assert_eq(oa_rt_minute_key(k, sizeof(k), "p", OA_RT_N_KINDS, 1), -EINVAL);
        cr_assert_eq(oa_rt_minute_key(k, sizeof(k), "p", OA_RT_VISITORS, -1), -EINVAL);
        cr_assert_eq(oa_rt_minute_key(k, 10, "prj_A1", OA_RT_VISITORS, 1), -ENOSPC);
}

Test(oa_rt, minute_is_the_floor_also_before_1970) {
        cr_assert_eq(oa_rt_minute(0), 0);
        cr_assert_eq(oa_rt_minute(59999), 0);
        cr_assert_eq(oa_rt_minute(60000), 1);
        cr_assert_eq(oa_rt_minute(-1), -1);
        cr_assert_eq(oa_rt_minute(-60000), -1);
        cr_assert_eq(oa_rt_minute(-60001), -2);
}

Test(oa_rt, minute_keys_outlive_the_series_and_expire_within_two_hours) {
        int64_t m = 29000000, at = oa_rt_minute_expire_at(m);

        cr_assert_eq(at, (m + 1) * 60 + 31 * 60);
        /* still there while the minute is in the 30-point series ... */
        for (int i = 0; i < OA_RT_SERIES_MIN; i++)
                cr_assert_gt(oa_rt_minute_expire_at(m - i) * 1000, (m + 1) * 60000 - 1);
        /* ... and gone at most two hours after the minute began */
        cr_assert_leq(at - m * 60, 7200);
        cr_assert_leq(OA_RT_RECENT_TTL_S, 7200);
}

Test(oa_rt, minute_live_until_its_keys_expire) {
        int64_t m = 1000;

        cr_assert(oa_rt_minute_live(m, m * 60000));
        cr_assert(oa_rt_minute_live(m, oa_rt_minute_expire_at(m) * 1000 - 1));
        cr_assert_not(oa_rt_minute_live(m, oa_rt_minute_expire_at(m) * 1000));
}

Test(oa_rt, iso_ms) {
        oa_buf b;

        oa_buf_init(&b, 100);
        cr_assert_eq(oa_rt_iso_ms(&b, 1747000000123), 0);
        cr_assert_str_eq(b.data, "2025-05-11T21:46:40.123Z");
        oa_buf_done(&b);
}

Test(oa_rt, recent_json_is_valid_and_has_no_ip_user_agent_or_user_id) {
        Oa__Event ev = OA__EVENT__INIT;
        char err[128];
        yajl_val v;
        oa_buf b;
        const char *path_src[] = { "source", NULL }, *path_url[] = { "url", NULL };

        ev.event_id = "e1";
        ev.event_type = "pageview";
        ev.source = OA__EVENT_SOURCE__EVENT_SOURCE_COLLECT;
        ev.received_ms = 1747000000000;
        ev.timestamp_ms = 1747000000000;
        ev.url = "https://x.example/a\"b\\c\n";
        ev.ip = "203.0.113.9";
        ev.user_agent = "Mozilla/5.0 SecretAgent";
        ev.user_id = "user-42";
        ev.country = "GB";
        oa_buf_init(&b, 4096);
        cr_assert_eq(oa_rt_recent_json(&b, &ev), 0);
        cr_assert_null(strstr(b.data, "203.0.113.9"));
        cr_assert_null(strstr(b.data, "SecretAgent"));
        cr_assert_null(strstr(b.data, "user-42"));
        v = yajl_tree_parse(b.data, err, sizeof(err));
        cr_assert_not_null(v, "not JSON: %s", b.data);
        cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, path_src, yajl_t_string)), "collect");
        cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, path_url, yajl_t_string)), ev.url);
        yajl_tree_free(v);
        oa_buf_done(&b);
}

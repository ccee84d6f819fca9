/* Tests for services/sink/rowbin.c, tsv.c and dedup.c, and the dead-letter decisions of
 * consume.c: RowBinary bytes exactly (LEB128 lengths, little-endian numbers, the
 * properties' three arrays), hostile strings kept byte for byte, TabSeparated unescaping,
 * the bounded id set, and which messages are poison. */
#include "sink.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

Test(oa_sink_rowbin, string_is_leb128_length_and_bytes) {
        oa_buf b;
        char big[300];

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_rb_str(&b, "ab", 2), 0);
        cr_assert_eq(b.len, 3);
        cr_assert(memcmp(b.data, "\x02" "ab", 3) == 0);
        oa_buf_reset(&b);
        memset(big, 'x', sizeof(big));
        cr_assert_eq(oa_rb_str(&b, big, 300), 0);
        cr_assert_eq((uint8_t) b.data[0], 0xac);        /* 300 = 0b10_0101100 */
        cr_assert_eq((uint8_t) b.data[1], 0x02);
        cr_assert_eq(b.len, 302);
        oa_buf_reset(&b);
        cr_assert_eq(oa_rb_cstr(&b, NULL), 0);
        cr_assert_eq(b.len, 1);
        cr_assert_eq(b.data[0], 0);
        oa_buf_done(&b);
}

Test(oa_sink_rowbin, hostile_strings_are_kept_byte_for_byte) {
        static const char hostile[] = "a'b\\c\t\n\0\xff\xfe'); DROP TABLE oa.events; --";
        oa_buf b;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_rb_str(&b, hostile, sizeof(hostile) - 1), 0);
        cr_assert_eq((size_t) (uint8_t) b.data[0], sizeof(hostile) - 1);
        cr_assert(memcmp(b.data + 1, hostile, sizeof(hostile) - 1) == 0);
        oa_buf_done(&b);
}

Test(oa_sink_rowbin, integers_are_little_endian) {
        oa_buf b;

        oa_buf_init(&b, 64);
        oa_rb_u16(&b, 0x0102);
        oa_rb_u32(&b, 0x03040506);
        oa_rb_u64(&b, 0x0708090a0b0c0d0eULL);
        cr_assert(memcmp(b.data, "\x02\x01\x06\x05\x04\x03\x0e\x0d\x0c\x0b\x0a\x09\x08\x07", 14) == 0);
        oa_buf_done(&b);
}

/* The whole event row, field by field, as ClickHouse reads it. */
Test(oa_sink_rowbin, event_row_layout) {
        Oa__Event ev = OA__EVENT__INIT;
        Oa__Property p1 = OA__PROPERTY__INIT, p2 = OA__PROPERTY__INIT;
        Oa__Property *props[] = { &p1, &p2 };
        Oa__Revenue rev = OA__REVENUE__INIT;
        oa_buf b;
        size_t o = 0;
        uint32_t u32;
        uint16_t u16;
        uint64_t u64;
        double d;

        ev.version = 1;
        ev.project_id = (char *) "p";
        ev.site_id = (char *) "";
        ev.event_id = (char *) "id";
        ev.source = OA__EVENT_SOURCE__EVENT_SOURCE_API;
        ev.event_type = (char *) "pageview";
        ev.timestamp_ms = 1795823400123LL;
        ev.received_ms = 1795823401456LL;
        ev.visitor_id = (char *) "v";
        ev.screen_width = 100000;
        p1.key = (char *) "n";
        p1.value_case = OA__PROPERTY__VALUE_NUMBER_VALUE;
        p1.number_value = 0.1;
        p2.key = (char *) "b";
        p2.value_case = OA__PROPERTY__VALUE_BOOL_VALUE;
        p2.bool_value = 1;
        ev.n_properties = 2;
        ev.properties = props;
        rev.amount = 49.99;
        rev.currency = (char *) "USD";
        ev.revenue = &rev;

        oa_buf_init(&b, 1 << 20);
        cr_assert_eq(oa_sink_rb_event(&b, &ev, 42, 7, 123456789), 0);
#define STR(want) do { cr_assert_eq((size_t) b.data[o], strlen(want)); \
                       cr_assert(memcmp(b.data + o + 1, want, strlen(want)) == 0, "%s", want); \
                       o += 1 + strlen(want); } while (0)
#define NUM(var, want) do { memcpy(&var, b.data + o, sizeof(var)); cr_assert_eq(var, want); o += sizeof(var); } while (0)
        STR("p"); STR(""); STR("id");
        cr_assert_eq(b.data[o++], 2, "source api");
        STR("pageview"); STR("");
        NUM(u32, 1795823400u); NUM(u16, 123);
        NUM(u32, 1795823401u); NUM(u16, 456);
        STR("v"); STR("");
        NUM(u64, 42);
        for (int i = 0; i < 20; i++)
                STR("");
        NUM(u16, 65535);
        cr_assert_eq(b.data[o++], 2); STR("n"); STR("b");
        cr_assert_eq(b.data[o++], 2); STR("0.10000000000000001"); STR("true");
        cr_assert_eq(b.data[o++], 2); cr_assert_eq(b.data[o++], 2); cr_assert_eq(b.data[o++], 3);
        NUM(d, 49.99); STR("USD");
        NUM(u16, 7); NUM(u64, 123456789);
        cr_assert_eq(o, b.len, "nothing after the last column");
        oa_buf_done(&b);
}

Test(oa_sink_tsv, unescapes_fields) {
        char line[] = "a\\tb\tc\\\\d\\n\t\t\\x41\\'";
        char *f[5];
        size_t len[5];

        cr_assert_eq(oa_sink_tsv_split(line, strlen(line), f, len, 5), 4);
        cr_assert_str_eq(f[0], "a\tb");
        cr_assert_str_eq(f[1], "c\\d\n");
        cr_assert_eq(len[2], 0);
        cr_assert_str_eq(f[3], "A'");
}

Test(oa_sink_tsv, too_many_fields_is_eproto) {
        char line[] = "a\tb\tc";
        char *f[2];
        size_t len[2];

        cr_assert_eq(oa_sink_tsv_split(line, strlen(line), f, len, 2), -EPROTO);
}

Test(oa_sink_ids, remembers_a_bounded_window) {
        oa_sink_ids s;
        char id[32];

        cr_assert_eq(oa_sink_ids_init(&s, 1000), 0);
        for (int i = 0; i < 5000; i++) {
                snprintf(id, sizeof(id), "event-%d", i);
                oa_sink_ids_add(&s, oa_sink_ids_hash(id, strlen(id)));
        }
        for (int i = 0; i < 5000; i++) {
                snprintf(id, sizeof(id), "event-%d", i);
                cr_assert_eq(oa_sink_ids_has(&s, oa_sink_ids_hash(id, strlen(id))), i >= 4000, "%s", id);
        }
        cr_assert_eq(s.n, 1000);
        oa_sink_ids_done(&s);
}

Test(oa_sink_ids, zero_window_remembers_nothing) {
        oa_sink_ids s;

        cr_assert_eq(oa_sink_ids_init(&s, 0), 0);
        oa_sink_ids_add(&s, 5);
        cr_assert_not(oa_sink_ids_has(&s, 5));
        oa_sink_ids_done(&s);
}

Test(oa_sink_deadletter, decisions) {
        Oa__Event ev = OA__EVENT__INIT;
        char d[160];
        const char *bytes = "x";

        cr_assert_str_eq(oa_sink_dl_reason(NULL, 0, NULL, d, sizeof(d)), OA_SINK_DL_EMPTY);
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, NULL, d, sizeof(d)), OA_SINK_DL_DECODE);
        ev.version = 2;
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)), OA_SINK_DL_VERSION);
        ev.version = 1;
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)), OA_SINK_DL_INVALID);
        ev.project_id = (char *) "p";
        ev.event_id = (char *) "e";
        ev.visitor_id = (char *) "v";
        ev.event_type = (char *) "pageview";
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)), OA_SINK_DL_INVALID, "no timestamp");
        ev.timestamp_ms = -5;
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)), OA_SINK_DL_INVALID);
        ev.timestamp_ms = 1795823400000LL;
        cr_assert_null(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)));
        ev.received_ms = 5000000000000000LL;
        cr_assert_str_eq(oa_sink_dl_reason(bytes, 1, &ev, d, sizeof(d)), OA_SINK_DL_INVALID, "past 2106");
}

/* Random bytes never decode into something the sink would write without checks. */
Test(oa_sink_deadletter, random_bytes_never_crash) {
        oa_arena a;
        uint8_t buf[256];
        char d[160];
        uint32_t x = 12345;

        oa_arena_init(&a, 1 << 20);
        for (int i = 0; i < 5000; i++) {
                size_t n = (size_t) (x % sizeof(buf)) + 1;

                for (size_t k = 0; k < n; k++) {
                        x = x * 1103515245u + 12345u;
                        buf[k] = (uint8_t) (x >> 16);
                }
                oa_arena_reset(&a);
                const Oa__Event *ev = oa_event_unpack(buf, n, &a);
                const char *why = oa_sink_dl_reason(buf, n, ev, d, sizeof(d));
                if (!why) {
                        oa_buf b;

                        oa_buf_init(&b, 1 << 22);
                        cr_assert_eq(oa_sink_rb_event(&b, ev, 1, 0, 0), 0);
                        oa_buf_done(&b);
                }
        }
        oa_arena_done(&a);
}

/* Integration tests of libshared's ClickHouse client (oa/ch.h) against a real server:
 * OA_CLICKHOUSE_URL (and optionally OA_CLICKHOUSE_USER, OA_CLICKHOUSE_PASSWORD), as
 * written by tests/integration/run.sh. Each test works in a table of its own, named after
 * the process, in the server's "default" database, and drops it at the end. */
#include "oa/ch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static oa_ch *ch;
static char table[64];
static char err[1024];

static oa_ch *client(long query_timeout_ms) {
        const char *url = getenv("OA_CLICKHOUSE_URL");
        oa_ch_cfg c = {
                .url = url, .user = getenv("OA_CLICKHOUSE_USER"),
                .password = getenv("OA_CLICKHOUSE_PASSWORD"), .database = "default",
                .query_timeout_ms = query_timeout_ms,
        };
        oa_ch *h = NULL;

        cr_assert(url && *url, "OA_CLICKHOUSE_URL is not set: run the integration tests with "
                  "tests/integration/run.sh, or export OA_CLICKHOUSE_URL=http://127.0.0.1:8123");
        cr_assert_eq(oa_ch_new(&c, &h, err, sizeof(err)), 0, "%s", err);
        return h;
}

static void setup(void) {
        char sql[256];

        ch = client(30000);
        snprintf(table, sizeof(table), "it_ch_%ld_%ld", (long) getpid(), (long) time(NULL));
        snprintf(sql, sizeof(sql), "CREATE TABLE %s (id UInt32, n UInt64, s String) "
                 "ENGINE = MergeTree ORDER BY id", table);
        cr_assert_eq(oa_ch_exec(ch, sql, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void) {
        char sql[128];

        if (ch && table[0]) {
                snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
                oa_ch_exec(ch, sql, err, sizeof(err));
        }
        ch = oa_ch_free(ch);
}

TestSuite(ch_integration, .init = setup, .fini = teardown, .timeout = 60);

/* The value of column col in row `row` of a FORMAT JSON answer, as text (a string's
 * content, a number's digits). Fails the test when it is missing. */
static void json_cell(const char *json, size_t row, const char *col, char *buf, size_t len) {
        const char *data_path[] = { "data", NULL };
        char perr[256];
        yajl_val top, data, cell;

        top = yajl_tree_parse(json, perr, sizeof(perr));
        cr_assert_not_null(top, "answer is not JSON: %s: %.300s", perr, json);
        data = yajl_tree_get(top, data_path, yajl_t_array);
        cr_assert(data && row < data->u.array.len, "no row %zu in %.300s", row, json);
        cell = NULL;
        for (size_t i = 0; i < data->u.array.values[row]->u.object.len; i++)
                if (strcmp(data->u.array.values[row]->u.object.keys[i], col) == 0)
                        cell = data->u.array.values[row]->u.object.values[i];
        cr_assert_not_null(cell, "no column %s in %.300s", col, json);
        if (YAJL_IS_STRING(cell))
                snprintf(buf, len, "%s", YAJL_GET_STRING(cell));
        else if (YAJL_IS_NUMBER(cell))
                snprintf(buf, len, "%s", YAJL_GET_NUMBER(cell));
        else
                cr_assert_fail("column %s is neither a string nor a number", col);
        yajl_tree_free(top);
}

static void to_hex(const char *s, size_t n, char *out) {
        static const char digits[] = "0123456789ABCDEF";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[(unsigned char) s[i] >> 4];
                out[2 * i + 1] = digits[(unsigned char) s[i] & 0xf];
        }
        out[2 * n] = '\0';
}

Test(ch_integration, ping_answers) {
        cr_assert_eq(oa_ch_ping(ch, err, sizeof(err)), 0, "%s", err);
}

Test(ch_integration, rowbinary_insert_then_select_json) {
        unsigned char rows[2 * (4 + 8 + 1 + 5)];
        char sql[256], cell[64];
        size_t o = 0;
        oa_buf out;

        /* RowBinary: UInt32 LE, UInt64 LE, String as varint length + bytes. */
        for (uint32_t id = 1; id <= 2; id++) {
                uint64_t n = id == 1 ? UINT64_MAX : 42;

                for (int k = 0; k < 4; k++)
                        rows[o++] = (unsigned char) (id >> (8 * k));
                for (int k = 0; k < 8; k++)
                        rows[o++] = (unsigned char) (n >> (8 * k));
                rows[o++] = 5;
                memcpy(rows + o, id == 1 ? "hello" : "w\0rld", 5);
                o += 5;
        }
        cr_assert_eq(oa_ch_insert(ch, table, "RowBinary", rows, o, err, sizeof(err)), 0, "%s", err);
        oa_buf_init(&out, 1 << 20);
        snprintf(sql, sizeof(sql), "SELECT id, n, s, hex(s) AS h FROM %s ORDER BY id", table);
        cr_assert_eq(oa_ch_query(ch, sql, &out, err, sizeof(err)), 0, "%s", err);
        json_cell(out.data, 0, "n", cell, sizeof(cell));
        cr_assert_str_eq(cell, "18446744073709551615", "UInt64 comes back as an unquoted number");
        cr_assert(strstr(out.data, "18446744073709551615,") || strstr(out.data, "18446744073709551615\n"),
                  "not quoted: %.400s", out.data);
        json_cell(out.data, 0, "s", cell, sizeof(cell));
        cr_assert_str_eq(cell, "hello");
        json_cell(out.data, 1, "h", cell, sizeof(cell));
        cr_assert_str_eq(cell, "7700726C64");
        cr_assert(strstr(out.data, "\"rows\": 2"), "%.400s", out.data);
        oa_buf_done(&out);
}

Test(ch_integration, jsoneachrow_insert_then_count) {
        const char rows[] = "{\"id\":1,\"n\":5,\"s\":\"a\"}\n{\"id\":2,\"n\":6,\"s\":\"b\"}\n{\"id\":3,\"n\":7,\"s\":\"c\"}\n";
        char sql[256], cell[64];
        oa_buf out;

        cr_assert_eq(oa_ch_insert(ch, table, "JSONEachRow", rows, sizeof(rows) - 1, err, sizeof(err)), 0,
                     "%s", err);
        oa_buf_init(&out, 1 << 20);
        snprintf(sql, sizeof(sql), "SELECT count() AS c, sum(n) AS t FROM %s", table);
        cr_assert_eq(oa_ch_query(ch, sql, &out, err, sizeof(err)), 0, "%s", err);
        json_cell(out.data, 0, "c", cell, sizeof(cell));
        cr_assert_str_eq(cell, "3");
        json_cell(out.data, 0, "t", cell, sizeof(cell));
        cr_assert_str_eq(cell, "18");
        oa_buf_done(&out);
}

Test(ch_integration, syntax_error_is_eproto_code_62) {
        cr_assert_eq(oa_ch_exec(ch, "SELEC 1", err, sizeof(err)), -EPROTO);
        cr_assert_eq(oa_ch_last_code(ch), 62);
        cr_assert(strncmp(err, "Syntax error", 12) == 0, "%s", err);
        cr_assert_null(strchr(err, '\n'), "one line");
        cr_assert_null(strstr(err, "DB::Exception"), "%s", err);
        cr_assert_eq(oa_ch_ping(ch, err, sizeof(err)), 0, "the connection still works");
        cr_assert_eq(oa_ch_last_code(ch), 0);
}

Test(ch_integration, unknown_table_is_eproto_code_60) {
        oa_buf out;

        oa_buf_init(&out, 1 << 20);
        cr_assert_eq(oa_ch_query(ch, "SELECT * FROM it_no_such_table", &out, err, sizeof(err)), -EPROTO);
        cr_assert_eq(oa_ch_last_code(ch), 60);
        cr_assert(strstr(err, "it_no_such_table"), "%s", err);
        cr_assert_not(oa_ch_code_transient(60));
        oa_buf_done(&out);
}

Test(ch_integration, bad_rowbinary_is_eproto) {
        cr_assert_eq(oa_ch_insert(ch, table, "RowBinary", "\x01\x00", 2, err, sizeof(err)), -EPROTO);
        cr_assert_gt(oa_ch_last_code(ch), 0, "%s", err);
}

Test(ch_integration, unknown_user_is_eproto) {
        oa_ch_cfg c = { .url = getenv("OA_CLICKHOUSE_URL"), .user = "oa_no_such_user", .database = "" };
        oa_ch *other = NULL;

        cr_assert_eq(oa_ch_new(&c, &other, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(oa_ch_exec(other, "SELECT 1", err, sizeof(err)), -EPROTO);
        cr_assert_gt(oa_ch_last_code(other), 0);    /* 192 on 18.16, 516 on current servers */
        oa_ch_free(other);
}

/* An error raised while rows stream out: with our wait_end_of_query=1 an HTTP 500... */
Test(ch_integration, error_while_streaming_is_eproto_395) {
        oa_buf out;

        oa_buf_init(&out, 64 << 20);
        cr_assert_eq(oa_ch_query(ch, "SELECT number, throwIf(number = 200000) AS x FROM system.numbers "
                                 "LIMIT 300000", &out, err, sizeof(err)), -EPROTO);
        cr_assert_eq(oa_ch_last_code(ch), 395, "%s", err);
        oa_buf_done(&out);
}

/* ...and without it a 200 whose body ends with the error, which we must still catch. */
Test(ch_integration, error_after_200_is_eproto_395) {
        const oa_ch_setting s[] = {
                { "wait_end_of_query", "0" }, { "max_block_size", "1000" }, { "default_format", "JSON" },
        };
        oa_buf out;
        oa_ch_req req = {
                .sql = "SELECT number, throwIf(number = 200000) AS x FROM system.numbers LIMIT 300000",
                .out = &out, .json = true, .settings = s, .n_settings = 3,
        };

        oa_buf_init(&out, 64 << 20);
        cr_assert_eq(oa_ch_request(ch, &req, err, sizeof(err)), -EPROTO);
        cr_assert_eq(oa_ch_last_code(ch), 395, "%s", err);
        cr_assert_gt(out.len, 1 << 20, "the rows did stream before the error (%zu bytes)", out.len);
        cr_assert(strstr(err, "throwIf"), "%s", err);
        oa_buf_done(&out);
}

Test(ch_integration, result_past_cap_is_e2big) {
        oa_buf out;

        oa_buf_init(&out, 1000);
        cr_assert_eq(oa_ch_query(ch, "SELECT number FROM system.numbers LIMIT 10000", &out, err, sizeof(err)),
                     -E2BIG);
        oa_buf_done(&out);
}

/* A sink: the answer in pieces, nothing held; a mid-answer error still caught; a sink's
 * own error stops the transfer. */
typedef struct counted {
        size_t bytes, calls, stop_after;
        unsigned long long lines;
} counted;

static int count_sink(const char *p, size_t n, void *ud) {
        counted *c = ud;

        c->bytes += n;
        c->calls++;
        for (size_t i = 0; i < n; i++)
                c->lines += p[i] == '\n';
        return c->stop_after && c->bytes >= c->stop_after ? -ENOSPC : 0;
}

Test(ch_integration, sink_gets_the_answer_in_pieces) {
        const oa_ch_setting s[] = { { "default_format", "TSV" } };
        counted c = { 0 };
        oa_ch_req req = { .sql = "SELECT number FROM system.numbers LIMIT 2000000", .settings = s, .n_settings = 1,
                          .sink = count_sink, .sink_ud = &c };

        cr_assert_eq(oa_ch_request(ch, &req, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(c.lines, 2000000);
        cr_assert_gt(c.calls, 1, "one piece only: %zu bytes", c.bytes);
        /* the sink says stop */
        c = (counted) { .stop_after = 1 << 20 };
        cr_assert_eq(oa_ch_request(ch, &req, err, sizeof(err)), -ENOSPC);
        cr_assert_lt(c.bytes, 14u << 20, "the transfer went on after the sink's error");
        /* an error after the first rows, with the 200 already sent */
        const oa_ch_setting late[] = { { "wait_end_of_query", "0" }, { "max_block_size", "1000" },
                                       { "default_format", "TSV" } };
        c = (counted) { 0 };
        req = (oa_ch_req) { .sql = "SELECT number, throwIf(number = 200000) FROM system.numbers LIMIT 300000",
                            .settings = late, .n_settings = 3, .sink = count_sink, .sink_ud = &c };
        cr_assert_eq(oa_ch_request(ch, &req, err, sizeof(err)), -EPROTO);
        cr_assert_eq(oa_ch_last_code(ch), 395, "%s", err);
        cr_assert_gt(c.lines, 1000);
}

Test(ch_integration, query_timeout_is_server_code_159) {
        oa_ch *slow = client(1000);

        cr_assert_eq(oa_ch_exec(slow, "SELECT count() FROM numbers(100000000000)", err, sizeof(err)), -EPROTO,
                     "%s", err);
        cr_assert_eq(oa_ch_last_code(slow), 159, "%s", err);
        cr_assert(oa_ch_code_transient(159));
        oa_ch_free(slow);
}

/* The hostile strings: each must come back byte for byte, as data. */
static const struct { const char *s; size_t n; } hostile[] = {
        { "", 0 },
        { "plain", 5 },
        { "it's", 4 },
        { "back\\slash", 10 },
        { "nul\0mid", 7 },
        { "\0", 1 },
        { "a\nb\rc\td\b\f", 9 },
        { "'; DROP TABLE x; --", 19 },
        { "\\' OR 1=1", 9 },
        { "' OR '1'='1", 11 },
        { "/* c */ -- d # e", 16 },
        { "\\x41\\0\\", 7 },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15 },
        { "bad\xff\xfe\xc0\xaf\xed\xa0\x80", 10 },
        { "{x:String} $1 ? %s", 18 },
        { "\"dq\" `bq`", 9 },
};

static void check_round_trip(size_t id, const char *s, size_t n) {
        char sql[128], *want = malloc(2 * n + 1), *got = malloc(2 * n + 64);
        oa_buf q, out;

        oa_buf_init(&q, 1 << 20);
        oa_buf_init(&out, 1 << 20);
        to_hex(s, n, want);
        snprintf(sql, sizeof(sql), "SELECT hex(s) AS h FROM %s WHERE id = %zu", table, id);
        cr_assert_eq(oa_ch_query(ch, sql, &out, err, sizeof(err)), 0, "%s", err);
        json_cell(out.data, 0, "h", got, 2 * n + 64);
        cr_assert_str_eq(got, want, "row %zu stored other bytes", id);
        /* The same literal finds the row it stored: the filter side of the escaping. */
        oa_buf_addf(&q, "SELECT count() AS c FROM %s WHERE id = %zu AND s = ", table, id);
        cr_assert_eq(oa_ch_quote(&q, s, n), 0);
        cr_assert_eq(oa_ch_query(ch, q.data, &out, err, sizeof(err)), 0, "%s", err);
        json_cell(out.data, 0, "c", got, 64);
        cr_assert_str_eq(got, "1", "row %zu not found by its own literal", id);
        oa_buf_done(&q);
        oa_buf_done(&out);
        free(want);
        free(got);
}

Test(ch_integration, hostile_literals_round_trip_as_data) {
        size_t nh = sizeof(hostile) / sizeof(hostile[0]);
        char all[256], *big = malloc(3000), count[32], want[32];
        oa_buf q, out;

        for (int i = 0; i < 256; i++)
                all[i] = (char) i;
        for (size_t i = 0; i < 3000; i++)
                big[i] = "x'\\\n\0\xe9;-"[i % 8];
        oa_buf_init(&q, 1 << 20);
        oa_buf_init(&out, 1 << 20);
        /* Rows 0..nh-1 the table above, then every byte value, then 3,000 bytes. */
        for (size_t i = 0; i <= nh + 1; i++) {
                const char *s = i < nh ? hostile[i].s : i == nh ? all : big;
                size_t n = i < nh ? hostile[i].n : i == nh ? sizeof(all) : 3000;

                oa_buf_reset(&q);
                oa_buf_addf(&q, "INSERT INTO %s (id, n, s) VALUES (%zu, 0, ", table, i);
                cr_assert_eq(oa_ch_quote(&q, s, n), 0);
                oa_buf_addc(&q, ')');
                cr_assert_eq(oa_ch_exec(ch, q.data, err, sizeof(err)), 0, "row %zu: %s", i, err);
                check_round_trip(i, s, n);
        }
        oa_buf_reset(&q);
        oa_buf_addf(&q, "SELECT count() AS c FROM %s", table);
        cr_assert_eq(oa_ch_query(ch, q.data, &out, err, sizeof(err)), 0, "%s", err);
        json_cell(out.data, 0, "c", count, sizeof(count));
        snprintf(want, sizeof(want), "%zu", nh + 2);
        cr_assert_str_eq(count, want, "no statement did more than insert its row");
        oa_buf_done(&out);
        oa_buf_done(&q);
        free(big);
}

Test(ch_integration, hostile_strings_round_trip_through_rowbinary) {
        size_t nh = sizeof(hostile) / sizeof(hostile[0]);
        oa_buf rows;

        oa_buf_init(&rows, 1 << 20);
        for (size_t i = 0; i < nh; i++) {
                unsigned char fixed[13] = { 0 };

                for (int k = 0; k < 4; k++)
                        fixed[k] = (unsigned char) (i >> (8 * k));
                fixed[12] = (unsigned char) hostile[i].n;       /* every length < 128: one varint byte */
                oa_buf_add(&rows, fixed, sizeof(fixed));
                oa_buf_add(&rows, hostile[i].s, hostile[i].n);
        }
        cr_assert_eq(oa_ch_insert(ch, table, "RowBinary", rows.data, rows.len, err, sizeof(err)), 0, "%s", err);
        for (size_t i = 0; i < nh; i++)
                check_round_trip(i, hostile[i].s, hostile[i].n);
        oa_buf_done(&rows);
}

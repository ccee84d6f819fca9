/* Tests for libshared/src/log.c: one valid JSON object per line. */
#include "oa/log.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static int fds[2];

static void setup(void) {
        cr_assert_eq(pipe(fds), 0);
        oa_log_init("oa-test", OA_LOG_DEBUG);
        oa_log_set_fd(fds[1]);
}

static void teardown(void) {
        oa_log_set_fd(2);
        close(fds[0]);
        close(fds[1]);
}

TestSuite(oa_log, .init = setup, .fini = teardown);

/* Read what was logged so far (at most one pipe's worth). */
static size_t drain(char *buf, size_t cap) {
        ssize_t n;

        close(fds[1]);
        fds[1] = -1;
        n = read(fds[0], buf, cap - 1);
        cr_assert_geq(n, 0);
        buf[n] = '\0';
        return (size_t) n;
}

static yajl_val parse_line(const char *line) {
        char err[128];
        yajl_val v = yajl_tree_parse(line, err, sizeof(err));

        cr_assert_not_null(v, "not JSON: %s (%s)", line, err);
        return v;
}

static const char *str_at(yajl_val v, const char *key) {
        const char *path[] = { key, NULL };
        yajl_val s = yajl_tree_get(v, path, yajl_t_string);

        return s ? YAJL_GET_STRING(s) : NULL;
}

Test(oa_log, line_is_json_with_fields) {
        char buf[4096];
        yajl_val v;

        oa_log_info("started", "brokers", "127.0.0.1:9092", "note", "q\"uote\nnl");
        drain(buf, sizeof(buf));
        cr_assert_eq(buf[strlen(buf) - 1], '\n');
        cr_assert_null(strchr(buf, '\n') + 1 == buf + strlen(buf) ? NULL : buf, "exactly one line");
        v = parse_line(buf);
        cr_assert_str_eq(str_at(v, "msg"), "started");
        cr_assert_str_eq(str_at(v, "level"), "info");
        cr_assert_str_eq(str_at(v, "prog"), "oa-test");
        cr_assert_str_eq(str_at(v, "brokers"), "127.0.0.1:9092");
        cr_assert_str_eq(str_at(v, "note"), "q\"uote\nnl");
        cr_assert_not_null(str_at(v, "ts"));
        yajl_tree_free(v);
}

Test(oa_log, below_min_level_is_dropped) {
        char buf[256];

        oa_log_init("oa-test", OA_LOG_WARN);
        oa_log_info("hidden");
        oa_log_debug("hidden too");
        cr_assert_eq(drain(buf, sizeof(buf)), 0);
}

Test(oa_log, null_value_and_invalid_utf8_stay_valid_json) {
        char buf[4096];
        yajl_val v;

        oa_log_warn("odd", "a", (const char *) NULL, "b", "\xff\xfe bad");
        drain(buf, sizeof(buf));
        v = parse_line(buf);
        cr_assert_str_eq(str_at(v, "level"), "warn");
        yajl_tree_free(v);
}

Test(oa_log, huge_field_is_cut_but_line_stays_json) {
        static char big[20000];
        char buf[16384];
        yajl_val v;

        memset(big, 'x', sizeof(big) - 1);
        oa_log_error("big", "small", "kept", "huge", big);
        drain(buf, sizeof(buf));
        cr_assert_lt(strlen(buf), 8200);
        v = parse_line(buf);
        cr_assert_str_eq(str_at(v, "small"), "kept");
        cr_assert_null(str_at(v, "huge"));
        yajl_tree_free(v);
}

Test(oa_log, logf_formats_message) {
        char buf[1024];
        yajl_val v;

        oa_logf(OA_LOG_ERROR, "lost %d of %s", 3, "10");
        drain(buf, sizeof(buf));
        v = parse_line(buf);
        cr_assert_str_eq(str_at(v, "msg"), "lost 3 of 10");
        yajl_tree_free(v);
}

Test(oa_log, level_parse_table) {
        oa_log_level l;

        cr_assert_eq(oa_log_level_parse("DEBUG", &l), 0);
        cr_assert_eq(l, OA_LOG_DEBUG);
        cr_assert_eq(oa_log_level_parse("warning", &l), 0);
        cr_assert_eq(l, OA_LOG_WARN);
        cr_assert_eq(oa_log_level_parse("Error", &l), 0);
        cr_assert_eq(l, OA_LOG_ERROR);
        cr_assert_eq(oa_log_level_parse("loud", &l), -EINVAL);
        cr_assert_eq(oa_log_level_parse("", &l), -EINVAL);
        cr_assert_eq(oa_log_level_parse(NULL, &l), -EINVAL);
}

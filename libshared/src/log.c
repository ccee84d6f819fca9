/* JSON-lines logging on stderr. Each line is built in a bounded buffer on the stack and
 * written with a single write(2), so lines from several threads never interleave. */
#include "oa/log.h"

#include "oa/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static char log_prog[64] = "oa";
static oa_log_level log_min = OA_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void oa_log_init(const char *prog, oa_log_level min_level) {
        snprintf(log_prog, sizeof(log_prog), "%s", prog ? prog : "oa");
        log_min = min_level;
}

int oa_log_level_parse(const char *s, oa_log_level *ret_level) {
        static const struct { const char *name; oa_log_level level; } names[] = {
                { "debug", OA_LOG_DEBUG }, { "info", OA_LOG_INFO }, { "warn", OA_LOG_WARN },
                { "warning", OA_LOG_WARN }, { "error", OA_LOG_ERROR },
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcasecmp(s, names[i].name) == 0) {
                        *ret_level = names[i].level;
                        return 0;
                }
        return -EINVAL;
}

void oa_log_set_fd(int fd) {
        log_fd = fd;
}

/* Append "key":"value" (value may be NULL: null). A field that does not fit is left out
 * whole, so a full line stays valid JSON. */
static void add_field(oa_buf *b, const char *key, const char *value) {
        size_t orig = b->len;

        if (oa_buf_adds(b, ",\"") < 0 || oa_buf_add_json_str(b, key, strlen(key)) < 0)
                goto undo;
        if (!value) {
                if (oa_buf_adds(b, "\":null") < 0)
                        goto undo;
                return;
        }
        if (oa_buf_adds(b, "\":\"") < 0 || oa_buf_add_json_str(b, value, strlen(value)) < 0 ||
            oa_buf_addc(b, '"') < 0)
                goto undo;
        return;
undo:
        b->len = orig;
        if (b->data)
                b->data[orig] = '\0';
}

static void log_write(oa_log_level level, const char *msg, va_list ap, int has_fields) {
        struct timespec ts;
        struct tm tm;
        char tbuf[40];
        oa_buf b;
        ssize_t n;
        size_t off;

        if (level < log_min || level > OA_LOG_ERROR)
                return;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);

        oa_buf_init(&b, LOG_LINE_MAX - 2);
        oa_buf_addf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":\"", tbuf,
                    ts.tv_nsec / 1000000, level_names[level]);
        oa_buf_add_json_str(&b, log_prog, strlen(log_prog));
        oa_buf_adds(&b, "\"");
        add_field(&b, "msg", msg ? msg : "");
        if (has_fields) {
                const char *k;

                while ((k = va_arg(ap, const char *))) {
                        const char *v = va_arg(ap, const char *);
                        add_field(&b, k, v);
                }
        }
        /* The cap leaves room for the closing brace and newline even on a full line. */
        b.max = LOG_LINE_MAX;
        oa_buf_adds(&b, "}\n");
        for (off = 0; b.data && off < b.len; off += (size_t) n) {
                n = write(log_fd, b.data + off, b.len - off);
                if (n < 0 && errno == EINTR) {
                        n = 0;
                        continue;
                }
                if (n <= 0)
                        break;
        }
        oa_buf_done(&b);
}

void oa_logv(oa_log_level level, const char *msg, va_list ap) {
        log_write(level, msg, ap, 1);
}

void oa_log(oa_log_level level, const char *msg, ...) {
        va_list ap;

        va_start(ap, msg);
        log_write(level, msg, ap, 1);
        va_end(ap);
}

void oa_logf(oa_log_level level, const char *fmt, ...) {
        char msg[4096];
        va_list ap;

        if (level < log_min)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        oa_log(level, msg, NULL);
}

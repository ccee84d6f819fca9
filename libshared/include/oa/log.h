/* Structured logging: one JSON object per line on stderr, for example
 *   {"ts":"2026-11-28T02:15:00.123Z","level":"info","prog":"oa-sink","msg":"started","brokers":"127.0.0.1:9092"}
 * Safe to call from any thread (one write(2) per line). Fields are key/value string
 * pairs ending with NULL; values are escaped so every line is valid JSON. */
#ifndef OA_LOG_H
#define OA_LOG_H

#include <stdarg.h>

typedef enum oa_log_level {
        OA_LOG_DEBUG = 0,
        OA_LOG_INFO = 1,
        OA_LOG_WARN = 2,
        OA_LOG_ERROR = 3,
} oa_log_level;

/* Set the program name shown in "prog" and the lowest level written. */
void oa_log_init(const char *prog, oa_log_level min_level);

/* Parse "debug", "info", "warn"/"warning", "error" (case-insensitive). Returns 0 and sets
 * *ret_level, or -EINVAL. */
int oa_log_level_parse(const char *s, oa_log_level *ret_level);

/* Redirect output to fd (default 2); for tests. */
void oa_log_set_fd(int fd);

/* Write one line: msg plus NULL-terminated key, value, key, value, ... pairs.
 * A NULL value is written as JSON null. */
void oa_log(oa_log_level level, const char *msg, ...) __attribute__((sentinel));
void oa_logv(oa_log_level level, const char *msg, va_list ap);

/* Write one line whose msg is printf-formatted, with no extra fields. */
void oa_logf(oa_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define oa_log_debug(...) oa_log(OA_LOG_DEBUG, __VA_ARGS__, NULL)
#define oa_log_info(...)  oa_log(OA_LOG_INFO, __VA_ARGS__, NULL)
#define oa_log_warn(...)  oa_log(OA_LOG_WARN, __VA_ARGS__, NULL)
#define oa_log_error(...) oa_log(OA_LOG_ERROR, __VA_ARGS__, NULL)

#endif

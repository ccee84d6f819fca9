/* Every SQL text oa-sink sends to ClickHouse, in one place: the two inserts (sink.h) and
 * the reads of a partition's assignment. Only integers are formatted into them (a
 * partition, an offset): no string literal, so no quoting is needed. `oa-sink
 * --print-sql` prints them all for tests/compat/test_chdb.py, which runs them on a current
 * ClickHouse engine; the local stack runs them on 18.16. */
#include "sink.h"

#include <errno.h>
#include <stdio.h>

/* Every session with an event on partition p above offset lo. */
#define WINDOW_SESSIONS \
        "SELECT DISTINCT project_id, visitor_id, session_id " \
        "FROM oa.events WHERE kafka_partition = %d AND kafka_offset > %lld"

/* The 26 columns of a session state, in the order part.c reads them: keys, times and
 * counts, then the OA_SS_* texts in enum order. */
#define STATE_FROM_EVENTS \
        "project_id, visitor_id, session_id, min(ts), max(ts), " \
        "countIf(event_type = 'pageview'), count(), " \
        "minIf(ts, event_type = 'pageview'), maxIf(ts, event_type = 'pageview'), " \
        "maxIf(ts, user_id != ''), argMaxIf(user_id, ts, user_id != ''), " \
        "argMinIf(path, ts, event_type = 'pageview'), argMaxIf(path, ts, event_type = 'pageview'), " \
        "argMin(hostname, ts), argMin(referrer, ts), argMin(referrer_host, ts), " \
        "argMin(referrer_source, ts), argMin(utm_source, ts), argMin(utm_medium, ts), " \
        "argMin(utm_campaign, ts), argMin(utm_content, ts), argMin(utm_term, ts), " \
        "argMin(country, ts), argMin(device, ts), argMin(browser, ts), argMin(os, ts)"

int oa_sink_sql_max_offset(oa_buf *b, int32_t p) {
        return oa_buf_addf(b, "SELECT max(kafka_offset), count() FROM oa.events "
                           "WHERE kafka_partition = %d FORMAT TabSeparated", (int) p);
}

int oa_sink_sql_session_landed(oa_buf *b, uint64_t session_id, uint32_t version) {
        return oa_buf_addf(b, "SELECT count() FROM oa.sessions WHERE session_id = %llu "
                           "AND version = %u AND sign = 1 FORMAT TabSeparated",
                           (unsigned long long) session_id, (unsigned) version);
}

int oa_sink_sql_recent_ids(oa_buf *b, int32_t p, int64_t lo) {
        return oa_buf_addf(b, "SELECT event_id FROM oa.events WHERE kafka_partition = %d "
                           "AND kafka_offset > %lld FORMAT TabSeparated", (int) p, (long long) lo);
}

int oa_sink_sql_rebuild(oa_buf *b, int32_t p, int64_t lo) {
        return oa_buf_addf(b, "SELECT " STATE_FROM_EVENTS " FROM (SELECT project_id, visitor_id, "
                           "session_id, event_type, user_id, path, hostname, referrer, "
                           "referrer_host, referrer_source, utm_source, utm_medium, utm_campaign, "
                           "utm_content, utm_term, country, device, browser, os, "
                           "toUInt64(timestamp) * 1000 + millis AS ts FROM oa.events "
                           "WHERE (project_id, visitor_id, session_id) IN (" WINDOW_SESSIONS ")) "
                           "GROUP BY project_id, visitor_id, session_id FORMAT TabSeparated",
                           (int) p, (long long) lo);
}

int oa_sink_sql_live_sessions(oa_buf *b, int32_t p, int64_t lo) {
        return oa_buf_addf(b, "SELECT project_id, visitor_id, session_id, "
                           "toUInt64(start) * 1000 + start_millis, toUInt64(`end`) * 1000 + end_millis, "
                           "pageviews, events, 0, 0, 0, user_id, entry_page, exit_page, hostname, "
                           "referrer, referrer_host, referrer_source, utm_source, utm_medium, "
                           "utm_campaign, utm_content, utm_term, country, device, browser, os, version "
                           "FROM oa.sessions WHERE sign = 1 AND (project_id, visitor_id, session_id) IN ("
                           WINDOW_SESSIONS ") ORDER BY project_id, visitor_id, session_id, version DESC "
                           "LIMIT 1 BY project_id, visitor_id, session_id FORMAT TabSeparated",
                           (int) p, (long long) lo);
}

int oa_sink_sql_print(void) {
        int (*const with_lo[])(oa_buf *, int32_t, int64_t) = {
                oa_sink_sql_recent_ids, oa_sink_sql_rebuild, oa_sink_sql_live_sessions,
        };
        oa_buf b;
        int r;

        oa_buf_init(&b, 1 << 16);
        printf("%s%c%s%c", OA_SINK_SQL_INSERT_EVENTS, 0, OA_SINK_SQL_INSERT_SESSIONS, 0);
        r = oa_sink_sql_max_offset(&b, 3);
        if (r == 0)
                printf("%s%c", b.data, 0);
        oa_buf_reset(&b);
        if (r == 0)
                r = oa_sink_sql_session_landed(&b, 18446744073709551615ULL, 7);
        if (r == 0)
                printf("%s%c", b.data, 0);
        for (size_t i = 0; r == 0 && i < sizeof(with_lo) / sizeof(with_lo[0]); i++) {
                oa_buf_reset(&b);
                r = with_lo[i](&b, 3, 41);
                if (r == 0)
                        printf("%s%c", b.data, 0);
        }
        oa_buf_done(&b);
        return fflush(stdout) == 0 && r == 0 ? 0 : -EIO;
}

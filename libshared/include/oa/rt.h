/* The realtime data in Redis: key names, expiry and the "recent events" entries, shared by
 * oa-realtime (the only writer) and oa-query (GET .../realtime, .../realtime/stream,
 * .../verify). Times are Unix minutes of the event's receive time at oa-edge
 * (received_ms / 60000). The project id sits in braces, a Redis Cluster hash tag, so every
 * key of one project lands on one slot and the multi-key reads (PFCOUNT, ZUNION) work there.
 *
 *   oa:rt:{P}:v:M    HyperLogLog of the visitor ids seen in minute M
 *   oa:rt:{P}:n:M    hash of counts in minute M: pv (pageviews), ev (every other event),
 *                    collect and api (events by source)
 *   oa:rt:{P}:pg:M   sorted set: path -> pageviews in minute M
 *   oa:rt:{P}:rf:M   sorted set: referrer host -> events in minute M (direct: none)
 *   oa:rt:{P}:co:M   sorted set: country code -> events in minute M (unknown: none)
 *   oa:rt:{P}:recent list of the last OA_RT_RECENT_MAX events, newest first, as JSON
 *                    (oa_rt_recent_json: no IP, no User-Agent)
 *   oa:rt:applied    hash: partition of oa.events.v1 -> last offset applied (oa-realtime)
 *
 * Every key expires: a minute's keys OA_RT_MINUTE_TTL_S after the minute ends, the list and
 * the offsets hash OA_RT_RECENT_TTL_S after their last write, so memory is bounded by the
 * projects active in the last half hour. */
#ifndef OA_RT_H
#define OA_RT_H

#include <stddef.h>
#include <stdint.h>

#include "event.pb-c.h"
#include "oa/buf.h"

#define OA_RT_SERIES_MIN 30             /* points of the per-minute series */
#define OA_RT_CURRENT_MIN 5             /* current visitors: distinct in these minutes */
#define OA_RT_RECENT_MAX 100            /* events kept in the recent list */
#define OA_RT_MINUTE_TTL_S (31 * 60)    /* after its minute ends, a minute key lives this long */
#define OA_RT_RECENT_TTL_S 7200         /* the recent list and the offsets, after a write */
#define OA_RT_KEY_MAX 128               /* enough for any key below */
#define OA_RT_APPLIED_KEY "oa:rt:applied"

typedef enum oa_rt_kind {
        OA_RT_VISITORS,                 /* "v" */
        OA_RT_COUNTS,                   /* "n" */
        OA_RT_PAGES,                    /* "pg" */
        OA_RT_REFERRERS,                /* "rf" */
        OA_RT_COUNTRIES,                /* "co" */
        OA_RT_N_KINDS,
} oa_rt_kind;

/* Write the key of project's kind in minute into buf (len bytes; OA_RT_KEY_MAX suffice).
 * The project id must be 1 to 64 bytes of [A-Za-z0-9_-] (what oa/entity.h makes), so no
 * text of a request ever shapes a key. Returns the key's length, or -EINVAL (bad project
 * or kind, minute < 0) or -ENOSPC. */
int oa_rt_minute_key(char *buf, size_t len, const char *project, oa_rt_kind kind, int64_t minute);

/* The key of project's recent list. Returns as oa_rt_minute_key. */
int oa_rt_recent_key(char *buf, size_t len, const char *project);

/* The Unix minute of a time in milliseconds (floor, also before 1970). */
int64_t oa_rt_minute(int64_t ms);

/* When a minute's keys expire: Unix seconds, OA_RT_MINUTE_TTL_S after the minute ends
 * (EXPIREAT). */
int64_t oa_rt_minute_expire_at(int64_t minute);

/* True when a minute's keys still matter at now_ms (they would not be expired yet):
 * older events only go to the recent list. */
int oa_rt_minute_live(int64_t minute, int64_t now_ms);

/* Append ev as one JSON object of the recent list to b: event_id, event_type, event_name,
 * source ("collect", "api"), visitor_id (the pseudonymous hash: oa-privacy finds a deleted
 * user's entries by it), received_at and timestamp (ISO 8601 UTC with milliseconds),
 * url, path, title, referrer_host, country, browser, os, device. Never the IP, the
 * User-Agent, the user id or properties. Returns 0 or an oa_buf error. */
int oa_rt_recent_json(oa_buf *b, const Oa__Event *ev);

/* Append the time ms as "2026-05-12T10:11:12.345Z" (no quotes). Returns as oa_buf_add. */
int oa_rt_iso_ms(oa_buf *b, int64_t ms);

#endif

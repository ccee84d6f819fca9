/* Data Subject Access Requests (docs/privacy.md): what oa-query (the routes), oa-privacy
 * (carrying out deletions) and oa-sink (dropping a deleted user's events still in flight)
 * share: the user_id rule, the status of a deletion request and its row in
 * oa.privacy_requests, and the suppression list of recent deletions.
 *
 * A status lives in ClickHouse as one row per change (ReplacingMergeTree by version,
 * services/admin/migrations/0004_privacy_requests.sql); the newest row wins, read with
 * argMax so no FINAL is needed. The user_id itself is never stored there: the request
 * carries the visitor id derived from it (oa_visitor_user), which is what the events of
 * that user hold too. Pure functions except oa_dsar_now_ms; nothing here logs. */
#ifndef OA_DSAR_H
#define OA_DSAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oa/buf.h"
#include "oa/entity.h"
#include "oa/uuid.h"
#include "oa/visitor.h"
#include "deletion.pb-c.h"

#define OA_DSAR_USER_ID_MAX_CHARS 256           /* code points */
#define OA_DSAR_USER_ID_MAX_BYTES 1024          /* 256 code points of at most 4 bytes */
#define OA_DSAR_EXPORT_DAYS 90
#define OA_DSAR_EXPORT_MAX 10000
#define OA_DSAR_SUPPRESS_MS (7LL * 86400 * 1000) /* how long oa-sink remembers a deletion */
#define OA_DSAR_TABLE "oa.privacy_requests"

/* Check a user_id as the routes receive it, after one percent-decoding: valid UTF-8, 1
 * to 256 characters, no control characters (C0, DEL, C1). Returns 0, or -EINVAL with
 * the reason in errbuf. */
int oa_dsar_user_id_check(const char *s, size_t n, char *errbuf, size_t errlen);

typedef enum oa_dsar_state {
        OA_DSAR_UNKNOWN = 0,
        OA_DSAR_QUEUED = 1,
        OA_DSAR_RUNNING = 2,
        OA_DSAR_COMPLETED = 3,
        OA_DSAR_FAILED = 4,
} oa_dsar_state;

/* "queued", "running", "completed", "failed"; "unknown" otherwise. */
const char *oa_dsar_state_name(oa_dsar_state s);

/* The state named s (n bytes), or OA_DSAR_UNKNOWN. */
oa_dsar_state oa_dsar_state_parse(const char *s, size_t n);

/* One status row of a request. Times are Unix ms, 0 when not reached yet. */
typedef struct oa_dsar_status {
        char request_id[OA_UUID_LEN + 1];
        char account_id[OA_ENTITY_ID_MAX];
        char project_id[OA_ENTITY_ID_MAX];
        char key_id[OA_ENTITY_ID_MAX];
        char visitor_id[OA_VISITOR_ID_LEN + 1];
        oa_dsar_state state;
        int64_t created_ms, started_ms, finished_ms;
        bool counted;                   /* the rows below were counted before deleting */
        uint64_t rows_events, rows_sessions, rows_recent;
        char error[256];
        uint64_t version;               /* the writer's clock (ms); the newest row wins */
} oa_dsar_status;

/* The status of a request as it is queued: ids and times from r, state queued. */
void oa_dsar_status_from_request(oa_dsar_status *st, const Oa__DeletionRequest *r);

/* Append st as one JSONEachRow row for oa.privacy_requests. Returns 0 or an oa_buf
 * error. */
int oa_dsar_status_row(oa_buf *out, const oa_dsar_status *st);

/* Append the SELECT that reads the newest status of request_id in project_id (one row,
 * none when unknown), as JSONEachRow. Returns 0 or an oa_buf error. */
int oa_dsar_status_select(oa_buf *out, const char *project_id, const char *request_id);

/* Parse the answer of that SELECT (body, len bytes). Returns 1 with *st filled, 0 when
 * the answer holds no row, -EPROTO when it is not what the SELECT gives. */
int oa_dsar_status_parse(const char *body, size_t len, oa_dsar_status *st);

/* Append the API's JSON of st (docs/api.md, "Privacy"): request_id, project_id,
 * status, created_at, started_at, completed_at (null until reached), rows_deleted
 * {events, sessions, recent_events} (null until counted), error (failed only). */
int oa_dsar_status_json(oa_buf *out, const oa_dsar_status *st);

/* Check a decoded deletion request: version 1, ids of the right shapes, a visitor id of
 * 32 hex characters, a creation time. Returns 0 or -EINVAL with the reason in errbuf. */
int oa_dsar_request_check(const Oa__DeletionRequest *r, char *errbuf, size_t errlen);

/* ---- the suppression list (oa-sink) ---- */

/* Deletions seen on oa.deletions.v1 in the last OA_DSAR_SUPPRESS_MS, by project and
 * visitor id: an event of that visitor received at or before the request's creation
 * was in flight when the user asked to be forgotten, and is dropped. */
typedef struct oa_dsar_suppress oa_dsar_suppress;

oa_dsar_suppress *oa_dsar_suppress_new(void);
oa_dsar_suppress *oa_dsar_suppress_free(oa_dsar_suppress *s);

/* Remember r (the newest creation time wins). Returns 0 or -ENOMEM. */
int oa_dsar_suppress_add(oa_dsar_suppress *s, const char *project_id, const char *visitor_id,
                         int64_t created_ms);

/* True when an event of (project_id, visitor_id) received at received_ms must be
 * dropped. */
bool oa_dsar_suppressed(const oa_dsar_suppress *s, const char *project_id,
                        const char *visitor_id, int64_t received_ms);

/* Forget entries created before now_ms - OA_DSAR_SUPPRESS_MS. Returns how many went. */
size_t oa_dsar_suppress_expire(oa_dsar_suppress *s, int64_t now_ms);

size_t oa_dsar_suppress_size(const oa_dsar_suppress *s);

#endif

-- The status of each DSAR deletion request (oa.deletions.v1), one row per change of
-- status: oa-query writes `queued` once Kafka acknowledged the request, oa-privacy writes
-- `running`, then `completed` or `failed`. The newest row (highest version, the writer's
-- clock in ms) wins: reads take argMax(column, version) grouped by request_id, no FINAL.
-- No user data here: not the user_id, only the visitor id derived from it (a one-way
-- hash, the same one oa-edge stores with the user's events), so the request can be
-- followed and checked without keeping the identity it was asked to forget.
CREATE TABLE IF NOT EXISTS oa.privacy_requests (
    request_id      String,
    account_id      String,
    project_id      String,
    key_id          String,
    visitor_id      String,
    status          Enum8('queued' = 1, 'running' = 2, 'completed' = 3, 'failed' = 4),
    created_at      DateTime,
    created_millis  UInt16,
    started_at      DateTime,
    finished_at     DateTime,
    counted         UInt8,
    rows_events     UInt64,
    rows_sessions   UInt64,
    rows_recent     UInt64,
    error           String,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, request_id);

-- Raw, enriched events: one row per event of oa.events.v1, written only by oa-sink.
-- Field names follow protos/event.proto. Times are UTC instants (DateTime has no
-- milliseconds on ClickHouse 18.16, so they are kept beside it); a read in a project's
-- timezone converts its date range into a range of `timestamp`.
-- ReplacingMergeTree collapses a row written twice (same ordering key, same event_id) at
-- merge time; oa-sink already skips what ClickHouse holds, so hot reads need no FINAL.
CREATE DATABASE IF NOT EXISTS oa;

CREATE TABLE IF NOT EXISTS oa.events (
    project_id      String,
    site_id         String,
    event_id        String,
    source          Enum8('unspecified' = 0, 'collect' = 1, 'api' = 2),
    event_type      String,
    event_name      String,
    timestamp       DateTime,
    millis          UInt16,
    received_at     DateTime,
    received_millis UInt16,
    visitor_id      String,
    user_id         String,
    session_id      UInt64,
    url             String,
    hostname        String,
    path            String,
    title           String,
    referrer        String,
    referrer_host   String,
    referrer_source String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_content     String,
    utm_term        String,
    ip              String,
    user_agent      String,
    country         String,
    browser         String,
    browser_version String,
    os              String,
    os_version      String,
    device          String,
    screen_width    UInt16,
    properties      Nested(
        key   String,
        value String,
        type  Enum8('string' = 1, 'number' = 2, 'bool' = 3)
    ),
    revenue         Float64,
    currency        String,
    kafka_partition UInt16,
    kafka_offset    UInt64
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, toDate(timestamp), event_type, visitor_id, timestamp, event_id);

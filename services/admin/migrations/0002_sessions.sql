-- One row per session, written by oa-sink as the session grows: each new state is a row
-- with sign = +1 and a higher version, and the state it replaces is cancelled by the same
-- row with sign = -1. Reads need no FINAL: weight by sign (visits = sum(sign),
-- pageviews = sum(sign * pageviews), ...), and group or filter only on columns that do
-- not change within a session, or that a cancelled row carries back (exit_page).
-- A session belongs to the day (and month partition) it started in.
CREATE TABLE IF NOT EXISTS oa.sessions (
    project_id      String,
    session_id      UInt64,
    visitor_id      String,
    user_id         String,
    start           DateTime,
    start_millis    UInt16,
    end             DateTime,
    end_millis      UInt16,
    duration        UInt32,
    pageviews       UInt32,
    events          UInt32,
    is_bounce       UInt8,
    entry_page      String,
    exit_page       String,
    hostname        String,
    referrer        String,
    referrer_host   String,
    referrer_source String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_content     String,
    utm_term        String,
    country         String,
    device          String,
    browser         String,
    os              String,
    sign            Int8,
    version         UInt32
) ENGINE = VersionedCollapsingMergeTree(sign, version)
PARTITION BY toYYYYMM(start)
ORDER BY (project_id, toDate(start), visitor_id, session_id);

-- Rollups of oa.events, fed by materialized views at insert time (oa-sink writes each event
-- exactly once, so they are exact). They serve the common count reads without scanning
-- events:
--   pageviews per path, per hostname, per hour or day of a date range:
--     SELECT path, sumMerge(pageviews) FROM oa.pageviews_hourly
--     WHERE project_id = '...' AND hour >= ... AND hour < ... GROUP BY path
--   counts and revenue of custom events and conversions by name:
--     SELECT event_name, sumMerge(events), sumMerge(revenue) FROM oa.events_hourly ...
-- Hours are UTC; a project's day in its timezone is a range of whole hours (zones with a
-- 30 or 45 minute offset read oa.events instead). They hold counts only, no visitor ids or
-- any other per-user data, so a DSAR deletion has nothing to remove from them (unique
-- visitors are counted from oa.events; docs/data.md, docs/privacy.md).
CREATE TABLE IF NOT EXISTS oa.pageviews_hourly (
    project_id  String,
    hour        DateTime,
    hostname    String,
    path        String,
    pageviews   AggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, hostname, path);

CREATE MATERIALIZED VIEW IF NOT EXISTS oa.pageviews_hourly_mv TO oa.pageviews_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, hostname, path,
       sumState(toUInt64(1)) AS pageviews
FROM oa.events
WHERE event_type = 'pageview'
GROUP BY project_id, hour, hostname, path;

CREATE TABLE IF NOT EXISTS oa.events_hourly (
    project_id  String,
    hour        DateTime,
    event_type  String,
    event_name  String,
    events      AggregateFunction(sum, UInt64),
    revenue     AggregateFunction(sum, Float64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, event_type, event_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS oa.events_hourly_mv TO oa.events_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, event_type, event_name,
       sumState(toUInt64(1)) AS events, sumState(revenue) AS revenue
FROM oa.events
GROUP BY project_id, hour, event_type, event_name;

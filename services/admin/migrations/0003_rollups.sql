-- Rollups of oa.events, fed by materialized views at insert time (oa-sink writes each event
-- exactly once, so they are exact). They serve the common reads without scanning events:
--   pageviews and unique visitors per path, per hostname, per hour or day of a date range:
--     SELECT path, sumMerge(pageviews), uniqExactMerge(visitors) FROM oa.pageviews_hourly
--     WHERE project_id = '...' AND hour >= ... AND hour < ... GROUP BY path
--   counts and unique visitors of custom events and conversions by name:
--     SELECT event_name, sumMerge(events), uniqExactMerge(visitors) FROM oa.events_hourly ...
-- Hours are UTC; a project's day in its timezone is a range of whole hours (zones with a
-- 30 or 45 minute offset read oa.events instead). The visitor states hold visitor ids (keyed
-- hashes): per-user data, so a deletion rebuilds the affected hours (docs/data.md).
CREATE TABLE IF NOT EXISTS oa.pageviews_hourly (
    project_id  String,
    hour        DateTime,
    hostname    String,
    path        String,
    pageviews   AggregateFunction(sum, UInt64),
    visitors    AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, hostname, path);

CREATE MATERIALIZED VIEW IF NOT EXISTS oa.pageviews_hourly_mv TO oa.pageviews_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, hostname, path,
       sumState(toUInt64(1)) AS pageviews, uniqExactState(visitor_id) AS visitors
FROM oa.events
WHERE event_type = 'pageview'
GROUP BY project_id, hour, hostname, path;

CREATE TABLE IF NOT EXISTS oa.events_hourly (
    project_id  String,
    hour        DateTime,
    event_type  String,
    event_name  String,
    events      AggregateFunction(sum, UInt64),
    revenue     AggregateFunction(sum, Float64),
    visitors    AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, event_type, event_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS oa.events_hourly_mv TO oa.events_hourly AS
SELECT project_id, toStartOfHour(timestamp) AS hour, event_type, event_name,
       sumState(toUInt64(1)) AS events, sumState(revenue) AS revenue,
       uniqExactState(visitor_id) AS visitors
FROM oa.events
GROUP BY project_id, hour, event_type, event_name;

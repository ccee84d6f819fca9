-- bench/query: 10 million events over 90 days for one project, generated inside ClickHouse
-- (INSERT ... SELECT from numbers(), deterministic hashes, no rand()). Placeholders
-- {P} (project id), {S} (site id) and {T0} (Unix seconds of the first day, UTC) are
-- filled in by run.sh. Distributions: a day/night cycle and a weekly dip, ~1.2 million
-- visitors of whom a few come back often, paths and referrers skewed (a few pages get most
-- views), 80% pageviews / 15% custom / 5% conversions, 3 events per session on average.
INSERT INTO oa.events (project_id, site_id, event_id, source, event_type, event_name, timestamp, millis,
    received_at, received_millis, visitor_id, user_id, session_id, url, hostname, path, title, referrer,
    referrer_host, referrer_source, utm_source, utm_medium, utm_campaign, country, browser, os, device,
    screen_width, revenue, currency)
SELECT '{P}', '{S}', concat('e', toString(number)), 'collect', et,
    multiIf(et = 'conversion', arrayElement(['signup', 'purchase'], 1 + h % 2), et = 'custom', 'download', 'pageview'),
    toDateTime({T0} + day * 86400 + sec), toUInt16(h % 1000), toDateTime({T0} + day * 86400 + sec), toUInt16(h % 1000),
    concat('v', toString(visitor)), if(visitor % 5 = 0, concat('u', toString(visitor)), ''),
    intDiv(number, 3), concat('https://shop.example.com', path), 'shop.example.com', path, path,
    ref, domain(ref), multiIf(ref = '', '', positionCaseInsensitive(ref, 'google') > 0, 'Google',
        positionCaseInsensitive(ref, 'bing') > 0, 'Bing', positionCaseInsensitive(ref, 't.co') > 0, 'Twitter', 'Referral'),
    if(h % 11 = 0, 'newsletter', ''), if(h % 11 = 0, 'email', ''), if(h % 11 = 0, 'autumn', ''),
    arrayElement(['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES', 'IT', 'PL'], 1 + toUInt32(pow((h % 1000) / 1000, 2) * 12)),
    arrayElement(['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'], 1 + toUInt32(pow((intDiv(h, 7) % 1000) / 1000, 2) * 5)),
    arrayElement(['Windows', 'iOS', 'Android', 'macOS', 'Linux'], 1 + (intDiv(h, 13) % 5)),
    arrayElement(['desktop', 'mobile', 'tablet'], 1 + (intDiv(h, 17) % 3)),
    1280, if(et = 'conversion' AND h % 2 = 1, (h % 20000) / 100, 0), if(et = 'conversion' AND h % 2 = 1, arrayElement(['EUR', 'USD'], 1 + intDiv(h, 3) % 2), '')
FROM (
    SELECT number, intHash64(number) AS h,
        intDiv(number, 111112) AS day,
        -- a day/night cycle: more events in the afternoon (UTC)
        toUInt32(86399 * sqrt((intHash32(number) % 1000000) / 1000000)) AS sec,
        toUInt64(pow((intHash32(number + 7) % 1000000) / 1000000, 1.6) * 1200000) AS visitor,
        multiIf(h % 20 = 0, 'conversion', h % 20 < 4, 'custom', 'pageview') AS et,
        concat('/', arrayElement(['', 'products', 'blog', 'docs', 'pricing', 'cart', 'checkout', 'about'],
            1 + toUInt32(pow((intDiv(h, 3) % 1000) / 1000, 1.5) * 8)),
            '/', toString(toUInt32(pow((intDiv(h, 5) % 1000) / 1000, 4) * 300))) AS path,
        arrayElement(['', '', '', 'https://www.google.com/', 'https://www.bing.com/', 'https://t.co/x', 'https://news.example.org/a'],
            1 + intDiv(h, 19) % 7) AS ref
    FROM numbers(10000000)
);

-- Sessions: one row per session of the events above (3.33 million, event number / 3),
-- written as oa-sink does: every twentieth session also carries an earlier state, written
-- +1 and cancelled -1, so reads must weigh by sign.
INSERT INTO oa.sessions (project_id, session_id, visitor_id, user_id, start, start_millis, end, end_millis, duration,
    pageviews, events, is_bounce, entry_page, exit_page, hostname, referrer, referrer_host, referrer_source,
    utm_source, utm_medium, utm_campaign, country, device, browser, os, sign, version)
SELECT '{P}', s, concat('v', toString(visitor)), '', toDateTime(t), 0, toDateTime(t + dur), 0, dur,
    pv, 3, pv = 1, entry, exit, 'shop.example.com', ref, domain(ref), if(ref = '', '', 'Referral'),
    '', '', '', arrayElement(['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES', 'IT', 'PL'], 1 + toUInt32(pow((h % 1000) / 1000, 2) * 12)),
    arrayElement(['desktop', 'mobile', 'tablet'], 1 + (intDiv(h, 17) % 3)),
    arrayElement(['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'], 1 + toUInt32(pow((intDiv(h, 7) % 1000) / 1000, 2) * 5)),
    arrayElement(['Windows', 'iOS', 'Android', 'macOS', 'Linux'], 1 + (intDiv(h, 13) % 5)),
    sg, if(s % 20 = 0 AND sg = -1, 1, if(s % 20 = 0, if(k = 0, 1, 2), 1))
FROM (
    SELECT number AS s, intHash64(number * 3) AS h,
        {T0} + intDiv(number * 3, 111112) * 86400 + toUInt32(86399 * sqrt((intHash32(number * 3) % 1000000) / 1000000)) AS t,
        toUInt32(intHash32(number * 7 + 3) % 900) AS dur, toUInt32(1 + intHash32(number * 7 + 5) % 4) AS pv,
        toUInt64(pow((intHash32(number * 3 + 7) % 1000000) / 1000000, 1.6) * 1200000) AS visitor,
        concat('/', arrayElement(['', 'products', 'blog', 'docs', 'pricing'], 1 + intHash32(number * 7 + 9) % 5)) AS entry,
        concat('/', arrayElement(['', 'cart', 'checkout', 'blog', 'docs'], 1 + intHash32(number * 7 + 11) % 5)) AS exit,
        arrayElement(['', '', 'https://www.google.com/', 'https://t.co/x'], 1 + intHash32(number * 7 + 13) % 4) AS ref,
        arrayJoin(if(number % 20 = 0, [0, 1, 2], [0])) AS k,
        if(k = 1, -1, 1) AS sg
    FROM numbers(3333334)
);

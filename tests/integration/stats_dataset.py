"""A deterministic dataset for the stats routes, and the answers expected of them computed
independently here, in Python, over the generated events (no SQL).

Events are generated per visitor over a fixed period that crosses a daylight-saving change
in Europe/Berlin (2026-03-29), so the project's local days differ from UTC days. Sessions
follow the semantics of services/admin/migrations/0002_sessions.sql: per visitor, ended by
30 minutes without an event; a session belongs to the local day it started in; a bounce is
a session with exactly one pageview. Some sessions are written the way oa-sink writes a
growing session (+1 of an early state, -1 cancelling it, +1 of the final state with a
higher version), so reads that do not weigh rows by sign give wrong answers."""

import datetime
import random
import zoneinfo

START = datetime.datetime(2026, 3, 20, tzinfo=datetime.timezone.utc)
DAYS = 16
SESSION_GAP_S = 30 * 60

PATHS = ["/", "/pricing", "/blog", "/blog/clickhouse", "/docs", "/docs/api", "/signup", "/about"]
HOSTS = ["example.com", "www.example.com"]
REFERRERS = [("", "", ""), ("https://www.google.com/", "www.google.com", "Google"),
             ("https://news.ycombinator.com/item", "news.ycombinator.com", "Hacker News"),
             ("https://t.co/x", "t.co", "Twitter")]
COUNTRIES = ["DE", "FR", "US", "GB", "JP"]
DEVICES = ["desktop", "mobile", "tablet"]
BROWSERS = [("Firefox", "Linux"), ("Chrome", "Windows"), ("Safari", "macOS"), ("Chrome", "Android")]
UTM = [("", "", ""), ("newsletter", "email", "spring"), ("google", "cpc", "brand")]
GOALS = ["signup", "purchase"]
CURRENCIES = ["EUR", "USD"]


def generate(project_id, site_id, seed, n_visitors=120):
    """Returns (events, sessions_rows): lists of dicts in the columns of oa.events and
    oa.sessions (times as 'YYYY-MM-DD hh:mm:ss' UTC plus millis)."""
    rnd = random.Random(seed)
    events = []
    sid = seed * 1_000_000
    for v in range(n_visitors):
        visitor = f"v{seed}-{v:04d}"
        user = f"u{seed}-{v:04d}" if rnd.random() < 0.3 else ""
        country = rnd.choice(COUNTRIES)
        device = rnd.choice(DEVICES)
        browser, os_ = rnd.choice(BROWSERS)
        t = START + datetime.timedelta(seconds=rnd.randrange(0, DAYS * 86400 - 7200))
        for _visit in range(rnd.randint(1, 4)):
            ref, ref_host, ref_source = rnd.choice(REFERRERS)
            utm_s, utm_m, utm_c = rnd.choice(UTM)
            host = rnd.choice(HOSTS)
            for i in range(rnd.choice([1, 1, 2, 3, 5, 8])):
                path = rnd.choice(PATHS)
                kind = "pageview"
                name = "pageview"
                revenue, currency = 0.0, ""
                r = rnd.random()
                if i > 0 and r < 0.15:
                    kind, name = "conversion", rnd.choice(GOALS)
                    if name == "purchase":
                        revenue = round(rnd.uniform(5, 200), 2)
                        currency = rnd.choice(CURRENCIES)
                elif i > 0 and r < 0.25:
                    kind, name = "custom", "download"
                sid += 1
                events.append({
                    "project_id": project_id, "site_id": site_id, "event_id": f"e{sid}",
                    "source": "api", "event_type": kind, "event_name": name,
                    "ts": t, "visitor_id": visitor, "user_id": user,
                    "url": f"https://{host}{path}", "hostname": host, "path": path, "title": path,
                    "referrer": ref if i == 0 else "", "referrer_host": ref_host if i == 0 else "",
                    "referrer_source": ref_source if i == 0 else "",
                    "utm_source": utm_s, "utm_medium": utm_m, "utm_campaign": utm_c,
                    "utm_content": "", "utm_term": "",
                    "ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (hostile test UA)",
                    "country": country, "browser": browser, "browser_version": "1",
                    "os": os_, "os_version": "1", "device": device, "screen_width": 1280,
                    "properties": [("plan", "pro")] if kind == "conversion" else [],
                    "revenue": revenue, "currency": currency,
                })
                t += datetime.timedelta(seconds=rnd.randrange(5, 600), milliseconds=rnd.randrange(0, 1000))
            t += datetime.timedelta(seconds=SESSION_GAP_S + rnd.randrange(60, 86400))
            if t > START + datetime.timedelta(days=DAYS):
                break
    events.sort(key=lambda e: (e["ts"], e["event_id"]))
    sessions = compute_sessions(events, rnd)
    return events, sessions


def compute_sessions(events, rnd):
    """Assign session ids to events and return the oa.sessions rows (with +1/-1 history)."""
    by_visitor = {}
    for e in events:
        by_visitor.setdefault(e["visitor_id"], []).append(e)
    rows = []
    n = 0
    for visitor, evs in sorted(by_visitor.items()):
        cur = []
        groups = []
        for e in evs:
            if cur and (e["ts"] - cur[-1]["ts"]).total_seconds() > SESSION_GAP_S:
                groups.append(cur)
                cur = []
            cur.append(e)
        if cur:
            groups.append(cur)
        for g in groups:
            n += 1
            session_id = 1_000_000_000 + n
            for e in g:
                e["session_id"] = session_id
            final = session_row(g, session_id)
            if len(g) > 1 and rnd.random() < 0.5:
                early = session_row(g[:1], session_id)
                rows.append(dict(early, sign=1, version=1))
                rows.append(dict(early, sign=-1, version=1))
                rows.append(dict(final, sign=1, version=2))
            else:
                rows.append(dict(final, sign=1, version=1))
    return rows


def session_row(g, session_id):
    pvs = [e for e in g if e["event_type"] == "pageview"]
    first = g[0]
    return {
        "project_id": first["project_id"], "session_id": session_id,
        "visitor_id": first["visitor_id"], "user_id": first["user_id"],
        "start": first["ts"], "end": g[-1]["ts"],
        "duration": int((g[-1]["ts"] - first["ts"]).total_seconds()),
        "pageviews": len(pvs), "events": len(g), "is_bounce": 1 if len(pvs) == 1 else 0,
        "entry_page": (pvs[0] if pvs else first)["path"],
        "exit_page": (pvs[-1] if pvs else g[-1])["path"],
        "hostname": first["hostname"], "referrer": first["referrer"],
        "referrer_host": first["referrer_host"], "referrer_source": first["referrer_source"],
        "utm_source": first["utm_source"], "utm_medium": first["utm_medium"],
        "utm_campaign": first["utm_campaign"], "utm_content": "", "utm_term": "",
        "country": first["country"], "device": first["device"], "browser": first["browser"],
        "os": first["os"],
    }


def fmt_time(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def event_rows(events):
    """JSONEachRow dicts for oa.events."""
    out = []
    for e in events:
        r = {k: v for k, v in e.items() if k not in ("ts", "properties")}
        r["timestamp"] = fmt_time(e["ts"])
        r["millis"] = e["ts"].microsecond // 1000
        r["received_at"] = r["timestamp"]
        r["received_millis"] = r["millis"]
        r["properties.key"] = [k for k, _ in e["properties"]]
        r["properties.value"] = [v for _, v in e["properties"]]
        r["properties.type"] = ["string" for _ in e["properties"]]
        r["kafka_partition"] = 0
        r["kafka_offset"] = 0
        out.append(r)
    return out


def session_rows(sessions):
    out = []
    for s in sessions:
        r = dict(s)
        r["start"] = fmt_time(s["start"])
        r["start_millis"] = s["start"].microsecond // 1000
        r["end"] = fmt_time(s["end"])
        r["end_millis"] = s["end"].microsecond // 1000
        out.append(r)
    return out


# ---- expected answers -----------------------------------------------------------------------

def local_day(t, tz):
    return t.astimezone(zoneinfo.ZoneInfo(tz)).date()


def bucket(t, tz, interval):
    lt = t.astimezone(zoneinfo.ZoneInfo(tz))
    d = lt.date()
    if interval == "hour":
        return lt.strftime("%Y-%m-%d %H:00:00")
    if interval == "day":
        return d.isoformat()
    if interval == "week":
        return (d - datetime.timedelta(days=d.weekday())).isoformat()
    if interval == "month":
        return d.replace(day=1).isoformat()
    raise ValueError(interval)


DIM_EVENT = {"path": "path", "hostname": "hostname", "referrer": "referrer", "source": "referrer_source",
             "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign",
             "country": "country", "device": "device", "browser": "browser", "os": "os",
             "event_name": "event_name", "event_type": "event_type", "currency": "currency"}
DIM_SESSION = {"hostname": "hostname", "referrer": "referrer", "source": "referrer_source",
               "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign",
               "country": "country", "device": "device", "browser": "browser", "os": "os",
               "entry_page": "entry_page", "exit_page": "exit_page"}


def dim_value(row, dim, tz, time_key, table):
    if dim in ("hour", "day", "week", "month"):
        return bucket(row[time_key], tz, dim)
    return row[(DIM_EVENT if table == "events" else DIM_SESSION)[dim]]


def leaf_match(value, op, values):
    import re
    if op in ("is", "is_not"):
        hit = any(value == v for v in values)
    elif op in ("contains", "contains_not"):
        hit = any(v.lower() in value.lower() for v in values)
    else:
        hit = any(re.search(v, value) is not None for v in values)
    return not hit if op.endswith("_not") else hit


def filter_match(row, f, tz, time_key, table):
    op = f[0]
    if op == "and":
        return all(filter_match(row, x, tz, time_key, table) for x in f[1])
    if op == "or":
        return any(filter_match(row, x, tz, time_key, table) for x in f[1])
    if op == "not":
        return not filter_match(row, f[1], tz, time_key, table)
    return leaf_match(dim_value(row, f[1], tz, time_key, table), op, f[2])


def live_sessions(sessions):
    """The state the +1/-1 rows stand for: one row per live session."""
    total = {}
    for s in sessions:
        key = (s["session_id"], s["version"])
        total.setdefault(key, [s, 0])
        total[key][1] += s["sign"]
    return [s for s, n in total.values() if n > 0]


def in_range(t, tz, frm, to):
    d = local_day(t, tz)
    return frm <= d <= to


def expect_events(events, tz, frm, to, dims, filters, pageviews_only=False, goal=None):
    """{dims tuple: metrics dict} over events: pageviews, visitors, events, conversions..."""
    groups = {}
    for e in events:
        if not in_range(e["ts"], tz, frm, to):
            continue
        if pageviews_only and e["event_type"] != "pageview":
            continue
        if not all(filter_match(e, f, tz, "ts", "events") for f in filters):
            continue
        key = tuple(dim_value(e, d, tz, "ts", "events") for d in dims)
        groups.setdefault(key, []).append(e)
    out = {}
    for key, evs in groups.items():
        conv = [e for e in evs if e["event_type"] == "conversion" and (goal is None or e["event_name"] == goal)]
        visitors = {e["visitor_id"] for e in evs}
        out[key] = {
            "pageviews": sum(1 for e in evs if e["event_type"] == "pageview"),
            "visitors": len(visitors),
            "events": len(evs),
            "conversions": len(conv),
            "converted_visitors": len({e["visitor_id"] for e in conv}),
            "converted_users": len({e["user_id"] for e in conv if e["user_id"]}),
            "conversion_rate": round(100 * len({e["visitor_id"] for e in conv}) / len(visitors), 2),
            "revenue": sum(e["revenue"] for e in conv),
        }
    return out


def expect_sessions(sessions, tz, frm, to, dims, filters):
    groups = {}
    for s in live_sessions(sessions):
        if not in_range(s["start"], tz, frm, to):
            continue
        if not all(filter_match(s, f, tz, "start", "sessions") for f in filters):
            continue
        key = tuple(dim_value(s, d, tz, "start", "sessions") for d in dims)
        groups.setdefault(key, []).append(s)
    out = {}
    for key, ss in groups.items():
        n = len(ss)
        out[key] = {
            "visits": n,
            "visitors": len({s["visitor_id"] for s in ss}),
            "pageviews": sum(s["pageviews"] for s in ss),
            "events": sum(s["events"] for s in ss),
            "bounce_rate": round(100 * sum(s["is_bounce"] for s in ss) / n, 2),
            "visit_duration": round(sum(s["duration"] for s in ss) / n, 2),
            "pageviews_per_visit": round(sum(s["pageviews"] for s in ss) / n, 2),
        }
    return out


def buckets(tz, frm, to, interval):
    """Every interval label of [frm, to] in zone tz, in order."""
    z = zoneinfo.ZoneInfo(tz)
    start = datetime.datetime.combine(frm, datetime.time(), z).astimezone(datetime.timezone.utc)
    end = datetime.datetime.combine(to + datetime.timedelta(days=1), datetime.time(), z).astimezone(
        datetime.timezone.utc)
    seen = []
    t = start
    while t < end:
        b = bucket(t, tz, interval)
        if b not in seen:
            seen.append(b)
        t += datetime.timedelta(hours=1)
    return seen

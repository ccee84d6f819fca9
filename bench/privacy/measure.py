"""bench/privacy: fills the stack's ClickHouse, then times DSAR deletions against the
ClickHouse-only baseline, round after round, and rewrites its section of docs/benchmarks.md
(see run.sh for what is measured). Environment: the stack's (OA_*), OA_DEMO_*, BENCH_*."""

import hashlib
import http.client
import json
import os
import statistics
import sys
import textwrap
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "auth"))
from measure import write_section  # noqa: E402  (bench/auth/measure.py)

CH = os.environ["OA_CLICKHOUSE_URL"].rstrip("/") + "/"
GW = int(os.environ["OA_GATEWAY_PORT"])
P = os.environ["OA_DEMO_PROJECT_ID"]
KEY = os.environ["OA_DEMO_KEY"]
ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", str(ROWS // 10)))
USER_EVENTS = int(os.environ.get("BENCH_USER_EVENTS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CHECK_MS = int(os.environ.get("OA_PRIVACY_CHECK_EVERY_MS", "200"))
RUN = hex(int(time.time()))[2:]


def say(*a):
    print("[bench/privacy]", *a, file=sys.stderr, flush=True)


def ch(sql, data=None):
    url = CH + "?query=" + urllib.parse.quote(sql) if data is not None else CH
    body = data if data is not None else sql.encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=3600) as r:
        return r.read().decode()


def count(table, where):
    return int(ch(f"SELECT count() FROM {table} WHERE {where} FORMAT TabSeparated").strip())


def visitor_of_user(user):
    return hashlib.sha256(b"oa.user.v1\0" + P.encode() + b"\0" + user.encode()).hexdigest()[:32]


EVENT_COLS = ("project_id, event_id, event_type, timestamp, received_at, visitor_id, user_id, url, "
              "path, hostname, country, browser, os, device, referrer_source, source")


def event_select(n, user_expr, visitor_expr, id_prefix):
    # a realistic spread: 90 days, 500 pages, a few countries, browsers and sources
    return (f"SELECT '{P}', concat('{id_prefix}', toString(number)), "
            "if(number % 10 = 0, 'event', 'pageview'), "
            "toDateTime(toUInt32(now()) - (number * 7919) % 7776000) AS t, t, "
            f"{visitor_expr}, {user_expr}, "
            "concat('https://shop.example.com/p/', toString(number % 500)), "
            "concat('/p/', toString(number % 500)), 'shop.example.com', "
            "['DE', 'US', 'FR', 'GB', 'JP'][number % 5 + 1], "
            "['Chrome', 'Firefox', 'Safari', 'Edge'][number % 4 + 1], "
            "['Windows', 'macOS', 'iOS', 'Android'][number % 4 + 1], "
            "['desktop', 'mobile', 'tablet'][number % 3 + 1], "
            "['direct', 'search', 'social', 'referral'][number % 4 + 1], 'api' "
            f"FROM numbers({n})")


SESSION_COLS = "project_id, session_id, visitor_id, user_id, start, end, duration, pageviews, events, sign, version"


def session_select(n, user_expr, visitor_expr, offset):
    return (f"SELECT '{P}', number + {offset}, {visitor_expr}, {user_expr}, "
            "toDateTime(toUInt32(now()) - (number * 7919) % 7776000) AS t, t + 60, 60, 3, 4, 1, 1 "
            f"FROM numbers({n})")


def fill():
    have = count("oa.events", f"project_id = '{P}'")
    if have < ROWS:
        say(f"filling oa.events with {ROWS - have:,} rows (100,000 users)")
        t = time.monotonic()
        ch(f"INSERT INTO oa.events ({EVENT_COLS}) " + event_select(
            ROWS - have, "concat('u', toString(number % 100000))",
            "lower(hex(MD5(toString(number % 100000))))", "f-"))
        say(f"  {time.monotonic() - t:.1f} s")
    have = count("oa.sessions", f"project_id = '{P}'")
    if have < SESSIONS:
        say(f"filling oa.sessions with {SESSIONS - have:,} rows")
        ch(f"INSERT INTO oa.sessions ({SESSION_COLS}) " + session_select(
            SESSIONS - have, "concat('u', toString(number % 100000))",
            "lower(hex(MD5(toString(number % 100000))))", 1000000000))


def add_user(user):
    v = visitor_of_user(user)
    ch(f"INSERT INTO oa.events ({EVENT_COLS}) " + event_select(USER_EVENTS, f"'{user}'", f"'{v}'", f"{user}-"))
    ch(f"INSERT INTO oa.sessions ({SESSION_COLS}) " + session_select(
        USER_EVENTS // 100, f"'{user}'", f"'{v}'", abs(hash(user)) % (1 << 40)))
    return v


def baseline(user, v):
    """What ClickHouse alone takes: the two mutations, polled until nothing is left."""
    where = f"project_id = '{P}' AND (visitor_id = '{v}' OR user_id = '{user}')"
    t = time.monotonic()
    ch(f"ALTER TABLE oa.events DELETE WHERE {where}")
    ch(f"ALTER TABLE oa.sessions DELETE WHERE {where}")
    while count("oa.events", where) + count("oa.sessions", where) > 0:
        time.sleep(CHECK_MS / 1000)
    return time.monotonic() - t


def api(method, path):
    c = http.client.HTTPConnection("127.0.0.1", GW, timeout=60)
    try:
        c.request(method, path, headers={"Authorization": f"Bearer {KEY}"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def ours(user):
    t = time.monotonic()
    status, body = api("DELETE", f"/v1/projects/{P}/privacy/user/{urllib.parse.quote(user, safe='')}")
    if status != 202:
        raise SystemExit(f"DELETE answered {status}: {body}")
    while True:
        status, st = api("GET", body["status_url"])
        if status == 200 and st["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    took = time.monotonic() - t
    if st["status"] != "completed" or st["rows_deleted"]["events"] != USER_EVENTS:
        raise SystemExit(f"request ended {st}")
    return took


def main():
    fill()
    total = count("oa.events", "1")
    say(f"oa.events holds {total:,} rows, oa.sessions {count('oa.sessions', '1'):,}")
    ours_s, base_s = [], []
    for r in range(ROUNDS):
        u_ours, u_base = f"bench-del-{RUN}-{r}", f"bench-base-{RUN}-{r}"
        add_user(u_ours)
        v_base = add_user(u_base)
        if r % 2 == 0:
            ours_s.append(ours(u_ours))
            base_s.append(baseline(u_base, v_base))
        else:
            base_s.append(baseline(u_base, v_base))
            ours_s.append(ours(u_ours))
        say(f"round {r + 1}: DELETE to completed {ours_s[-1]:.2f} s; ClickHouse alone {base_s[-1]:.2f} s")
    mo, mb = statistics.median(ours_s), statistics.median(base_s)
    ratio = mo / mb if mb else float("nan")
    verdict = "met" if max(ours_s) <= 60 else "NOT met"
    print(f"DELETE -> completed: median {mo:.2f} s (min {min(ours_s):.2f}, max {max(ours_s):.2f}); "
          f"ClickHouse alone: median {mb:.2f} s; ratio {ratio:.2f}; target <= 60 s: {verdict}")
    if os.environ.get("BENCH_NO_DOCS"):
        return
    intro = textwrap.fill(
        f"Time from `DELETE /v1/projects/{{id}}/privacy/user/{{user_id}}` (through the gateway) to "
        f"the request's status `completed`, for a user with {USER_EVENTS:,} events (and "
        f"{USER_EVENTS // 100} sessions) in an oa.events table of {total:,} rows over 90 days, on "
        "the local stack (ClickHouse 18.16, Kafka 4.1), polling the status every 100 ms. "
        "Baseline in the same run: ClickHouse alone doing the same deletion for another user "
        "of the same size (the two ALTER TABLE ... DELETE mutations through its HTTP "
        f"interface, then counting the user's rows every {CHECK_MS} ms until none is left; "
        f"oa-privacy checks at the same interval, OA_PRIVACY_CHECK_EVERY_MS={CHECK_MS}). "
        "Rounds alternate which goes first.", width=90)
    body = f"""## DSAR deletion: DELETE to completed

Date: {time.strftime('%Y-%m-%d')}. Command: `{os.environ.get('BENCH_CMD', 'bench/privacy/run.sh')}`.

{intro}

| | median | min | max |
|---|---:|---:|---:|
| DELETE → `completed` (oa-query, Kafka, oa-privacy) | {mo:.2f} s | {min(ours_s):.2f} s | {max(ours_s):.2f} s |
| baseline: the mutations alone (clickhouse HTTP) | {mb:.2f} s | {min(base_s):.2f} s | {max(base_s):.2f} s |

Ratio (median ours / median baseline): **{ratio:.2f}**. Target: at most 60 s: **{verdict}**.
What the pipeline adds to ClickHouse's own time is the Kafka round trip, the status rows,
counting the rows first and the check that nothing is left.

- every round, ours (s): {', '.join(f'{x:.2f}' for x in ours_s)}
- every round, baseline (s): {', '.join(f'{x:.2f}' for x in base_s)}
"""
    section = ("<!-- bench/privacy: start (written by bench/privacy/run.sh; edits here are "
               "overwritten) -->\n" + body.strip() + "\n<!-- bench/privacy: end -->")
    write_section(os.environ["BENCH_DOC"], "bench/privacy", section)


if __name__ == "__main__":
    main()

"""oa-sink against the stack's real Kafka, ClickHouse and oa-edge (tests/integration/run.sh
started them; `$OA_STACK_CMD` restarts parts of it): N events in give exactly N rows; a
scripted visitor timeline gives the exact sessions; kill -9 of oa-sink three times while
events stream gives exact counts; ClickHouse stopped for 30 s under load gives exact counts;
poison messages land in oa.deadletter.v1 and what follows them flows.

Events go in through oa-edge's POST /v1 with the demo key (the stack's demo.env), each test
under its own tag in the path or user ids, and are counted in ClickHouse by that tag."""

import datetime
import json
import os
import random
import signal
import string
import subprocess
import threading
import time

import pytest

import oa_it

ENV = os.environ


def tag():
    return "".join(random.choice(string.ascii_lowercase) for _ in range(8))


def demo():
    d = {}
    with open(os.path.join(oa_it.require_env("OA_RUN_DIR", "the stack's run directory"), "demo.env")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                d[k] = v.strip("'")
    return d


DEMO = demo()
PROJECT = DEMO["OA_DEMO_PROJECT_ID"]


def ch(sql):
    return oa_it.ch_query(ENV["OA_CLICKHOUSE_URL"], sql).decode()


def ch_int(sql):
    return int(ch(sql).strip() or 0)


def post_events(events):
    r = oa_it.http(int(ENV["OA_EDGE_PORT"]), "POST", f"/v1/projects/{PROJECT}/events",
                   headers=oa_it.bearer(DEMO["OA_DEMO_KEY"]), body={"events": events}, timeout=30)
    assert r.status == 202, (r.status, r.body[:300])
    body = r.json()
    assert body["accepted"] == len(events), body
    return body


def now_ms():
    return int(time.time() * 1000)


def wait_count(sql, want, timeout=120):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = ch_int(sql)
        if got >= want:
            # a little longer: anything beyond want would be a duplicate
            time.sleep(1.5)
            return ch_int(sql)
        time.sleep(0.25)
    return got


def wait_eq(sql, want, timeout=30):
    """The value of sql once it equals want (sessions are written every OA_SINK_SESSIONS_MS),
    or the last value after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = ch_int(sql)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def sink_metrics():
    r = oa_it.http(int(ENV["OA_SINK_METRICS_PORT"]), "GET", "/metrics")
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def stack(*args):
    subprocess.run([ENV["OA_STACK_CMD"], *args], check=True, stdout=subprocess.DEVNULL, timeout=180)


def sink_pid():
    with open(os.path.join(ENV["OA_RUN_DIR"], "pid", "sink.pid")) as f:
        return int(f.read().split()[0])


class Streamer(threading.Thread):
    """Sends `batches` requests of `size` pageviews (paths /<tag>/<i>), one every `gap` s."""

    def __init__(self, t, batches, size, gap):
        super().__init__(daemon=True)
        self.t, self.batches, self.size, self.gap = t, batches, size, gap
        self.sent = 0
        self.error = None

    def run(self):
        try:
            for b in range(self.batches):
                ts = now_ms()
                evs = [{"event_type": "pageview", "url": f"https://localhost/{self.t}/{b}-{i}",
                        "user_id": f"{self.t}-u{i % 37}", "timestamp": ts} for i in range(self.size)]
                post_events(evs)
                self.sent += self.size
                time.sleep(self.gap)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def count_tag(t):
    return f"SELECT count() FROM oa.events WHERE project_id = '{PROJECT}' AND startsWith(path, '/{t}/')"


def distinct_tag(t):
    return f"SELECT uniqExact(event_id) FROM oa.events WHERE project_id = '{PROJECT}' AND startsWith(path, '/{t}/')"


def test_n_events_in_exactly_n_rows():
    t = tag()
    n = 0
    for b in range(6):
        post_events([{"event_type": "pageview", "url": f"https://localhost/{t}/{b}/{i}",
                      "user_id": f"{t}-{i % 50}", "timestamp": now_ms()} for i in range(500)])
        n += 500
    assert wait_count(count_tag(t), n) == n
    assert ch_int(distinct_tag(t)) == n
    # the rollup saw each exactly once too
    assert ch_int(f"SELECT sumMerge(pageviews) FROM oa.pageviews_hourly WHERE project_id = '{PROJECT}' "
                  f"AND startsWith(path, '/{t}/')") == n
    # and the sessions hold every event once
    assert wait_eq(f"SELECT sum(sign * events) FROM oa.sessions WHERE project_id = '{PROJECT}' "
                   f"AND visitor_id IN (SELECT visitor_id FROM oa.events WHERE startsWith(path, '/{t}/'))", n) == n
    m = sink_metrics()
    assert m["oa_sink_clickhouse_up"] == 1 and m["oa_sink_rows_total"] >= n
    assert m["oa_sink_last_insert_timestamp_seconds"] > time.time() - 60


def test_an_event_id_sent_twice_is_written_once():
    t = tag()
    eid = "0190c3c2-7d2a-7000-8000-" + "".join(random.choice("0123456789abcdef") for _ in range(12))
    ev = {"event_type": "pageview", "url": f"https://localhost/{t}/x", "user_id": f"{t}-u",
          "event_id": eid, "timestamp": now_ms()}
    post_events([ev])
    assert wait_count(count_tag(t), 1) == 1
    # oa-edge may answer "duplicate" from Redis; clear its mark so the event really reaches Kafka twice
    r = oa_it.http(int(ENV["OA_EDGE_PORT"]), "POST", f"/v1/projects/{PROJECT}/events",
                   headers=oa_it.bearer(DEMO["OA_DEMO_KEY"]), body={"events": [ev]})
    assert r.status == 202
    redis = oa_it.Redis(ENV["OA_REDIS_URL"])
    for key in redis.cmd("KEYS", "*idem*") or []:
        redis.cmd("DEL", key)
    r = oa_it.http(int(ENV["OA_EDGE_PORT"]), "POST", f"/v1/projects/{PROJECT}/events",
                   headers=oa_it.bearer(DEMO["OA_DEMO_KEY"]), body={"events": [ev]})
    assert r.status == 202
    time.sleep(3)
    assert ch_int(count_tag(t)) == 1


def iso(dt):
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def test_scripted_visitor_timeline_gives_exact_sessions():
    t = tag()
    day = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).replace(
        hour=23, minute=50, second=0, microsecond=0, tzinfo=None)
    a, b = f"{t}-alice", f"{t}-bob"
    m = lambda minutes: iso(day + datetime.timedelta(minutes=minutes))  # noqa: E731
    events = [
        # alice, session 1: 23:50 /a, 23:55 /b, 00:10 /c (crosses midnight), sent out of order
        {"event_type": "pageview", "url": f"https://localhost/{t}/b", "user_id": a, "timestamp": m(5)},
        {"event_type": "pageview", "url": f"https://localhost/{t}/a", "user_id": a, "timestamp": m(0),
         "referrer": "https://www.google.com/search?q=x"},
        {"event_type": "pageview", "url": f"https://localhost/{t}/c", "user_id": a, "timestamp": m(20)},
        # alice, session 2 after a 31-minute gap: /d then a custom event (not a bounce)
        {"event_type": "pageview", "url": f"https://localhost/{t}/d", "user_id": a, "timestamp": m(51)},
        {"event_type": "event", "event_name": "signup", "url": f"https://localhost/{t}/d", "user_id": a,
         "timestamp": m(53)},
        # bob: one pageview, a bounce
        {"event_type": "pageview", "url": f"https://localhost/{t}/a", "user_id": b, "timestamp": m(7)},
    ]
    post_events(events)
    assert wait_count(f"SELECT count() FROM oa.events WHERE project_id = '{PROJECT}' "
                      f"AND startsWith(path, '/{t}/')", 6) == 6
    deadline = time.monotonic() + 30
    while True:
        rows = ch(
            "SELECT user, toString(toDate(start)), dur, pv, ev, bounce, entry, exit FROM ("
            "SELECT session_id, argMaxIf(user_id, version, sign = 1) AS user, "
            "argMaxIf(start, version, sign = 1) AS start, argMaxIf(duration, version, sign = 1) AS dur, "
            "sum(sign * pageviews) AS pv, sum(sign * events) AS ev, argMaxIf(is_bounce, version, sign = 1) AS bounce, "
            "argMaxIf(entry_page, version, sign = 1) AS entry, argMaxIf(exit_page, version, sign = 1) AS exit "
            f"FROM oa.sessions WHERE project_id = '{PROJECT}' AND visitor_id IN "
            f"(SELECT visitor_id FROM oa.events WHERE startsWith(path, '/{t}/')) "
            "GROUP BY session_id HAVING sum(sign) = 1) ORDER BY user, start FORMAT TSV")
        got = [line.split("\t") for line in rows.strip().splitlines()]
        if len(got) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    d0 = day.date().isoformat()
    d1 = (day + datetime.timedelta(days=1)).date().isoformat()
    assert got == [
        [a, d0, "1200", "3", "3", "0", f"/{t}/a", f"/{t}/c"],
        [a, d1, "120", "1", "2", "0", f"/{t}/d", f"/{t}/d"],
        [b, d0, "0", "1", "1", "1", f"/{t}/a", f"/{t}/a"],
    ]
    # each event row carries its session's id
    assert ch_int(f"SELECT uniqExact(session_id) FROM oa.events WHERE startsWith(path, '/{t}/')") == 3
    # the first event's referrer source is the session's
    assert ch(f"SELECT referrer_source FROM oa.sessions WHERE user_id = '{a}' AND entry_page = '/{t}/a' "
              "AND sign = 1 LIMIT 1 FORMAT TSV").strip() == "search"


def test_kill_9_three_times_while_streaming_gives_exact_counts():
    t = tag()
    s = Streamer(t, batches=60, size=100, gap=0.25)
    s.start()
    for _ in range(3):
        time.sleep(4)
        os.kill(sink_pid(), signal.SIGKILL)
        time.sleep(0.5)
        stack("up")          # restarts what is not running (make up does the same)
    s.join(timeout=300)
    assert s.error is None, s.error
    n = s.sent
    assert n == 6000
    assert wait_count(count_tag(t), n, timeout=180) == n
    assert ch_int(distinct_tag(t)) == n
    assert wait_eq(f"SELECT sum(sign * events) FROM oa.sessions WHERE project_id = '{PROJECT}' "
                   f"AND visitor_id IN (SELECT visitor_id FROM oa.events WHERE startsWith(path, '/{t}/'))", n) == n


def test_clickhouse_stopped_30s_under_load_gives_exact_counts():
    t = tag()
    s = Streamer(t, batches=80, size=50, gap=0.5)
    s.start()
    time.sleep(3)
    stack("stop", "clickhouse")
    try:
        time.sleep(8)
        r = oa_it.http(int(ENV["OA_SINK_METRICS_PORT"]), "GET", "/readyz")
        assert r.status == 503, r.body
        m = sink_metrics()
        assert m["oa_sink_clickhouse_up"] == 0
        assert m["oa_sink_stuck"] == 1
        time.sleep(22)
    finally:
        stack("start", "clickhouse")
    s.join(timeout=300)
    assert s.error is None, s.error
    n = s.sent
    assert wait_count(count_tag(t), n, timeout=180) == n
    assert ch_int(distinct_tag(t)) == n
    deadline = time.monotonic() + 30
    while oa_it.http(int(ENV["OA_SINK_METRICS_PORT"]), "GET", "/readyz").status != 200:
        assert time.monotonic() < deadline, "oa-sink did not become ready again"
        time.sleep(0.5)


def kcat(*args, data=None):
    return subprocess.run(["kcat", "-b", ENV["OA_KAFKA_BROKERS"], *args], input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True).stdout


def test_poison_messages_go_to_the_dead_letter_topic_and_the_rest_flows():
    t = tag()
    garbage = f"garbage-{t}-\xff".encode("latin-1")
    v2 = b"\x08\x02\x12" + bytes([len(t) + 7]) + f"poison-{t}".encode()   # version 2, an event_id
    assert b"\n" not in garbage + v2
    for p in range(12):
        kcat("-P", "-t", "oa.events.v1", "-p", str(p), data=garbage + b"\n" + v2 + b"\n")
    n = 0
    for b in range(2):
        post_events([{"event_type": "pageview", "url": f"https://localhost/{t}/{b}/{i}",
                      "user_id": f"{t}-{i}", "timestamp": now_ms()} for i in range(200)])
        n += 200
    assert wait_count(count_tag(t), n) == n
    deadline = time.monotonic() + 30
    while True:
        dead = kcat("-C", "-t", "oa.deadletter.v1", "-o", "beginning", "-e", "-q", "-D", "\x1e\x1f")
        found_garbage = dead.count(garbage)
        found_v2 = dead.count(v2)
        if (found_garbage >= 12 and found_v2 >= 12) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found_garbage == 12 and found_v2 == 12, (found_garbage, found_v2)
    assert b"decode_error" in dead and b"unknown_version" in dead and b"oa-sink" in dead
    m = sink_metrics()
    assert m['oa_sink_deadletters_total{reason="unknown_version"}'] >= 12

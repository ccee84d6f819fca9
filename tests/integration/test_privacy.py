"""Privacy / DSAR against the whole running stack (pytest, python3 stdlib): the gateway,
oa-edge, oa-sink, oa-realtime, oa-query and oa-privacy that tests/integration/run.sh started
(`stack.sh up`), with the demo account it created.

- The export: sanitized field by field, newest first, the 90-day window, the 10,000 cap and
  `truncated` at 10,001 events (rows written straight into oa.events: the export only reads).
- Hostile user_ids through GET and DELETE: 400 or a correct answer, never a 5xx.
- Scopes and accounts: 403 without the scope, 404 for another account's project or request.
- Deletion end to end: two users' events through oa-edge /v1; some of the first user's still
  in flight (oa-sink stopped) when the DELETE comes; the request completes, nothing of the
  first user remains in ClickHouse or in Redis's realtime list, the second is untouched, and
  the in-flight events are dropped by oa-sink (counted in its metrics).
- `kill -9` of oa-privacy in the middle of a request, then `stack.sh up`: it completes.
- The same request record delivered twice does no harm.

Never parallel with other integration tests: it stops and starts parts of the stack."""

import json
import os
import signal
import subprocess
import sys
import time
import tempfile
import urllib.parse
import urllib.request
import uuid

import pytest

import oa_it

sys.path.insert(0, os.path.dirname(__file__))
import dsar_pb  # noqa: E402  (the DeletionRequest encoder)


def env(name):
    return oa_it.require_env(name, "run through tests/integration/run.sh")


@pytest.fixture(scope="module")
def st():
    class S:
        pass

    s = S()
    s.gateway = int(env("OA_GATEWAY_PORT"))
    s.ch = env("OA_CLICKHOUSE_URL")
    s.stack_cmd = env("OA_STACK_CMD")
    s.run_dir = env("OA_RUN_DIR")
    s.kafka = env("OA_KAFKA_BROKERS")
    demo = {}
    with open(os.path.join(s.run_dir, "demo.env")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                demo[k] = v
    s.project = demo["OA_DEMO_PROJECT_ID"]
    s.account = demo["OA_DEMO_ACCOUNT_ID"]
    s.key = demo["OA_DEMO_KEY"]
    s.redis = oa_it.Redis(env("OA_REDIS_URL"))
    bin_dir = os.environ.get("OA_BIN_DIR") or os.environ.get("OA_TEST_BUILD_ROOT")
    s.admin = oa_it.Admin(os.path.join(bin_dir, "services", "admin", "oa-admin"), dict(os.environ),
                          s.run_dir)
    yield s
    s.redis.close()


def api(st, method, path, key=None, body=None):
    return oa_it.http(st.gateway, method, path, headers=oa_it.bearer(key or st.key), body=body,
                      timeout=30)


def user_path(st, user, project=None):
    return f"/v1/projects/{project or st.project}/privacy/user/{urllib.parse.quote(user, safe='')}"


def ch(st, sql):
    return oa_it.ch_query(st.ch, sql).decode()


def ch_count(st, table, where):
    return int(ch(st, f"SELECT count() FROM {table} WHERE {where} FORMAT TabSeparated").strip())


def q(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stack(st, *args):
    subprocess.run([st.stack_cmd, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=180)


def insert_events(st, rows):
    data = "\n".join(json.dumps(r) for r in rows).encode()
    req = urllib.request.Request(
        st.ch.rstrip("/") + "/?query=" + urllib.parse.quote("INSERT INTO oa.events FORMAT JSONEachRow"),
        data=data, method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()


def row(st, user, ts, **kw):
    r = {"project_id": st.project, "event_id": str(uuid.uuid4()), "event_type": "pageview",
         "timestamp": int(ts), "millis": 0, "received_at": int(ts), "user_id": user,
         "visitor_id": dsar_pb.visitor_of_user(st.project, user), "source": "api",
         "url": "https://shop.example.com/p", "path": "/p", "hostname": "shop.example.com"}
    r.update(kw)
    return r


def wait_status(st, request_id, want, timeout=120):
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api(st, "GET", f"/v1/projects/{st.project}/privacy/requests/{request_id}")
        if r.status == 200:
            last = r.json()
            if last["status"] in want:
                return last
        time.sleep(0.25)
    raise AssertionError(f"request {request_id} not {want} within {timeout} s; last {last}")


def send_events(st, user, n, tag):
    ids = []
    for start in range(0, n, 100):
        batch = [{"event_type": "pageview", "url": f"https://shop.example.com/{tag}/{i}",
                  "user_id": user, "event_id": str(uuid.uuid4()),
                  "properties": {"plan": "pro"}} for i in range(start, min(n, start + 100))]
        r = api(st, "POST", f"/v1/projects/{st.project}/events", body={"events": batch})
        assert r.status == 202, r
        assert r.json()["accepted"] == len(batch), r
        ids += [e["event_id"] for e in batch]
    return ids


def wait_rows(st, where, n, timeout=60):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = ch_count(st, "oa.events", where)
        if got >= n:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{n} rows where {where} expected in oa.events, {got} after {timeout} s")


def recent_visitors(st):
    items = st.redis.cmd("LRANGE", f"oa:rt:{{{st.project}}}:recent", "0", "-1") or []
    return [json.loads(i).get("visitor_id") for i in items]


# ---- the export ----------------------------------------------------------------------------

def test_export_is_sanitized_newest_first_and_windowed(st):
    user = f"exp-{uuid.uuid4().hex[:8]}@example.com"
    now = int(time.time())
    rows = [
        row(st, user, now - 60, event_type="conversion", event_name="purchase", ip="203.0.113.77",
            user_agent="SecretBrowser/1.0 (UniqueUA-XYZ)", country="DE", browser="Firefox",
            os="Windows", device="desktop", referrer_source="search", revenue=49.9, currency="EUR",
            **{"properties.key": ["plan", "coupon"], "properties.value": ["pro-secret", "SAVE-SECRET"],
               "properties.type": ["string", "string"]}),
        row(st, user, now - 3600, path="/older"),
        row(st, user, now - 91 * 86400, path="/outside-window"),
        row(st, "someone-else", now - 30, path="/other-user"),
    ]
    insert_events(st, rows)
    r = api(st, "GET", user_path(st, user))
    assert r.status == 200, r
    body = r.body.decode()
    for secret in ("203.0.113.77", "SecretBrowser", "UniqueUA-XYZ", "pro-secret", "SAVE-SECRET",
                   "/outside-window", "/other-user"):
        assert secret not in body, f"{secret!r} leaked into the export"
    d = r.json()
    assert d["user_id"] == user and d["project_id"] == st.project
    assert d["count"] == 2 and d["truncated"] is False
    assert [e["path"] for e in d["events"]] == ["/p", "/older"]         # newest first
    e = d["events"][0]
    assert set(e) == {"event_id", "type", "name", "time", "url", "path", "hostname", "country",
                      "browser", "os", "device", "source", "revenue", "currency", "property_keys"}
    assert (e["type"], e["name"], e["country"], e["browser"], e["os"], e["device"]) == \
        ("conversion", "purchase", "DE", "Firefox", "Windows", "desktop")
    assert e["source"] == "search" and e["revenue"] == 49.9 and e["currency"] == "EUR"
    assert e["property_keys"] == ["plan", "coupon"]
    assert e["url"] == "https://shop.example.com/p" and e["hostname"] == "shop.example.com"
    assert e["time"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60))
    assert d["events"][1]["revenue"] is None and d["events"][1]["currency"] is None
    assert ch_count(st, "oa.events", f"user_id = {q(user)}") == 3      # read-only


def test_export_cap_and_truncated_flag(st):
    user = f"cap-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    insert_events(st, [row(st, user, now - 10 - i // 5, millis=i % 1000, path=f"/e{i}")
                       for i in range(10000)])
    d = api(st, "GET", user_path(st, user)).json()
    assert d["count"] == 10000 and len(d["events"]) == 10000 and d["truncated"] is False
    insert_events(st, [row(st, user, now, path="/newest")])
    r = api(st, "GET", user_path(st, user))
    assert r.status == 200, r
    d = r.json()
    assert d["count"] == 10000 and len(d["events"]) == 10000 and d["truncated"] is True
    assert d["events"][0]["path"] == "/newest"


HOSTILE = [
    ("%00", 400), ("a%00b", 400), ("a%0Ab", 400), ("%7F", 400), ("%C2%85", 400), ("%ZZ", 400),
    ("%C3%28", 400), ("%FF%FE", 400), ("x" * 257, 400), ("x" * 3000, 400), ("%F0%9F%98%80" * 257, 400),
    ("x" * 256, 200), ("%F0%9F%98%80" * 256, 200), ("'%3B%20DROP%20TABLE%20oa.events%20--", 200),
    ("a%2Fb", 200), ("%2541", 200), ("back%5Cslash%27quote", 200), ("%22%7D%5D", 200),
    ("--%20comment", 200), ("%2F*c*%2F", 200),
]


@pytest.mark.parametrize("raw,status", HOSTILE)
def test_hostile_user_ids(st, raw, status):
    path = f"/v1/projects/{st.project}/privacy/user/{raw}"
    r = api(st, "GET", path)
    assert r.status == status, r
    if status == 400:
        assert r.json()["error"] == "validation_error"
        d = api(st, "DELETE", path)
        assert d.status == 400 and d.json()["error"] == "validation_error", d
    else:
        assert r.json()["count"] == 0 and r.json()["events"] == []
    assert ch_count(st, "system.tables", "database = 'oa' AND name = 'events'") == 1


def test_scopes_and_other_accounts(st):
    tag = uuid.uuid4().hex[:6]
    stats_only = st.admin.key_create(st.account, f"stats-{tag}", ["stats:read"])[1]
    r = api(st, "GET", user_path(st, "u1"), key=stats_only)
    assert r.status == 403 and r.json()["error"] == "forbidden", r
    r = api(st, "DELETE", user_path(st, "u1"), key=stats_only)
    assert r.status == 403, r
    read_only = st.admin.key_create(st.account, f"pread-{tag}", ["privacy:read"])[1]
    assert api(st, "GET", user_path(st, "u1"), key=read_only).status == 200
    assert api(st, "DELETE", user_path(st, "u1"), key=read_only).status == 403
    other = st.admin.account_create(f"other-{tag}", "business")
    okey = st.admin.key_create(other["id"], f"owner-{tag}",
                               ["privacy:read", "privacy:write", "projects:read"])[1]
    assert api(st, "GET", user_path(st, "u1"), key=okey).status == 404
    assert api(st, "DELETE", user_path(st, "u1"), key=okey).status == 404
    # a real request of the demo project is invisible to the other account and project
    rid = api(st, "DELETE", user_path(st, f"nobody-{tag}")).json()["request_id"]
    oprj = st.admin.project_create(other["id"], f"p-{tag}", f"{tag}.example.com")["id"]
    assert api(st, "GET", f"/v1/projects/{oprj}/privacy/requests/{rid}", key=okey).status == 404
    assert api(st, "GET", f"/v1/projects/{st.project}/privacy/requests/{rid}", key=okey).status == 404
    assert api(st, "GET", f"/v1/projects/{st.project}/privacy/requests/not-a-uuid").status == 404
    assert api(st, "GET", f"/v1/projects/{st.project}/privacy/requests/{uuid.uuid4()}").status == 404
    wait_status(st, rid, ("completed",))


# ---- deletion ------------------------------------------------------------------------------

def test_delete_with_events_in_flight(st):
    a, b = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    va = dsar_pb.visitor_of_user(st.project, a)
    send_events(st, a, 150, "a")
    send_events(st, b, 120, "b")
    wait_rows(st, f"user_id = {q(a)}", 150)
    wait_rows(st, f"user_id = {q(b)}", 120)
    # oa-sink writes sessions every OA_SINK_SESSIONS_MS (5 s)
    deadline = time.monotonic() + 30
    while sessions_of(st, b) < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    b_sessions = sessions_of(st, b)
    # oa-sink stopped: the next events of alice are in Kafka, not yet in ClickHouse
    stack(st, "stop", "sink")
    try:
        send_events(st, a, 30, "a-late")
        send_events(st, b, 10, "b-late")
        r = api(st, "DELETE", user_path(st, a))
        assert r.status == 202, r
        d = r.json()
        assert d["status"] == "queued" and oa_it.ISO_UTC_RE.match(d["created_at"])
        assert r.header("Location") == d["status_url"]
        first = api(st, "GET", d["status_url"]).json()
        assert first["status"] in ("queued", "running")
    finally:
        stack(st, "start", "sink")
    done = wait_status(st, d["request_id"], ("completed", "failed"), timeout=180)
    assert done["status"] == "completed", done
    assert done["rows_deleted"]["events"] >= 150
    assert done["completed_at"] >= done["started_at"] >= done["created_at"][:19]
    wait_rows(st, f"user_id = {q(b)}", 130)
    time.sleep(2)       # anything of alice's still arriving would show now
    assert ch_count(st, "oa.events", f"user_id = {q(a)} OR visitor_id = {q(va)}") == 0
    assert ch_count(st, "oa.sessions", f"user_id = {q(a)} OR visitor_id = {q(va)}") == 0
    assert ch_count(st, "oa.events", f"user_id = {q(b)}") == 130
    assert sessions_of(st, b) >= b_sessions >= 1
    assert va not in recent_visitors(st)
    # the oa-sink started after the DELETE dropped alice's 30 events that were in flight
    assert sink_metric(st, "oa_sink_suppressed_total") >= 30
    assert api(st, "GET", user_path(st, a)).json()["count"] == 0
    assert api(st, "GET", user_path(st, b)).json()["count"] == 130


def sink_metric(st, name):
    r = oa_it.http(int(env("OA_SINK_METRICS_PORT")), "GET", "/metrics")
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in oa-sink's /metrics")


def sessions_of(st, user):
    return int(ch(st, f"SELECT sum(sign) FROM oa.sessions WHERE user_id = {q(user)} "
                      "FORMAT TabSeparated").strip() or 0)


def privacy_pid(st):
    with open(os.path.join(st.run_dir, "pid", "privacy.pid")) as f:
        return int(f.read().strip())


def test_kill9_mid_request_then_up_completes(st):
    c = f"carol-{uuid.uuid4().hex[:8]}"
    send_events(st, c, 50, "c")
    wait_rows(st, f"user_id = {q(c)}", 50)
    # with oa-sink stopped, the request waits for it (running): kill -9 oa-privacy there
    stack(st, "stop", "sink")
    try:
        send_events(st, c, 5, "c-late")
        rid = api(st, "DELETE", user_path(st, c)).json()["request_id"]
        wait_status(st, rid, ("running",), timeout=60)
        os.kill(privacy_pid(st), signal.SIGKILL)
        time.sleep(0.5)
    finally:
        stack(st, "up")         # what `make up` does: starts what is not running
    done = wait_status(st, rid, ("completed", "failed"), timeout=180)
    assert done["status"] == "completed", done
    assert ch_count(st, "oa.events", f"user_id = {q(c)}") == 0


def test_same_request_twice_is_harmless(st):
    d = f"dave-{uuid.uuid4().hex[:8]}"
    insert_events(st, [row(st, d, time.time() - 5)])
    r = api(st, "DELETE", user_path(st, d)).json()
    first = wait_status(st, r["request_id"], ("completed",))
    assert first["rows_deleted"]["events"] == 1
    # the same record once more on the topic (a producer retry, a replay)
    value = dsar_pb.deletion_request(r["request_id"], st.project, st.account, d,
                                     "key_0000000000000000", int(time.time() * 1000))
    with tempfile.NamedTemporaryFile() as f:
        f.write(value)
        f.flush()
        subprocess.run(["kcat", "-P", "-b", st.kafka, "-t", "oa.deletions.v1", "-k",
                        f"{st.project}/x", f.name], check=True, timeout=30)
    time.sleep(3)
    again = wait_status(st, r["request_id"], ("completed",))
    assert again["rows_deleted"] == first["rows_deleted"]
    assert again["completed_at"] == first["completed_at"]
    # a second DELETE of the same user is a new request that finds nothing left
    r2 = api(st, "DELETE", user_path(st, d)).json()
    second = wait_status(st, r2["request_id"], ("completed",))
    assert second["rows_deleted"]["events"] == 0

"""oa-edge against the real stack (pytest, python3 stdlib): an oa-edge process of the test's
own (free port, the stack's Kafka and Redis), events through both routes read back from
oa.events.v1 with tests/integration/oa-event-dump (protobuf decoded to JSON lines), drops
counted in Redis and /metrics, batches, idempotent retries, and Kafka stopped in the middle
of a stream of /v1 requests: every event that got a 202 is in the topic exactly once.

Not parallel with other integration tests (meson: is_parallel false): it stops Kafka."""

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

import oa_it

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GB_IP = "81.2.69.142"           # a British address in every edition of the location database
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
VISITOR_RE = re.compile(r"^[0-9a-f]{32}$")
ACK_TIMEOUT_MS = 2000


class OaEdge:
    """One oa-edge child process on a free port, its output in a log file."""

    def __init__(self, exe, env, log_dir):
        self.exe = exe
        self.env = dict(env)
        self.log_path = os.path.join(log_dir, "oa-edge.log")
        self.proc = None
        self.port = None

    def start(self, ready_timeout=60.0):
        self.port = oa_it.free_port()
        self.env["OA_EDGE_LISTEN"] = f"127.0.0.1:{self.port}"
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.exe], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         preexec_fn=oa_it._die_with_parent)
        finally:
            log.close()
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout):
        started = time.monotonic()
        last = None
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"oa-edge exited with {self.proc.returncode}; log {self.log_path}:\n"
                            f"{self.tail()}", pytrace=False)
            try:
                r = oa_it.http(self.port, "GET", "/readyz", timeout=2)
                last = r.status
                if r.status == 200:
                    return time.monotonic() - started
            except OSError as e:
                last = e
            time.sleep(0.05)
        pytest.fail(f"oa-edge not ready within {timeout} s (last: {last}); log:\n{self.tail()}",
                    pytrace=False)

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout=30.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"killed: no exit within {timeout} s of SIGTERM"

    def collect(self, body, ua=CHROME, xff=GB_IP, content_type="text/plain", raw=None):
        headers = {"User-Agent": ua}
        if xff:
            headers["X-Forwarded-For"] = xff
        if content_type:
            headers["Content-Type"] = content_type
        data = raw if raw is not None else json.dumps(body)
        return oa_it.http(self.port, "POST", "/collect", headers=headers, body=data)

    def events(self, project_id, secret, body, timeout=30.0):
        h = oa_it.bearer(secret) if secret else {}
        return oa_it.http(self.port, "POST", f"/v1/projects/{project_id}/events", headers=h,
                          body=body, timeout=timeout)

    def metric(self, name, labels=""):
        text = oa_it.http(self.port, "GET", "/metrics").body.decode()
        m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None


@pytest.fixture(scope="module")
def edge(stack):
    env = dict(stack.env)
    env["OA_EDGE_KAFKA_ACK_TIMEOUT_MS"] = str(ACK_TIMEOUT_MS)
    env["OA_LOG_LEVEL"] = "info"
    e = OaEdge(stack.program("edge", "oa-edge"), env, stack.log_dir)
    e.start()
    yield e
    status = e.stop()
    with open(e.log_path, "rb") as f:
        reports = oa_it.sanitizer_reports(f.read())
    assert status == 0, f"oa-edge ended with {status} after SIGTERM; log:\n{e.tail()}"
    assert not reports, "sanitizer reports in oa-edge's log:\n  " + "\n  ".join(reports)


@pytest.fixture(scope="module")
def acct(stack, edge):
    """A business account, a project and an events:write key, known to oa-edge."""
    acc = stack.admin.account_create(stack.name("edge"), "business")
    prj = stack.admin.project_create(acc["id"], stack.name("edge-site"), "shop.example.com")
    _, secret, _ = stack.admin.key_create(acc["id"], stack.name("edge-key"), ["events:write"])
    _, reader, _ = stack.admin.key_create(acc["id"], stack.name("edge-reader"), ["stats:read"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if edge.events(prj["id"], secret, {"event_type": "pageview", "url": "https://x.example/"}).status == 202:
            break
        time.sleep(0.1)
    else:
        pytest.fail("oa-edge did not accept the new key within 10 s")
    return {"account": acc, "project": prj, "secret": secret, "reader": reader}


def dump(stack, project_id):
    """The records of oa.events.v1 of one project as dicts (partition, offset, key, event)."""
    exe = os.path.join(stack.bin_dir, "tests", "integration", "oa-event-dump")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} is not built", pytrace=False)
    p = subprocess.run([exe, stack.kafka, "", project_id], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line]


def wait_events(stack, project_id, pred, n=1, timeout=15.0):
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found = [r for r in dump(stack, project_id) if "event" in r and pred(r["event"])]
        if len(found) >= n:
            return found
        time.sleep(0.3)
    pytest.fail(f"expected {n} matching event(s) on oa.events.v1 within {timeout} s, found {len(found)}",
                pytrace=False)


def today():
    return time.strftime("%Y-%m-%d", time.gmtime())


# --- POST /collect ----------------------------------------------------------------------------

def test_01_collect_lands_enriched(stack, edge, acct):
    prj = acct["project"]
    path = "/p/" + uuid.uuid4().hex
    t0 = int(time.time() * 1000)
    r = edge.collect({"site_id": prj["site_id"], "type": "pageview",
                      "url": f"https://Shop.Example.com{path}?utm_source=news&utm_medium=email&utm_campaign=nov",
                      "referrer": "https://www.google.com/search?q=x", "title": "Hello",
                      "screen_width": 1280, "props": {"plan": "pro"}})
    assert r.status == 204 and r.body == b"", r
    assert r.header("Access-Control-Allow-Origin") == "*", r
    (rec,) = wait_events(stack, prj["id"], lambda e: e["project_id"] == prj["id"] and e["path"] == path)
    e = rec["event"]
    assert rec["key"] == f"{prj['id']}/{e['visitor_id']}"
    assert e["source"] == "collect" and e["site_id"] == prj["site_id"]
    assert e["event_type"] == "pageview" and e["title"] == "Hello" and e["screen_width"] == 1280
    assert UUID7_RE.match(e["event_id"]), e
    assert VISITOR_RE.match(e["visitor_id"]), e
    assert t0 - 1000 <= e["received_ms"] <= t0 + 10000 and e["timestamp_ms"] == e["received_ms"]
    assert e["hostname"] == "shop.example.com"
    assert (e["utm_source"], e["utm_medium"], e["utm_campaign"]) == ("news", "email", "nov")
    assert e["referrer_host"] == "www.google.com" and e["referrer_source"] in ("search", "email"), e
    assert e["ip"] == GB_IP and e["country"] == "GB", e
    assert e["user_agent"] == CHROME
    assert (e["browser"], e["os"], e["device"]) == ("Chrome", "Windows", "desktop"), e
    assert e["browser_version"].startswith("120"), e
    assert e["properties"] == {"plan": "pro"}


def test_02_collect_same_visitor_same_id(stack, edge, acct):
    prj = acct["project"]
    paths = ["/same/" + uuid.uuid4().hex for _ in range(2)]
    for p in paths:
        assert edge.collect({"site_id": prj["site_id"], "type": "pageview",
                             "url": "https://shop.example.com" + p}, ua=IPHONE, xff="81.2.69.160").status == 204
    recs = wait_events(stack, prj["id"], lambda e: e["path"] in paths, n=2)
    assert len({r["event"]["visitor_id"] for r in recs}) == 1, "one browser, one visitor id today"
    assert recs[0]["event"]["device"] == "mobile"


def test_03_collect_drops_are_silent_and_counted(stack, edge, acct):
    prj = acct["project"]
    site = prj["site_id"]
    key = f"oa:drops:{prj['id']}:{today()}"
    before = {k: float(v) for k, v in pairs(stack.redis.cmd("HGETALL", key))}
    m_before = edge.metric("oa_edge_collect_dropped_total", '{reason="bot"}') or 0
    path = "/bot/" + uuid.uuid4().hex
    cases = [
        edge.collect({"site_id": site, "type": "pageview", "url": "https://shop.example.com" + path}, ua=GOOGLEBOT),
        edge.collect({"site_id": site, "type": "pageview", "url": "https://shop.example.com" + path},
                     ua="HeadlessChrome/120"),
        edge.collect(None, raw='{"site_id":"' + site + '","type":"pageview","url":'),      # malformed
        edge.collect({"site_id": site, "type": "nope!", "url": "https://x/"}),                # invalid type
        edge.collect({"site_id": "site_" + "0" * 20, "type": "pageview", "url": "https://x.example/"}),
        edge.collect(None, raw='{"site_id":"' + site + '","title":"' + "x" * 20000 + '"}'),   # too large
        edge.collect({"site_id": site, "type": "pageview", "url": "https://x/"}, content_type="multipart/form-data"),
    ]
    for r in cases:
        assert r.status == 204 and r.body == b"", r
    time.sleep(1.0)     # the counts are flushed every 250 ms
    after = {k: float(v) for k, v in pairs(stack.redis.cmd("HGETALL", key))}
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert d.get("bot") == 2, d
    assert d.get("invalid") == 3, d
    assert d.get("too_large") == 1, d
    ttl = stack.redis.cmd("TTL", key)
    assert 30 * 86400 < int(ttl) <= 35 * 86400, ttl
    assert (edge.metric("oa_edge_collect_dropped_total", '{reason="bot"}') or 0) - m_before == 2
    assert (edge.metric("oa_edge_collect_dropped_total", '{reason="unknown_site"}') or 0) >= 1
    assert not [x for x in dump(stack, prj["id"]) if "event" in x and x["event"]["path"] == path], "bots are dropped"


def pairs(flat):
    flat = [x.decode() if isinstance(x, bytes) else x for x in (flat or [])]
    return list(zip(flat[0::2], flat[1::2]))


def test_04_collect_cors_and_methods(edge):
    r = oa_it.http(edge.port, "OPTIONS", "/collect", headers={"Origin": "https://shop.example.com",
                                                               "Access-Control-Request-Method": "POST"})
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert "POST" in r.header("Access-Control-Allow-Methods")
    assert "Content-Type" in r.header("Access-Control-Allow-Headers")
    assert int(r.header("Access-Control-Max-Age")) > 0
    r = oa_it.http(edge.port, "GET", "/collect")
    assert r.status == 405 and "POST" in r.header("Allow"), r


def test_05_collect_rate_limited_per_address(stack, edge, acct):
    site = acct["project"]["site_id"]
    ip = "81.2.69.170"
    started = time.monotonic()
    statuses = [edge.collect({"site_id": site, "type": "pageview", "url": "https://shop.example.com/rl"},
                             xff=ip).status for _ in range(130)]
    elapsed = time.monotonic() - started
    assert set(statuses) == {204}
    # burst 100, then 50 per second: what the bucket cannot have let through, however slowly
    # a loaded machine sent the 130
    expect = max(1, 130 - 100 - int(50 * elapsed) - 1)
    assert (edge.metric("oa_edge_ratelimit_decisions_total", '{limit="ip",decision="limited"}') or 0) >= expect


# --- POST /v1/projects/{id}/events ------------------------------------------------------------

def test_10_v1_single_event_lands_enriched(stack, edge, acct):
    prj = acct["project"]
    eid = str(uuid.uuid4())
    ts = int(time.time() * 1000) - 60000
    r = edge.events(prj["id"], acct["secret"], {
        "event_type": "conversion", "event_name": "purchase", "user_id": "u-42",
        "url": "https://shop.example.com/thanks?utm_source=ads", "properties": {"plan": "pro", "n": 2, "ok": True},
        "revenue": 49.99, "currency": "USD", "timestamp": ts, "event_id": eid,
        "ip": GB_IP, "user_agent": IPHONE, "referrer": "https://t.co/x"})
    assert r.status == 202, r
    assert r.json() == {"status": "queued", "event_id": eid}
    assert r.header("X-RateLimit-Limit") == "6000" and r.header("X-RateLimit-Reset"), r
    (rec,) = wait_events(stack, prj["id"], lambda e: e["event_id"] == eid)
    e = rec["event"]
    assert e["source"] == "api" and e["project_id"] == prj["id"] and e["user_id"] == "u-42"
    assert e["timestamp_ms"] == ts and e["received_ms"] >= ts
    assert e["revenue"] == {"amount": 49.99, "currency": "USD"}
    assert e["properties"] == {"plan": "pro", "n": 2, "ok": True}
    assert e["country"] == "GB" and e["device"] == "mobile" and e["os"] == "iOS", e
    assert e["utm_source"] == "ads" and e["referrer_host"] == "t.co"
    assert VISITOR_RE.match(e["visitor_id"]) and rec["key"] == f"{prj['id']}/{e['visitor_id']}"


def test_11_v1_batch_per_item_results(stack, edge, acct):
    prj = acct["project"]
    dup = str(uuid.uuid4())
    assert edge.events(prj["id"], acct["secret"], {"event_type": "event", "event_name": "a",
                                                   "event_id": dup}).status == 202
    body = {"events": [
        {"event_type": "pageview", "url": "https://shop.example.com/1"},
        {"event_type": "Bad Type"},
        {"event_type": "event", "event_name": "again", "event_id": dup},
        {"event_type": "pageview", "currency": "usd", "revenue": 1},
        {"event_type": "signup_done", "user_agent": GOOGLEBOT},
    ]}
    r = edge.events(prj["id"], acct["secret"], body)
    assert r.status == 202, r
    b = r.json()
    assert b["status"] == "queued" and b["accepted"] == 2 and b["duplicates"] == 1, b
    assert [x["index"] for x in b["rejected"]] == [1, 3], b
    for x in b["rejected"]:
        assert x["error"] == "validation_error" and x["message"], x
    assert "event_type" in b["rejected"][0]["message"] and "currency" in b["rejected"][1]["message"], b
    assert len(b["event_ids"]) == 3 and b["event_ids"][1] == dup, b
    bot = [i for i in b["event_ids"] if i != dup][-1]
    (rec,) = wait_events(stack, prj["id"], lambda e: e["event_id"] == bot)
    assert rec["event"]["device"] == "bot", "/v1 keeps bots, flagged"


def test_12_v1_nothing_valid_is_400_naming_the_field(edge, acct):
    prj = acct["project"]
    r = edge.events(prj["id"], acct["secret"], {"event_type": "pageview", "timestamp": 1})
    assert r.status == 400 and r.json()["error"] == "validation_error", r
    assert "timestamp" in r.json()["message"], r
    r = edge.events(prj["id"], acct["secret"], {"events": [{"event_type": "x y"}]})
    assert r.status == 400 and r.json()["message"].startswith("events[0]: event_type"), r
    r = edge.events(prj["id"], acct["secret"], b"{not json")
    assert r.status == 400, r
    r = edge.events(prj["id"], acct["secret"], {"events": [{"event_type": "pageview"}] * 501})
    assert r.status == 400, r
    big = {"events": [{"event_type": "pageview", "properties": {"k": "v" * 1000}}] * 1100}
    r = edge.events(prj["id"], acct["secret"], big)
    assert r.status == 413 and r.json()["error"] == "payload_too_large", r


def test_13_v1_auth_like_oa_query(stack, edge, acct):
    prj = acct["project"]
    r = edge.events(prj["id"], None, {"event_type": "pageview"})
    assert r.status == 401 and r.json()["error"] == "unauthorized" and r.header("WWW-Authenticate"), r
    r = edge.events(prj["id"], acct["reader"], {"event_type": "pageview"})
    assert r.status == 403 and r.json()["error"] == "forbidden", r
    assert r.header("X-RateLimit-Limit") == "6000", r
    other = stack.admin.account_create(stack.name("edge-other"), "free")
    oprj = stack.admin.project_create(other["id"], stack.name("edge-other-site"), "other.example.com")
    time.sleep(0.5)
    r = edge.events(oprj["id"], acct["secret"], {"event_type": "pageview"})
    assert r.status == 404 and r.json()["error"] == "not_found", r
    r = edge.events("prj_" + "x" * 16, acct["secret"], {"event_type": "pageview"})
    assert r.status == 404, r


def test_14_v1_idempotent_retry(stack, edge, acct):
    prj = acct["project"]
    eid = str(uuid.uuid4())
    ev = {"event_type": "event", "event_name": "retry", "event_id": eid}
    r1 = edge.events(prj["id"], acct["secret"], ev)
    r2 = edge.events(prj["id"], acct["secret"], ev)
    assert r1.status == 202 and r1.json() == {"status": "queued", "event_id": eid}, r1
    assert r2.status == 202 and r2.json().get("duplicate") is True, r2
    time.sleep(1)
    assert len([x for x in dump(stack, prj["id"]) if "event" in x and x["event"]["event_id"] == eid]) == 1
    assert stack.redis.cmd("GET", f"oa:idem:{prj['id']}:{eid}") in (b"1", "1")


# --- Kafka away ---------------------------------------------------------------------------------

def test_20_kafka_stopped_mid_stream(stack, edge, acct):
    """A client sends events with event ids and retries each until 202 while Kafka is
    stopped and started again: every 202'd event is in the topic exactly once, and /collect
    events sent meanwhile are delivered once Kafka is back."""
    stack_cmd = oa_it.require_env("OA_STACK_CMD", "the command that controls the test stack")
    prj = acct["project"]
    accepted, statuses = [], {}
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set():
            eid = str(uuid.uuid4())
            while not stop.is_set():
                try:
                    r = edge.events(prj["id"], acct["secret"],
                                    {"event_type": "event", "event_name": f"stream-{i}", "event_id": eid},
                                    timeout=ACK_TIMEOUT_MS / 1000 + 10)
                except OSError:
                    time.sleep(0.2)
                    continue
                statuses[r.status] = statuses.get(r.status, 0) + 1
                if r.status == 202:
                    accepted.append(eid)
                    break
                assert r.status == 503 and r.header("Retry-After"), r
                time.sleep(0.2)
            i += 1

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    time.sleep(1.5)
    subprocess.run(f"{stack_cmd} stop kafka", shell=True, check=True, timeout=120)
    paths = ["/away/" + uuid.uuid4().hex for _ in range(3)]
    for p in paths:
        assert edge.collect({"site_id": prj["site_id"], "type": "pageview",
                             "url": "https://shop.example.com" + p}).status == 204
    time.sleep(ACK_TIMEOUT_MS / 1000 * 2 + 2)
    subprocess.run(f"{stack_cmd} start kafka", shell=True, check=True, timeout=180)
    edge.wait_ready(90)
    time.sleep(3)
    stop.set()
    t.join(60)
    assert not t.is_alive(), "the sender did not finish"
    assert statuses.get(503, 0) > 0, f"Kafka's absence was never seen: {statuses}"
    assert len(accepted) > 5, statuses
    time.sleep(1)
    seen = {}
    for rec in dump(stack, prj["id"]):
        e = rec.get("event")
        if e and e["project_id"] == prj["id"] and e["event_name"].startswith("stream-"):
            seen[e["event_id"]] = seen.get(e["event_id"], 0) + 1
    missing = [i for i in accepted if i not in seen]
    twice = {i: n for i, n in seen.items() if n > 1}
    assert not missing, f"{len(missing)} event(s) got 202 but are not in the topic: {missing[:5]}"
    assert not twice, f"event(s) in the topic more than once: {twice}"
    wait_events(stack, prj["id"], lambda e: e["path"] in paths, n=3, timeout=30)
    print(f"stream: {len(accepted)} events 202'd, answers {statuses}")

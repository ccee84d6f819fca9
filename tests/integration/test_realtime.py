"""oa-realtime and oa-query's realtime routes against the real stack (pytest, python3 stdlib).

Everything goes through the stack's own daemons (compose/local/stack.sh starts oa-edge,
oa-query and oa-realtime): scripted visitors through oa-edge (/collect and /v1), then
GET /v1/projects/{id}/realtime, .../realtime/stream (Server-Sent Events) and .../verify on
oa-query. Checked: exact current_visitors, totals, series and top lists; every key expires
(TTLs); 304 on an unchanged ETag; the stream delivers at once and then the update; a Redis
restart (the stack runs Redis without persistence, so it comes back empty) in the middle of
a stream of events loses no count once Redis is back (replayed from Kafka); 503 with
Retry-After while Redis is down, with the other routes still answering; authentication,
scope and cross-account 404 on the new routes.

Not parallel with other integration tests (meson: is_parallel false): it stops Redis."""

import json
import os
import socket
import threading
import time
import uuid

import pytest

import oa_it

CHROME, IPHONE, FIREFOX, GOOGLEBOT = oa_it.UA_CHROME, oa_it.UA_IPHONE, oa_it.UA_FIREFOX, oa_it.UA_GOOGLEBOT
GB_IP = oa_it.GB_IP
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def port(name):
    return int(oa_it.require_env(name, f"the stack's {name}"))


@pytest.fixture(scope="module")
def ports():
    return {"edge": port("OA_EDGE_PORT"), "query": port("OA_QUERY_PORT"),
            "realtime": port("OA_REALTIME_METRICS_PORT")}


def wait_until(fn, timeout, what, every=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what} not within {timeout} s (last: {last!r})", pytrace=False)


def make_site(stack, ports, tag):
    """A business account, a project, a stats:read key and an events:write key, known to
    the stack's oa-edge and oa-query."""
    acc = stack.admin.account_create(stack.name(f"rt-{tag}"), "business")
    prj = stack.admin.project_create(acc["id"], stack.name(f"rt-{tag}-site"), f"{tag}.example.com")
    _, reader, _ = stack.admin.key_create(acc["id"], stack.name(f"rt-{tag}-reader"), ["stats:read"])
    _, writer, _ = stack.admin.key_create(acc["id"], stack.name(f"rt-{tag}-writer"), ["events:write"])
    site = {"account": acc, "project": prj, "id": prj["id"], "reader": reader, "writer": writer,
            "domain": f"{tag}.example.com"}
    # a fresh source address per attempt: early 401s must not use up an address's budget
    wait_until(lambda: get(ports, site, "realtime", src=stack.ips.next()).status == 200, 15,
               "oa-query knowing the new key")
    wait_until(lambda: send(ports, site, {"event_type": "warmup", "user_id": "warmup"},
                            src=stack.ips.next()).status == 202, 15, "oa-edge knowing the new key")
    return site


def get(ports, site, route, secret=None, headers=None, src=None):
    h = oa_it.bearer(secret if secret is not None else site["reader"])
    h.update(headers or {})
    return oa_it.http(ports["query"], "GET", f"/v1/projects/{site['id']}/{route}", headers=h, src=src)


def send(ports, site, body, src=None):
    return oa_it.http(ports["edge"], "POST", f"/v1/projects/{site['id']}/events",
                      headers=oa_it.bearer(site["writer"]), body=body, src=src)


def collect(ports, site, path, ua, referrer="https://news.example/story"):
    return oa_it.http(ports["edge"], "POST", "/collect",
                      headers={"User-Agent": ua, "X-Forwarded-For": GB_IP, "Content-Type": "text/plain"},
                      body=json.dumps({"site_id": site["project"]["site_id"], "type": "pageview",
                                       "url": f"https://{site['domain']}{path}",
                                       "referrer": referrer}))


def realtime(ports, site):
    """The realtime object; a 503 (Redis coming back after test_07/08) is waited out."""
    deadline = time.monotonic() + 10
    while True:
        r = get(ports, site, "realtime")
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status == 200, r
    return r.json()


def start_of_quiet_minute():
    """Wait until at least 20 s are left in the current minute, so a script's events all
    land in one minute."""
    while time.time() % 60 > 40:
        time.sleep(0.5)


@pytest.fixture(scope="module")
def scripted(stack, ports):
    """One project with a known script of visitors, all within one minute:
    3 browser visitors (3 User-Agents, one address) with 6 pageviews (/a x3, /b x2, /c x1),
    2 server-side users with one 'signup' event each, 2 bot pageviews (dropped)."""
    site = make_site(stack, ports, "script")
    # the warm-up event of make_site is one more api event and visitor: wait for it first
    wait_until(lambda: realtime(ports, site)["events"] == 1, 10, "the warm-up event counted")
    start_of_quiet_minute()
    for ua, paths in ((CHROME, ["/a", "/b", "/c"]), (IPHONE, ["/a", "/b"]), (FIREFOX, ["/a"])):
        for p in paths:
            r = collect(ports, site, p, ua)
            assert r.status == 204, r
    for u in ("user-1", "user-2"):
        r = send(ports, site, {"event_type": "signup", "user_id": u, "url": "https://x.example.com/signup"})
        assert r.status == 202, r
    for _ in range(2):
        assert collect(ports, site, "/bot", GOOGLEBOT).status == 204
    site["minute"] = int(time.time() // 60)
    return site


def test_01_exact_visitors_totals_series_and_tops(ports, scripted):
    rt = wait_until(lambda: (lambda d: d if d["pageviews"] == 6 and d["events"] == 3 else None)(
        realtime(ports, scripted)), 10, "the scripted events counted")
    # 3 browser visitors + 2 users, plus the warm-up user (same minute window of 5)
    assert rt["current_visitors"] == 6, rt
    assert rt["visitors"] == 6, rt
    assert rt["window_minutes"] == 30 and len(rt["series"]) == 30
    last = rt["series"][-1]
    assert last["minute"] == time.strftime("%Y-%m-%dT%H:%M:00.000Z", time.gmtime(scripted["minute"] * 60)), rt
    assert (last["pageviews"], last["events"]) == (6, 2 + (1 if last["visitors"] == 6 else 0)), rt
    assert sum(p["pageviews"] for p in rt["series"]) == 6
    assert sum(p["events"] for p in rt["series"]) == 3
    assert rt["top_pages"] == [{"path": "/a", "pageviews": 3}, {"path": "/b", "pageviews": 2},
                               {"path": "/c", "pageviews": 1}], rt
    assert rt["top_referrers"] == [{"referrer": "news.example", "events": 6}], rt
    assert rt["top_countries"] == [{"country": "GB", "events": 6}], rt


def test_02_every_key_expires(stack, ports, scripted):
    keys = stack.redis.cmd("KEYS", "oa:rt:{%s}:*" % scripted["id"])
    assert len(keys) >= 6, keys
    for k in keys:
        ttl = stack.redis.cmd("TTL", k)
        assert 0 < ttl <= 7200, (k, ttl)
        if not k.endswith(b":recent"):
            assert ttl <= 33 * 60, (k, ttl)     # a minute's keys: 31 minutes after it ends
    assert stack.redis.cmd("LLEN", b"oa:rt:{%s}:recent" % scripted["id"].encode()) == 9
    ttl = stack.redis.cmd("TTL", "oa:rt:applied")
    assert 0 < ttl <= 7200


def test_03_etag_304_then_200_after_a_change(ports, scripted):
    r = get(ports, scripted, "realtime")
    assert r.status == 200 and r.header("ETag"), r
    assert r.header("Cache-Control") == "private, no-cache"
    assert r.header("X-RateLimit-Limit") and r.header("X-RateLimit-Remaining"), r
    etag = r.header("ETag")
    r2 = get(ports, scripted, "realtime", headers={"If-None-Match": etag})
    assert r2.status == 304 and r2.body == b"", r2
    assert r2.header("ETag") == etag and r2.header("X-RateLimit-Limit"), r2
    assert get(ports, scripted, "realtime", headers={"If-None-Match": '"0000000000000000"'}).status == 200
    assert send(ports, scripted, {"event_type": "pageview", "user_id": "user-1",
                                  "url": "https://x.example.com/a"}).status == 202
    r3 = wait_until(lambda: (lambda x: x if x.status == 200 else None)(
        get(ports, scripted, "realtime", headers={"If-None-Match": etag})), 5, "a new ETag")
    assert r3.header("ETag") != etag and r3.json()["pageviews"] == 7


def test_04_verify_says_what_arrived(stack, ports, scripted):
    # oa-sink writes the scripted events into oa.events within a second or so
    v = wait_until(lambda: (lambda d: d if d["drops"]["by_reason"].get("bot") == 2 and
                            (d["clickhouse_today"] or {}).get("events") == 10 else None)(
        get(ports, scripted, "verify").json()), 20, "the bot drops and oa-sink's rows in /verify")
    assert v["arrived"] is True
    assert v["last_30_minutes"]["by_source"] == {"collect": 6, "api": 4}, v
    assert v["last_30_minutes"]["pageviews"] == 7 and v["last_30_minutes"]["other_events"] == 3, v
    latest = v["latest_events"]
    assert len(latest) == 10, latest
    assert latest[0]["path"] == "/a" and latest[0]["source"] == "api"
    assert {e["source"] for e in latest} == {"collect", "api"}
    for e in latest:
        assert "ip" not in e and "user_agent" not in e and "user_id" not in e, e
        assert oa_it.ISO_UTC_RE.match(e["received_at"]), e
    assert GB_IP.encode() not in get(ports, scripted, "verify").body
    assert v["clickhouse_error"] is None, v
    assert v["clickhouse_today"]["events"] == 10 and v["clickhouse_today"]["by_source"] == {"collect": 6, "api": 4}
    assert v["drops"]["total"] >= 2
    assert "2 events from this site were dropped as bots today" in v["messages"], v["messages"]


def test_05_stream_sends_at_once_then_the_update(ports, scripted):
    def open_stream():
        s = socket.create_connection(("127.0.0.1", ports["query"]), timeout=5)
        s.sendall((f"GET /v1/projects/{scripted['id']}/realtime/stream HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {scripted['reader']}\r\nAccept: text/event-stream\r\n\r\n").encode())
        return s, s.makefile("rb")

    def next_event(f):
        data = None
        for line in f:
            line = line.rstrip(b"\r\n")
            if line.startswith(b"data: "):
                data = json.loads(line[6:])
            elif line == b"" and data is not None:
                return data
        raise AssertionError("stream ended")

    s, f = open_stream()
    try:
        t0 = time.monotonic()
        status = f.readline()
        assert status.startswith(b"HTTP/1.1 200"), status
        headers = {}
        for line in f:
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        assert headers["content-type"].startswith("text/event-stream"), headers
        assert headers.get("x-ratelimit-limit"), headers
        # the body is chunked: the chunk sizes are lines of their own, skipped by next_event
        first = next_event(f)
        assert time.monotonic() - t0 < 1.0, "the first event must come at once"
        before = first["pageviews"]
        assert send(ports, scripted, {"event_type": "pageview", "user_id": "user-2",
                                      "url": "https://x.example.com/b"}).status == 202
        deadline = time.monotonic() + 5
        while True:
            ev = next_event(f)
            if ev["pageviews"] == before + 1:
                break
            assert time.monotonic() < deadline, "no update within 5 s"
    finally:
        s.close()
    # a reconnect gets the current object at once, not a second later
    s, f = open_stream()
    try:
        t0 = time.monotonic()
        f.readline()
        while f.readline() not in (b"\r\n", b"\n"):
            pass
        assert next_event(f)["pageviews"] == before + 1
        assert time.monotonic() - t0 < 0.5
    finally:
        s.close()


def test_06_auth_scope_and_other_accounts(stack, ports, scripted):
    other = make_site(stack, ports, "other")
    src = stack.ips.next()
    for route in ("realtime", "realtime/stream", "verify"):
        r = oa_it.http(ports["query"], "GET", f"/v1/projects/{scripted['id']}/{route}", src=src)
        assert r.status == 401 and r.json()["error"] == "unauthorized", r
        r = get(ports, scripted, route, secret=scripted["writer"])
        assert r.status == 403 and r.json()["error"] == "forbidden", r
        r = get(ports, scripted, route, secret=other["reader"])
        assert r.status == 404 and r.json()["error"] == "not_found", r
        r = oa_it.http(ports["query"], "POST", f"/v1/projects/{scripted['id']}/{route}",
                       headers=oa_it.bearer(scripted["reader"]), body={})
        assert r.status == 405 and r.json()["error"] == "validation_error", r
    # the other project's picture holds only its own warm-up event
    wait_until(lambda: realtime(ports, other)["visitors"] == 1, 5, "the other project's warm-up counted")
    assert realtime(ports, other)["pageviews"] == 0
    r = get(ports, scripted, "realtime/streamx")
    assert r.status == 404, r


def test_07_redis_down_is_503_and_nothing_else_breaks(stack, ports, scripted):
    cmd = oa_it.require_env("OA_STACK_CMD", "the stack's control command")
    assert os.system(f"{cmd} stop redis >/dev/null 2>&1") == 0
    try:
        time.sleep(1.1)     # past the cached second
        for route in ("realtime", "realtime/stream", "verify"):
            r = get(ports, scripted, route)
            assert r.status == 503, r
            assert r.json()["error"] == "unavailable" and r.json()["message"], r
            assert r.header("Retry-After") and int(r.header("Retry-After")) > 0, r
        r = oa_it.http(ports["query"], "GET", f"/v1/projects/{scripted['id']}",
                       headers=oa_it.bearer(scripted["reader"]))
        assert r.status in (200, 403), r      # answered (stats:read has no projects:read)
        assert oa_it.http(ports["query"], "GET", "/healthz").status == 200
        assert send(ports, scripted, {"event_type": "pageview", "user_id": "user-3",
                                      "url": "https://x.example.com/down"}).status == 202
    finally:
        assert os.system(f"{cmd} start redis >/dev/null 2>&1") == 0
    # the event sent while Redis was down is counted once it is back (with what Redis lost);
    # oa-query may answer 503 a moment longer (its reconnect backoff, the cached second)
    def back():
        r = get(ports, scripted, "realtime")
        return r.json() if r.status == 200 and r.json()["pageviews"] == 9 and r.json()["events"] == 3 else None
    rt = wait_until(back, 20, "the counts back after Redis returned")
    assert rt["events"] == 3, rt


def test_08_redis_restart_mid_stream_loses_no_count(stack, ports):
    cmd = oa_it.require_env("OA_STACK_CMD", "the stack's control command")
    site = make_site(stack, ports, "restart")
    wait_until(lambda: realtime(ports, site)["events"] == 1, 10, "the warm-up event counted")
    accepted = []
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set():
            r = send(ports, site, {"event_type": "pageview", "user_id": f"u{i % 50}",
                                   "url": f"https://x.example.com/n{i}"})
            if r.status == 202:
                accepted.append(i)
            i += 1
            time.sleep(0.01)

    t = threading.Thread(target=sender)
    t.start()
    try:
        time.sleep(2)
        assert os.system(f"{cmd} restart redis >/dev/null 2>&1") == 0
        time.sleep(3)
    finally:
        stop.set()
        t.join()
    assert len(accepted) > 50, len(accepted)
    rt = wait_until(lambda: (lambda d: d if d["pageviews"] >= len(accepted) else None)(realtime(ports, site)),
                    20, f"all {len(accepted)} accepted pageviews counted")
    time.sleep(1.5)     # nothing is counted twice either
    rt = realtime(ports, site)
    assert rt["pageviews"] == len(accepted), (rt["pageviews"], len(accepted))
    m = oa_it.http(ports["realtime"], "GET", "/metrics").body.decode()
    assert "oa_realtime_rewinds_total" in m


def test_09_openapi_fragment_is_valid_and_its_routes_answer(stack, ports, scripted):
    """services/query/openapi/50-realtime.json (the realtime part of the OpenAPI document,
    merged with the other fragments at build time) added to the served document is a valid
    OpenAPI 3.1 document, and every path it names answers."""
    from openapi_spec_validator import validate
    with open(os.path.join(REPO, "services/query/openapi/50-realtime.json")) as f:
        frag = json.load(f)
    doc = oa_it.http(ports["query"], "GET", "/openapi.json").json()
    for p, item in frag["paths"].items():
        doc["paths"].setdefault(p, item)
    for section, entries in frag["components"].items():
        for k, v in entries.items():
            doc["components"].setdefault(section, {}).setdefault(k, v)
    doc.setdefault("tags", []).extend(t for t in frag["tags"] if t["name"] not in {x["name"] for x in doc["tags"]})
    validate(doc)
    for p in frag["paths"]:
        route = p.replace("/v1/projects/{id}/", "")
        if route == "realtime/stream":
            continue    # an endless response; test_05 reads it
        assert get(ports, scripted, route).status == 200, p

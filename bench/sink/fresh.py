#!/usr/bin/env python3
"""Freshness for bench/sink/run.sh: POST /v1 single events to oa-edge at a steady rate, note
when each got its 202, and poll ClickHouse (every 50 ms) for the moment each row is
visible; print p50, p99 and max of (visible - 202) in ms, as JSON.

  fresh.py EDGE_PORT PROJECT_ID KEY CLICKHOUSE_URL COUNT RATE"""
import http.client
import json
import sys
import threading
import time
import urllib.request

port, project, key, ch_url, count, rate = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
tag = "fresh%d" % int(time.time())
acked, seen = {}, {}
done = threading.Event()


def ch(sql):
    req = urllib.request.Request(ch_url.rstrip("/") + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def poll():
    while not done.is_set() or len(seen) < len(acked):
        now = time.monotonic()
        for p in ch(f"SELECT path FROM oa.events WHERE project_id = '{project}' AND startsWith(path, '/{tag}/') "
                    "FORMAT TSV").split():
            seen.setdefault(p, now)
        if done.is_set() and time.monotonic() - last[0] > 30:
            break
        time.sleep(0.05)


last = [time.monotonic()]
t = threading.Thread(target=poll, daemon=True)
t.start()
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
start = time.monotonic()
for i in range(count):
    path = f"/{tag}/{i}"
    body = json.dumps({"event_type": "pageview", "url": "https://bench.example.com" + path,
                       "user_id": f"fresh-{i % 50}"})
    conn.request("POST", f"/v1/projects/{project}/events", body=body,
                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 202:
        sys.exit(f"POST answered {r.status}")
    acked[path] = time.monotonic()
    last[0] = acked[path]
    next_at = start + (i + 1) / rate
    if next_at > time.monotonic():
        time.sleep(next_at - time.monotonic())
done.set()
t.join(timeout=60)
lat = sorted((seen[p] - acked[p]) * 1000 for p in acked if p in seen)
missing = len(acked) - len(lat)
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")  # noqa: E731
print(json.dumps({"count": len(acked), "missing": missing, "p50_ms": round(q(0.50)), "p99_ms": round(q(0.99)),
                  "max_ms": round(lat[-1]) if lat else None}))

#!/usr/bin/env python3
"""bench/query's load generator: for each read (pageviews by path over 30 days, sessions
over 30 days, timeseries by day over 90 days) and each variant (oa-query with the read
cache off, the same SQL straight to ClickHouse's HTTP interface, oa-query with its
default cache), BENCH_CLIENTS threads send requests back to back on keep-alive
connections for BENCH_DURATION seconds; variants alternate within each of BENCH_ROUNDS
rounds so machine noise hits all alike. Prints p50/p99 per read and variant, the overhead
ratio oa-query / ClickHouse (p50 and p99, median over rounds), and rewrites the
bench/query section of docs/benchmarks.md.

Input (environment): BENCH_READS, a JSON list of {name, path, sql}; BENCH_OA_NOCACHE and
BENCH_OA_CACHE (host:port), BENCH_KEY, BENCH_CH (host:port), BENCH_CH_PARAMS (the URL
settings oa-query sends), BENCH_DOC, BENCH_CMD, BENCH_COMMIT, BENCH_CPU, BENCH_NOTE."""
import http.client
import json
import os
import re
import statistics
import threading
import time
import urllib.parse

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "10"))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
READS = json.loads(os.environ["BENCH_READS"])
KEY = os.environ["BENCH_KEY"]


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] * 1000 if v else float("nan")


def load(hostport, make_request, clients=CLIENTS):
    """clients threads for DURATION seconds; returns (latencies, errors)."""
    host, port = hostport.rsplit(":", 1)
    lat, errors = [], []
    lock = threading.Lock()
    stop = time.monotonic() + DURATION

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        mine = []
        while time.monotonic() < stop:
            method, path, body, headers = make_request()
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    with lock:
                        errors.append((r.status, data[:200]))
                    continue
            except OSError as e:
                with lock:
                    errors.append(("io", str(e)))
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=120)
                continue
            mine.append(time.perf_counter() - t)
        conn.close()
        with lock:
            lat.extend(mine)
    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, errors


def variants(read):
    auth = {"Authorization": "Bearer " + KEY}
    ch_path = "/?" + os.environ["BENCH_CH_PARAMS"]
    # (name, host:port, request maker, clients)
    return [
        ("oa-query, cache off", os.environ["BENCH_OA_NOCACHE"], lambda: ("GET", read["path"], None, auth), CLIENTS),
        ("ClickHouse HTTP, same SQL", os.environ["BENCH_CH"],
         lambda: ("POST", ch_path, read["sql"].encode(), {"Content-Type": "text/plain"}), CLIENTS),
        ("oa-query, cache on (5 s)", os.environ["BENCH_OA_CACHE"], lambda: ("GET", read["path"], None, auth),
         CLIENTS),
        # the floor: one client, nothing queued behind another query
        ("oa-query, cache off, 1 client", os.environ["BENCH_OA_NOCACHE"],
         lambda: ("GET", read["path"], None, auth), 1),
    ]


def main():
    res = {}        # (read, variant) -> list of (p50, p99, n, rps) per round
    for rnd in range(ROUNDS):
        for read in READS:
            for name, hp, mk, clients in variants(read):
                lat, errors = load(hp, mk, clients)
                if errors:
                    print(f"{read['name']} / {name}: {len(errors)} errors, first {errors[0]}", flush=True)
                row = (pct(lat, 0.5), pct(lat, 0.99), len(lat), len(lat) / DURATION, len(errors))
                res.setdefault((read["name"], name), []).append(row)
                print(f"round {rnd + 1} {read['name']:<28} {name:<28} p50 {row[0]:8.1f} ms  p99 {row[1]:8.1f} ms  "
                      f"{row[3]:7.1f} req/s  n={row[2]}", flush=True)
    lines = ["| read | variant | p50 ms | p99 ms | req/s | answers (errors) | overhead p50 / p99 vs ClickHouse |",
             "|---|---|---:|---:|---:|---:|---|"]
    for read in READS:
        base = res[(read["name"], "ClickHouse HTTP, same SQL")]
        for name, _, _, clients in variants(read):
            rows = res[(read["name"], name)]
            p50 = statistics.median(r[0] for r in rows)
            p99 = statistics.median(r[1] for r in rows)
            rps = statistics.median(r[3] for r in rows)
            n_ok = sum(r[2] for r in rows)
            n_err = sum(r[4] for r in rows)
            if name == "ClickHouse HTTP, same SQL":
                ratio = "baseline"
            elif clients != CLIENTS:
                ratio = "(not comparable)"
            else:
                r50 = statistics.median(a[0] / b[0] for a, b in zip(rows, base))
                r99 = statistics.median(a[1] / b[1] for a, b in zip(rows, base))
                ratio = f"{r50:.2f} / {r99:.2f}"
            lines.append(f"| {read['name']} | {name} | {p50:.1f} | {p99:.1f} | {rps:.1f} | {n_ok} ({n_err}) | {ratio} |")
    table = "\n".join(lines)
    print(table)
    doc = os.environ.get("BENCH_DOC")
    if not doc or os.environ.get("BENCH_NO_DOCS"):
        return
    section = (f"<!-- bench/query: start (written by bench/query/run.sh; do not edit by hand) -->\n"
               f"## Stats reads (bench/query)\n\n"
               f"`{os.environ.get('BENCH_CMD', 'bench/query/run.sh')}` at {os.environ.get('BENCH_COMMIT', '?')}, "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {os.environ.get('BENCH_CPU', '?')} "
               f"({os.cpu_count()} cores, shared with other work). {CLIENTS} concurrent clients, "
               f"{ROUNDS} rounds of {DURATION:.0f} s per read and variant, variants alternating. "
               f"Targets: p50 <= 150 ms, p99 <= 500 ms, overhead ratio <= 1.2.\n\n"
               f"{table}\n\n{os.environ.get('BENCH_NOTE', '')}\n"
               f"<!-- bench/query: end -->")
    with open(doc) as f:
        text = f.read()
    pat = re.compile(r"<!-- bench/query: start.*?<!-- bench/query: end -->", re.S)
    text = pat.sub(lambda m: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
    with open(doc, "w") as f:
        f.write(text)
    print(f"(written to {doc})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The measuring half of bench/auth/run.sh (which builds, starts and stops everything).

Runs wrk against the variants in alternation, round after round, and reports per variant
the median requests/s and p99 latency, the median of the per-round throughput ratios to the
baseline (pairs measured seconds apart, so a neighbour's load on a shared machine moves both
sides of a ratio), and the CPU each request costs in the daemon and in Redis (from
/proc/PID/stat and Redis's INFO cpu: stable even when throughput is not). Then rewrites its
section of docs/benchmarks.md unless BENCH_NO_DOCS is set.

Environment (set by run.sh): BENCH_VARIANTS as "name|url|pid|header" lines, the first being
the baseline; BENCH_THREADS, BENCH_CONNECTIONS, BENCH_DURATION, BENCH_ROUNDS, BENCH_WARMUP;
OA_REDIS_URL; BENCH_DOC, BENCH_CMD, BENCH_NOTE_*.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.parse

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None:
        sys.exit(f"measure.py: {name} is not set")
    return v


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S       # utime + stime


def redis_cpu_s(url):
    u = urllib.parse.urlparse(url)
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2) as s:
        s.sendall(b"INFO cpu\r\n")
        data = b""
        while b"used_cpu_user:" not in data or not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    text = data.decode(errors="replace")
    user = float(re.search(r"used_cpu_user:([\d.]+)", text).group(1))
    sys_ = float(re.search(r"used_cpu_sys:([\d.]+)", text).group(1))
    return user + sys_


def redis_version(url):
    u = urllib.parse.urlparse(url)
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2) as s:
        s.sendall(b"INFO server\r\n")
        data = b""
        while b"redis_version:" not in data:
            data += s.recv(4096)
    return data.decode(errors="replace").split("redis_version:")[1].split()[0]


def wrk(url, header, duration, threads, conns, script=None, extra=()):
    """Run wrk (with a Lua script and extra arguments when given); returns requests/s, p99
    in ms, requests."""
    args = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}", "--latency", *extra]
    if header:
        args += ["-H", header]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    n = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad or "Socket errors" in out:
        sys.exit(f"measure.py: {url}: errors during the run:\n{out}")
    return rps, p99, n


def write_section(path, name, section):
    """Replace the section of docs/benchmarks.md between name's start and end markers
    (append it when missing)."""
    text = open(path).read() if os.path.exists(path) else (
        "# Benchmarks\n\nFigures measured by the scripts in bench/; each section is rewritten by "
        "its script, with the date, the machine and the command.\n")
    pat = re.compile(rf"<!-- {re.escape(name)}: start.*?<!-- {re.escape(name)}: end -->", re.S)
    if pat.search(text):
        text = pat.sub(lambda m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(f"[{name}] wrote {path}", file=sys.stderr)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    variants = []
    for line in env("BENCH_VARIANTS").strip().splitlines():
        name, url, pid, header = line.split("|", 3)
        variants.append({"name": name, "url": url, "pid": int(pid), "header": header,
                         "rps": [], "p99": [], "cpu_us": [], "redis_us": [], "ratio": []})
    threads, conns = env("BENCH_THREADS"), env("BENCH_CONNECTIONS")
    duration, rounds, warmup = env("BENCH_DURATION"), int(env("BENCH_ROUNDS")), env("BENCH_WARMUP")
    redis_url = env("OA_REDIS_URL")
    load_before = loadavg()

    print(f"[bench/auth] warm-up ({warmup} each)", file=sys.stderr)
    for v in variants:
        wrk(v["url"], v["header"], warmup, threads, conns)
    for i in range(1, rounds + 1):
        for v in variants:
            c0, r0 = proc_cpu_s(v["pid"]), redis_cpu_s(redis_url)
            rps, p99, n = wrk(v["url"], v["header"], duration, threads, conns)
            c1, r1 = proc_cpu_s(v["pid"]), redis_cpu_s(redis_url)
            v["rps"].append(rps)
            v["p99"].append(p99)
            v["cpu_us"].append((c1 - c0) / n * 1e6)
            v["redis_us"].append((r1 - r0) / n * 1e6)
        base = variants[0]["rps"][-1]
        for v in variants:
            v["ratio"].append(v["rps"][-1] / base)
        print(f"[bench/auth] round {i}: " + ", ".join(
            f"{v['name']} {v['rps'][-1]:.0f} req/s (p99 {v['p99'][-1]:.2f} ms)" for v in variants),
            file=sys.stderr)
        time.sleep(0.5)
    load_after = loadavg()

    med = statistics.median
    for v in variants:
        v["m_rps"], v["m_p99"], v["m_ratio"] = med(v["rps"]), med(v["p99"]), med(v["ratio"])
        v["m_cpu"], v["m_redis"] = med(v["cpu_us"]), med(v["redis_us"])
    base, auth = variants[0], variants[1]
    verdict = "within" if auth["m_ratio"] >= 0.90 else "NOT within"
    extra_cpu = auth["m_cpu"] - base["m_cpu"]

    print(f"\nGET /v1/projects/{{id}}, wrk -t{threads} -c{conns} -d{duration}, {rounds} rounds in "
          f"alternation, medians; release build")
    print(f"  {'variant':52} {'req/s':>8} {'p99 ms':>8} {'ratio':>6} {'CPU us/req':>11} {'Redis us/req':>13}")
    for v in variants:
        print(f"  {v['name']:52} {v['m_rps']:8.0f} {v['m_p99']:8.2f} {v['m_ratio']:6.3f} "
              f"{v['m_cpu']:11.1f} {v['m_redis']:13.1f}")
    print(f"  auth + limiting: ratio {auth['m_ratio']:.3f}, i.e. {100 * (1 - auth['m_ratio']):.1f}% of the "
          f"throughput ({verdict} the 10% target); +{extra_cpu:.1f} us CPU per request in oa-query, "
          f"+{auth['m_redis'] - base['m_redis']:.1f} us in Redis")
    print(f"  per-round ratios: " + "; ".join(
        f"{v['name']}: " + " ".join(f"{r:.3f}" for r in v["ratio"]) for v in variants[1:]))
    print(f"  load average before/after: {load_before} / {load_after}")

    if os.environ.get("BENCH_NO_DOCS"):
        return
    rows = "\n".join(
        f"| {v['name']} | {v['m_rps']:.0f} | {v['m_p99']:.2f} ms | "
        f"{'**' if v is auth else ''}{v['m_ratio']:.3f}{'**' if v is auth else ''} | "
        f"{v['m_cpu']:.1f} | {v['m_redis']:.1f} |" for v in variants)
    every = "; ".join(f"{v['name']}: " + " ".join(f"{r:.0f}" for r in v["rps"]) for v in variants)
    summary = textwrap.fill(
        f"Authentication plus limiting cost **{100 * (1 - auth['m_ratio']):.0f}%** of the throughput "
        f"(target: under 10%: {verdict}). They add {extra_cpu:.1f} µs of CPU per request in oa-query "
        f"and {auth['m_redis'] - base['m_redis']:.1f} µs in Redis. {os.environ.get('BENCH_NOTE', '')}",
        width=90)
    intro = textwrap.fill(
        "GET /v1/projects/{id} (a catalogue read) answered by oa-query with a Bearer key of an "
        "enterprise account whose limit is never reached (the limiter counts every request against "
        "the key's budget in Redis and never refuses), against the same sources built with "
        "OA_QUERY_BENCH_NOAUTH (bench/meson.build), which answers that route without the key and "
        f"without the limiter. wrk -t{threads} -c{conns} -d{duration}, {rounds} rounds with the "
        "variants in alternation; medians; the ratio is the median of the per-round ratios to the "
        "baseline. Release build (-O3, no sanitizers). CPU per request: the daemon's, and Redis's, "
        "from their CPU counters.", width=90)
    section = f"""<!-- bench/auth: start (written by bench/auth/run.sh; edits here are overwritten) -->
## oa-query: the cost of authentication and rate limiting

{intro}

| variant | req/s | p99 latency | ratio to no auth | oa-query CPU µs/req | Redis CPU µs/req |
|---|---:|---:|---:|---:|---:|
{rows}

{summary}

The pieces alone (bench/auth/micro.c, ns per call, same machine, same run):

```
{os.environ.get('BENCH_MICRO', '(not measured)')}
```

- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {env('BENCH_COMMIT', 'unknown')}
- machine: {os.cpu_count()} CPUs ({env('BENCH_CPU', '?')}), shared by wrk, oa-query, Redis
  {redis_version(redis_url)} and Kafka (and whatever else ran: load average {load_before}
  before, {load_after} after)
- every round, req/s: {every}
- command: `{env('BENCH_CMD')}`
<!-- bench/auth: end -->"""
    write_section(env("BENCH_DOC"), "bench/auth", section)


if __name__ == "__main__":
    main()

"""Fixtures of the Python integration tests: the stack's environment, oa-admin, Redis, and
two oa-query processes of the tests' own (free ports, shared Kafka and Redis), stopped with
SIGTERM at the end (exit status 0 expected), also when a test failed."""

import json
import os
import random
import string
import tempfile
import time

import pytest

import oa_it


class Stack:
    """What the tests need from the environment run.sh exported."""

    def __init__(self):
        self.kafka = oa_it.require_env("OA_KAFKA_BROKERS", "Kafka bootstrap servers (host:port)")
        self.redis_url = oa_it.require_env("OA_REDIS_URL", "Redis URL (redis://host:port)")
        self.clickhouse_url = oa_it.require_env("OA_CLICKHOUSE_URL", "ClickHouse HTTP URL")
        # OA_BIN_DIR is the meson build directory run.sh exports; meson passes its own build
        # root too (OA_TEST_BUILD_ROOT, tests/integration/meson.build) for `meson test` runs.
        self.bin_dir = os.environ.get("OA_BIN_DIR") or os.environ.get("OA_TEST_BUILD_ROOT") or ""
        if not self.bin_dir:
            oa_it.require_env("OA_BIN_DIR", "the meson build directory holding the programs")
        self.run_dir = os.environ.get("OA_RUN_DIR", "")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if self.run_dir and os.path.isdir(self.run_dir):
            self.log_dir = os.path.join(self.run_dir, "log", f"test-accounts-{stamp}")
            os.makedirs(self.log_dir, exist_ok=True)
        else:
            self.log_dir = tempfile.mkdtemp(prefix=f"oa-test-accounts-{stamp}-")
        self.tag = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
        self.env = dict(os.environ)
        self.env["OA_LOG_LEVEL"] = "debug"   # the most verbose logs: where leaks would hide
        self.ips = oa_it.SourceIPs()
        self.redis = oa_it.Redis(self.redis_url)

    def program(self, service, name):
        path = os.path.join(self.bin_dir, "services", service, name)
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is not built (meson compile -C {self.bin_dir})", pytrace=False)
        return path

    def name(self, what):
        return f"it-{self.tag}-{what}"


@pytest.fixture(scope="session")
def stack():
    s = Stack()
    s.admin = oa_it.Admin(s.program("admin", "oa-admin"), s.env, s.log_dir)
    yield s
    s.redis.close()


@pytest.fixture(scope="session")
def q(stack):
    """Two running oa-query processes: [a, b]."""
    exe = stack.program("query", "oa-query")
    procs = [oa_it.OaQuery("oa-query-a", exe, stack.env, stack.log_dir),
             oa_it.OaQuery("oa-query-b", exe, stack.env, stack.log_dir)]
    try:
        for p in procs:
            p.start()
    except BaseException:
        for p in procs:
            p.stop(timeout=5)
        raise
    yield procs

    problems = []
    for p in procs:
        status = p.stop()
        if status != 0:
            problems.append(f"{p.name} ended with {status} after SIGTERM (expected exit 0); "
                            f"last lines of {p.log_path}:\n{p.tail()}")
    # Shutdown may log too: look for secrets in the complete logs once more, and for what
    # the sanitizers of the debug build reported (they do not always stop the program).
    for p in procs:
        with open(p.log_path, "rb") as f:
            log = f.read()
        hits = oa_it.find_secrets(log, oa_it.SECRETS)
        if hits:
            problems.append(f"{p.name}'s log {p.log_path} holds {len(hits)} clear-text secret(s)")
        reports = oa_it.sanitizer_reports(log)
        if reports:
            problems.append(f"{p.name}: sanitizer reports in {p.log_path}:\n  " + "\n  ".join(reports))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter):
    rep = oa_it.REPORT
    if not rep["timings"] and not rep["notes"]:
        return
    tr = terminalreporter
    tr.section("accounts: timings")
    for name, values in sorted(rep["timings"].items()):
        v = sorted(values)
        tr.write_line(f"{name}: n={len(v)} min={v[0] * 1000:.1f} ms "
                      f"median={v[len(v) // 2] * 1000:.1f} ms max={v[-1] * 1000:.1f} ms")
    if rep["notes"]:
        tr.section("accounts: notes on the contract")
        for n in rep["notes"]:
            tr.write_line("- " + n)
    out = os.environ.get("OA_RUN_DIR")
    if out and os.path.isdir(os.path.join(out, "log")):
        path = os.path.join(out, "log", "test-accounts-report.json")
        with open(path, "w") as f:
            json.dump(rep, f, indent=2)
        tr.write_line(f"(written to {path})")

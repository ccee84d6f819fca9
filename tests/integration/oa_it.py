"""Helpers for the Python integration tests (python3 standard library only).

They talk to the real programs and the real stack that tests/integration/run.sh started:
HTTP through http.client (and a raw socket for bytes no HTTP library would send), Redis
through a minimal RESP client, ClickHouse through its HTTP interface, Kafka through kcat,
and our own programs as subprocesses (oa-admin) or child daemons (oa-query).

Nothing here skips: a missing piece of the environment is a failure with a message that
says what is missing and how to provide it.
"""

import ctypes
import hashlib
import http.client as http_client
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

SECRET_RE = re.compile(rb"oa_live_[A-Za-z0-9]{32}")
SECRET_FULL_RE = re.compile(r"^oa_live_[A-Za-z0-9]{32}$")
ACCOUNT_ID_RE = re.compile(r"^acc_[A-Za-z0-9]{16}$")
PROJECT_ID_RE = re.compile(r"^prj_[A-Za-z0-9]{16}$")
SITE_ID_RE = re.compile(r"^site_[A-Za-z0-9]{20}$")
KEY_ID_RE = re.compile(r"^key_[A-Za-z0-9]{16}$")
HINT_RE = re.compile(r"^oa_live_[A-Za-z0-9]{4}\.\.\.[A-Za-z0-9]{4}$")
ISO_UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# Reports of the sanitizers the debug build uses (ASan, UBSan, LSan) in a program's stderr.
SANITIZER_RE = re.compile(rb"runtime error:|==\d+==(?:ERROR|WARNING): \w*Sanitizer")

# Clients of the ingest tests: real browsers' and a crawler's User-Agents, and a British
# address in every edition of the location database.
UA_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36")
UA_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
UA_GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GB_IP = "81.2.69.142"

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# What the run learns besides pass/fail: timings (name -> list of seconds) and notes on
# ambiguities of the contract met on the way. Printed by conftest.py at the end.
REPORT = {"timings": {}, "notes": []}
# Every clear-text secret the tests saw (oa-admin key create, POST /v1/keys), so the last
# test can look for them where they must never be.
SECRETS = []


def record_timing(name, seconds):
    REPORT["timings"].setdefault(name, []).append(seconds)


def note(text):
    if text not in REPORT["notes"]:
        REPORT["notes"].append(text)


def random_base62(n):
    return "".join(random.SystemRandom().choice(BASE62) for _ in range(n))


def unknown_secret():
    """A well-formed secret that no key has."""
    return "oa_live_" + random_base62(32)


def sha256(s):
    return hashlib.sha256(s.encode() if isinstance(s, str) else s).digest()


def require_env(name, hint):
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"environment variable {name} is not set: {hint}. Run the integration tests "
                    "with tests/integration/run.sh (it starts a stack and exports OA_KAFKA_BROKERS, "
                    "OA_CLICKHOUSE_URL, OA_REDIS_URL, OA_BIN_DIR, ...), or source a stack's "
                    "stack.env (set -a; . .run/stack.env; set +a)", pytrace=False)
    return value


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SourceIPs:
    """Fresh loopback source addresses (Linux routes all of 127.0.0.0/8 to lo).

    oa-query limits failed authentications per client address (20 a minute), and every
    test here comes from this one machine. Each test (and each polling attempt that may
    fail authentication) uses an address of its own, so one test's 401s never turn
    another's answers into 429s. The second octet is random per run, so two runs within a
    minute against the same Redis do not share buckets either."""

    def __init__(self):
        self._second = random.SystemRandom().randrange(100, 250)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self):
        with self._lock:
            n = next(self._counter)
        if n >= 254 * 254:
            raise RuntimeError("out of loopback source addresses")
        return f"127.{self._second}.{n // 254 + 1}.{n % 254 + 1}"


class Resp:
    """One HTTP response: status, headers (case-insensitive look-up), body bytes."""

    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value)
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"response body is not JSON ({e}): {self!r}") from None

    def __repr__(self):
        body = self.body[:600]
        return (f"<HTTP {self.status} {self.reason} headers={self.headers!r} "
                f"body={body!r}{'...' if len(self.body) > 600 else ''}>")


def _read_response(conn_or_sock_resp, started):
    r = conn_or_sock_resp
    body = r.read()
    return Resp(r.status, r.reason, list(r.getheaders()), body, time.monotonic() - started)


def http(port, method, path, headers=None, body=None, src=None, timeout=10.0):
    """One request on a new connection to 127.0.0.1:port. body: dict/list (sent as JSON),
    bytes or str. src: the source address to connect from."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    started = time.monotonic()
    conn = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(src, 0) if src else None)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        return _read_response(conn.getresponse(), started)
    finally:
        conn.close()


def raw_http(port, request_bytes, src=None, timeout=10.0, method="GET"):
    """Send request_bytes exactly as given on a new connection and parse the answer.
    For header bytes that http.client would refuse or rewrite (NUL, non-ASCII, ...)."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(src, 0) if src else None)
    try:
        sock.sendall(request_bytes)
        r = http_client.HTTPResponse(sock, method=method)
        r.begin()
        return _read_response(r, started)
    finally:
        sock.close()


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


# --- Redis ------------------------------------------------------------------------------------

class RedisError(Exception):
    pass


class Redis:
    """A minimal RESP2 client: enough for TIME and for reading every key."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        if u.scheme not in ("redis", ""):
            raise ValueError(f"unsupported Redis URL {url!r}")
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 6379
        self.password = urllib.parse.unquote(u.password) if u.password else None
        self.username = urllib.parse.unquote(u.username) if u.username else None
        self.db = int(u.path.lstrip("/") or 0)
        self.sock = None
        self.f = None

    def _connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=10)
        self.f = self.sock.makefile("rb")
        if self.password:
            if self.username:
                self._cmd("AUTH", self.username, self.password)
            else:
                self._cmd("AUTH", self.password)
        if self.db:
            self._cmd("SELECT", str(self.db))

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = self.f = None

    def _cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.f.readline()
        if not line:
            raise RedisError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._reply() for _ in range(n)]
        raise RedisError(f"unexpected reply {line!r}")

    def cmd(self, *args):
        if not self.sock:
            self._connect()
        try:
            return self._cmd(*args)
        except (OSError, RedisError) as e:
            if isinstance(e, RedisError) and str(e) != "connection closed":
                raise
            self.close()
            self._connect()
            return self._cmd(*args)

    def time(self):
        sec, usec = self.cmd("TIME")
        return int(sec) + int(usec) / 1e6

    def dump_everything(self):
        """Every key name and every value (by type) as one bytes blob, plus the key count."""
        parts = []
        cursor = b"0"
        keys = []
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "COUNT", "1000")
            keys.extend(batch)
            if cursor == b"0":
                break
        for k in keys:
            parts.append(k)
            t = self.cmd("TYPE", k)
            try:
                if t == b"string":
                    v = self.cmd("GET", k)
                    parts.append(v or b"")
                elif t == b"hash":
                    parts.extend(self.cmd("HGETALL", k) or [])
                elif t == b"list":
                    parts.extend(self.cmd("LRANGE", k, "0", "-1") or [])
                elif t == b"set":
                    parts.extend(self.cmd("SMEMBERS", k) or [])
                elif t == b"zset":
                    parts.extend(self.cmd("ZRANGE", k, "0", "-1", "WITHSCORES") or [])
                elif t == b"stream":
                    parts.append(repr(self.cmd("XRANGE", k, "-", "+")).encode())
                elif t == b"none":
                    continue    # expired meanwhile
                else:
                    # e.g. a module type: its serialised form is the best we can do
                    parts.append(self.cmd("DUMP", k) or b"")
            except RedisError as e:
                if "WRONGTYPE" not in str(e):
                    raise
        return b"\n".join(p if isinstance(p, bytes) else str(p).encode() for p in parts), len(keys)


# --- ClickHouse -------------------------------------------------------------------------------

def ch_query(url, sql, timeout=60):
    req = urllib.request.Request(url.rstrip("/") + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


# --- oa-admin ---------------------------------------------------------------------------------

class AdminError(AssertionError):
    pass


class Admin:
    """Runs oa-admin with the stack's environment. Every run's stderr goes to
    admin.stderr.log; stdout too (admin.stdout.log), except `key create`'s, which carries
    the secret by design."""

    def __init__(self, exe, env, log_dir):
        self.exe = exe
        self.env = env
        self.stderr_log = os.path.join(log_dir, "admin.stderr.log")
        self.stdout_log = os.path.join(log_dir, "admin.stdout.log")
        self.last_duration = None

    def run(self, *args, check=True, timeout=90):
        argv = [self.exe, *args]
        started = time.monotonic()
        try:
            p = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AdminError(f"oa-admin {' '.join(args)}: no exit within {timeout} s "
                             f"(stderr: {e.stderr!r})") from None
        self.last_duration = time.monotonic() - started
        record_timing("oa-admin run (s)", self.last_duration)
        secret_out = args[:2] == ("key", "create")
        with open(self.stderr_log, "ab") as f:
            f.write(f"=== {time.strftime('%F %T')} oa-admin {' '.join(args)} -> {p.returncode} "
                    f"({self.last_duration:.3f} s)\n".encode())
            f.write(p.stderr)
        with open(self.stdout_log, "ab") as f:
            f.write(f"=== oa-admin {' '.join(args)} -> {p.returncode}\n".encode())
            f.write(b"(stdout holds the new secret: not kept)\n" if secret_out else p.stdout)
        san = SANITIZER_RE.search(p.stderr)
        if san:
            line = p.stderr[max(0, p.stderr.rfind(b"\n", 0, san.start()) + 1):].split(b"\n")[0]
            raise AdminError(f"oa-admin {' '.join(args)}: sanitizer report on stderr: "
                             f"{line.decode(errors='replace')}")
        if check and p.returncode != 0:
            raise AdminError(f"oa-admin {' '.join(args)} exited {p.returncode}\n"
                             f"stdout: {p.stdout.decode(errors='replace')[:2000]}\n"
                             f"stderr: {p.stderr.decode(errors='replace')[:2000]}")
        return p

    def json(self, *args):
        p = self.run(*args, "--json")
        text = p.stdout.decode(errors="replace")
        try:
            return json.loads(text)
        except ValueError as e:
            raise AdminError(f"oa-admin {' '.join(args)} --json did not print one JSON value "
                             f"({e}): {text[:2000]!r}") from None

    # accounts.md: "With --json it prints one JSON value." Which value is not spelled out;
    # the natural reading is the entity itself (like the API's Project and Key objects). An
    # envelope ({"account": {...}}) is accepted with a note.
    @staticmethod
    def entity(value, id_re, what):
        if isinstance(value, dict) and isinstance(value.get("id"), str) and id_re.match(value["id"]):
            return value
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, dict) and isinstance(v.get("id"), str) and id_re.match(v["id"]):
                    note(f"oa-admin --json wraps the {what} in {{{k!r}: ...}} rather than printing "
                         f"the {what} object itself (docs leave the shape open)")
                    return v
        raise AdminError(f"oa-admin --json: expected a {what} object with an id matching "
                         f"{id_re.pattern}, got {json.dumps(value)[:1000]}")

    def account_create(self, name, plan, limit=None):
        args = ["account", "create", "--name", name, "--plan", plan]
        if limit is not None:
            args += ["--limit", str(limit)]
        acc = self.entity(self.json(*args), ACCOUNT_ID_RE, "account")
        return acc

    def set_plan(self, account_id, plan, limit=None):
        args = ["account", "set-plan", account_id, "--plan", plan]
        if limit is not None:
            args += ["--limit", str(limit)]
        return self.json(*args)

    def project_create(self, account_id, name, domain, timezone=None):
        args = ["project", "create", "--account", account_id, "--name", name, "--domain", domain]
        if timezone:
            args += ["--timezone", timezone]
        return self.entity(self.json(*args), PROJECT_ID_RE, "project")

    def key_create(self, account_id, name, scopes, projects=None):
        """Returns (key object, secret, seconds oa-admin took); the secret is remembered."""
        args = ["key", "create", "--account", account_id, "--name", name,
                "--scopes", ",".join(scopes)]
        if projects:
            args += ["--projects", ",".join(projects)]
        value = self.json(*args)
        key = self.entity(value, KEY_ID_RE, "key")
        secret = None
        if isinstance(value, dict) and isinstance(value.get("key"), str):
            secret = value["key"]
        elif isinstance(key.get("key"), str):
            secret = key["key"]
        else:
            # The field's name is not in the docs for oa-admin; api.md's POST /v1/keys calls
            # it "key". Take any string shaped like a secret, and say so.
            found = []

            def walk(v, path):
                if isinstance(v, dict):
                    for k, x in v.items():
                        walk(x, path + [k])
                elif isinstance(v, list):
                    for i, x in enumerate(v):
                        walk(x, path + [str(i)])
                elif isinstance(v, str) and SECRET_FULL_RE.match(v):
                    found.append((".".join(path), v))
            walk(value, [])
            if len(found) != 1:
                raise AdminError(f"oa-admin key create --json: expected exactly one secret "
                                 f"(oa_live_ + 32 base62) in the output, found {len(found)}: "
                                 f"{json.dumps(value)[:1000]}")
            note(f"oa-admin key create --json prints the secret as {found[0][0]!r}, not 'key' "
                 "as POST /v1/keys does")
            secret = found[0][1]
        if not SECRET_FULL_RE.match(secret):
            raise AdminError(f"oa-admin key create: the secret {secret!r} is not oa_live_ + 32 base62")
        SECRETS.append(secret)
        return key, secret, self.last_duration

    def key_revoke(self, key_id):
        return self.run("key", "revoke", key_id)


# --- oa-query ---------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # If pytest is killed (meson's timeout), its daemons must not outlive it.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


class OaQuery:
    """One oa-query child process on a free port, stderr and stdout in a log file."""

    def __init__(self, name, exe, env, log_dir):
        self.name = name
        self.exe = exe
        self.env = dict(env)
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.proc = None
        self.port = None
        self.returncode = None

    def start(self, ready_timeout=60.0):
        self.port = free_port()
        self.env["OA_QUERY_LISTEN"] = f"127.0.0.1:{self.port}"
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.exe], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, preexec_fn=_die_with_parent)
        finally:
            log.close()
        started = time.monotonic()
        last = None
        while time.monotonic() - started < ready_timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} ({self.exe}) exited with {self.proc.returncode} before it "
                            f"was ready; last lines of {self.log_path}:\n{self.tail()}", pytrace=False)
            try:
                r = http(self.port, "GET", "/readyz", timeout=2)
                last = r.status
                if r.status == 200:
                    record_timing("oa-query start to /readyz 200 (s)", time.monotonic() - started)
                    return
            except OSError as e:
                last = e
            time.sleep(0.05)
        pytest.fail(f"{self.name} did not answer GET /readyz with 200 within {ready_timeout} s on "
                    f"127.0.0.1:{self.port} (last: {last}); log {self.log_path}:\n{self.tail()}",
                    pytrace=False)

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout=20.0):
        """SIGTERM, wait; returns the exit status (SIGKILL and -9 after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = "killed: no exit within %.0f s of SIGTERM" % timeout
                return self.returncode
        self.returncode = self.proc.returncode
        return self.returncode

    def get(self, path, secret=None, src=None, headers=None):
        h = dict(headers or {})
        if secret is not None:
            h.update(bearer(secret))
        return http(self.port, "GET", path, headers=h, src=src)

    def req(self, method, path, secret=None, body=None, src=None, headers=None):
        h = dict(headers or {})
        if secret is not None:
            h.update(bearer(secret))
        return http(self.port, method, path, headers=h, body=body, src=src)


def sanitizer_reports(blob, max_lines=5):
    """The lines of blob (bytes) that start a sanitizer report."""
    out = []
    for line in blob.split(b"\n"):
        if SANITIZER_RE.search(line):
            out.append(line.decode(errors="replace")[:300])
            if len(out) >= max_lines:
                break
    return out


def find_secrets(blob, secrets):
    """The secrets (or their 32 random characters alone) that occur in blob (bytes)."""
    hits = []
    for s in secrets:
        if s.encode() in blob or s[8:].encode() in blob:
            hits.append(s)
    return hits

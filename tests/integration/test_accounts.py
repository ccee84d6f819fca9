"""Accounts, projects and API keys against the real programs (docs/accounts.md, docs/api.md).

oa-admin writes accounts, projects and keys to Kafka (oa.projects.v1); two oa-query
processes of this test's own (conftest.py) follow the topic and share the stack's Redis.
The tests check, with the clock: a new key works everywhere within a second, a revoked key
stops working within a second, the per-key budget (free plan: 60 a minute) is one budget
across processes, failed authentications are limited per client address, the answers and
their JSON error bodies, the management routes, and that no clear-text secret is kept
anywhere (Kafka, Redis, ClickHouse, logs).

Failed authentications are limited per client address (20 a minute), so every request that
may fail authentication comes from a loopback address of its own (oa_it.SourceIPs).
Run by tests/integration/run.sh (meson suite 'integration').
"""

import json
import os
import re
import subprocess
import time

import pytest

import oa_it
from oa_it import (ACCOUNT_ID_RE, HINT_RE, ISO_UTC_RE, KEY_ID_RE, PROJECT_ID_RE, SECRET_FULL_RE,
                   SECRET_RE, SITE_ID_RE, note, record_timing)

PROPAGATION_LIMIT_S = 1.0       # docs: "in force in every running daemon within a second"
POLL_DEADLINE_S = 5.0           # how long we keep polling, to measure a slow propagation
FREE_LIMIT = 60
AUTH_FAIL_LIMIT = 20
MGMT_SCOPES = ["projects:read", "projects:write", "keys:write"]


# --- helpers ----------------------------------------------------------------------------------

def media_type(r):
    return (r.header("Content-Type") or "").split(";")[0].strip().lower()


def check_json(r, status):
    assert r.status == status, f"expected HTTP {status}, got {r!r}"
    assert media_type(r) == "application/json", f"Content-Type is not application/json: {r!r}"
    return r.json()


def check_error(r, status, code):
    """A JSON error body {"error": code, "message": "..."} with Content-Type application/json."""
    assert r.status == status, f"expected {status} {code}, got {r!r}"
    assert 500 > r.status, f"server error: {r!r}"
    assert media_type(r) == "application/json", f"error without Content-Type application/json: {r!r}"
    body = r.json()
    assert isinstance(body, dict), f"error body is not a JSON object: {r!r}"
    assert body.get("error") == code, f"expected error {code!r}: {r!r}"
    assert isinstance(body.get("message"), str) and body["message"], f"no message: {r!r}"
    return body


def rl_headers(r):
    """(limit, remaining, reset) from the X-RateLimit-* headers, which must be there."""
    values = []
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        v = r.header(name)
        assert v is not None, f"{name} missing on an authenticated response: {r!r}"
        assert re.fullmatch(r"\d+", v.strip()), f"{name}: {v!r} is not a non-negative integer: {r!r}"
        assert len(r.header_all(name)) == 1, f"{name} sent more than once: {r!r}"
        values.append(int(v))
    return tuple(values)


def check_reset_plausible(r, now=None):
    _, _, reset = rl_headers(r)
    now = time.time() if now is None else now
    # Unix seconds, in the future, at most one window away (1 s of slack for rounding).
    assert now - 1 < reset <= now + 61, (f"X-RateLimit-Reset {reset} is not within the next "
                                         f"60 s (now {now:.1f}): {r!r}")
    return reset


def wait_status(stack, instances, secret, t0, want, interim, path="/v1/projects"):
    """Poll each instance with the key until it answers `want`; any status in `interim` may
    come before. Every attempt comes from a fresh source address (a 401 counts as a failed
    authentication for its address). Returns ({name: seconds since t0}, {name: Resp})."""
    pending = {p.name: p for p in instances}
    delays, first, last = {}, {}, {}
    while pending and time.monotonic() - t0 < POLL_DEADLINE_S:
        for name, p in list(pending.items()):
            r = p.get(path, secret, src=stack.ips.next())
            if r.status == want:
                delays[name] = time.monotonic() - t0
                first[name] = r
                del pending[name]
            else:
                assert r.status in interim, (f"{name}: while waiting for {want} on GET {path} got "
                                             f"an unexpected answer: {r!r}")
                last[name] = r
        time.sleep(0.003)
    assert not pending, (f"no {want} within {POLL_DEADLINE_S} s from "
                         + ", ".join(f"{n} (last answer {last.get(n)!r})" for n in pending))
    return delays, first


def eventually(fn, timeout=PROPAGATION_LIMIT_S, interval=0.01):
    """Call fn until it returns without AssertionError; return (its value, seconds)."""
    t0 = time.monotonic()
    while True:
        try:
            return fn(), time.monotonic() - t0
        except AssertionError:
            if time.monotonic() - t0 > timeout:
                raise
        time.sleep(interval)


def new_key(stack, q, account_id, scopes, projects=None, what="key", path="/v1/projects"):
    """A key from oa-admin, waited for until every oa-query recognises it (any answer but
    401). Returns (key object, secret)."""
    key, secret, _ = stack.admin.key_create(account_id, stack.name(what), scopes, projects)
    t0 = time.monotonic()
    pending = {p.name: p for p in q}
    while pending:
        assert time.monotonic() - t0 < POLL_DEADLINE_S, (
            f"key {key['id']} not recognised by {sorted(pending)} within {POLL_DEADLINE_S} s")
        for name, p in list(pending.items()):
            r = p.get(path, secret, src=stack.ips.next())
            assert r.status < 500 and r.status != 429, f"{name}: {r!r}"
            if r.status != 401:
                record_timing("key propagation, any key: oa-admin exit -> recognised (s)",
                              time.monotonic() - t0)
                del pending[name]
        time.sleep(0.003)
    return key, secret


def find_by_id(value, wanted_id):
    """Every dict inside value (any depth) whose "id" is wanted_id."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            if v.get("id") == wanted_id:
                out.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(value)
    return out


def wait_for_window(stack, min_left):
    """Fixed one-minute windows on Redis's clock: if fewer than min_left seconds remain in
    the current one, sleep into the next, so a test's requests all fall in one window."""
    now = stack.redis.time()
    left = 60 - now % 60
    if left < min_left:
        time.sleep(left + 0.3)


def check_project(p, account_id=None, name=None, domains=None, timezone=None):
    assert isinstance(p, dict), p
    assert PROJECT_ID_RE.match(str(p.get("id"))), f"project id: {p}"
    assert SITE_ID_RE.match(str(p.get("site_id"))), f"site_id must be site_ + 20 base62: {p}"
    assert ACCOUNT_ID_RE.match(str(p.get("account_id"))), f"account_id: {p}"
    assert ISO_UTC_RE.match(str(p.get("created_at"))), f"created_at must be ISO 8601 UTC: {p}"
    assert isinstance(p.get("domains"), list), f"domains must be a list: {p}"
    if account_id is not None:
        assert p["account_id"] == account_id, p
    if name is not None:
        assert p.get("name") == name, p
    if domains is not None:
        assert p["domains"] == domains, p
    if timezone is not None:
        assert p.get("timezone") == timezone, p


def check_key_object(k, secret=None, account_id=None, scopes=None, project_ids=None):
    assert isinstance(k, dict), k
    assert KEY_ID_RE.match(str(k.get("id"))), f"key id must be key_ + 16 base62: {k}"
    assert ACCOUNT_ID_RE.match(str(k.get("account_id"))), f"account_id: {k}"
    assert HINT_RE.match(str(k.get("hint"))), f"hint must look like oa_live_AbCd...wxyz: {k}"
    assert ISO_UTC_RE.match(str(k.get("created_at"))), f"created_at must be ISO 8601 UTC: {k}"
    assert k.get("revoked") is False, f"a new key is not revoked: {k}"
    if secret is not None:
        assert k["hint"] == f"oa_live_{secret[8:12]}...{secret[-4:]}", \
            f"hint {k['hint']!r} does not match the secret's first and last 4 characters"
    if account_id is not None:
        assert k["account_id"] == account_id, k
    if scopes is not None:
        assert sorted(k.get("scopes") or []) == sorted(scopes), k
    if project_ids is not None:
        assert sorted(k.get("project_ids") or []) == sorted(project_ids), k


def project_ids_listed(r):
    body = check_json(r, 200)
    assert isinstance(body, dict) and isinstance(body.get("projects"), list), \
        f"GET /v1/projects must answer {{\"projects\": [...]}}: {r!r}"
    for p in body["projects"]:
        check_project(p)
    return sorted(p["id"] for p in body["projects"])


# --- 1, 2: propagation through oa.projects.v1 -------------------------------------------------

def test_01_admin_key_works_within_1s(stack, q):
    acc = stack.admin.account_create(stack.name("prop"), "business")
    key, secret, took = stack.admin.key_create(acc["id"], stack.name("prop-key"), ["projects:read"])
    t0 = time.monotonic()   # oa-admin exited: Kafka acknowledged the write
    record_timing("oa-admin key create (s)", took)
    check_key_object(key, secret, acc["id"], ["projects:read"], [])

    delays, first = wait_status(stack, q, secret, t0, want=200, interim={401})
    for name, d in delays.items():
        record_timing("key propagation: oa-admin key create exit -> 200 (s)", d)
        print(f"key propagation to {name}: {d * 1000:.1f} ms")
    for name, r in first.items():
        assert project_ids_listed(r) == [], f"{name}: a new account lists no project: {r!r}"
        limit, remaining, _ = rl_headers(r)
        assert limit == 6000, f"business plan: X-RateLimit-Limit 6000 expected: {r!r}"
    slow = {n: d for n, d in delays.items() if d >= PROPAGATION_LIMIT_S}
    assert not slow, f"the new key worked only after {slow} s (limit {PROPAGATION_LIMIT_S} s)"


def test_02_admin_revoked_key_401_within_1s(stack, q):
    acc = stack.admin.account_create(stack.name("revoke"), "business")
    key, secret, _ = stack.admin.key_create(acc["id"], stack.name("revoke-key"), ["projects:read"])
    wait_status(stack, q, secret, time.monotonic(), want=200, interim={401})

    stack.admin.key_revoke(key["id"])
    t0 = time.monotonic()
    delays, first = wait_status(stack, q, secret, t0, want=401, interim={200})
    for name, d in delays.items():
        record_timing("revocation: oa-admin key revoke exit -> 401 (s)", d)
        print(f"revocation reached {name}: {d * 1000:.1f} ms")
    for r in first.values():
        check_error(r, 401, "unauthorized")
    slow = {n: d for n, d in delays.items() if d >= PROPAGATION_LIMIT_S}
    assert not slow, f"the revoked key still worked for {slow} s (limit {PROPAGATION_LIMIT_S} s)"

    # And it stays revoked.
    time.sleep(0.5)
    for p in q:
        check_error(p.get("/v1/projects", secret, src=stack.ips.next()), 401, "unauthorized")

    # oa-admin key list shows it revoked, and no secret.
    p = stack.admin.run("key", "list", "--account", acc["id"], "--json")
    assert not SECRET_RE.search(p.stdout), "oa-admin key list --json prints a secret"
    listed = find_by_id(json.loads(p.stdout), key["id"])
    assert listed, f"oa-admin key list does not show key {key['id']}: {p.stdout[:1000]!r}"
    assert listed[0].get("revoked") is True, f"key list: the key is not marked revoked: {listed[0]}"


# --- 3, 4: per-key budget ---------------------------------------------------------------------

def run_budget(stack, instances, account_id, label):
    """Spend a new key's free-plan budget, alternating over instances; return the answers
    [(instance name, Resp, wall-clock time)] of the 62 counted requests. Retries once if the
    minute ended in the middle (then nothing can be concluded)."""
    for attempt in (1, 2):
        wait_for_window(stack, min_left=20)
        _, secret, _ = stack.admin.key_create(account_id, stack.name(label), ["projects:read"])
        t0 = time.monotonic()
        answers = []
        # The first 200 on each instance is the first counted request there (the 401s before
        # are answers to an unknown key and count against nothing but their address).
        for p in instances:
            _, first = wait_status(stack, [p], secret, t0, want=200, interim={401})
            answers.append((p.name, first[p.name], time.time()))
        src = stack.ips.next()
        while len(answers) < FREE_LIMIT + 2:
            p = instances[len(answers) % len(instances)]
            answers.append((p.name, p.get("/v1/projects", secret, src=src), time.time()))
        resets = {r.header("X-RateLimit-Reset") for _, r, _ in answers}
        if len(resets) == 1:
            return answers
        note(f"{label}: a one-minute window ended during the requests (resets {sorted(resets)}); "
             "retried with a new key")
    pytest.fail(f"{label}: the window changed during the requests twice: {sorted(resets)}")


def check_budget(answers):
    statuses = [r.status for _, r, _ in answers]
    for i, (name, r, now) in enumerate(answers, start=1):
        limit, remaining, _ = rl_headers(r)
        check_reset_plausible(r, now)
        assert limit == FREE_LIMIT, f"request {i} ({name}): free plan X-RateLimit-Limit 60: {r!r}"
        if i <= FREE_LIMIT:
            assert r.status == 200, (f"request {i} of {FREE_LIMIT} ({name}) was refused; statuses: "
                                     f"{statuses}; answer: {r!r}")
            assert remaining == FREE_LIMIT - i, (
                f"request {i} ({name}): X-RateLimit-Remaining {remaining}, expected {FREE_LIMIT - i} "
                f"(counting down); all: {[rl_headers(x)[1] for _, x, _ in answers]}")
        else:
            check_error(r, 429, "rate_limited")
            assert remaining == 0, f"request {i} ({name}): X-RateLimit-Remaining 0 on a 429: {r!r}"
            ra = r.header("Retry-After")
            assert ra is not None and re.fullmatch(r"\d+", ra.strip()), f"429 without Retry-After: {r!r}"
            _, _, reset = rl_headers(r)
            assert 1 <= int(ra) <= 60, f"Retry-After {ra} outside 1..60: {r!r}"
            assert abs(int(ra) - (reset - now)) <= 2, (
                f"Retry-After {ra} disagrees with X-RateLimit-Reset {reset} (now {now:.1f}): {r!r}")


def test_03_free_plan_rate_limit(stack, q):
    acc = stack.admin.account_create(stack.name("free"), "free")
    answers = run_budget(stack, [q[0]], acc["id"], "free-key")
    check_budget(answers)


def test_04_two_processes_share_one_budget(stack, q):
    acc = stack.admin.account_create(stack.name("shared"), "free")
    answers = run_budget(stack, q, acc["id"], "shared-key")
    assert {n for n, _, _ in answers} == {p.name for p in q}
    check_budget(answers)


def test_05_plan_change_within_1s(stack, q):
    acc = stack.admin.account_create(stack.name("plan"), "pro")
    _, secret = new_key(stack, q, acc["id"], ["projects:read"], what="plan-key")
    for p in q:
        r = p.get("/v1/projects", secret, src=stack.ips.next())
        assert rl_headers(r)[0] == 600, f"pro plan: X-RateLimit-Limit 600: {r!r}"

    for plan, limit, want in (("enterprise", 1234, 1234), ("business", None, 6000)):
        stack.admin.set_plan(acc["id"], plan, limit)
        t0 = time.monotonic()
        pending = {p.name: p for p in q}
        last = {}
        while pending and time.monotonic() - t0 < POLL_DEADLINE_S:
            for name, p in list(pending.items()):
                r = p.get("/v1/projects", secret, src=stack.ips.next())
                assert r.status == 200, f"{name}: {r!r}"
                last[name] = r
                if rl_headers(r)[0] == want:
                    d = time.monotonic() - t0
                    record_timing("plan change: oa-admin set-plan exit -> new limit (s)", d)
                    assert d < PROPAGATION_LIMIT_S, f"{name}: plan {plan} in force after {d:.3f} s"
                    del pending[name]
            time.sleep(0.01)
        assert not pending, f"plan {plan} (limit {want}) not in force: {last}"


# --- 5: accounts are isolated -----------------------------------------------------------------

def test_06_cross_account_reads_are_404(stack, q):
    a, b = q
    acc_x = stack.admin.account_create(stack.name("x"), "business")
    acc_y = stack.admin.account_create(stack.name("y"), "business")
    p1 = stack.admin.project_create(acc_x["id"], stack.name("x1"), "x1.example.com")
    p2 = stack.admin.project_create(acc_x["id"], stack.name("x2"), "x2.example.com", "Europe/Berlin")
    qy = stack.admin.project_create(acc_y["id"], stack.name("y1"), "y1.example.com")
    for p, acc in ((p1, acc_x), (p2, acc_x), (qy, acc_y)):
        check_project(p, acc["id"])
    assert len({p1["site_id"], p2["site_id"], qy["site_id"]}) == 3, "site ids must differ"

    _, kx = new_key(stack, q, acc_x["id"], ["projects:read", "projects:write"], what="kx")
    _, kx1 = new_key(stack, q, acc_x["id"], ["projects:read", "projects:write"], [p1["id"]], "kx1")
    _, ky = new_key(stack, q, acc_y["id"], ["projects:read"], what="ky")
    src = stack.ips.next()

    # Projects written just before the keys may sit on another partition: allow 1 s.
    def lists():
        for p in q:
            assert project_ids_listed(p.get("/v1/projects", kx, src=src)) == sorted([p1["id"], p2["id"]])
            assert project_ids_listed(p.get("/v1/projects", ky, src=src)) == [qy["id"]]
            assert project_ids_listed(p.get("/v1/projects", kx1, src=src)) == [p1["id"]]
    eventually(lists)

    r = a.get(f"/v1/projects/{p2['id']}", kx, src=src)
    check_project(check_json(r, 200), acc_x["id"], p2["name"], ["x2.example.com"], "Europe/Berlin")
    rl_headers(r)

    missing = "prj_" + oa_it.random_base62(16)
    for p in q:
        nx = check_error(p.get(f"/v1/projects/{missing}", kx, src=src), 404, "not_found")
        for method, body in (("GET", None), ("PATCH", {"name": "pwned"}), ("DELETE", None)):
            r = p.req(method, f"/v1/projects/{qy['id']}", kx, body=body, src=src)
            err = check_error(r, 404, "not_found")
            rl_headers(r)
            assert err == nx, (f"{method} of another account's project must answer exactly like a "
                               f"missing one (ids must not be probed): {err} vs {nx}")
        # A key limited to p1 sees nothing else of its own account either.
        check_json(p.get(f"/v1/projects/{p1['id']}", kx1, src=src), 200)
        for method, body in (("GET", None), ("PATCH", {"name": "pwned"}), ("DELETE", None)):
            r = p.req(method, f"/v1/projects/{p2['id']}", kx1, body=body, src=src)
            assert check_error(r, 404, "not_found") == nx

    # Nothing changed: the other account's project and p2 are intact, also a bit later.
    time.sleep(PROPAGATION_LIMIT_S + 0.2)
    for p in q:
        got = check_json(p.get(f"/v1/projects/{qy['id']}", ky, src=src), 200)
        check_project(got, acc_y["id"], qy["name"], ["y1.example.com"])
        got = check_json(p.get(f"/v1/projects/{p2['id']}", kx, src=src), 200)
        check_project(got, acc_x["id"], p2["name"])


# --- 6: scopes and hostile Authorization headers ----------------------------------------------

def test_07_missing_scope_is_403(stack, q):
    acc = stack.admin.account_create(stack.name("scopes"), "business")
    other = stack.admin.account_create(stack.name("scopes-other"), "business")
    prj = stack.admin.project_create(acc["id"], stack.name("scopes-p"), "scopes.example.com")
    foreign = stack.admin.project_create(other["id"], stack.name("scopes-o"), "o.example.com")
    _, k_stats = new_key(stack, q, acc["id"], ["stats:read"], what="k-stats")
    _, k_read = new_key(stack, q, acc["id"], ["projects:read"], what="k-read")
    time.sleep(PROPAGATION_LIMIT_S)   # the projects too
    src = stack.ips.next()
    missing = "prj_" + oa_it.random_base62(16)

    cases = [
        # (key, method, path, body): each must be 403, whatever the project
        (k_stats, "GET", "/v1/projects", None),
        (k_stats, "GET", f"/v1/projects/{prj['id']}", None),
        # the scope is checked before the project: no 404 for a key without the scope
        (k_stats, "GET", f"/v1/projects/{foreign['id']}", None),
        (k_stats, "GET", f"/v1/projects/{missing}", None),
        (k_stats, "POST", "/v1/projects", {"name": "x", "domains": ["x.example.com"]}),
        (k_read, "POST", "/v1/projects", {"name": "x", "domains": ["x.example.com"]}),
        (k_read, "PATCH", f"/v1/projects/{prj['id']}", {"name": "renamed"}),
        (k_read, "PATCH", f"/v1/projects/{foreign['id']}", {"name": "renamed"}),
        (k_read, "DELETE", f"/v1/projects/{prj['id']}", None),
        (k_read, "GET", "/v1/keys", None),
        (k_read, "POST", "/v1/keys", {"name": "x", "scopes": ["projects:read"]}),
        (k_read, "DELETE", "/v1/keys/key_" + oa_it.random_base62(16), None),
        (k_stats, "GET", "/v1/keys", None),
    ]
    failures = []
    for i, (secret, method, path, body) in enumerate(cases):
        p = q[i % 2]
        r = p.req(method, path, secret, body=body, src=src)
        try:
            check_error(r, 403, "forbidden")
            rl_headers(r)
        except AssertionError as e:
            failures.append(f"{method} {path} with scopes "
                            f"{'stats:read' if secret == k_stats else 'projects:read'} on {p.name}: {e}")
    assert not failures, "\n".join(failures)

    # The key with the scope still reads its project; nothing was renamed or deleted.
    got = check_json(q[0].get(f"/v1/projects/{prj['id']}", k_read, src=src), 200)
    assert got["name"] == prj["name"]


@pytest.fixture(scope="module")
def valid_key(stack, q):
    acc = stack.admin.account_create(stack.name("hostile"), "business")
    _, secret = new_key(stack, q, acc["id"], ["projects:read"], what="hostile-key")
    # Sanity: the exact header works, so every 401 below is about the header's shape.
    r = q[0].get("/v1/projects", secret, src=stack.ips.next())
    assert r.status == 200, r
    return secret


H = "Authorization: "
# name -> (header line bytes given the valid secret s, or None for no header; allowed statuses).
# Control bytes in a header value are refused by the HTTP parser itself (400) before oa-query
# sees them: 400 is accepted there, never 200 or 5xx.
HOSTILE = {
    "missing": (lambda s: None, {401}),
    "empty": (lambda s: b"Authorization:\r\n", {401}),
    "empty-after-space": (lambda s: b"Authorization: \r\n", {401}),
    "scheme-only": (lambda s: b"Authorization: Bearer\r\n", {401}),
    "scheme-and-space": (lambda s: b"Authorization: Bearer \r\n", {401}),
    "basic": (lambda s: b"Authorization: Basic dXNlcjpwYXNzd29yZA==\r\n", {401}),
    "token-scheme": (lambda s: f"{H}Token {s}\r\n".encode(), {401}),
    "lowercase-bearer": (lambda s: f"{H}bearer {s}\r\n".encode(), {401}),
    "uppercase-bearer": (lambda s: f"{H}BEARER {s}\r\n".encode(), {401}),
    "no-space": (lambda s: f"{H}Bearer{s}\r\n".encode(), {401}),
    "two-spaces": (lambda s: f"{H}Bearer  {s}\r\n".encode(), {401}),
    "tab": (lambda s: f"{H}Bearer\t{s}\r\n".encode(), {401}),
    "secret-only": (lambda s: f"{H}{s}\r\n".encode(), {401}),
    "truncated": (lambda s: f"{H}Bearer {s[:-1]}\r\n".encode(), {401}),
    "one-char-more": (lambda s: f"{H}Bearer {s}A\r\n".encode(), {401}),
    "trailing-word": (lambda s: f"{H}Bearer {s} extra\r\n".encode(), {401}),
    "two-tokens": (lambda s: f"{H}Bearer {s}, Bearer {s}\r\n".encode(), {401}),
    "prefix-upper": (lambda s: f"{H}Bearer OA_LIVE_{s[8:]}\r\n".encode(), {401}),
    "wrong-prefix": (lambda s: f"{H}Bearer oa_test_{s[8:]}\r\n".encode(), {401}),
    "non-base62": (lambda s: f"{H}Bearer {s[:-1]}-\r\n".encode(), {401}),
    "unknown-key": (lambda s: f"{H}Bearer {oa_it.unknown_secret()}\r\n".encode(), {401}),
    "hint": (lambda s: f"{H}Bearer oa_live_{s[8:12]}...{s[-4:]}\r\n".encode(), {401}),
    "sha256-hex": (lambda s: f"{H}Bearer {oa_it.sha256(s).hex()}\r\n".encode(), {401}),
    "10KB": (lambda s: f"{H}Bearer {'A' * 10240}\r\n".encode(), {401}),
    "10KB-after-secret": (lambda s: f"{H}Bearer {s}{'A' * 10240}\r\n".encode(), {401}),
    "utf8": (lambda s: f"{H}Bearer oa_live_{'é' * 16}\r\n".encode("utf-8"), {401}),
    "utf8-32-chars": (lambda s: f"{H}Bearer oa_live_{'ü' * 32}\r\n".encode("utf-8"), {401}),
    "latin1": (lambda s: b"Authorization: Bearer oa_live_" + b"\xe9" * 32 + b"\r\n", {401}),
    "utf8-in-secret": (lambda s: f"{H}Bearer {s[:-1]}ß\r\n".encode("utf-8"), {401}),
    # A C string function would stop at the NUL and accept the valid secret before it.
    "nul-after-secret": (lambda s: f"{H}Bearer {s}".encode() + b"\x00junk\r\n", {400, 401}),
    "nul-inside": (lambda s: f"{H}Bearer {s[:20]}".encode() + b"\x00" + s[21:].encode() + b"\r\n",
                   {400, 401}),
    "ctl-0x01": (lambda s: f"{H}Bearer {s[:20]}".encode() + b"\x01" + s[21:].encode() + b"\r\n",
                 {400, 401}),
    "del-0x7f": (lambda s: f"{H}Bearer {s}".encode() + b"\x7f\r\n", {400, 401}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_08_hostile_authorization_is_401(stack, q, valid_key, case):
    make, allowed = HOSTILE[case]
    line = make(valid_key)
    req = (b"GET /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           + (line or b"") + b"\r\n")
    for p in q:
        r = oa_it.raw_http(p.port, req, src=stack.ips.next())
        assert r.status < 500, f"{case} on {p.name}: server error {r!r}"
        assert r.status in allowed, f"{case} on {p.name}: expected {sorted(allowed)}, got {r!r}"
        if r.status == 401:
            check_error(r, 401, "unauthorized")
            rl_headers(r)   # api.md: "returned on every response" (here: the address's budget)
        else:
            note(f"Authorization header case {case!r}: HTTP {r.status} from the HTTP parser "
                 f"(Content-Type {r.header('Content-Type')!r}), not a JSON 401 from oa-query")
        # still alive
        assert oa_it.http(p.port, "GET", "/healthz").status == 200, f"{p.name} died after {case}"


# --- 7: failed authentications per client address --------------------------------------------

def fail_auth_until_limit(stack, instances, valid=None, spoof=False):
    """20 failed authentications from one address, then 429. spoof: each request also
    claims another client in X-Forwarded-For, which must not matter, since the peer (a
    127.x address of its own) is no trusted proxy."""
    wait_for_window(stack, min_left=15)
    src = stack.ips.next()

    def xff(i):
        return {"X-Forwarded-For": f"198.51.100.{i}"} if spoof else {}
    for i in range(1, AUTH_FAIL_LIMIT + 1):
        p = instances[i % len(instances)]
        r = p.get("/v1/projects", oa_it.unknown_secret(), src=src, headers=xff(i))
        check_error(r, 401, "unauthorized")
    p = instances[(AUTH_FAIL_LIMIT + 1) % len(instances)]
    r = p.get("/v1/projects", oa_it.unknown_secret(), src=src, headers=xff(AUTH_FAIL_LIMIT + 1))
    check_error(r, 429, "rate_limited")
    assert r.header("Retry-After") and re.fullmatch(r"\d+", r.header("Retry-After").strip()), \
        f"a 429 carries Retry-After (DESIGN.md): {r!r}"
    assert 1 <= int(r.header("Retry-After")) <= 60, r
    # The next one too, on the other process.
    p = instances[(AUTH_FAIL_LIMIT + 2) % len(instances)]
    check_error(p.get("/v1/projects", oa_it.unknown_secret(), src=src), 429, "rate_limited")
    # Per address: another address still gets a plain 401.
    check_error(p.get("/v1/projects", oa_it.unknown_secret(), src=stack.ips.next()), 401,
                "unauthorized")
    if valid:
        # Not in the docs: what a valid key gets from a blocked address. Recorded only.
        r = p.get("/v1/projects", valid, src=src)
        note(f"a valid key from an address blocked for failed authentications gets HTTP {r.status} "
             "(docs do not say; either 200 or 429 is defensible)")


def test_09_failed_auth_limited_per_address(stack, q, valid_key):
    fail_auth_until_limit(stack, [q[0]], valid_key)


def test_09b_failed_auth_limit_ignores_untrusted_forwarded_for(stack, q):
    fail_auth_until_limit(stack, [q[0]], spoof=True)


def test_10_failed_auth_limit_shared_by_processes(stack, q):
    # DESIGN.md: Redis holds the "rate-limit state shared by all replicas".
    fail_auth_until_limit(stack, q)


# --- 8: management routes ---------------------------------------------------------------------

def test_11_projects_crud(stack, q):
    a, b = q
    acc = stack.admin.account_create(stack.name("crud"), "business")
    _, owner = new_key(stack, q, acc["id"], MGMT_SCOPES, what="crud-owner")
    src = stack.ips.next()

    r = a.req("POST", "/v1/projects", owner, src=src,
              body={"name": "Shop", "domains": ["shop.example.com"], "timezone": "Europe/Berlin"})
    shop = check_json(r, 201)
    rl_headers(r)
    check_project(shop, acc["id"], "Shop", ["shop.example.com"], "Europe/Berlin")

    r = b.req("POST", "/v1/projects", owner, src=src, body={"name": "Blog", "domain": "blog.example.com"})
    blog = check_json(r, 201)
    t0 = time.monotonic()
    check_project(blog, acc["id"], "Blog", ["blog.example.com"], "UTC")
    assert shop["id"] != blog["id"] and shop["site_id"] != blog["site_id"]
    assert shop["site_id"][5:] not in shop["id"], "site_id must not be derived from the id"

    def visible():
        for p in q:
            got = check_json(p.get(f"/v1/projects/{shop['id']}", owner, src=src), 200)
            assert got == shop, f"{p.name}: GET differs from the POST answer: {got} vs {shop}"
            assert project_ids_listed(p.get("/v1/projects", owner, src=src)) == \
                sorted([shop["id"], blog["id"]])
    eventually(visible, timeout=POLL_DEADLINE_S)
    d = time.monotonic() - t0
    record_timing("POST /v1/projects answer -> visible on both (s)", d)
    assert d < PROPAGATION_LIMIT_S, f"new projects took {d:.3f} s to show in every oa-query"

    change = {"name": "Shop 2", "domains": ["shop2.example.com", "www.shop2.example.com"],
              "timezone": "Asia/Tokyo"}
    r = b.req("PATCH", f"/v1/projects/{shop['id']}", owner, body=change, src=src)
    patched = check_json(r, 200)
    rl_headers(r)
    check_project(patched, acc["id"], **change)
    for f in ("id", "site_id", "account_id", "created_at"):
        assert patched[f] == shop[f], f"PATCH changed {f}: {patched} vs {shop}"

    r = a.req("PATCH", f"/v1/projects/{shop['id']}", owner, body={"name": "Shop 3"}, src=src)
    patched = check_json(r, 200)
    check_project(patched, acc["id"], "Shop 3", change["domains"], "Asia/Tokyo")

    def updated():
        for p in q:
            got = check_json(p.get(f"/v1/projects/{shop['id']}", owner, src=src), 200)
            assert got == patched, f"{p.name}: {got} vs {patched}"
    eventually(updated)

    r = a.req("DELETE", f"/v1/projects/{shop['id']}", owner, src=src)
    assert r.status == 204, f"DELETE /v1/projects/{{id}} must answer 204: {r!r}"
    assert r.body == b"", f"a 204 has no body: {r!r}"
    rl_headers(r)

    def gone():
        for p in q:
            check_error(p.get(f"/v1/projects/{shop['id']}", owner, src=src), 404, "not_found")
            assert project_ids_listed(p.get("/v1/projects", owner, src=src)) == [blog["id"]]
    eventually(gone)
    for p in q:
        check_error(p.req("PATCH", f"/v1/projects/{shop['id']}", owner, body={"name": "x"}, src=src),
                    404, "not_found")
        check_error(p.req("DELETE", f"/v1/projects/{shop['id']}", owner, src=src), 404, "not_found")


def test_12_project_validation_is_400(stack, q):
    a = q[0]
    acc = stack.admin.account_create(stack.name("valid"), "business")
    _, owner = new_key(stack, q, acc["id"], MGMT_SCOPES, what="valid-owner")
    src = stack.ips.next()
    bad = [
        ("malformed JSON", b'{"name": "x", '),
        ("not an object", b'["x"]'),
        ("no name", {"domains": ["x.example.com"]}),
        ("unknown timezone", {"name": "x", "domains": ["x.example.com"], "timezone": "Mars/Olympus_Mons"}),
        ("domains not strings", {"name": "x", "domains": [5]}),
    ]
    failures = []
    for what, body in bad:
        r = a.req("POST", "/v1/projects", owner, src=src, body=body,
                  headers={"Content-Type": "application/json"})
        try:
            check_error(r, 400, "validation_error")
        except AssertionError as e:
            failures.append(f"POST /v1/projects, {what}: {e}")
    r = a.req("POST", "/v1/projects", owner, src=src, body={"name": "ok", "domains": ["ok.example.com"]})
    good = check_json(r, 201)
    # Written through Kafka: it is there within a second (not necessarily at once).
    eventually(lambda: check_json(a.get(f"/v1/projects/{good['id']}", owner, src=src), 200))
    r = a.req("PATCH", f"/v1/projects/{good['id']}", owner, src=src, body={"timezone": "Not/AZone"})
    try:
        check_error(r, 400, "validation_error")
    except AssertionError as e:
        failures.append(f"PATCH with an unknown timezone: {e}")
    assert not failures, "\n".join(failures)
    time.sleep(PROPAGATION_LIMIT_S + 0.2)
    ids = project_ids_listed(a.get("/v1/projects", owner, src=src))
    assert ids == [good["id"]], f"a refused POST created a project: {ids}"
    got = check_json(a.get(f"/v1/projects/{good['id']}", owner, src=src), 200)
    assert got["timezone"] == "UTC", f"a refused PATCH changed the project: {got}"


def post_big(port, secret, size, src):
    """POST /v1/projects with a body of size bytes; the server may answer before it read
    the body and close, so a failed send is not an error as long as an answer arrives."""
    head = (f"POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    body = b'{"name": "' + b"a" * (size - 13) + b'"}\n'
    assert len(body) == size
    sock = oa_it.socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
    try:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = oa_it.http_client.HTTPResponse(sock, method="POST")
        r.begin()
        return oa_it.Resp(r.status, r.reason, list(r.getheaders()), r.read(), 0)
    finally:
        sock.close()


def test_12b_oversized_body_is_413(stack, q):
    acc = stack.admin.account_create(stack.name("big"), "business")
    _, owner = new_key(stack, q, acc["id"], MGMT_SCOPES, what="big-owner")
    src = stack.ips.next()
    # A management body has no reason to be large; the docs' 413 is payload_too_large.
    r = post_big(q[0].port, owner, 200 * 1024, src)
    check_error(r, 413, "payload_too_large")
    rl_headers(r)
    # Far larger: the HTTP layer may refuse it before oa-query's handler runs; a 413 all the
    # same, never a 5xx or a dropped connection.
    r = post_big(q[0].port, owner, 4 * 1024 * 1024, src)
    assert r.status == 413, f"a 4 MB body: {r!r}"
    if media_type(r) != "application/json":
        note(f"a 4 MB body gets a 413 from the HTTP layer with Content-Type "
             f"{r.header('Content-Type')!r}, not the JSON error of docs/api.md")
    time.sleep(PROPAGATION_LIMIT_S)
    assert project_ids_listed(q[0].get("/v1/projects", owner, src=src)) == []


def test_13_keys_routes(stack, q):
    a, b = q
    acc = stack.admin.account_create(stack.name("keys"), "business")
    other = stack.admin.account_create(stack.name("keys-other"), "business")
    owner_key, owner = new_key(stack, q, acc["id"], MGMT_SCOPES, what="keys-owner")
    other_key, other_secret = new_key(stack, q, other["id"], ["projects:read"], what="keys-foreign")
    src = stack.ips.next()

    r = a.req("POST", "/v1/keys", owner, src=src,
              body={"name": "ci", "scopes": ["projects:read"], "project_ids": []})
    created = check_json(r, 201)
    t0 = time.monotonic()
    rl_headers(r)
    secret = created.get("key")
    assert isinstance(secret, str) and SECRET_FULL_RE.match(secret), \
        f"POST /v1/keys must return the secret once as \"key\": {created}"
    oa_it.SECRETS.append(secret)
    check_key_object(created, secret, acc["id"], ["projects:read"], [])
    assert created["name"] == "ci"

    delays, _ = wait_status(stack, q, secret, t0, want=200, interim={401})
    for d in delays.values():
        record_timing("key propagation: POST /v1/keys answer -> 200 (s)", d)
    assert max(delays.values()) < PROPAGATION_LIMIT_S, f"the new key worked only after {delays}"

    def listed():
        for p in q:
            r = p.get("/v1/keys", owner, src=src)
            body = check_json(r, 200)
            assert isinstance(body, dict) and isinstance(body.get("keys"), list), \
                f"GET /v1/keys must answer {{\"keys\": [...]}}: {r!r}"
            assert not SECRET_RE.search(r.body), f"GET /v1/keys shows a secret: {r!r}"
            assert not oa_it.find_secrets(r.body, oa_it.SECRETS), f"GET /v1/keys shows a secret: {r!r}"
            ids = {k.get("id") for k in body["keys"]}
            assert {owner_key["id"], created["id"]} <= ids, f"{p.name}: keys listed: {ids}"
            assert other_key["id"] not in ids, f"{p.name}: GET /v1/keys lists another account's key"
            for k in body["keys"]:
                assert "key" not in k and "secret" not in k and "secret_sha256" not in k, k
                assert k.get("account_id") == acc["id"], k
                assert HINT_RE.match(str(k.get("hint"))), k
    eventually(listed)

    r = b.req("DELETE", f"/v1/keys/{created['id']}", owner, src=src)
    assert r.status == 204, f"DELETE /v1/keys/{{id}} must answer 204: {r!r}"
    assert r.body == b""
    t0 = time.monotonic()
    delays, first = wait_status(stack, q, secret, t0, want=401, interim={200})
    for name, d in delays.items():
        record_timing("revocation: DELETE /v1/keys answer -> 401 (s)", d)
        check_error(first[name], 401, "unauthorized")
    assert max(delays.values()) < PROPAGATION_LIMIT_S, f"the deleted key worked for {delays}"

    def revoked_in_list():
        body = check_json(a.get("/v1/keys", owner, src=src), 200)
        mine = [k for k in body["keys"] if k.get("id") == created["id"]]
        if mine:
            assert mine[0].get("revoked") is True, f"GET /v1/keys: a deleted key shows {mine[0]}"
        else:
            note("GET /v1/keys drops a revoked key rather than listing it with revoked: true")
    eventually(revoked_in_list)

    # Another account's key and a missing key: 404; the foreign key keeps working.
    for p in q:
        check_error(p.req("DELETE", f"/v1/keys/{other_key['id']}", owner, src=src), 404, "not_found")
        check_error(p.req("DELETE", "/v1/keys/key_" + oa_it.random_base62(16), owner, src=src),
                    404, "not_found")
    time.sleep(PROPAGATION_LIMIT_S + 0.2)
    for p in q:
        assert p.get("/v1/projects", other_secret, src=src).status == 200, \
            "another account's key stopped working after a refused DELETE"
        assert p.get("/v1/projects", owner, src=src).status == 200


def test_14_key_cannot_grant_more_than_it_holds(stack, q):
    a, b = q
    acc = stack.admin.account_create(stack.name("grant"), "business")
    p1 = stack.admin.project_create(acc["id"], stack.name("g1"), "g1.example.com")
    p2 = stack.admin.project_create(acc["id"], stack.name("g2"), "g2.example.com")
    _, k_small = new_key(stack, q, acc["id"], ["projects:read", "keys:write"], what="g-small")
    _, k_p1 = new_key(stack, q, acc["id"], MGMT_SCOPES, [p1["id"]], what="g-p1")
    time.sleep(PROPAGATION_LIMIT_S)
    src = stack.ips.next()

    failures = []

    def expect(secret, body, status, what):
        r = a.req("POST", "/v1/keys", secret, body=body, src=src)
        try:
            if status == 403:
                check_error(r, 403, "forbidden")
            else:
                k = check_json(r, 201)
                assert SECRET_FULL_RE.match(str(k.get("key"))), k
                oa_it.SECRETS.append(k["key"])
                check_key_object(k, k["key"], acc["id"], body["scopes"], body.get("project_ids"))
        except AssertionError as e:
            failures.append(f"{what}: {e}")

    expect(k_small, {"name": "x", "scopes": ["projects:write"]}, 403, "a scope it lacks")
    expect(k_small, {"name": "x", "scopes": ["projects:read", "stats:read"]}, 403, "one scope more")
    expect(k_small, {"name": "x", "scopes": ["projects:read"], "project_ids": []}, 201,
           "a subset of its scopes")
    expect(k_p1, {"name": "x", "scopes": ["projects:read"], "project_ids": []}, 403,
           "a key limited to p1 granting every project")
    expect(k_p1, {"name": "x", "scopes": ["projects:read"], "project_ids": [p2["id"]]}, 403,
           "a key limited to p1 granting p2")
    expect(k_p1, {"name": "x", "scopes": ["projects:read"], "project_ids": [p1["id"], p2["id"]]}, 403,
           "a key limited to p1 granting p1 and p2")
    expect(k_p1, {"name": "x", "scopes": ["projects:read"], "project_ids": [p1["id"]]}, 201,
           "a key limited to p1 granting p1")
    r = b.req("POST", "/v1/projects", k_p1, body={"name": "y", "domains": ["y.example.com"]}, src=src)
    try:
        check_error(r, 403, "forbidden")
    except AssertionError as e:
        failures.append(f"a key limited to some projects creates a project: {e}")
    assert not failures, "\n".join(failures)


# --- the daemons' health after all this -------------------------------------------------------

def test_98_no_sanitizer_reports(stack, q):
    """The debug build runs with ASan and UBSan, whose reports do not always stop the program:
    none may have appeared in oa-query's log so far (conftest.py checks again after SIGTERM,
    for what shutdown and LeakSanitizer report)."""
    found = {}
    for p in q:
        assert p.proc.poll() is None, f"{p.name} is no longer running ({p.proc.returncode}):\n{p.tail()}"
        with open(p.log_path, "rb") as f:
            reports = oa_it.sanitizer_reports(f.read())
        if reports:
            found[p.name] = reports
    assert not found, "sanitizer reports in oa-query's log:\n" + "\n".join(
        f"  {n}: {line}" for n, lines in found.items() for line in lines)


# --- 9: the clear secret is kept nowhere ------------------------------------------------------

def kcat_dump(stack, topic):
    p = subprocess.run(["kcat", "-b", stack.kafka, "-C", "-t", topic, "-e", "-q",
                        "-f", "%t %p %o %k %s\n"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_99_no_clear_secret_anywhere(stack, q):
    # Self-contained: one more secret from each path, used once each (also in the lower-case
    # header form a careless log line might print).
    acc = stack.admin.account_create(stack.name("leak"), "business")
    _, s_admin = new_key(stack, q, acc["id"], MGMT_SCOPES, what="leak-admin")
    r = q[0].req("POST", "/v1/keys", s_admin, src=stack.ips.next(),
                 body={"name": "leak-api", "scopes": ["projects:read"]})
    s_api = check_json(r, 201)["key"]
    oa_it.SECRETS.append(s_api)
    wait_status(stack, q, s_api, time.monotonic(), want=200, interim={401})
    for p in q:
        oa_it.raw_http(p.port, (f"GET /v1/projects HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                f"Authorization: bearer {s_api}\r\n\r\n").encode(),
                       src=stack.ips.next())
    secrets = list(dict.fromkeys(oa_it.SECRETS))
    assert secrets
    found = []
    scanned = []

    # Kafka: the catalogue holds each key's SHA-256 (which proves we read the right thing),
    # never the secret; the other topics hold neither.
    for topic in ("oa.projects.v1", "oa.events.v1", "oa.deletions.v1", "oa.deadletter.v1"):
        rc, out, err = kcat_dump(stack, topic)
        if topic == "oa.projects.v1":
            assert rc == 0, f"kcat could not read {topic}: {err.decode(errors='replace')}"
            missing = [s[:12] + "..." for s in secrets if oa_it.sha256(s) not in out]
            assert not missing, (f"{len(missing)} key(s) have no SHA-256 in {topic} "
                                 f"(only the hash is kept there): {missing}")
        elif rc != 0:
            note(f"kcat could not read {topic}: {err.decode(errors='replace').strip()[:200]}")
            continue
        scanned.append(f"kafka {topic}: {len(out)} bytes")
        found += [f"Kafka topic {topic}" for _ in oa_it.find_secrets(out, secrets)]

    # Redis: every key and value.
    blob, n = stack.redis.dump_everything()
    scanned.append(f"redis: {n} keys, {len(blob)} bytes")
    found += ["Redis" for _ in oa_it.find_secrets(blob, secrets)]

    # ClickHouse: every table outside system, and the query log if it is on.
    tables = oa_it.ch_query(stack.clickhouse_url,
                            "SELECT database, name, engine FROM system.tables "
                            "WHERE database != 'system' FORMAT TabSeparated").decode().splitlines()
    for line in tables:
        db, name, engine = line.split("\t")
        if engine in ("View", "MaterializedView", "Dictionary"):
            continue
        data = oa_it.ch_query(stack.clickhouse_url,
                              f"SELECT * FROM `{db}`.`{name}` LIMIT 5000000 FORMAT TabSeparated")
        scanned.append(f"clickhouse {db}.{name}: {len(data)} bytes")
        found += [f"ClickHouse {db}.{name}" for _ in oa_it.find_secrets(data, secrets)]
    if not any(l.startswith("oa\t") for l in tables):
        note("ClickHouse has no database 'oa' (yet) on the test stack: nothing of ours to scan there")
    has_qlog = oa_it.ch_query(stack.clickhouse_url, "SELECT count() FROM system.tables WHERE "
                              "database = 'system' AND name = 'query_log'").strip() == b"1"
    if has_qlog:
        data = oa_it.ch_query(stack.clickhouse_url, "SELECT query FROM system.query_log FORMAT TabSeparated")
        scanned.append(f"clickhouse system.query_log: {len(data)} bytes")
        found += ["ClickHouse system.query_log" for _ in oa_it.find_secrets(data, secrets)]
    else:
        scanned.append("clickhouse system.query_log: off")

    # oa-query's /metrics, and every log: oa-query's and oa-admin's (this test's own files)
    # and the stack's (OA_RUN_DIR/log).
    for p in q:
        r = oa_it.http(p.port, "GET", "/metrics")
        found += [f"{p.name} /metrics" for _ in oa_it.find_secrets(r.body, secrets)]
    roots = [stack.log_dir]
    if stack.run_dir and os.path.isdir(os.path.join(stack.run_dir, "log")):
        roots.append(os.path.join(stack.run_dir, "log"))
    seen = set()
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                path = os.path.realpath(os.path.join(d, f))
                if path in seen or f == "test-accounts-report.json":
                    continue
                seen.add(path)
                with open(path, "rb") as fh:
                    data = fh.read(512 * 1024 * 1024)
                scanned.append(f"{path}: {len(data)} bytes")
                found += [f"file {path}" for _ in oa_it.find_secrets(data, secrets)]
    print(f"{len(secrets)} secrets looked for in:\n  " + "\n  ".join(scanned))
    assert [p.log_path for p in q if os.path.getsize(p.log_path) > 0], "oa-query logged nothing at all"
    assert not found, f"clear-text secrets found in: {sorted(set(found))} ({len(found)} hits)"

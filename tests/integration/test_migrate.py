"""`oa-admin migrate` against the stack's real ClickHouse (tests/integration/run.sh started
it, and its `up` already ran migrate once): idempotent, every compiled-in migration recorded
with its checksum, the schema the sink writes present, and a refusal (exit 3) when
ClickHouse records a migration this binary does not know or one whose text changed."""

import hashlib
import os
import subprocess
import time

import oa_it

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIGRATIONS = os.path.join(REPO, "services", "admin", "migrations")


def ch(sql):
    return oa_it.ch_query(oa_it.require_env("OA_CLICKHOUSE_URL", "ClickHouse HTTP URL"), sql).decode()


def migrate(*args):
    build = os.environ.get("OA_BIN_DIR") or os.environ["OA_TEST_BUILD_ROOT"]
    exe = os.path.join(build, "services", "admin", "oa-admin")
    p = subprocess.run([exe, "migrate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert not oa_it.SANITIZER_RE.search(p.stderr), p.stderr.decode(errors="replace")
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def files():
    return sorted(f for f in os.listdir(MIGRATIONS) if f.endswith(".sql"))


def test_every_migration_is_recorded_with_its_checksum():
    rows = ch("SELECT version, name, checksum FROM oa.schema_migrations ORDER BY version FORMAT TSV")
    got = [tuple(line.split("\t")) for line in rows.splitlines()]
    want = []
    for f in files():
        with open(os.path.join(MIGRATIONS, f), "rb") as fh:
            want.append((str(int(f[:4])), f[:-4], hashlib.sha256(fh.read()).hexdigest()))
    assert got == want


def test_migrate_again_changes_nothing():
    before = ch("SELECT count() FROM oa.schema_migrations")
    rc, out, err = migrate()
    assert rc == 0, err
    assert "0 applied now" in out
    assert ch("SELECT count() FROM oa.schema_migrations") == before
    rc, out, err = migrate("--status")
    assert rc == 0, err
    assert out.split() == [w for f in files() for w in ("applied", f[:-4])]
    rc, out, err = migrate("--dry-run")
    assert rc == 0 and "would apply" not in out


def test_the_tables_of_the_schema_exist():
    names = set(ch("SELECT name FROM system.tables WHERE database = 'oa' FORMAT TSV").split())
    assert {"events", "sessions", "schema_migrations"} <= names
    cols = set(ch("SELECT name FROM system.columns WHERE database = 'oa' AND table = 'events' FORMAT TSV").split())
    assert {"kafka_partition", "kafka_offset", "session_id", "event_id"} <= cols


def test_refuses_an_unknown_or_changed_migration_and_runs_nothing():
    try:
        ch("INSERT INTO oa.schema_migrations VALUES (9999, '9999_from_the_future', '%s', now())" % ("0" * 64))
        rc, out, err = migrate()
        assert rc == 3, (out, err)
        assert "UNKNOWN  9999_from_the_future" in out and "refused" in err
        assert "applied now" not in out
        rc, out, _ = migrate("--status")
        assert rc == 3
    finally:
        ch("ALTER TABLE oa.schema_migrations DELETE WHERE version = 9999")
    # The mutation is asynchronous: wait until migrate is content again.
    deadline = time.monotonic() + 30
    while migrate("--status")[0] != 0:
        assert time.monotonic() < deadline, "the 9999 row is still there after 30 s"
        time.sleep(0.2)

    ch("INSERT INTO oa.schema_migrations VALUES (1, '0001_events', '%s', now())" % ("f" * 64))
    try:
        rc, out, err = migrate()
        assert rc == 3 and "CHANGED  0001_events" in out
    finally:
        ch("ALTER TABLE oa.schema_migrations DELETE WHERE checksum = '%s'" % ("f" * 64))
    deadline = time.monotonic() + 30
    while migrate("--status")[0] != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_bad_arguments_are_usage_errors():
    rc, _, err = migrate("--nope")
    assert rc == 2 and "unexpected argument" in err
    rc, _, _ = migrate("--status", "--dry-run")
    assert rc == 2

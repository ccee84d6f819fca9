"""The SQL of this repository on a current ClickHouse engine (chdb, ClickHouse in process,
from PyPI), as the Compose and Kubernetes deployments run it; the local stack runs the same
text on ClickHouse 18.16.

The statements are the programs' own: `oa-admin migrate --print-sql` (its bookkeeping and
every migration compiled in, split as migrate splits them) and `oa-sink --print-sql`
(every SQL text oa-sink sends). The inserts, which oa-sink sends with RowBinary data, run
here with JSONEachRow rows for the same column lists; the reads then run on those rows and
their answers are checked. Plus the reads the rollups are documented for (docs/data.md).

Run: python3 tests/compat/test_chdb.py BUILD_DIR (meson test --suite compat). chdb must be
installed (compose/local/install.sh installs it); without it the test fails loudly."""

import json
import os
import sys
import tempfile

try:
    import chdb
    from chdb import session as chdb_session
except ImportError:  # pragma: no cover - reported below
    chdb = None

import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
U64_MAX = 18446744073709551615


def statements(argv):
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout.decode()
    return [s for s in out.split("\0") if s.strip()]


class Db:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="oa-chdb-")
        self.s = chdb_session.Session(self.dir)
        self.n = 0

    def q(self, sql, fmt="TabSeparated"):
        self.n += 1
        try:
            r = self.s.query(sql, fmt)
        except Exception as e:
            raise AssertionError(f"chdb refused:\n{sql}\n--> {e}") from None
        return r.bytes().decode() if hasattr(r, "bytes") else str(r)


def row_json(columns, values):
    return json.dumps({c: values.get(c, "") if not c.startswith("properties.") else [] for c in columns})


def main():
    if chdb is None:
        print("FAIL: the Python module chdb is not installed (pip install chdb; compose/local/install.sh "
              "does it). This test runs the schema and oa-sink's SQL on a current ClickHouse engine.")
        return 1
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
    admin = statements([os.path.join(build, "services", "admin", "oa-admin"), "migrate", "--print-sql"])
    sink = statements([os.path.join(build, "services", "sink", "oa-sink"), "--print-sql"])
    db = Db()
    print(f"chdb {chdb.__version__}, engine {db.q('SELECT version()').strip()}")

    # every migration file on disk is compiled in (meson.build lists them)
    files = sorted(f[:-4] for f in os.listdir(os.path.join(REPO, "services", "admin", "migrations"))
                   if f.endswith(".sql"))
    compiled = sorted({s.split("\n", 1)[0][3:] for s in admin if s.startswith("-- ")})
    assert files == compiled, f"migrations on disk {files} != compiled into oa-admin {compiled}"

    # oa-admin migrate: its bookkeeping, then every migration, in its order
    for sql in admin:
        db.q(sql)
    assert db.q("EXISTS TABLE oa.schema_migrations").strip() == "1"
    assert db.q("SELECT version, name FROM oa.schema_migrations FORMAT TSV").strip() == "1\t0001_events"
    tables = set(db.q("SELECT name FROM system.tables WHERE database = 'oa'").split())
    assert {"events", "sessions", "pageviews_hourly", "events_hourly"} <= tables, tables

    # oa-sink: the two inserts with rows, then its reads (sample partition 3, lo 41)
    ins_events, ins_sessions = sink[0], sink[1]
    assert ins_events.startswith("INSERT INTO oa.events (") and ins_events.endswith("FORMAT RowBinary")
    ev_cols = [c.strip() for c in ins_events[len("INSERT INTO oa.events ("):ins_events.index(")")].split(",")]
    ss_cols = [c.strip().strip("`") for c in ins_sessions[len("INSERT INTO oa.sessions ("):ins_sessions.index(")")].split(",")]
    rows = []
    for i, (path, ts, typ) in enumerate([("/a", "2026-11-27 23:50:00", "pageview"),
                                         ("/b", "2026-11-27 23:55:00", "pageview"),
                                         ("/c", "2026-11-28 00:10:00", "event")]):
        rows.append(row_json(ev_cols, {
            "project_id": "prj_x", "event_id": f"e{i}", "source": "api", "event_type": typ,
            "timestamp": ts, "millis": 0, "received_at": ts, "received_millis": 0,
            "visitor_id": "v1", "user_id": "u1", "session_id": U64_MAX, "path": path,
            "hostname": "example.com", "referrer_source": "search" if i == 0 else "direct",
            "screen_width": 0, "revenue": 1.5, "kafka_partition": 3, "kafka_offset": 42 + i}))
    db.q(ins_events.replace("FORMAT RowBinary", "FORMAT JSONEachRow ") + "\n".join(rows))
    sess = row_json(ss_cols, {"project_id": "prj_x", "session_id": U64_MAX, "visitor_id": "v1",
                              "user_id": "u1", "start": "2026-11-27 23:50:00", "start_millis": 0,
                              "end": "2026-11-28 00:10:00", "end_millis": 0, "duration": 1200,
                              "pageviews": 2, "events": 3, "is_bounce": 0, "entry_page": "/a",
                              "exit_page": "/b", "sign": 1, "version": 7})
    db.q(ins_sessions.replace("FORMAT RowBinary", "FORMAT JSONEachRow ") + sess)

    answers = [db.q(sql) for sql in sink[2:]]
    max_offset, landed, recent, rebuild, live = answers
    assert max_offset.split() == ["44", "3"], max_offset
    assert landed.strip() == "1", landed
    assert sorted(recent.split()) == ["e0", "e1", "e2"], recent
    fields = rebuild.rstrip("\n").split("\t")
    assert len(fields) == 26, fields
    assert fields[:7] == ["prj_x", "v1", str(U64_MAX), "1795823400000", "1795824600000", "2", "3"], fields
    assert fields[10:13] == ["u1", "/a", "/b"] and fields[16] == "search", fields
    lf = live.rstrip("\n").split("\t")
    assert len(lf) == 27 and lf[-1] == "7", lf

    # the rollups were fed by their views, and answer the documented reads
    assert db.q("SELECT path, sumMerge(pageviews), uniqExactMerge(visitors) FROM oa.pageviews_hourly "
                "WHERE project_id = 'prj_x' GROUP BY path ORDER BY path").split() == ["/a", "1", "1", "/b", "1", "1"]
    assert db.q("SELECT event_type, sumMerge(events), sumMerge(revenue) FROM oa.events_hourly "
                "WHERE project_id = 'prj_x' GROUP BY event_type ORDER BY event_type").split() == \
        ["event", "1", "1.5", "pageview", "2", "3"]
    # sessions without FINAL, by sign
    assert db.q("SELECT sum(sign), sum(sign * pageviews) FROM oa.sessions WHERE project_id = 'prj_x'").split() == ["1", "2"]

    # migrate again: every statement is repeatable
    for sql in admin[:2] + [s for s in admin if s.startswith("-- ")]:
        db.q(sql)
    print(f"ok: {db.n} statements ({len(admin)} from oa-admin migrate, {len(sink)} from oa-sink) on chdb")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The database's own speed on the same data, measured in the same run, so that
each Tracker figure can be read as a ratio (which holds on a noisy machine):

- replay: the SQL the ORM emitted for a path (bench/capture.py), executed
  directly with psycopg on one connection, all rows fetched, for as many
  iterations as the path served (capped) -> p50/p95 per request;
- rollback: the same for a write, each iteration in a transaction rolled back;
- stream: the export's COPY statement read to the end;
- pgbench: insert issue + event, and compare-and-set update + event, 4 clients;
- copy: bench/importing.py (raw COPY of the import's rows).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from django.db import connection

from bench.load import percentile
from tracker.management.maintenance import pg_env, pg_tool

MAX_ITERATIONS = 300
MAX_SECONDS = 20.0
PGBENCH_SECONDS = 10
PGBENCH_CLIENTS = 4


def conninfo() -> str:
    """The app's database, with the app's session settings (`options`, e.g.
    `-c jit=off`): a baseline on a session that JIT-compiles the costlier
    queries measured the compiler, not the query (reports' ratios below 1)."""
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        host=db.get("HOST") or "",
        port=str(db.get("PORT") or ""),
        user=db.get("USER") or "",
        password=db.get("PASSWORD") or "",
        options=db.get("OPTIONS", {}).get("options", ""),
    )


def _timings(samples: list[list[str]], iterations: int, *, rollback: bool) -> list[float]:
    timings = []
    with psycopg.connect(conninfo(), autocommit=not rollback) as conn:
        cur = conn.cursor()

        def once(sqls: list[str]) -> float:
            began = time.perf_counter()
            for sql in sqls:
                cur.execute(sql)
                if cur.description is not None:
                    cur.fetchall()
            if rollback:
                conn.rollback()
            return time.perf_counter() - began

        for sqls in samples:  # warm-up: one pass, not recorded
            once(sqls)
        deadline = time.monotonic() + MAX_SECONDS
        for n in range(iterations):
            timings.append(once(samples[n % len(samples)]))
            if time.monotonic() > deadline:
                break
    return timings


def replay(samples: list[list[str]], iterations: int, *, rollback: bool = False) -> dict:
    iterations = max(1, min(iterations, MAX_ITERATIONS))
    ms = sorted(t * 1000 for t in _timings(samples, iterations, rollback=rollback))
    return {
        "kind": "rollback" if rollback else "replay",
        "iterations": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
    }


def stream(statement: str) -> dict:
    """The export's `COPY (...) TO STDOUT`, every row read as the export reads it."""
    rows = 0
    with psycopg.connect(conninfo()) as conn, conn.cursor() as cur:
        began = time.perf_counter()
        with cur.copy(statement) as copy:
            for _ in copy:
                rows += 1
        seconds = time.perf_counter() - began
    return {
        "kind": "stream",
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds) if seconds else None,
    }


PGBENCH_INSERT = """
\\set reporter random(1, 300)
\\set severity random(1, 4)
WITH issue AS (
  INSERT INTO issues_issue (id, title, description, status, severity, reporter_id, version,
                            created_at, updated_at)
  VALUES (gen_random_uuid(), 'pgbench issue', 'Created by pgbench.', 'OPEN', :severity,
          :reporter, 1, now(), now())
  RETURNING id, title, severity)
INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, data, created_at)
SELECT id, :reporter, 'CREATED', '',
       jsonb_build_object('title', title, 'status', 'OPEN',
                          'severity', (ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[severity],
                          'labels', '[]'::jsonb, 'assignee', NULL),
       now()
FROM issue;
"""

# Read the version, then write only if it is still the same (as the services do).
PGBENCH_UPDATE = """
\\set n random(1, {max_number})
SELECT version AS v, severity AS s FROM issues_issue WHERE number = :n \\gset
WITH changed AS (
  UPDATE issues_issue SET severity = 1 + :s % 4, version = version + 1, updated_at = now()
  WHERE number = :n AND version = :v
  RETURNING id, version)
INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, old_value, new_value, data,
                               created_at)
SELECT id, NULL, 'FIELD_CHANGED', 'severity',
       to_jsonb((ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[:s]),
       to_jsonb((ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[1 + :s % 4]),
       jsonb_build_object('version', version), now()
FROM changed;
"""


def pgbench(script: str, *, seconds: int = PGBENCH_SECONDS) -> dict:
    """Transactions per second of `script` (one transaction per run of it)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(script)
        result = subprocess.run(
            [
                pg_tool("pgbench"),
                "--no-vacuum",
                f"--client={PGBENCH_CLIENTS}",
                "--jobs=2",
                f"--time={seconds}",
                f"--file={path}",
            ],
            env=pg_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{result.stderr[-2000:]}")
    tps = None
    latency = None
    for line in result.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        if line.startswith("latency average = "):
            latency = float(line.split()[3])
    return {
        "kind": "pgbench",
        "clients": PGBENCH_CLIENTS,
        "tps": round(tps, 1) if tps else None,
        "latency_ms": latency,
    }

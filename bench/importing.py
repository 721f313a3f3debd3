"""The CSV import step.

A file of ROWS valid rows (in the format the README describes) is imported the
way the Celery worker does it — issues.importer.start_import, which runs the
job inline when IMPORT_ASYNC_ROWS is above the file's size — in a process of its
own (bench/import_app.py), timed there, with its peak resident memory as the
kernel counts it (ru_maxrss). The database's baseline is a raw COPY of the same rows into
the live, fully indexed issues table, in a transaction that is rolled back (and,
for reference, into an unindexed staging table).

If bench/import_copy.py exists (the import's own benchmark, which measures
the same two things its own way), the harness runs that instead
(`python -m bench.import_copy --rows N --json FILE`) and reports its figures.
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from django.db import connection

from bench import vocabulary
from bench.baseline import conninfo

ROWS = 100_000
ROOT = Path(__file__).resolve().parent.parent
STATUSES = (("OPEN", 40), ("TRIAGED", 10), ("IN_PROGRESS", 10), ("DONE", 40))
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


def write_csv(path: Path, rows: int = ROWS, seed: int = 11) -> dict:
    """A file an export from another tracker could be: short descriptions, so that
    100,000 rows stay under the default IMPORT_MAX_BYTES (20 MB)."""
    rng = random.Random(seed)
    plain, common = vocabulary.sentence_bank(random.Random(seed))
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, role FROM accounts_user WHERE is_active ORDER BY id")
        users = cursor.fetchall()
    everyone = [email for email, _ in users]
    maintainers = [email for email, role in users if role != "REPORTER"]
    statuses = [name for name, weight in STATUSES for _ in range(weight)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["title", "description", "status", "severity", "assignee", "labels", "reporter"]
        )
        for _ in range(rows):
            sentences = [
                rng.choice(common if rng.random() < 0.02 else plain)
                for _ in range(rng.randint(1, 2))
            ]
            writer.writerow(
                [
                    f"{rng.choice(vocabulary.SUBJECTS)} {rng.choice(vocabulary.PROBLEMS)}",
                    " ".join(sentences),
                    rng.choice(statuses),
                    rng.choice(SEVERITIES),
                    rng.choice(maintainers) if rng.random() < 0.7 else "",
                    ";".join(rng.sample(vocabulary.LABELS[:20], rng.randint(0, 3))),
                    rng.choice(everyone),
                ]
            )
    return {"rows": rows, "bytes": path.stat().st_size}


def run_measured(command: list[str], env: dict[str, str], timeout: float = 3600) -> dict:
    """Run a command, return its wall time, peak RSS and last output line."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    # The child reports its own peak memory (ru_maxrss) on its last line.
    seconds = time.perf_counter() - began
    last = (out.strip().splitlines() or [""])[-1]
    try:
        report = json.loads(last)
    except ValueError:
        report = {}
    return {
        "returncode": process.returncode,
        "wall_seconds": round(seconds, 2),
        "report": report,
        "stderr": err[-2000:] if process.returncode else "",
    }


def import_app(csv_path: Path, actor_email: str) -> dict:
    """The app's importer on the file, in its own process."""
    env = {**os.environ, "IMPORT_ASYNC_ROWS": str(10**9)}
    command = [sys.executable, "-m", "bench.import_app", str(csv_path), actor_email]
    result = run_measured(command, env)
    report = result["report"]
    return {
        "seconds": report.get("seconds"),
        "wall_seconds": result["wall_seconds"],
        "created": report.get("created"),
        "row_errors": report.get("errors"),
        "status": report.get("status"),
        "peak_mb": report.get("peak_mb"),
        "failed": result["returncode"] != 0 or report.get("status") != "done",
        "stderr": result["stderr"],
    }


def has_import_copy() -> bool:
    return (ROOT / "bench" / "import_copy.py").exists()


def import_copy(rows: int, work_dir: Path) -> dict:
    """bench/import_copy.py, the import's own benchmark: it writes its file, COPYs
    the rows raw into the live table (rolled back) and imports them with the app's
    importer in a process of its own, then removes them again. Its figures are
    read from the JSON file it writes (it exits 1 when over budget)."""
    out = work_dir / "import_copy.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.import_copy", "--rows", str(rows), "--json", str(out)]
    result = run_measured(command, dict(os.environ))
    figures = json.loads(out.read_text()) if out.exists() else {}
    imports = figures.get("import_seconds") or []
    return {
        # Medians of its repeats; the COPY is the one with the import's own keys
        # (uuid7), the one its `ratio` is taken against.
        "seconds": statistics.median(imports) if imports else None,
        "copy_seconds": (figures.get("raw_copy_seconds") or {}).get("uuid7") or [],
        "ratio": figures.get("ratio"),
        "peak_mb": figures.get("peak_mb"),
        "figures": figures,
        "failed": not figures,
        "stderr": result["stderr"] if not figures else "",
    }


def raw_copy(csv_path: Path) -> dict:
    """COPY the file's rows, as issue rows, into the live table (rolled back) and
    into an unindexed staging table: the database's own speed for this import."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, id FROM accounts_user")
        ids = dict(cursor.fetchall())
    lines = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            done = row["status"] == "DONE"
            description = row["description"].replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(
                f"{uuid.uuid4()}\t{row['title']}\t{description}\t{row['status']}\t"
                f"{SEVERITIES.index(row['severity']) + 1}\t{ids[row['reporter']]}\t"
                f"{ids[row['assignee']] if row['assignee'] else chr(92) + 'N'}\t1\t"
                f"now\tnow\t{'now' if done else chr(92) + 'N'}\n"
            )
    data = "".join(lines).encode()
    columns = (
        "id, title, description, status, severity, reporter_id, assignee_id, version, "
        "created_at, updated_at, resolved_at"
    )
    result = {"rows": len(lines)}
    with psycopg.connect(conninfo()) as conn, conn.cursor() as cur:
        began = time.perf_counter()
        with cur.copy(f"COPY issues_issue ({columns}) FROM STDIN") as copy:
            copy.write(data)
        result["live_table_seconds"] = round(time.perf_counter() - began, 3)
        conn.rollback()
        cur.execute("CREATE TEMP TABLE bench_staging (LIKE issues_issue INCLUDING DEFAULTS)")
        began = time.perf_counter()
        with cur.copy(f"COPY bench_staging ({columns}) FROM STDIN") as copy:
            copy.write(data)
        result["staging_seconds"] = round(time.perf_counter() - began, 3)
        conn.rollback()
    return result

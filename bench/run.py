"""`python -m bench.run`: the benchmark over the dataset the database holds (make
bench generates it first; see the README's Performance section).

1. Remove what earlier runs added, take an API token for the dataset's
   maintainer, draw the issues the paths work on.
2. SQL per request for each read path, in-process (bench/capture.py).
3. Start the production web configuration (bench/server.py) and drive it from a
   separate process (bench/load.py): reads, reports, export, then the writes.
4. The writes' SQL, in-process; the database baselines (bench/baseline.py).
5. The stats aggregation (the Celery task's function, called directly, timed).
6. The CSV import of 100,000 rows against a raw COPY (bench/importing.py).
7. Remove what this run added; write bench/results/<date>-<scale>.json (-partial
   when paths or steps were left out) and print
   the table.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per path")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per path")
    parser.add_argument("--concurrency", type=int, default=4, help="clients per path")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", 2)),
        help="uvicorn workers (default WEB_CONCURRENCY or 2, as the Dockerfile)",
    )
    parser.add_argument("--report-duration", type=float, default=5, help="seconds per report")
    parser.add_argument(
        "--only", nargs="*", default=None, help="path names (shell patterns) to run, e.g. 'api_*'"
    )
    parser.add_argument("--no-import", action="store_true", help="skip the CSV import step")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument("--no-stats", action="store_true", help="skip the stats aggregation")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(os.environ.get("DATA_DIR", ".data/bench")),
        help="where the server log and the import file go",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    import django

    django.setup()
    return run(args)


def run(args: argparse.Namespace) -> dict:
    from django.db import connection

    from accounts.models import User
    from accounts.services import create_token
    from bench import budgets, capture, dataset, report
    from bench.paths import Sample, all_paths
    from bench.server import Server

    data = dataset.current()
    if data is None:
        raise SystemExit("bench: no benchmark dataset here; run manage.py bench_data first")
    load_before = os.getloadavg()[0]
    reference_ms = python_speed()
    removed = dataset.remove_additions(data)
    if removed:
        log(f"removed {removed:,} issues earlier runs had added")
    maintainer = User.objects.get(email=data.maintainer_email)
    _, token = create_token(actor=maintainer, name=dataset.TOKEN_NAME)
    sample = Sample.draw(data, maintainer.pk)
    paths = all_paths(data, sample, report_duration=args.report_duration)
    if args.only is not None:
        paths = [p for p in paths if any(fnmatch.fnmatch(p.name, pat) for pat in args.only)]
    defaults = {"concurrency": args.concurrency, "duration": args.duration, "warmup": args.warmup}
    capturer = capture.Capturer(token, maintainer)

    log("capturing the SQL of each read path")
    captured = {p.name: capturer.capture(p) for p in paths if p.kind in ("get", "export")}
    page_sizes = capture.page_size_queries(token)
    database_pid = postmaster_pid()
    connection.close()  # the server gets its own connections; ours would idle meanwhile

    args.work_dir.mkdir(parents=True, exist_ok=True)
    server = Server(
        port=free_port(),
        workers=args.web_workers,
        log=args.work_dir / "bench-server.log",
        env=server_env(args.work_dir),
    )
    log(f"starting uvicorn with {args.web_workers} workers on {server.url}")
    server.start()
    try:
        plan = {
            "base_url": server.url,
            "token": token,
            "login": {
                "url": _reverse("accounts:login"),
                "email": maintainer.email,
                "password": data.info["password"],
            },
            "pids": server.pids(),
            "workers": server.worker_pids(),
            "database": database_pid,
            "paths": [p.spec(defaults) for p in paths],
        }
        loads = {result["name"]: result for result in drive(plan)}
    finally:
        server.stop()

    log("capturing the SQL of each write path")
    for path in paths:
        if path.kind in ("create", "patch", "bulk"):
            captured[path.name] = capturer.capture(path)

    rows = []
    for path in paths:
        load = loads.get(path.name)
        baseline = measure_baseline(path, captured.get(path.name), load, args)
        rows.append(
            report.row(
                name=path.name,
                title=path.title,
                budget=path.budget,
                load=load,
                queries=(captured.get(path.name) or {}).get("queries")
                if path.kind != "export"
                else None,
                baseline=baseline,
                check_queries=path.kind == "get",
            )
        )
    if not args.no_stats and _selected(args, "stats"):
        rows.extend(survived("stats", budgets.STATS, lambda: [stats_row()]))
    if not args.no_import and _selected(args, "import"):
        rows.extend(survived("import", budgets.IMPORT, lambda: import_rows(data, args.work_dir)))

    dataset.remove_additions(data)
    purge_tasks()
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scale": data.scale,
        "partial": bool(args.only or args.no_import or args.no_pgbench or args.no_stats),
        "dataset": {
            "seed": data.seed,
            "generated_at": data.generated_at.isoformat(),
            "generation_seconds": data.seconds,
            "counts": data.info.get("counts"),
        },
        "settings": {**defaults, "web_workers": args.web_workers},
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "python_loop_ms": reference_ms,
            "python": platform.python_version(),
            "postgresql": _server_version(),
        },
        "page_size_queries": page_sizes,
        "paths": rows,
    }
    text = report.summary_text(results)
    if not args.no_write:
        written = report.write(results)
        log(f"results written to {written}")
    print(text)
    return results


def survived(name: str, budget, step) -> list[dict]:
    """The rows of a last step (stats, import), or one failed row if it crashed:
    the figures measured before it, twenty minutes of them at a million issues,
    are still written."""
    from bench import report

    try:
        return step()
    except Exception as exc:  # noqa: BLE001 (reported as the step's result)
        log(f"{name} failed:\n{traceback.format_exc()}")
        return [report.row(name=name, title=name, budget=budget, load={"errors": {repr(exc): 1}})]


def python_speed(additions: int = 2_000_000) -> float:
    """Milliseconds this machine's Python takes for a fixed loop (best of three):
    how fast the machine was, beside its load, since two runs' absolute figures
    compare only when this does (one day's 2-core machine took 3x another's)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(additions):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def purge_tasks() -> None:
    """Notification tasks the run queued (no worker runs during the benchmark)."""
    from tracker.celery import app

    try:
        app.control.purge()
    except Exception as exc:  # the broker is optional for the measurements
        log(f"could not purge the task queue: {exc}")


def _selected(args, name: str) -> bool:
    return args.only is None or any(fnmatch.fnmatch(name, pat) for pat in args.only)


def _reverse(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


def _server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def postmaster_pid() -> int | None:
    """The database server's main process, when it runs on this machine (its
    data directory readable here): the load driver counts its CPU per request."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")  # superusers and pg_read_all_settings
            directory = Path(cursor.fetchone()[0])
        return int((directory / "postmaster.pid").read_text().split()[0])
    except (DatabaseError, OSError, ValueError, IndexError):
        return None


def server_env(work_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off), except plain HTTP on 127.0.0.1; the
    workers' metrics shared through files in `work_dir`, as docker-compose.yml
    runs the web service (PROMETHEUS_MULTIPROC_DIR, emptied first as the
    Dockerfile's command does)."""
    metrics = work_dir / "prometheus-multiproc"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(metrics))
    env.update(
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    return env


def drive(plan: dict) -> list[dict]:
    """bench/load.py in a process of its own."""
    process = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(plan),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"the load driver failed (exit status {process.returncode})")
    return json.loads(process.stdout)


def measure_baseline(path, captured: dict | None, load: dict | None, args) -> dict | None:
    from bench import baseline

    if not captured or not load:
        return None
    samples = captured["samples"]
    if path.baseline == "replay":
        return baseline.replay(samples, load["requests"])
    if path.baseline == "rollback":
        return baseline.replay(samples[:1], load["requests"], rollback=True)
    if path.baseline == "stream":  # the export's own COPY, not the token lookup before it
        return baseline.stream(samples[0][-1])
    if path.baseline.startswith("pgbench") and not args.no_pgbench:
        from bench.dataset import current

        if path.baseline == "pgbench-insert":
            return baseline.pgbench(baseline.PGBENCH_INSERT)
        return baseline.pgbench(baseline.PGBENCH_UPDATE.format(max_number=current().max_number))
    return None


def stats_row() -> dict:
    """The aggregation task's function, called directly: five runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench import baseline, budgets, report
    from reports.tasks import aggregate_daily_stats

    log("timing the stats aggregation")
    with CaptureQueriesContext(connection) as queries:
        aggregate_daily_stats()
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SAVEPOINT")]
    seconds = []
    for _ in range(5):
        began = time.perf_counter()
        aggregate_daily_stats()
        seconds.append(time.perf_counter() - began)
    ms = sorted(s * 1000 for s in seconds)
    return report.row(
        name="stats",
        title="stats aggregation (task function, 5 runs)",
        budget=budgets.STATS,
        load={
            "requests": len(ms),
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[-1], 1),
            "p99_ms": round(ms[-1], 1),
        },
        queries=len(sql),
        baseline=baseline.replay([sql], 5, rollback=True),
    )


def import_rows(data, work_dir: Path) -> list[dict]:
    from bench import budgets, dataset, importing

    if importing.has_import_copy():
        log(f"running bench/import_copy.py ({importing.ROWS:,} rows)")
        measured = importing.import_copy(importing.ROWS, work_dir)
        dataset.remove_additions(data)
        copies = measured.get("copy_seconds") or []
        baseline = (
            {"kind": "copy", "live_table_seconds": sum(copies) / len(copies)} if copies else None
        )
        info = {"rows": importing.ROWS, "bytes": None}
        return [
            _import_row(
                "import",
                "CSV import (bench/import_copy.py)",
                measured,
                baseline,
                info,
                budgets.IMPORT,
                ratio=measured.get("ratio"),
            )
        ]
    csv_path = work_dir / "bench-import.csv"
    log(f"writing {importing.ROWS:,} CSV rows to {csv_path}")
    info = importing.write_csv(csv_path)
    log("raw COPY of the same rows (baseline, rolled back)")
    copy = importing.raw_copy(csv_path)
    copy["kind"] = "copy"
    log("importing them with the app's importer")
    app = importing.import_app(csv_path, data.maintainer_email)
    dataset.remove_additions(data)
    return [_import_row("import", "CSV import (app importer)", app, copy, info, budgets.IMPORT)]


def _import_row(name, title, measured, copy, info, budget, ratio=None) -> dict:
    from bench import report

    seconds = measured.get("seconds")
    if ratio is None and seconds and copy:
        ratio = seconds / copy["live_table_seconds"]
    ratio = round(ratio, 2) if ratio is not None else None
    size = f", {info['bytes'] / 2**20:.0f} MB" if info.get("bytes") else ""
    errors = {}
    if measured.get("failed"):
        errors = {"failed": measured.get("stderr") or measured.get("status") or "?"}
    return report.row(
        name=name,
        title=f"{title}, {info['rows']:,} rows{size}",
        budget=budget,
        load={
            "requests": 1,
            "p50_ms": seconds * 1000 if seconds else None,
            "errors": errors,
            "rows_per_s": round(info["rows"] / seconds) if seconds else None,
        },
        baseline=copy,
        ratio=ratio,
        peak_mb=measured.get("peak_mb"),
        detail=measured,
    )


if __name__ == "__main__":
    main()

"""What the CSV import and export tests share: building files, uploading them,
and starting a real Celery worker against the test database."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from issues import importer
from issues.models import ImportJob

ROOT = Path(__file__).resolve().parents[2]


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


def upload(content: bytes | str, name: str = "issues.csv") -> SimpleUploadedFile:
    if isinstance(content, str):
        content = content.encode()
    return SimpleUploadedFile(name, content, content_type="text/csv")


def run_import(actor, content: bytes | str, *, dry_run: bool = False, name="issues.csv"):
    """Import through the service, as the page and the API do."""
    return importer.start_import(
        actor=actor, upload=upload(content, name), file_name=name, dry_run=dry_run
    )


def write_rows(path: Path, count: int, *, start: int = 0, extra: str = "") -> Path:
    """A file of `count` good rows, written a line at a time (never held whole)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("title,description,severity,status\n")
        for n in range(start, start + count):
            out.write(f"Imported issue {n},Row {n} of a generated file{extra},HIGH,OPEN\n")
    return path


def database_url() -> str:
    """The test database (per xdist worker) as a DATABASE_URL for a subprocess."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


class Worker:
    """`celery -A tracker worker --pool=solo -Q <queue>` on the test database,
    consuming only its own queue, so tests running at the same time (or other
    workers on the same broker) never take each other's tasks."""

    def __init__(self, media_root: Path, log: Path, **env: str):
        self.queue = f"test-import-{uuid.uuid4().hex[:12]}"
        self.log = log
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(media_root),
            "CONN_MAX_AGE": "0",
            **env,
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "tracker",
                    "worker",
                    "--pool=solo",
                    "-Q",
                    self.queue,
                    "-n",
                    f"{self.queue}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"the Celery worker did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_job(job_id, timeout: float = 120, worker: Worker | None = None) -> list[int]:
    """Poll the job until it has finished; returns the progress values seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if not seen or seen[-1] != job.progress:
            seen.append(job.progress)
        if job.finished:
            return seen
        time.sleep(0.1)
    detail = worker.output() if worker else ""
    raise AssertionError(f"import {job_id} did not finish (progress {seen}):\n{detail}")

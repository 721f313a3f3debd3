"""What the CSV import and export tests share: building files, uploading them,
starting a real Celery worker against the test database, or no broker at all."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from issues import importer
from issues.models import ImportJob
from tracker.tests.support import CeleryWorker


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


def broker_down(monkeypatch) -> None:
    """Sending the import task fails as it does with Redis unreachable."""

    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis")

    monkeypatch.setattr("issues.importer.tasks.import_csv.apply_async", down)


def write_rows(path: Path, count: int, *, start: int = 0, extra: str = "") -> Path:
    """A file of `count` good rows, written a line at a time (never held whole)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("title,description,severity,status\n")
        for n in range(start, start + count):
            out.write(f"Imported issue {n},Row {n} of a generated file{extra},HIGH,OPEN\n")
    return path


def wait_for_job(job_id, timeout: float = 120, worker: CeleryWorker | None = None) -> list[int]:
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

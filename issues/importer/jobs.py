"""Import jobs: accepting a file (`start_import`), running it (`run_job`, in the
request for small files, in a Celery task for large ones): its rows are read and
checked one by one and written in batches (issues.importer.writing), each batch
one transaction with the job's progress and heartbeat, so that whatever stops a
run leaves whole batches and a job that says how far it got."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from issues.importer.abandoned import reap_if_abandoned
from issues.importer.reading import (
    count_records,
    file_error,
    read_header,
    records,
    store_upload,
)
from issues.importer.rows import Row, RowError, RowReader
from issues.importer.writing import count_new as _count_new
from issues.importer.writing import write_rows as _write
from issues.models import ImportJob, ImportStatus

log = logging.getLogger(__name__)

IMPORT_DIR = "imports"


def start_import(*, actor: User, upload, file_name: str = "", dry_run: bool = False) -> ImportJob:
    """Accept an uploaded CSV file: store it (streamed, never read whole), refuse
    it with ValidationError({"file": [...]}) / PayloadTooLarge if it cannot be
    imported at all, then run it now (small files: the job comes back finished)
    or queue it for the worker (files over IMPORT_ASYNC_ROWS rows: the job comes
    back with `background` set, or FAILED without it if no worker could be asked)."""
    if not roles.can_triage(actor):
        raise PermissionDenied("Only maintainers and admins may import issues.")
    job_id = uuid.uuid4()
    relative = f"{IMPORT_DIR}/{job_id.hex}.csv"
    path = Path(settings.MEDIA_ROOT) / relative
    stored = store_upload(upload, path)
    try:
        if stored.size == 0:
            raise file_error("The file is empty.")
        header = read_header(path)
        estimate = max(0, stored.lines - 1)  # every row takes at least one line
        limit = settings.IMPORT_MAX_ROWS
        if estimate > limit and (rows := count_records(path, header)) > limit:
            raise file_error(
                f"The file has {rows} rows; at most {limit} can be imported at once. "
                "Split it into smaller files."
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job = ImportJob.objects.create(
        id=job_id,
        created_by=actor,
        file_name=(file_name or getattr(upload, "name", "") or "import.csv")[:255],
        stored_file=relative,
        import_id=stored.sha256,
        dry_run=dry_run,
        total_lines=stored.lines,
    )
    if estimate > settings.IMPORT_ASYNC_ROWS:
        transaction.on_commit(partial(_enqueue, job.pk))
        job.refresh_from_db()
        # With the worker, unless sending it failed (FAILED before it ever started):
        # outside a transaction the worker may have taken it, or even finished or
        # failed it, already.
        job.background = not (job.status == ImportStatus.FAILED and job.started_at is None)
        return job
    return run_job(job.pk)


def _enqueue(job_id) -> None:
    from issues.importer.tasks import import_csv

    options = {"queue": settings.IMPORT_QUEUE} if settings.IMPORT_QUEUE else {}
    try:
        import_csv.apply_async(args=[str(job_id)], **options)
    except Exception as exc:  # the broker is down: say so on the job, do not lose it silently
        log.exception("could not queue import %s", job_id)
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            detail=f"The background worker could not be reached ({exc}); nothing was "
            "imported. Try again later.",
        )


class _Run:
    """The counters of one run of a job, written to the job after every batch."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.rows = self.created = self.skipped = self.error_count = self.line = 0
        self.errors: list[dict] = []
        self.batch: list[Row] = []

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = settings.IMPORT_MAX_ERRORS - len(self.errors)
        self.errors.extend(error.as_dict() for error in errors[: max(0, room)])

    def progress_fields(self, *, created: int | None = None, skipped: int | None = None) -> dict:
        return {
            "processed_lines": self.line,
            "rows": self.rows,
            "created_count": self.created if created is None else created,
            "skipped_count": self.skipped if skipped is None else skipped,
            "error_count": self.error_count,
        }


class JobAbandoned(Exception):
    """The job stopped being this run's: it was declared abandoned meanwhile."""


def run_job(job_id) -> ImportJob:
    """Import the job's stored file: every good row, in batches of
    IMPORT_BATCH_SIZE, each batch one transaction that also records the job's
    progress and a heartbeat. Rows this file already produced (same import id,
    same line) are skipped, so re-running is safe. A dry run only validates. If
    anything goes wrong the job is marked FAILED, saying how many issues were
    created, and the exception propagates.

    Only a QUEUED job is run: taking it (QUEUED -> RUNNING) is one conditional
    UPDATE, so a task delivered twice runs it once. A redelivered task finding it
    RUNNING leaves it to its worker, unless that worker has stopped sending
    heartbeats (issues.importer.abandoned): then the job is marked FAILED."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    now = timezone.now()
    taken = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now, detail=""
    )
    if not taken:
        if job.status == ImportStatus.RUNNING:
            reap_if_abandoned(job)
        return ImportJob.objects.select_related("created_by").get(pk=job.pk)
    path = Path(settings.MEDIA_ROOT) / job.stored_file
    run = _Run(job)
    try:
        actor = job.created_by
        if not roles.can_triage(actor):
            raise PermissionDenied(f"{actor} may no longer import issues.")
        header = read_header(path)
        reader = RowReader(actor=actor, header=header)
        batch_size = max(1, settings.IMPORT_BATCH_SIZE)
        for batch in batched(records(path, header), batch_size):
            reader.prefetch(batch)
            for record in batch:
                run.rows += 1
                row, errors = reader.read(record)
                run.add_errors(errors)
                if row is not None:
                    run.batch.append(row)
                run.line = record.last_line
            _flush(run)
    except Exception as exc:
        try:  # what the committed batches created
            created = ImportJob.objects.get(pk=job.pk).created_count
        except Exception:
            created = run.created
        # (Unless another delivery of the same task finished it meanwhile.)
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            errors=run.errors,
            error_count=run.error_count,
            detail=f"The import stopped after creating {created} "
            f"issue{'s' if created != 1 else ''}: {_reason(exc)} "
            "Importing the same file again skips the rows already imported.",
        )
        raise
    finally:
        path.unlink(missing_ok=True)
    ImportJob.objects.filter(pk=job.pk).update(  # every batch is in, whatever was said meanwhile
        status=ImportStatus.DONE,
        finished_at=timezone.now(),
        detail="",
        errors=run.errors,
        **run.progress_fields(),
    )
    return ImportJob.objects.select_related("created_by").get(pk=job.pk)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last one shorter); itertools.batched from 3.12."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else f"{text}."


def _flush(run: _Run) -> None:
    """Write the batch (unless a dry run) and the job's progress, in one transaction.
    The progress update is also the heartbeat, and the proof that the job is still
    this run's: if it was declared abandoned meanwhile, the batch is rolled back."""
    job, rows = run.job, run.batch
    run.batch = []
    with transaction.atomic():
        created = skipped = 0
        if rows:
            created, skipped = (_count_new if job.dry_run else _write)(job, rows)
        still_ours = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            heartbeat_at=timezone.now(),
            **run.progress_fields(created=run.created + created, skipped=run.skipped + skipped),
        )
        if not still_ours:
            raise JobAbandoned(
                "The import was declared stopped (no heartbeat) while its worker was still "
                "running; this batch was not written."
            )
    run.created += created
    run.skipped += skipped


def job_result(job: ImportJob) -> dict:
    """What a finished (or running) job says, for the API and the pages."""
    return {
        "id": str(job.pk),
        "status": job.status.lower(),
        "dry_run": job.dry_run,
        "file_name": job.file_name,
        "created": job.created_count,
        "skipped": job.skipped_count,
        "error_count": job.error_count,
        "errors": job.errors,
        "errors_truncated": job.error_count > len(job.errors),
        "rows": job.rows,
        "total_lines": job.total_lines,
        "processed_lines": job.processed_lines,
        "progress": job.progress,
        "detail": job.detail,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }

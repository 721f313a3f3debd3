"""Jobs whose worker died: found by their heartbeat, marked FAILED with what got in.

A running import writes `heartbeat_at` with every batch, in the batch's own
transaction (see jobs._flush). A worker that is killed (SIGKILL, the OOM killer,
a lost machine) stops doing so, and the batches it committed stay committed. A
RUNNING job without a heartbeat for IMPORT_STALE_SECONDS is therefore abandoned:
it is marked FAILED, saying how many rows had been imported, and its stored copy
of the file is removed. Importing the same file again then creates only the rows
still missing (ImportedRow keys every issue to its file and line).

Who looks: Celery beat every minute (`issues.reap_abandoned_imports`), the job's
page and its API status (so a person watching a job sees it fail even without
beat), and a redelivered task that finds its job RUNNING. Each marks a job with
one conditional UPDATE on the heartbeat it read, so a batch committing at the
same moment wins and the job is left alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from issues.models import ImportJob, ImportStatus

log = logging.getLogger(__name__)


def is_abandoned(job: ImportJob, now=None) -> bool:
    if job.status != ImportStatus.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at or job.created_at
    now = now or timezone.now()
    return last < now - timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def reap_if_abandoned(job: ImportJob) -> bool:
    """Mark `job` FAILED if its worker stopped; `job` is refreshed either way.
    True if this call marked it."""
    now = timezone.now()
    if not is_abandoned(job, now):
        return False
    imported = job.created_count
    s = "" if imported == 1 else "s"
    last = job.heartbeat_at or job.started_at or job.created_at
    reaped = ImportJob.objects.filter(
        pk=job.pk, status=ImportStatus.RUNNING, heartbeat_at=job.heartbeat_at
    ).update(
        status=ImportStatus.FAILED,
        finished_at=now,
        detail=f"{imported} row{s} imported before the worker stopped (no sign of life "
        f"since {last:%Y-%m-%d %H:%M:%S} UTC, line {job.processed_lines} of "
        f"{job.total_lines}). Importing the same file again skips the rows already "
        "imported and creates the rest.",
    )
    if reaped:
        log.warning("import %s abandoned by its worker after %s rows", job.pk, imported)
        if job.stored_file:
            (Path(settings.MEDIA_ROOT) / job.stored_file).unlink(missing_ok=True)
    job.refresh_from_db()
    return bool(reaped)


def reap_abandoned() -> int:
    """Every abandoned job: how many were marked FAILED."""
    cutoff = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    running = ImportJob.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True), status=ImportStatus.RUNNING
    )
    return sum(reap_if_abandoned(job) for job in running)

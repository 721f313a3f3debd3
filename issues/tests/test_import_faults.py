"""An import whose worker dies: a real Celery worker SIGKILLed in the middle of a
file leaves its committed batches, the job is reported FAILED with how many rows
got in, and importing the same file again creates exactly the missing rows. Also
the heartbeat rules (issues.importer.abandoned) one by one."""

import signal
import time
from datetime import timedelta

import psycopg
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import importer
from issues.importer import abandoned, jobs
from issues.importer.tasks import reap_abandoned_imports
from issues.models import EventKind, ImportedRow, ImportJob, ImportStatus, Issue, IssueEvent
from issues.tests.api import client_for
from issues.tests.csv_helpers import run_import, upload, wait_for_job, write_rows
from tracker.tests.support import CeleryWorker, database_url

URL = "/api/issues/import/"
ROWS = 20_000


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def start_worker(settings, tmp_path, name: str) -> CeleryWorker:
    worker = CeleryWorker(
        tmp_path / f"{name}.log",
        prefix="test-import-kill",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        IMPORT_BATCH_SIZE="50",
    )
    settings.IMPORT_QUEUE = worker.queue
    worker.wait_ready()
    return worker


def wait_until(condition, timeout: float, what: str, worker: CeleryWorker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}:\n{worker.output() if worker else ''}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_file_fails_the_job_and_a_rerun_creates_only_the_missing_rows(
    settings, tmp_path
):
    settings.IMPORT_ASYNC_ROWS = 100
    settings.IMPORT_STALE_SECONDS = 1
    api = client_for(UserFactory(role="MAINTAINER"))
    path = write_rows(tmp_path / "big.csv", ROWS)

    worker = start_worker(settings, tmp_path, "first")
    try:
        response = api.post(URL, {"file": upload(path.read_bytes(), "big.csv")}, format="multipart")
        assert response.status_code == 202, response.content
        job_id, status_url = response.json()["id"], response["Location"]
        # Some batches in (each commits with its rows), then the worker is killed outright.
        wait_until(
            lambda: ImportJob.objects.get(pk=job_id).created_count >= 500,
            60,
            "the first batches",
            worker,
        )
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=10)
    finally:
        worker.stop()

    job = ImportJob.objects.get(pk=job_id)
    imported = job.created_count
    assert job.status == ImportStatus.RUNNING  # nobody has noticed yet
    assert 500 <= imported < ROWS, "the worker finished before it could be killed"
    # Exactly the committed batches are there: nothing half-written.
    assert imported % 50 == 0
    assert Issue.objects.count() == imported
    assert ImportedRow.objects.filter(import_id=job.import_id).count() == imported
    assert IssueEvent.objects.filter(kind=EventKind.IMPORTED).count() == imported

    # The job's status (API or page) notices the missing heartbeat and says what got in.
    def failed_status():
        body = api.get(status_url).json()
        return body if body["status"] == "failed" else None

    body = wait_until(failed_status, 10, "the job to be declared failed")
    assert body["detail"].startswith(f"{imported} rows imported before the worker stopped")
    assert "Importing the same file again skips the rows already imported" in body["detail"]
    assert body["created"] == imported
    assert not (settings.MEDIA_ROOT / job.stored_file).exists()

    # The same file again, through a new worker: only the missing rows.
    worker = start_worker(settings, tmp_path, "second")
    try:
        again = api.post(URL, {"file": upload(path.read_bytes(), "big.csv")}, format="multipart")
        assert again.status_code == 202, again.content
        wait_for_job(again.json()["id"], worker=worker)
    finally:
        worker.stop()
    rerun = ImportJob.objects.get(pk=again.json()["id"])
    assert rerun.import_id == job.import_id
    assert (rerun.status, rerun.created_count, rerun.skipped_count, rerun.error_count) == (
        ImportStatus.DONE,
        ROWS - imported,
        imported,
        0,
    ), rerun.detail
    assert Issue.objects.count() == ROWS
    assert Issue.objects.values("title").distinct().count() == ROWS
    assert ImportedRow.objects.filter(import_id=job.import_id).count() == ROWS


# --- the heartbeat rules ------------------------------------------------------------------


def queued_job(maintainer, settings, monkeypatch, content="title\na\nb\nc\nd\ne\n"):
    settings.IMPORT_ASYNC_ROWS = 1
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    return run_import(maintainer, content)


def running(job, *, seconds_ago: float, created: int = 0) -> ImportJob:
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING,
        started_at=beat,
        heartbeat_at=beat,
        created_count=created,
        processed_lines=created + 1,
    )
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_beat_fails_running_jobs_without_a_heartbeat_and_leaves_live_ones(
    maintainer, settings, monkeypatch
):
    settings.IMPORT_STALE_SECONDS = 60
    dead = running(queued_job(maintainer, settings, monkeypatch), seconds_ago=61, created=1)
    alive = running(queued_job(maintainer, settings, monkeypatch, "title\nz\ny\n"), seconds_ago=5)
    done = run_import(maintainer, "title\nsmall\n")

    assert reap_abandoned_imports() == 1
    assert reap_abandoned_imports() == 0  # once

    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED
    assert dead.detail.startswith("1 row imported before the worker stopped (no sign of life")
    assert dead.finished_at is not None
    assert not (settings.MEDIA_ROOT / dead.stored_file).exists()
    alive.refresh_from_db()
    assert alive.status == ImportStatus.RUNNING
    assert (settings.MEDIA_ROOT / alive.stored_file).exists()
    done.refresh_from_db()
    assert done.status == ImportStatus.DONE


@pytest.mark.django_db
def test_a_heartbeat_that_moved_since_it_was_read_wins(maintainer, settings, monkeypatch):
    settings.IMPORT_STALE_SECONDS = 60
    job = running(queued_job(maintainer, settings, monkeypatch), seconds_ago=300)
    # A batch commits between the look and the mark: the job is alive after all.
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    assert importer.reap_if_abandoned(job) is False
    assert job.status == ImportStatus.RUNNING


@pytest.mark.django_db
def test_the_job_page_says_when_the_worker_died(maintainer, client, settings, monkeypatch):
    settings.IMPORT_STALE_SECONDS = 60
    job = running(queued_job(maintainer, settings, monkeypatch), seconds_ago=120, created=3)
    client.force_login(maintainer)

    page = client.get(reverse("issues:import-job", kwargs={"job_id": job.pk}))

    assert "3 rows imported before the worker stopped" in page.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED


@pytest.mark.django_db
def test_a_redelivered_task_runs_a_job_once(maintainer, settings, monkeypatch):
    settings.IMPORT_STALE_SECONDS = 60
    job = queued_job(maintainer, settings, monkeypatch)
    first = importer.run_job(job.pk)
    assert (first.status, first.created_count) == (ImportStatus.DONE, 5)

    again = importer.run_job(job.pk)  # the same message delivered again

    assert (again.status, again.created_count) == (ImportStatus.DONE, 5)
    assert Issue.objects.count() == 5

    # Delivered again while another worker runs it: left alone; once that worker is
    # silent for too long: failed, not run a second time.
    other = running(queued_job(maintainer, settings, monkeypatch, "title\np\nq\n"), seconds_ago=5)
    assert importer.run_job(other.pk).status == ImportStatus.RUNNING
    running(other, seconds_ago=61)
    assert importer.run_job(other.pk).status == ImportStatus.FAILED
    assert Issue.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_run_declared_dead_while_alive_stops_without_writing_its_batch(
    maintainer, settings, monkeypatch
):
    """E.g. a batch stuck on a lock longer than IMPORT_STALE_SECONDS: when the
    worker comes back, the job is no longer its own, and it writes nothing more."""
    settings.IMPORT_BATCH_SIZE = 2
    job = queued_job(maintainer, settings, monkeypatch)
    write, calls = jobs._write, []

    def write_then_get_reaped(job, rows):
        calls.append(len(rows))
        if len(calls) == 2:  # another process (beat, a page view) marks the job meanwhile
            with psycopg.connect(database_url(), autocommit=True) as other:
                other.execute(
                    "UPDATE issues_importjob SET status = 'FAILED', detail = 'reaped' "
                    "WHERE id = %s",
                    [job.pk],
                )
        return write(job, rows)

    monkeypatch.setattr(jobs, "_write", write_then_get_reaped)
    with pytest.raises(jobs.JobAbandoned):
        importer.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.detail, job.created_count) == (ImportStatus.FAILED, "reaped", 2)
    assert Issue.objects.count() == 2  # the second batch was rolled back
    assert not abandoned.is_abandoned(job)

"""The aggregation task through a REAL Celery worker process and the REAL Redis
broker (not eager mode): the worker is started on a queue of its own, reads the
test database (the rows are committed: transactional test), and writes DailyStat
rows that must equal direct counts."""

import time
from pathlib import Path

import pytest
from django.conf import settings

from issues import services
from issues.models import Issue, Severity, Status
from reports import tasks
from reports.models import DailyStat
from tracker.tests.support import ROOT, CeleryWorker, today_clear_of_midnight

CELERY = ROOT / ".venv" / "bin" / "celery"
TIMEOUT = 60


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A worker consuming only its own queue; stopped (and waited for) at the end,
    before the test database is flushed."""
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    process = CeleryWorker(
        tmp_path / "worker.log",
        prefix="reports-test",
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_RESULT_BACKEND=settings.CELERY_RESULT_BACKEND,
    )
    try:
        yield process.queue, process.process, process.log
    finally:
        process.stop()


def direct_counts() -> dict[tuple[str, int], int]:
    return {
        (status, severity): Issue.objects.filter(status=status, severity=severity).count()
        for status in Status.values
        for severity in Severity.values
    }


def stored_counts(day) -> dict[tuple[str, int], int]:
    return {(row.status, row.severity): row.count for row in DailyStat.objects.filter(date=day)}


def run_in_worker(queue: str, proc, log: Path) -> int:
    result = tasks.aggregate_daily_stats.apply_async(queue=queue)
    try:
        return result.get(timeout=TIMEOUT)
    except Exception:
        pytest.fail(
            f"the worker did not run the task (exit code {proc.poll()}):\n{log.read_text()[-4000:]}"
        )


@pytest.mark.django_db(transaction=True)
def test_the_task_runs_in_a_real_worker_and_writes_the_direct_counts(worker, maintainer):
    queue, proc, log = worker
    spec = [
        (Status.OPEN, Severity.LOW),
        (Status.OPEN, Severity.LOW),
        (Status.OPEN, Severity.CRITICAL),
        (Status.TRIAGED, Severity.HIGH),
        (Status.IN_PROGRESS, Severity.MEDIUM),
        (Status.DONE, Severity.HIGH),
        (Status.DONE, Severity.HIGH),
    ]
    for status, severity in spec:
        services.create_issue(actor=maintainer, title="Counted", status=status, severity=severity)
    today = today_clear_of_midnight()  # the day the worker's own clock will name

    written = run_in_worker(queue, proc, log)

    assert written == 16
    assert stored_counts(today) == direct_counts()
    assert stored_counts(today)[(Status.OPEN, Severity.LOW)] == 2
    assert stored_counts(today)[(Status.DONE, Severity.HIGH)] == 2
    assert sum(stored_counts(today).values()) == len(spec)

    # A change, then a second run through the worker: same 16 rows, new counts.
    first_ids = set(DailyStat.objects.values_list("pk", flat=True))
    moving = Issue.objects.filter(status=Status.OPEN, severity=Severity.CRITICAL).get()
    services.change_status(actor=maintainer, issue=moving, version=1, status=Status.DONE)

    assert run_in_worker(queue, proc, log) == 16
    assert set(DailyStat.objects.values_list("pk", flat=True)) == first_ids
    assert stored_counts(today) == direct_counts()
    assert stored_counts(today)[(Status.DONE, Severity.CRITICAL)] == 1

    # It was the worker process that ran it, twice.
    deadline = time.monotonic() + 10
    while log.read_text().count("succeeded") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    text = log.read_text()
    assert text.count("Task reports.tasks.aggregate_daily_stats[") >= 2, text[-3000:]
    assert proc.poll() is None

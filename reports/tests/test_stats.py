import datetime

import pytest
from django.utils import timezone

from issues import services
from issues.models import Issue, Severity, Status
from reports import tasks
from reports.models import DailyStat
from reports.stats import aggregate_daily_stats

# The tests name today's date themselves and the aggregation works out its own:
# with the clock held, the two cannot fall either side of midnight.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("held_now")]

CELLS = [(status, severity) for status in Status.values for severity in Severity.values]


def direct_counts() -> dict[tuple[str, int], int]:
    return {
        (status, severity): Issue.objects.filter(status=status, severity=severity).count()
        for status, severity in CELLS
    }


def stored_counts(day: datetime.date) -> dict[tuple[str, int], int]:
    return {(row.status, row.severity): row.count for row in DailyStat.objects.filter(date=day)}


@pytest.fixture
def varied_issues(maintainer, reporter):
    """Issues in several (status, severity) cells, some cells holding more than one."""
    spec = [
        (Status.OPEN, Severity.LOW),
        (Status.OPEN, Severity.LOW),
        (Status.OPEN, Severity.CRITICAL),
        (Status.TRIAGED, Severity.MEDIUM),
        (Status.IN_PROGRESS, Severity.HIGH),
        (Status.IN_PROGRESS, Severity.HIGH),
        (Status.IN_PROGRESS, Severity.HIGH),
        (Status.DONE, Severity.MEDIUM),
    ]
    return [
        services.create_issue(
            actor=maintainer, title=f"{status} {severity}", status=status, severity=severity
        )
        for status, severity in spec
    ]


def test_every_status_and_severity_cell_is_written_with_the_direct_count(varied_issues):
    today = timezone.now().date()

    written = aggregate_daily_stats()

    assert written == 16
    assert len(CELLS) == 16
    assert stored_counts(today) == direct_counts()
    assert stored_counts(today)[(Status.IN_PROGRESS, Severity.HIGH)] == 3
    assert stored_counts(today)[(Status.OPEN, Severity.LOW)] == 2
    assert stored_counts(today)[(Status.DONE, Severity.CRITICAL)] == 0
    assert sum(stored_counts(today).values()) == len(varied_issues)


def test_with_no_issues_every_cell_is_written_as_zero():
    written = aggregate_daily_stats()

    assert written == 16
    assert stored_counts(timezone.now().date()) == dict.fromkeys(CELLS, 0)


def test_running_twice_gives_the_same_rows(varied_issues):
    aggregate_daily_stats()
    first = list(DailyStat.objects.values_list("pk", "date", "status", "severity", "count"))

    written = aggregate_daily_stats()

    second = list(DailyStat.objects.values_list("pk", "date", "status", "severity", "count"))
    assert written == 16
    assert second == first
    assert DailyStat.objects.count() == 16


def test_a_rerun_picks_up_changes_including_cells_that_emptied(maintainer, admin_user):
    only_critical = services.create_issue(
        actor=maintainer, title="Lonely", severity=Severity.CRITICAL
    )
    moving = services.create_issue(actor=maintainer, title="Moving", severity=Severity.LOW)
    today = timezone.now().date()
    aggregate_daily_stats()
    assert stored_counts(today)[(Status.OPEN, Severity.CRITICAL)] == 1
    assert stored_counts(today)[(Status.OPEN, Severity.LOW)] == 1

    services.delete_issue(actor=admin_user, issue=only_critical)
    services.change_status(actor=maintainer, issue=moving, version=1, status=Status.DONE)
    aggregate_daily_stats()

    counts = stored_counts(today)
    assert counts == direct_counts()
    assert counts[(Status.OPEN, Severity.CRITICAL)] == 0
    assert counts[(Status.OPEN, Severity.LOW)] == 0
    assert counts[(Status.DONE, Severity.LOW)] == 1
    assert DailyStat.objects.count() == 16


def test_a_given_day_gets_its_own_rows_and_leaves_other_days_alone(varied_issues, maintainer):
    yesterday = timezone.now().date() - datetime.timedelta(days=1)
    aggregate_daily_stats(yesterday)
    services.create_issue(actor=maintainer, title="Late", severity=Severity.LOW)

    aggregate_daily_stats()

    today_counts = stored_counts(timezone.now().date())
    assert today_counts == direct_counts()
    assert stored_counts(yesterday)[(Status.OPEN, Severity.LOW)] == 2
    assert today_counts[(Status.OPEN, Severity.LOW)] == 3
    assert DailyStat.objects.count() == 32


def test_the_celery_task_runs_the_aggregation(varied_issues):
    assert tasks.aggregate_daily_stats.name == "reports.tasks.aggregate_daily_stats"

    written = tasks.aggregate_daily_stats.apply().get()

    assert written == 16
    assert stored_counts(timezone.now().date()) == direct_counts()

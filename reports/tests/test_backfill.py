"""Rebuilding past DailyStat rows from hand-built timelines: each issue counts on
each day in the status and severity it had at the end of that day (UTC)."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import services
from issues.models import EventKind, Issue, Severity, Status
from reports.backfill import backfill_daily_stats
from reports.models import DailyStat
from reports.stats import aggregate_daily_stats
from reports.tests.helpers import add_event, at, issue_at

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = datetime.timedelta(days=1)
DAYS = [D(2025, 3, 1) + n * DAY for n in range(6)]  # March 1st to 6th
CHANGED, BULK = EventKind.FIELD_CHANGED, EventKind.BULK_CHANGE


def stats(day: datetime.date) -> dict[tuple[str, int], int]:
    """The non-zero cells of a day."""
    return {
        (row.status, row.severity): row.count
        for row in DailyStat.objects.filter(date=day)
        if row.count
    }


def set_state(issue, status, severity) -> None:
    """The issue's current row, as its last event left it."""
    resolved = timezone.now() if status == Status.DONE else None
    Issue.objects.filter(pk=issue.pk).update(status=status, severity=severity, resolved_at=resolved)


@pytest.fixture
def histories(maintainer):
    """Five issues whose states day by day are written out in the test below."""
    d = DAYS
    # A: opened on the 2nd (LOW, OPEN); triaged and raised to HIGH on the 3rd;
    # closed in a bulk change on the 5th.
    a = issue_at(maintainer, at(d[1], 10), severity=Severity.LOW, title="A")
    add_event(a, at(d[2], 12), CHANGED, "status", "OPEN", "TRIAGED")
    add_event(a, at(d[2], 13), CHANGED, "severity", "LOW", "HIGH")
    add_event(a, at(d[4], 9), BULK, "status", "TRIAGED", "DONE")
    set_state(a, Status.DONE, Severity.HIGH)

    # B: opened at the last second of the 3rd (CRITICAL); closed and reopened on
    # the 4th, so the end of the 4th sees it open; lowered to MEDIUM at midnight
    # starting the 6th.
    b = issue_at(maintainer, at(d[2], 23, 59, 59), severity=Severity.CRITICAL, title="B")
    add_event(b, at(d[3], 10), CHANGED, "status", "OPEN", "DONE")
    add_event(b, at(d[3], 11), CHANGED, "status", "DONE", "OPEN")
    add_event(b, at(d[5], 0, 0, 0), CHANGED, "severity", "CRITICAL", "MEDIUM")
    set_state(b, Status.OPEN, Severity.MEDIUM)

    # C: opened after the range: never counted in it.
    c = issue_at(maintainer, at(d[5] + DAY, 1), severity=Severity.LOW, title="C")

    # D: imported on the 1st as IN_PROGRESS/LOW (an IMPORTED event, not CREATED).
    imported = services.create_issue(
        actor=maintainer,
        title="D",
        status=Status.IN_PROGRESS,
        severity=Severity.LOW,
        event_kind=EventKind.IMPORTED,
    )
    Issue.objects.filter(pk=imported.pk).update(created_at=at(d[0], 8))

    # E: loaded in bulk, without a creation event: TRIAGED/HIGH on the 1st (the old
    # value of its first change), IN_PROGRESS from the 4th.
    (e,) = Issue.objects.bulk_create(
        [Issue(title="E", reporter=maintainer, status=Status.IN_PROGRESS, severity=3)]
    )
    Issue.objects.filter(pk=e.pk).update(created_at=at(d[0], 5))
    add_event(e, at(d[3], 7), CHANGED, "status", "TRIAGED", "IN_PROGRESS")

    # F: loaded in bulk without any event: as it is now (OPEN/MEDIUM) since the 2nd.
    (f,) = Issue.objects.bulk_create([Issue(title="F", reporter=maintainer)])
    Issue.objects.filter(pk=f.pk).update(created_at=at(d[1], 0, 0, 0))
    return {"a": a, "b": b, "c": c, "d": imported, "e": e, "f": f}


OPEN, TRIAGED, IN_PROGRESS, DONE = Status.values
LOW, MEDIUM, HIGH, CRITICAL = Severity.values

EXPECTED = [
    # 1st: D and E exist.
    {(IN_PROGRESS, LOW): 1, (TRIAGED, HIGH): 1},
    # 2nd: A and F appear.
    {(IN_PROGRESS, LOW): 1, (TRIAGED, HIGH): 1, (OPEN, LOW): 1, (OPEN, MEDIUM): 1},
    # 3rd: A triaged and HIGH (joins E's cell); B appears at 23:59:59.
    {(IN_PROGRESS, LOW): 1, (TRIAGED, HIGH): 2, (OPEN, MEDIUM): 1, (OPEN, CRITICAL): 1},
    # 4th: E moves to IN_PROGRESS; B was closed and reopened the same day.
    {
        (IN_PROGRESS, LOW): 1,
        (IN_PROGRESS, HIGH): 1,
        (TRIAGED, HIGH): 1,
        (OPEN, MEDIUM): 1,
        (OPEN, CRITICAL): 1,
    },
    # 5th: A done.
    {
        (IN_PROGRESS, LOW): 1,
        (IN_PROGRESS, HIGH): 1,
        (DONE, HIGH): 1,
        (OPEN, MEDIUM): 1,
        (OPEN, CRITICAL): 1,
    },
    # 6th: B lowered to MEDIUM at midnight (joins F).
    {(IN_PROGRESS, LOW): 1, (IN_PROGRESS, HIGH): 1, (DONE, HIGH): 1, (OPEN, MEDIUM): 2},
]


def test_each_day_counts_each_issue_as_it_stood_at_the_end_of_that_day(histories):
    written = backfill_daily_stats(DAYS[0], DAYS[-1])

    assert written == 6 * 16
    assert DailyStat.objects.count() == 6 * 16
    for day, expected in zip(DAYS, EXPECTED, strict=True):
        assert stats(day) == expected, day
    assert stats(DAYS[0] - DAY) == {}


def test_a_part_of_the_range_gives_the_same_days(histories):
    backfill_daily_stats(DAYS[3], DAYS[4])

    assert DailyStat.objects.count() == 2 * 16
    assert stats(DAYS[3]) == EXPECTED[3]
    assert stats(DAYS[4]) == EXPECTED[4]


def test_a_day_before_any_issue_is_all_zeros(histories):
    day = DAYS[0] - 10 * DAY
    backfill_daily_stats(day, day)

    assert DailyStat.objects.filter(date=day).count() == 16
    assert stats(day) == {}


def test_running_again_gives_the_same_rows_and_corrects_wrong_ones(histories):
    DailyStat.objects.create(date=DAYS[2], status=DONE, severity=LOW, count=42)
    DailyStat.objects.create(date=DAYS[0] - DAY, status=OPEN, severity=LOW, count=7)

    backfill_daily_stats(DAYS[0], DAYS[-1])
    first = list(DailyStat.objects.values_list("pk", "date", "status", "severity", "count"))
    backfill_daily_stats(DAYS[0], DAYS[-1])
    second = list(DailyStat.objects.values_list("pk", "date", "status", "severity", "count"))

    assert first == second
    assert stats(DAYS[2]) == EXPECTED[2]  # the wrong 42 is gone
    assert stats(DAYS[0] - DAY) == {(OPEN, LOW): 7}  # outside the range: left alone
    assert DailyStat.objects.count() == 6 * 16 + 1


def test_today_matches_the_aggregation_task(maintainer, admin_user):
    """Through the services, today: the timeline says what the table says."""
    issues = [
        services.create_issue(actor=maintainer, title=f"T{n}", severity=Severity.values[n % 4])
        for n in range(6)
    ]
    services.change_status(actor=maintainer, issue=issues[0], version=1, status=Status.TRIAGED)
    services.update_issue(
        actor=maintainer, issue=issues[1], version=1, changes={"severity": "CRITICAL"}
    )
    services.bulk_change_status(
        actor=maintainer, ids=[i.pk for i in issues[2:5]], status=Status.DONE
    )
    services.change_status(actor=maintainer, issue=issues[3], version=2, status=Status.OPEN)
    services.delete_issue(actor=admin_user, issue=issues[5])
    today = timezone.now().date()

    backfill_daily_stats(today, today)
    rebuilt = stats(today)
    aggregate_daily_stats(today)

    assert rebuilt == stats(today)
    assert rebuilt == {
        (TRIAGED, LOW): 1,
        (OPEN, CRITICAL): 2,  # raised to CRITICAL; closed and reopened
        (DONE, HIGH): 1,
        (DONE, LOW): 1,
    }
    assert sum(rebuilt.values()) == 5


def test_it_is_one_statement_whatever_the_number_of_issues(histories, maintainer):
    with CaptureQueriesContext(connection) as few:
        backfill_daily_stats(DAYS[0], DAYS[-1])
    Issue.objects.bulk_create(Issue(title=f"M{n}", reporter=maintainer) for n in range(200))
    with CaptureQueriesContext(connection) as many:
        backfill_daily_stats(DAYS[0], DAYS[-1])

    statements = [q for q in many.captured_queries if "reports_dailystat" in q["sql"]]
    assert len(statements) == 1
    assert len(few) == len(many)


# --- the command --------------------------------------------------------------------


def test_the_command_backfills_a_range(histories):
    out = StringIO()
    call_command("backfill_stats", "--since", "2025-03-01", "--until", "2025-03-06", stdout=out)

    assert "6 day(s) from 2025-03-01 to 2025-03-06: 96 rows written" in out.getvalue()
    for day, expected in zip(DAYS, EXPECTED, strict=True):
        assert stats(day) == expected


def test_the_command_runs_up_to_today_by_default(held_now):
    today = held_now.date()
    call_command("backfill_stats", "--since", (today - 2 * DAY).isoformat(), stdout=StringIO())

    assert sorted(set(DailyStat.objects.values_list("date", flat=True))) == [
        today - 2 * DAY,
        today - DAY,
        today,
    ]
    assert DailyStat.objects.count() == 3 * 16


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "March"], "not a date"),
        (["--since", "2025-03-05", "--until", "2025-03-01"], "must not be after"),
        (["--since", "2025-03-01", "--until", "2999-01-01"], "in the future"),
        (["--since", "1900-01-01"], "on or after"),
    ],
)
def test_the_command_refuses_bad_ranges(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_stats", *args, stdout=StringIO())
    assert not DailyStat.objects.exists()

"""Each report against values worked out by hand, the period rules, and the
number of SQL queries (constant, whatever the number of issues)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues.models import Issue, Severity, Status
from reports import queries
from reports.models import DailyStat
from reports.queries import Period, human_duration, parse_limit, parse_period
from reports.tests.helpers import at, issue_at

pytestmark = pytest.mark.django_db

D = datetime.date
H = datetime.timedelta(hours=1)
MARCH = Period(D(2025, 3, 1), D(2025, 3, 31))


@pytest.fixture
def alice(db):
    return UserFactory(role="MAINTAINER", display_name="Alice Adams")


@pytest.fixture
def bob(db):
    return UserFactory(role="ADMIN", display_name="", email="bob.builder@example.com")


# --- periods --------------------------------------------------------------------


def test_the_default_period_is_the_last_90_days_up_to_today_utc(held_now):
    period = parse_period()
    today = held_now.astimezone(datetime.UTC).date()

    assert period.until == today
    assert period.since == today - datetime.timedelta(days=89)
    assert period.days == 90
    assert parse_period("", "  ") == period


def test_a_period_covers_whole_utc_days_both_ends_included():
    period = parse_period("2025-03-01", "2025-03-31")

    assert period == MARCH
    assert period.start == datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)
    assert period.end == datetime.datetime(2025, 4, 1, tzinfo=datetime.UTC)
    assert period.days == 31
    assert period.as_query() == {"since": "2025-03-01", "until": "2025-03-31"}


def test_only_one_end_given(held_now):
    assert parse_period(until="2025-03-31").since == D(2025, 1, 1)  # 90 days
    # A `since` a while back (a fixed date would one day be over MAX_DAYS ago).
    today = held_now.date()
    since = today - datetime.timedelta(days=300)
    assert parse_period(since=since.isoformat()) == Period(since, today)


@pytest.mark.parametrize(
    ("since", "until", "field", "words"),
    [
        ("yesterday", None, "since", "YYYY-MM-DD"),
        ("2025-02-30", None, "since", "not a date"),
        (None, "2025/03/01", "until", "YYYY-MM-DD"),
        (None, "٢٠٢٥-٠٣-٠١", "until", "YYYY-MM-DD"),  # non-ASCII digits
        ("0001-01-01", "2025-01-01", "since", "between"),
        ("2025-03-02", "2025-03-01", "until", "must not be before"),
        ("2020-01-01", "2025-01-01", "since", "at most"),
        ("2025-01-01\x00", None, "since", "YYYY-MM-DD"),
    ],
)
def test_bad_periods_name_the_parameter(since, until, field, words):
    with pytest.raises(ValidationError) as caught:
        parse_period(since, until)

    assert list(caught.value.message_dict) == [field]
    assert words in caught.value.message_dict[field][0]


def test_both_bad_dates_are_reported_together():
    with pytest.raises(ValidationError) as caught:
        parse_period("x", "y")
    assert set(caught.value.message_dict) == {"since", "until"}


def test_the_longest_period_is_about_three_years():
    period = parse_period("2022-01-01", "2024-12-31")
    assert period.days == queries.MAX_DAYS == 1096
    with pytest.raises(ValidationError):
        parse_period("2021-12-31", "2024-12-31")


@pytest.mark.parametrize(("raw", "expected"), [(None, 10), ("", 10), ("1", 1), (" 100 ", 100)])
def test_limits(raw, expected):
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5", "١"])
def test_bad_limits_name_the_parameter(raw):
    with pytest.raises(ValidationError) as caught:
        parse_limit(raw)
    assert list(caught.value.message_dict) == ["limit"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, None),
        (0.4, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (59 * 60 + 10, "59 min"),
        (3600, "1 h"),
        (2.5 * 3600, "2 h 30 min"),
        (7.9 * 3600, "7 h 54 min"),
        (86400, "1 d"),
        (86400 + 4 * 3600, "1 d 4 h"),
        (2 * 86400 - 60, "2 d"),
        (18.4 * 3600, "18 h 24 min"),
    ],
)
def test_human_durations(seconds, text):
    assert human_duration(seconds) == text


# --- permission -------------------------------------------------------------------


@pytest.mark.parametrize(
    "report",
    [
        lambda user: queries.open_by_severity(user),
        lambda user: queries.by_status(user),
        lambda user: queries.top_assignees(user, MARCH),
        lambda user: queries.resolution_latency(user, MARCH),
        lambda user: queries.throughput(user, MARCH),
        lambda user: queries.open_age(user),
    ],
)
def test_reports_refuse_reporters_and_anonymous(report, reporter):
    from django.contrib.auth.models import AnonymousUser

    for user in (reporter, AnonymousUser(), None):
        with pytest.raises(PermissionDenied):
            report(user)


# --- the reports --------------------------------------------------------------------


def test_open_by_severity_counts_every_not_done_issue_and_lists_every_severity(
    maintainer, reporter, alice
):
    march = at(D(2025, 3, 5))
    for severity, status in [
        (Severity.LOW, Status.OPEN),
        (Severity.LOW, Status.TRIAGED),
        (Severity.HIGH, Status.IN_PROGRESS),
        (Severity.CRITICAL, Status.OPEN),
        (Severity.CRITICAL, Status.DONE),  # done: not open
        (Severity.HIGH, Status.DONE),
    ]:
        issue_at(maintainer, march, status=status, severity=severity, resolved=march)
    issue_at(reporter, march, severity=Severity.HIGH)  # a reporter's issue counts too

    assert queries.open_by_severity(alice) == [
        {"severity": "LOW", "label": "Low", "count": 2},
        {"severity": "MEDIUM", "label": "Medium", "count": 0},
        {"severity": "HIGH", "label": "High", "count": 2},
        {"severity": "CRITICAL", "label": "Critical", "count": 1},
    ]


def test_by_status_counts_all_issues_in_workflow_order(maintainer):
    march = at(D(2025, 3, 5))
    for status in [Status.DONE, Status.DONE, Status.OPEN, Status.IN_PROGRESS, Status.DONE]:
        issue_at(maintainer, march, status=status, resolved=march)

    assert queries.by_status(maintainer) == [
        {"status": "OPEN", "label": "Open", "count": 1},
        {"status": "TRIAGED", "label": "Triaged", "count": 0},
        {"status": "IN_PROGRESS", "label": "In progress", "count": 1},
        {"status": "DONE", "label": "Done", "count": 3},
    ]


def test_with_no_issues_every_report_answers_zeros(maintainer):
    assert [row["count"] for row in queries.open_by_severity(maintainer)] == [0, 0, 0, 0]
    assert [row["count"] for row in queries.by_status(maintainer)] == [0, 0, 0, 0]
    assert queries.top_assignees(maintainer, MARCH) == []
    latency = queries.resolution_latency(maintainer, MARCH)
    assert latency.pop("precomputed") is False
    assert latency.pop("as_of") <= timezone.now()
    assert latency == {
        "overall": {
            "count": 0,
            "average_seconds": None,
            "average": None,
            "median_seconds": None,
            "median": None,
            "p90_seconds": None,
            "p90": None,
        },
        "assignees": [],
    }
    days = queries.throughput(maintainer, MARCH)
    assert len(days) == 31
    assert {(d["created"], d["resolved"], d["open"]) for d in days} == {(0, 0, None)}
    assert [row["count"] for row in queries.open_age(maintainer)] == [0, 0, 0, 0]


def test_top_assignees_counts_issues_resolved_in_the_period(maintainer, alice, bob):
    created = at(D(2025, 2, 1))
    inside = [at(D(2025, 3, 1), 0, 0, 0), at(D(2025, 3, 15)), at(D(2025, 3, 31), 23, 59, 59)]
    outside = [at(D(2025, 2, 28), 23, 59, 59), at(D(2025, 4, 1), 0, 0, 0)]
    for when in inside:
        issue_at(maintainer, created, resolved=when, assignee=alice)
    for when in inside[:2] + outside:
        issue_at(maintainer, created, resolved=when, assignee=bob)
    issue_at(maintainer, created, resolved=inside[1])  # unassigned: not a person
    issue_at(maintainer, created, status=Status.IN_PROGRESS, assignee=bob)  # not resolved
    carol = UserFactory(role="MAINTAINER", display_name="Carol")
    issue_at(maintainer, created, resolved=inside[1], assignee=carol)
    dave = UserFactory(role="MAINTAINER", display_name="Bea")  # ties with Carol, name first
    issue_at(maintainer, created, resolved=inside[2], assignee=dave)

    rows = queries.top_assignees(maintainer, MARCH)

    assert rows == [
        {"assignee": {"id": alice.pk, "name": "Alice Adams"}, "resolved": 3},
        {"assignee": {"id": bob.pk, "name": "bob.builder"}, "resolved": 2},
        {"assignee": {"id": dave.pk, "name": "Bea"}, "resolved": 1},
        {"assignee": {"id": carol.pk, "name": "Carol"}, "resolved": 1},
    ]
    assert queries.top_assignees(maintainer, MARCH, limit=2) == rows[:2]
    april = Period(D(2025, 4, 1), D(2025, 4, 1))
    assert queries.top_assignees(maintainer, april) == [
        {"assignee": {"id": bob.pk, "name": "bob.builder"}, "resolved": 1}
    ]


def test_resolution_latency_average_median_and_90th_percentile(maintainer, alice, bob):
    """Alice: 1, 2, 3 and 10 hours -> average 4 h; median 2.5 h; 90th percentile
    at position 0.9 x 3 = 2.7 between 3 and 10 h: 3 + 0.7 x 7 = 7.9 h.
    Bob: one issue of a day. All five: average 40 / 5 = 8 h; median 3 h;
    90th percentile at 0.9 x 4 = 3.6 between 10 and 24 h: 10 + 0.6 x 14 = 18.4 h."""
    base = at(D(2025, 3, 10), 8)
    for hours in (10, 1, 3, 2):
        issue_at(maintainer, base, resolved=base + hours * H, assignee=alice)
    issue_at(maintainer, base, resolved=base + 24 * H, assignee=bob)
    # Out of the period (resolved in February) and not resolved: left out.
    issue_at(maintainer, at(D(2025, 2, 1)), resolved=at(D(2025, 2, 27)), assignee=alice)
    issue_at(maintainer, at(D(2025, 2, 1)), status=Status.TRIAGED, assignee=alice)

    data = queries.resolution_latency(maintainer, MARCH)

    assert data["overall"] == {
        "count": 5,
        "average_seconds": pytest.approx(8 * 3600),
        "average": "8 h",
        "median_seconds": pytest.approx(3 * 3600),
        "median": "3 h",
        "p90_seconds": pytest.approx(18.4 * 3600),
        "p90": "18 h 24 min",
    }
    assert [row["assignee"] for row in data["assignees"]] == [
        {"id": alice.pk, "name": "Alice Adams"},
        {"id": bob.pk, "name": "bob.builder"},
    ]
    first, second = data["assignees"]
    assert first["count"] == 4
    assert first["average_seconds"] == pytest.approx(4 * 3600)
    assert first["median_seconds"] == pytest.approx(2.5 * 3600)
    assert first["p90_seconds"] == pytest.approx(7.9 * 3600)
    assert (first["average"], first["median"], first["p90"]) == ("4 h", "2 h 30 min", "7 h 54 min")
    assert second["count"] == 1
    assert second["average_seconds"] == second["median_seconds"] == second["p90_seconds"] == 86400
    assert second["median"] == "1 d"


def test_resolution_latency_lists_the_unassigned_as_none(maintainer, alice):
    base = at(D(2025, 3, 10))
    issue_at(maintainer, base, resolved=base + 2 * H)
    issue_at(maintainer, base, resolved=base + 4 * H)
    issue_at(maintainer, base, resolved=base + 1 * H, assignee=alice)

    data = queries.resolution_latency(maintainer, MARCH)

    assert data["overall"]["count"] == 3
    assert [(row["assignee"], row["count"], row["median"]) for row in data["assignees"]] == [
        (None, 2, "3 h"),
        ({"id": alice.pk, "name": "Alice Adams"}, 1, "1 h"),
    ]


def test_throughput_counts_per_day_with_quiet_days_as_zero(maintainer):
    period = Period(D(2025, 3, 1), D(2025, 3, 5))
    issue_at(maintainer, at(D(2025, 2, 28), 23, 59, 59))  # the day before: not counted
    issue_at(maintainer, at(D(2025, 3, 1), 0, 0, 0))
    issue_at(maintainer, at(D(2025, 3, 1), 18), resolved=at(D(2025, 3, 3), 9))
    issue_at(maintainer, at(D(2025, 3, 3), 1), resolved=at(D(2025, 3, 3), 2))
    issue_at(maintainer, at(D(2025, 2, 1)), resolved=at(D(2025, 3, 5), 23, 59, 59))
    issue_at(maintainer, at(D(2025, 3, 6), 0, 0, 0))  # the day after: not counted
    # The daily stats: open issues (not DONE) on the 2nd and the 4th only.
    for day, status, count in [
        (D(2025, 3, 2), Status.OPEN, 3),
        (D(2025, 3, 2), Status.IN_PROGRESS, 1),
        (D(2025, 3, 2), Status.DONE, 7),
        (D(2025, 3, 4), Status.OPEN, 0),
        (D(2025, 3, 4), Status.TRIAGED, 2),
        (D(2025, 2, 28), Status.OPEN, 99),  # outside the period
    ]:
        DailyStat.objects.create(date=day, status=status, severity=Severity.LOW, count=count)
    DailyStat.objects.create(date=D(2025, 3, 2), status=Status.OPEN, severity=4, count=5)

    assert queries.throughput(maintainer, period) == [
        {"date": D(2025, 3, 1), "created": 2, "resolved": 0, "open": None},
        {"date": D(2025, 3, 2), "created": 0, "resolved": 0, "open": 9},
        {"date": D(2025, 3, 3), "created": 1, "resolved": 2, "open": None},
        {"date": D(2025, 3, 4), "created": 0, "resolved": 0, "open": 2},
        {"date": D(2025, 3, 5), "created": 0, "resolved": 1, "open": None},
    ]


def test_a_day_of_only_done_issues_has_an_open_count_of_zero(maintainer):
    DailyStat.objects.create(date=D(2025, 3, 1), status=Status.DONE, severity=1, count=4)
    day = Period(D(2025, 3, 1), D(2025, 3, 1))
    assert queries.throughput(maintainer, day)[0]["open"] == 0


def test_open_age_buckets(maintainer):
    now = at(D(2025, 3, 31), 12)
    for age in [
        datetime.timedelta(0),
        datetime.timedelta(hours=23, minutes=59),
        datetime.timedelta(days=1),  # exactly a day: < 1 week
        datetime.timedelta(days=6, hours=23),
        datetime.timedelta(days=7),
        datetime.timedelta(days=29),
        datetime.timedelta(days=30),
        datetime.timedelta(days=400),
    ]:
        issue_at(maintainer, now - age, status=Status.TRIAGED)
    issue_at(maintainer, now - datetime.timedelta(days=90), resolved=now)  # done: left out

    assert queries.open_age(maintainer, now) == [
        {"bucket": "lt_1d", "label": "< 1 day", "count": 2},
        {"bucket": "lt_1w", "label": "< 1 week", "count": 2},
        {"bucket": "lt_1m", "label": "< 1 month", "count": 2},
        {"bucket": "older", "label": "older", "count": 2},
    ]


# --- cost -------------------------------------------------------------------------


REPORTS = {
    "open_by_severity": (lambda user: queries.open_by_severity(user), 1),
    "by_status": (lambda user: queries.by_status(user), 1),
    "top_assignees": (lambda user: queries.top_assignees(user, MARCH), 1),
    "resolution_latency": (lambda user: queries.resolution_latency(user, MARCH), 1),
    "throughput": (lambda user: queries.throughput(user, MARCH), 1),
    "open_age": (lambda user: queries.open_age(user), 1),
}


def _add_issues(count: int, people: list) -> None:
    """Many issues at once, spread over assignees, days, statuses and severities."""
    reporter = people[0]
    Issue.objects.bulk_create(
        Issue(
            title=f"Bulk {n}",
            reporter=reporter,
            assignee=people[n % len(people)],
            severity=Severity.values[n % 4],
            status=Status.DONE if n % 3 == 0 else Status.values[n % 3],
            resolved_at=at(D(2025, 3, 1 + n % 28)) if n % 3 == 0 else None,
        )
        for n in range(count)
    )
    Issue.objects.update(created_at=at(D(2025, 2, 20)))


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_costs_the_same_few_queries_for_3_or_300_issues(name, maintainer):
    report, expected = REPORTS[name]
    people = [maintainer] + [UserFactory(role="MAINTAINER") for _ in range(5)]
    _add_issues(3, people)
    with CaptureQueriesContext(connection) as small:
        small_result = report(maintainer)
    _add_issues(297, people)
    with CaptureQueriesContext(connection) as large:
        large_result = report(maintainer)

    assert len(small) == len(large) == expected
    assert small_result != large_result  # the numbers did grow

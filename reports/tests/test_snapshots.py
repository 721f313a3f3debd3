"""The whole-history resolution latency is computed ahead by the stats task and
served with the time it was computed; every other period is computed live."""

import datetime

import pytest
from django.test import Client

from issues.tests.api import client_for
from reports import queries, snapshots, tasks
from reports.models import ReportSnapshot
from reports.tests.helpers import at, issue_at

H = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def today(held_now):
    """The day the tests count back from, and the reports' own "today": held, so
    both are the same day even when a test runs across midnight."""
    return queries.today()


@pytest.fixture
def resolved(maintainer, today):
    """Three issues resolved 200, 100 and 10 days ago, after 1, 2 and 3 hours."""
    for days, hours in ((200, 1), (100, 2), (10, 3)):
        start = at(today - days * DAY, 8)
        issue_at(maintainer, start, resolved=start + hours * H, assignee=maintainer)


def whole(today) -> queries.Period:
    return queries.Period(today - (queries.MAX_DAYS - 1) * DAY, today)


def test_the_whole_history_runs_from_the_first_resolution_to_today(resolved, today):
    assert snapshots.whole_history() == queries.Period(today - 200 * DAY, today)


def test_the_whole_history_is_at_most_max_days_long(maintainer, today):
    start = at(today - 2000 * DAY)
    issue_at(maintainer, start, resolved=start + H)

    assert snapshots.whole_history().days == queries.MAX_DAYS


def test_without_any_resolution_the_whole_history_is_today(db, today):
    assert snapshots.whole_history() == queries.Period(today, today)


def test_a_request_for_the_whole_history_gets_the_snapshot_with_its_time(
    maintainer, resolved, today
):
    snapshot = snapshots.refresh_latency()
    # Resolved after the snapshot: not in it until the next refresh, and the
    # answer says how old it is.
    later = at(today - 2 * DAY)
    issue_at(maintainer, later, resolved=later + 50 * H, assignee=maintainer)

    data = queries.resolution_latency(maintainer, whole(today))

    assert data["precomputed"] is True
    assert data["as_of"] == snapshot.computed_at
    assert data["overall"]["count"] == 3
    assert data["overall"]["median"] == "2 h"
    assert data["assignees"][0]["assignee"]["id"] == maintainer.pk


def test_refreshing_replaces_the_snapshot(maintainer, resolved, today):
    first = snapshots.refresh_latency()
    later = at(today - 3 * DAY)
    issue_at(maintainer, later, resolved=later + 50 * H)
    second = snapshots.refresh_latency()

    assert ReportSnapshot.objects.count() == 1
    assert second.computed_at >= first.computed_at
    assert queries.resolution_latency(maintainer, whole(today))["overall"]["count"] == 4


def test_other_periods_are_computed_live(maintainer, resolved, today):
    snapshots.refresh_latency()
    ReportSnapshot.objects.update(data={"overall": {"count": 999}, "assignees": []})

    short = queries.resolution_latency(maintainer, queries.default_period())
    long_but_not_whole = queries.resolution_latency(
        maintainer, queries.Period(today - 150 * DAY, today)
    )
    ended_earlier = queries.resolution_latency(
        maintainer, queries.Period(today - 300 * DAY, today - DAY)
    )

    assert (short["precomputed"], short["overall"]["count"]) == (False, 1)
    assert (long_but_not_whole["precomputed"], long_but_not_whole["overall"]["count"]) == (
        False,
        2,
    )
    assert (ended_earlier["precomputed"], ended_earlier["overall"]["count"]) == (False, 3)


def test_without_a_snapshot_the_whole_history_is_computed_live(maintainer, resolved, today):
    data = queries.resolution_latency(maintainer, whole(today))

    assert (data["precomputed"], data["overall"]["count"]) == (False, 3)


def test_the_task_refreshes_the_snapshot(resolved):
    assert "resolution-latency" in tasks.refresh_report_snapshots()
    assert ReportSnapshot.objects.get().data["overall"]["count"] == 3


def test_the_api_says_when_a_precomputed_report_was_computed(maintainer, resolved, today):
    snapshot = snapshots.refresh_latency()
    api = client_for(maintainer)
    since = whole(today).since.isoformat()

    body = api.get(f"/api/reports/resolution-latency/?since={since}").json()
    live = api.get("/api/reports/resolution-latency/").json()

    assert body["precomputed"] is True
    assert body["as_of"] == snapshot.computed_at.isoformat().replace("+00:00", "Z")
    assert body["overall"]["count"] == 3
    assert live["precomputed"] is False


def test_the_dashboard_shows_when_a_precomputed_report_was_computed(maintainer, resolved, today):
    snapshot = snapshots.refresh_latency()
    client = Client()
    client.force_login(maintainer)
    since = whole(today).since.isoformat()

    text = client.get(f"/dashboard/?since={since}").content.decode()
    default = client.get("/dashboard/").content.decode()

    assert "The whole history, computed ahead as of" in text
    assert snapshot.computed_at.strftime("%Y-%m-%d %H:%M") in text
    assert "computed ahead" not in default

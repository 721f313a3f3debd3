"""The reports API: who may ask, what each report answers, bad periods in the one
error shape, and a constant number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.tests.factories import UserFactory
from issues.models import Issue, Severity, Status
from issues.tests.api import assert_error, client_for
from reports.models import DailyStat
from reports.tests.helpers import at, issue_at

pytestmark = pytest.mark.django_db

D = datetime.date
H = datetime.timedelta(hours=1)
ENDPOINTS = [
    "/api/reports/open-by-severity/",
    "/api/reports/by-status/",
    "/api/reports/top-assignees/",
    "/api/reports/resolution-latency/",
    "/api/reports/throughput/",
    "/api/reports/open-age/",
]
PERIODIC = ENDPOINTS[2:5]
MARCH = "?since=2025-03-01&until=2025-03-31"


@pytest.fixture
def alice(db):
    return UserFactory(role="MAINTAINER", display_name="Alice Adams")


@pytest.fixture
def march(maintainer, alice, reporter):
    """Resolved in March: Alice's 1 h and 3 h, one unassigned of 8 h; open:
    a HIGH one from March 2nd and a reporter's LOW one from yesterday."""
    base = at(D(2025, 3, 10), 8)
    issue_at(maintainer, base, resolved=base + 1 * H, assignee=alice, severity=Severity.HIGH)
    issue_at(maintainer, base, resolved=base + 3 * H, assignee=alice)
    issue_at(maintainer, at(D(2025, 3, 11)), resolved=at(D(2025, 3, 11)) + 8 * H)
    issue_at(maintainer, at(D(2025, 3, 2)), status=Status.TRIAGED, severity=Severity.HIGH)
    yesterday = timezone.now() - 20 * H
    issue_at(reporter, yesterday, severity=Severity.LOW)


# --- who may ask ------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_callers_get_401(url):
    response = client_for().get(url)

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", ENDPOINTS)
def test_reporters_get_403(url, reporter):
    body = assert_error(client_for(reporter).get(url), 403)
    assert body["detail"] == "Reports are for maintainers and admins."


@pytest.mark.parametrize("url", ENDPOINTS)
def test_maintainers_and_admins_get_the_report(url, maintainer, admin_user, march):
    for user in (maintainer, admin_user):
        response = client_for(user).get(url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        as_of = parse_datetime(body["as_of"])
        assert abs(timezone.now() - as_of) < datetime.timedelta(minutes=1)


def test_a_deactivated_maintainer_is_refused(maintainer):
    maintainer.is_active = False
    maintainer.save(update_fields=["is_active"])
    response = client_for(maintainer).get(ENDPOINTS[0])
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_only_get_is_allowed(url, maintainer):
    assert_error(client_for(maintainer).post(url, {}, format="json"), 405)


# --- the answers --------------------------------------------------------------------


def test_open_by_severity(maintainer, march):
    body = client_for(maintainer).get("/api/reports/open-by-severity/").json()

    assert body["results"] == [
        {"severity": "LOW", "label": "Low", "count": 1},
        {"severity": "MEDIUM", "label": "Medium", "count": 0},
        {"severity": "HIGH", "label": "High", "count": 1},
        {"severity": "CRITICAL", "label": "Critical", "count": 0},
    ]
    assert set(body) == {"as_of", "results"}


def test_by_status(maintainer, march):
    body = client_for(maintainer).get("/api/reports/by-status/").json()

    assert [(row["status"], row["count"]) for row in body["results"]] == [
        ("OPEN", 1),
        ("TRIAGED", 1),
        ("IN_PROGRESS", 0),
        ("DONE", 3),
    ]


def test_top_assignees(maintainer, alice, march):
    response = client_for(maintainer).get(f"/api/reports/top-assignees/{MARCH}&limit=5")

    assert response.json() | {"as_of": None} == {
        "as_of": None,
        "since": "2025-03-01",
        "until": "2025-03-31",
        "limit": 5,
        "results": [{"assignee": {"id": alice.pk, "name": "Alice Adams"}, "resolved": 2}],
    }
    # Both ends: up to today, a period from April 2025 is over MAX_DAYS in April 2028.
    april_url = "/api/reports/top-assignees/?since=2025-04-01&until=2025-04-30"
    april = client_for(maintainer).get(april_url).json()
    assert april["results"] == []
    assert april["limit"] == 10


def test_resolution_latency(maintainer, alice, march):
    body = client_for(maintainer).get(f"/api/reports/resolution-latency/{MARCH}").json()

    assert (body["since"], body["until"]) == ("2025-03-01", "2025-03-31")
    # 1, 3 and 8 hours: average 4 h, median 3 h, p90 at 1.8 between 3 and 8 h = 7 h.
    assert body["overall"] == {
        "count": 3,
        "average_seconds": 4 * 3600,
        "median_seconds": 3 * 3600,
        "p90_seconds": pytest.approx(7 * 3600),
        "average": "4 h",
        "median": "3 h",
        "p90": "7 h",
    }
    assert [
        (row["assignee"], row["count"], row["median"], row["p90"]) for row in body["assignees"]
    ] == [
        ({"id": alice.pk, "name": "Alice Adams"}, 2, "2 h", "2 h 48 min"),
        (None, 1, "8 h", "8 h"),
    ]


def test_throughput(maintainer, march):
    DailyStat.objects.create(date=D(2025, 3, 10), status=Status.OPEN, severity=2, count=4)
    DailyStat.objects.create(date=D(2025, 3, 10), status=Status.DONE, severity=2, count=9)

    body = client_for(maintainer).get("/api/reports/throughput/?since=2025-03-09&until=2025-03-11")

    assert body.json()["totals"] == {"created": 3, "resolved": 3}
    assert body.json()["days"] == [
        {"date": "2025-03-09", "created": 0, "resolved": 0, "open": None},
        {"date": "2025-03-10", "created": 2, "resolved": 2, "open": 4},
        {"date": "2025-03-11", "created": 1, "resolved": 1, "open": None},
    ]


def test_the_throughput_default_period_is_90_days(maintainer, held_now):
    body = client_for(maintainer).get("/api/reports/throughput/").json()

    today = held_now.date()
    assert body["until"] == today.isoformat()
    assert len(body["days"]) == 90
    assert body["days"][-1]["date"] == today.isoformat()


def test_open_age(maintainer, march):
    body = client_for(maintainer).get("/api/reports/open-age/").json()

    assert body["results"] == [
        {"bucket": "lt_1d", "label": "< 1 day", "count": 1},
        {"bucket": "lt_1w", "label": "< 1 week", "count": 0},
        {"bucket": "lt_1m", "label": "< 1 month", "count": 0},
        {"bucket": "older", "label": "older", "count": 1},
    ]


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("url", PERIODIC)
@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("since=2025-13-01", ["since"]),
        ("until=tomorrow", ["until"]),
        ("since=x&until=y", ["since", "until"]),
        ("since=2025-03-02&until=2025-03-01", ["until"]),
        ("since=2000-01-01&until=2025-01-01", ["since"]),
        ("since=%00", ["since"]),
    ],
)
def test_bad_periods_are_400_naming_the_parameter(url, query, fields, maintainer):
    body = assert_error(client_for(maintainer).get(f"{url}?{query}"), 400, *fields)
    assert body["detail"].startswith(f"{fields[0]}: ")


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-3"])
def test_a_bad_limit_is_400(limit, maintainer):
    assert_error(client_for(maintainer).get(f"/api/reports/top-assignees/?limit={limit}"), 400)


def test_a_reporter_with_a_bad_period_still_gets_403_first(reporter):
    assert_error(client_for(reporter).get("/api/reports/throughput/?since=nope"), 403)


# --- cost ----------------------------------------------------------------------------


def _add(count: int, people) -> None:
    Issue.objects.bulk_create(
        Issue(
            title=f"Bulk {n}",
            reporter=people[0],
            assignee=people[n % len(people)],
            severity=Severity.values[n % 4],
            status=Status.DONE if n % 2 else Status.OPEN,
            resolved_at=at(D(2025, 3, 1 + n % 28)) if n % 2 else None,
        )
        for n in range(count)
    )


@pytest.mark.parametrize("url", ENDPOINTS)
def test_each_endpoint_costs_the_same_for_3_or_300_issues(url, maintainer):
    people = [maintainer] + [UserFactory(role="MAINTAINER") for _ in range(4)]
    client = client_for(maintainer)
    _add(3, people)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url + MARCH).status_code == 200
    _add(297, people)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url + MARCH).status_code == 200

    assert len(small) == len(large) <= 3


# --- documentation -------------------------------------------------------------------


def test_the_schema_documents_the_reports():
    schema = client_for().get("/api/schema/?format=json").json()
    paths = schema["paths"]

    for url in ENDPOINTS:
        assert set(paths[url]) == {"get"}, url
        assert {"200", "401", "403"} <= set(paths[url]["get"]["responses"])
    for url in PERIODIC:
        names = {p["name"] for p in paths[url]["get"]["parameters"]}
        assert {"since", "until"} <= names
        assert "400" in paths[url]["get"]["responses"]
    limit = paths["/api/reports/top-assignees/"]["get"]["parameters"]
    assert "limit" in {p["name"] for p in limit}

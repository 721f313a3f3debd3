"""The dashboard page: who sees it, each report as an SVG chart and as a table,
the period picker (bad values re-shown with an error, never a 500), the live
refresh wrapper, and the CSV download of each report."""

import csv
import datetime
import io
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues.models import Issue, Severity, Status
from reports.models import DailyStat
from reports.tests.helpers import at, issue_at

pytestmark = pytest.mark.django_db

D = datetime.date
H = datetime.timedelta(hours=1)
DASHBOARD = "/dashboard/"
SLUGS = [
    "open-by-severity",
    "by-status",
    "top-assignees",
    "resolution-latency",
    "throughput",
    "open-age",
]
MARCH = {"since": "2025-03-01", "until": "2025-03-31"}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class Page(HTMLParser):
    """What the tests look at: SVGs, tables, links, inputs and scripts."""

    def __init__(self, html: str):
        super().__init__()
        self.svgs: list[dict] = []
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self.inputs: dict[str, dict] = {}
        self.scripts: list[dict] = []
        self.live: dict | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "svg":
            self.svgs.append(attributes)
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        elif tag == "input":
            self.inputs[attributes.get("name", "")] = attributes
        elif tag == "script":
            self.scripts.append(attributes)
        elif tag == "div" and "hx-get" in attributes:
            self.live = attributes

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None


def page_of(response) -> Page:
    assert response.status_code == 200, response.content[:500]
    return Page(response.content.decode())


@pytest.fixture
def alice(db):
    return UserFactory(role="MAINTAINER", display_name="Alice Adams")


@pytest.fixture
def march(maintainer, alice):
    base = at(D(2025, 3, 10), 8)
    issue_at(maintainer, base, resolved=base + 1 * H, assignee=alice, severity=Severity.HIGH)
    issue_at(maintainer, base, resolved=base + 3 * H, assignee=alice)
    issue_at(maintainer, base, resolved=base + 8 * H)
    issue_at(maintainer, at(D(2025, 3, 2)), status=Status.TRIAGED, severity=Severity.CRITICAL)
    DailyStat.objects.create(date=D(2025, 3, 10), status=Status.OPEN, severity=1, count=6)


# --- who sees it ---------------------------------------------------------------------


def test_the_url_is_named():
    assert reverse("reports:dashboard") == DASHBOARD
    assert reverse("reports:csv", kwargs={"report": "by-status"}) == "/dashboard/by-status.csv"


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in (DASHBOARD, "/dashboard/by-status.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_reporters_get_the_403_page(reporter):
    client = logged_in(reporter)
    for url in (DASHBOARD, "/dashboard/by-status.csv"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Not allowed" in response.content.decode()


def test_the_nav_links_the_dashboard_only_for_maintainers_and_admins(
    reporter, maintainer, admin_user
):
    link = f'href="{DASHBOARD}"'
    assert link not in logged_in(reporter).get("/issues/").content.decode()
    assert link in logged_in(maintainer).get("/issues/").content.decode()
    assert link in logged_in(admin_user).get("/issues/").content.decode()


@pytest.mark.parametrize("role", ["maintainer", "admin_user"])
def test_maintainers_and_admins_see_every_report(role, request, march):
    page = page_of(logged_in(request.getfixturevalue(role)).get(DASHBOARD, MARCH))

    # One chart per report, two for throughput (created vs resolved, open trend).
    assert len(page.svgs) == 7
    for svg in page.svgs:
        assert svg["role"] == "img"
        assert svg["aria-label"]
    # One table per report, each with a header row.
    assert len(page.tables) == 6
    # No JavaScript of our own on the page: charts are drawn by the server.
    assert all("src" in script for script in page.scripts)


def test_the_tables_carry_the_numbers(maintainer, alice, march):
    page = page_of(logged_in(maintainer).get(DASHBOARD, MARCH))
    severity, status, top, latency, throughput, age = page.tables

    assert severity == [
        ["Severity", "Open issues"],
        ["Low", "0"],
        ["Medium", "0"],
        ["High", "0"],
        ["Critical", "1"],
    ]
    assert status[1:] == [["Open", "0"], ["Triaged", "1"], ["In progress", "0"], ["Done", "3"]]
    assert top == [["Assignee", "Resolved issues"], ["Alice Adams", "2"]]
    assert latency == [
        ["Assignee", "Resolved issues", "Average", "Median", "90th percentile"],
        ["All issues", "3", "4 h", "3 h", "7 h"],
        ["Alice Adams", "2", "2 h", "2 h", "2 h 48 min"],
        ["Unassigned", "1", "8 h", "8 h", "8 h"],
    ]
    assert throughput[0] == ["Date", "Created", "Resolved", "Open"]
    assert len(throughput) == 1 + 31
    assert throughput[10] == ["2025-03-10", "3", "3", "6"]
    assert throughput[1] == ["2025-03-01", "0", "0", "—"]
    assert age[1:] == [["< 1 day", "0"], ["< 1 week", "0"], ["< 1 month", "0"], ["older", "1"]]


def test_the_charts_are_labelled_with_their_numbers(maintainer, march):
    page = page_of(logged_in(maintainer).get(DASHBOARD, MARCH))
    labels = {svg["id"]: svg["aria-label"] for svg in page.svgs}

    assert labels["chart-open-by-severity"] == (
        "Open issues by severity: Low 0, Medium 0, High 0, Critical 1."
    )
    assert labels["chart-top-assignees"] == "Top assignees, resolved issues: Alice Adams 2."
    assert "median 3 h" in labels["chart-resolution-latency"]
    assert "4 created and 3 resolved" in labels["chart-throughput"]
    assert "1 of 31 days" in labels["chart-open-trend"]


def test_an_empty_tracker_renders(maintainer):
    page = page_of(logged_in(maintainer).get(DASHBOARD))
    assert len(page.svgs) == 7


def test_as_of_and_the_period_are_shown(maintainer, held_now):
    text = logged_in(maintainer).get(DASHBOARD, MARCH).content.decode()

    assert "As of" in text
    assert held_now.strftime("%Y-%m-%d") in text
    assert "period 2025-03-01 to 2025-03-31 (31 days)" in text


# --- the period picker -------------------------------------------------------------------


def test_the_picker_shows_the_default_period(maintainer, held_now):
    page = page_of(logged_in(maintainer).get(DASHBOARD))
    today = held_now.date()

    assert page.inputs["since"]["type"] == "date"
    assert page.inputs["until"]["value"] == today.isoformat()
    assert page.inputs["since"]["value"] == (today - datetime.timedelta(days=89)).isoformat()


@pytest.mark.parametrize(
    ("query", "bad", "message"),
    [
        ({"since": "2025-02-30"}, "since", "2025-02-30 is not a date of the calendar"),
        ({"until": "<script>"}, "until", "Enter a date as YYYY-MM-DD"),
        ({"since": "2025-03-09", "until": "2025-03-01"}, "until", "must not be before"),
        ({"since": "1999-01-01", "until": "2025-01-01"}, "since", "at most 1096 days"),
        ({"since": "9999-12-31"}, "since", "between"),
    ],
)
def test_bad_periods_are_re_shown_with_an_error(maintainer, query, bad, message):
    response = logged_in(maintainer).get(DASHBOARD, query)
    page = page_of(response)
    text = response.content.decode()

    assert message in text
    assert page.inputs[bad]["aria-invalid"] == "true"
    assert page.inputs[bad]["value"] == query[bad]  # re-shown as typed (escaped)
    assert "<script>" not in text.split("</header>", 1)[1]
    assert "the last 90 days are shown" in text
    assert len(page.svgs) == 7


def test_a_bad_limit_falls_back_to_ten(maintainer):
    page = page_of(logged_in(maintainer).get(DASHBOARD, {"limit": "zero"}))
    assert "/dashboard/top-assignees.csv?since=" in " ".join(page.links)
    assert "limit=" not in " ".join(page.links)


def test_a_chosen_limit_carries_to_the_csv_link(maintainer):
    page = page_of(logged_in(maintainer).get(DASHBOARD, {"limit": "3", **MARCH}))
    assert "/dashboard/top-assignees.csv?since=2025-03-01&until=2025-03-31&limit=3" in page.links


# --- live refresh ------------------------------------------------------------------------


def test_the_content_refreshes_live_with_the_current_query(maintainer):
    page = page_of(logged_in(maintainer).get(DASHBOARD, MARCH))

    assert page.live == {
        "hx-get": f"{DASHBOARD}?since=2025-03-01&until=2025-03-31",
        "data-live-delay": "2000",  # paced by tracker.js: 2 s after a notice,
        "data-live-every": "10000",  # then at most every 10 s
        # Issues created, changed or deleted; not comments or files (uncounted).
        "hx-trigger": "sse:issue-created, sse:issue-updated, sse:issue-deleted, sse:stats, "
        "sse:resync",
        "hx-target": "#dashboard",
        "hx-select": "#dashboard",
        "hx-swap": "outerHTML",
        "hx-sync": "this:replace",
        "hx-disinherit": "*",
    }


def test_an_htmx_refresh_gets_only_the_dashboard(maintainer, march):
    response = logged_in(maintainer).get(DASHBOARD, MARCH, HTTP_HX_REQUEST="true")

    text = response.content.decode()
    assert text.lstrip().startswith('<div id="dashboard"')
    assert "<html" not in text
    assert len(Page(text).svgs) == 7


def test_the_page_costs_the_same_queries_for_few_or_many_issues(maintainer):
    client = logged_in(maintainer)
    client.get(DASHBOARD)  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(DASHBOARD)
    Issue.objects.bulk_create(
        Issue(
            title=f"I{n}",
            reporter=maintainer,
            assignee=maintainer,
            status=Status.DONE if n % 2 else Status.OPEN,
            resolved_at=timezone.now() if n % 2 else None,
        )
        for n in range(300)
    )
    with CaptureQueriesContext(connection) as many:
        client.get(DASHBOARD)

    assert len(few) == len(many) <= 8


# --- CSV --------------------------------------------------------------------------------


def download(client, slug, **query):
    response = client.get(f"/dashboard/{slug}.csv", query)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return response, list(csv.reader(io.StringIO(response.content.decode())))


def test_every_report_links_its_csv_with_the_period(maintainer):
    page = page_of(logged_in(maintainer).get(DASHBOARD, MARCH))
    csv_links = [link for link in page.links if ".csv" in link]

    assert csv_links == [
        "/dashboard/open-by-severity.csv",
        "/dashboard/by-status.csv",
        "/dashboard/top-assignees.csv?since=2025-03-01&until=2025-03-31",
        "/dashboard/resolution-latency.csv?since=2025-03-01&until=2025-03-31",
        "/dashboard/throughput.csv?since=2025-03-01&until=2025-03-31",
        "/dashboard/open-age.csv",
    ]


@pytest.mark.parametrize("slug", SLUGS)
def test_each_csv_holds_the_tables_numbers(slug, maintainer, march):
    client = logged_in(maintainer)
    tables = page_of(client.get(DASHBOARD, MARCH)).tables
    response, rows = download(client, slug, **MARCH)

    table = tables[SLUGS.index(slug)]
    if slug == "resolution-latency":
        assert rows[0][5:] == ["Average (seconds)", "Median (seconds)", "90th percentile (seconds)"]
        assert rows[1] == ["All issues", "3", "4 h", "3 h", "7 h", "14400", "10800", "25200"]
        rows = [row[:5] for row in rows]
    if slug == "throughput":
        assert rows[1] == ["2025-03-01", "0", "0", ""]  # no snapshot: empty, not a dash
        rows = [row[:3] + [row[3] or "—"] for row in rows]
    assert rows == table
    if slug in ("top-assignees", "resolution-latency", "throughput"):
        assert f'{slug}_2025-03-01_2025-03-31.csv"' in response["Content-Disposition"]
    else:
        assert re.search(
            rf'{slug}_\d{{4}}-\d\d-\d\dT\d{{4}}Z\.csv"', response["Content-Disposition"]
        )


def test_csv_cells_cannot_become_spreadsheet_formulas(maintainer):
    sneaky = UserFactory(role="MAINTAINER", display_name='=HYPERLINK("http://evil","x")')
    issue_at(maintainer, at(D(2025, 3, 1)), resolved=at(D(2025, 3, 2)), assignee=sneaky)

    _response, rows = download(logged_in(maintainer), "top-assignees", **MARCH)

    assert rows[1] == ['\'=HYPERLINK("http://evil","x")', "1"]


def test_a_csv_with_a_bad_period_is_a_400_that_says_why(maintainer):
    response = logged_in(maintainer).get("/dashboard/throughput.csv", {"since": "soon"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "since: Enter a date as YYYY-MM-DD" in response.content.decode()


def test_an_unknown_report_is_a_404(maintainer):
    assert logged_in(maintainer).get("/dashboard/nothing.csv").status_code == 404


def test_a_bad_limit_is_a_400_for_top_assignees_only(maintainer):
    client = logged_in(maintainer)
    response = client.get("/dashboard/top-assignees.csv", {"limit": "0"})
    assert response.status_code == 400
    assert "limit: " in response.content.decode()
    assert client.get("/dashboard/by-status.csv", {"limit": "0"}).status_code == 200


def test_csv_limit_applies_to_top_assignees(maintainer):
    people = [UserFactory(role="MAINTAINER", display_name=f"P{n}") for n in range(3)]
    for person in people:
        issue_at(maintainer, at(D(2025, 3, 1)), resolved=at(D(2025, 3, 2)), assignee=person)

    _response, rows = download(logged_in(maintainer), "top-assignees", limit="2", **MARCH)

    assert len(rows) == 3

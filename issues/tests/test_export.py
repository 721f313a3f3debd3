"""CSV export (GET /api/issues/export.csv and the list's /issues/export.csv):
the columns, exactly the list's filters and permissions, formula neutralisation,
streaming in constant queries per chunk, and export -> import round trips."""

import csv
import io
import warnings
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.pq import TransactionStatus

from accounts.tests.factories import UserFactory
from issues import exporter, importer, services
from issues.models import Issue, Severity, Status
from issues.tests.api import assert_error, client_for
from issues.tests.csv_helpers import run_import
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.django_db

API = "/api/issues/export.csv"
HEADER = [
    "number",
    "title",
    "description",
    "status",
    "severity",
    "assignee",
    "labels",
    "reporter",
    "created_at",
    "updated_at",
    "resolved_at",
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def body(response) -> str:
    assert response.status_code == 200, response.content
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def export(user, query: str = "") -> list[dict]:
    return parse(body(client_for(user).get(API + query)))


def test_the_columns_and_one_row(maintainer, reporter):
    bug, ui = LabelFactory(name="bug"), LabelFactory(name="UI")
    issue = IssueFactory(
        reporter=maintainer,
        title="Crash",
        description='Steps:\n1. open, then\n2. "save"',
        severity=Severity.HIGH,
        status=Status.DONE,
        assignee=maintainer,
        labels=[ui, bug],
    )

    response = client_for(maintainer).get(API)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="issues-')
    text = body(response)
    assert text.splitlines()[0] == ",".join(HEADER)
    assert "\r\n" in text  # RFC 4180 line ends
    (row,) = parse(text)
    issue.refresh_from_db()
    assert row == {
        "number": str(issue.number),
        "title": "Crash",
        "description": 'Steps:\n1. open, then\n2. "save"',
        "status": "DONE",
        "severity": "HIGH",
        "assignee": maintainer.email,
        "labels": "bug;UI",
        "reporter": maintainer.email,
        "created_at": issue.created_at.isoformat(),
        "updated_at": issue.updated_at.isoformat(),
        "resolved_at": issue.resolved_at.isoformat(),
    }


def test_the_export_has_exactly_the_lists_filters(maintainer):
    bug = LabelFactory(name="bug")
    IssueFactory(reporter=maintainer, title="Open bug about login", labels=[bug])
    IssueFactory(reporter=maintainer, title="Open question about login")
    IssueFactory(reporter=maintainer, title="Done bug about login", labels=[bug], status="DONE")
    IssueFactory(reporter=maintainer, title="Critical crash", severity=Severity.CRITICAL)

    def titles(query):
        return [row["title"] for row in export(maintainer, query)]

    assert titles("?status=OPEN&label=bug") == ["Open bug about login"]
    assert sorted(titles("?q=login&status=OPEN")) == [
        "Open bug about login",
        "Open question about login",
    ]
    assert titles("?severity=CRITICAL") == ["Critical crash"]
    assert titles("?ordering=number") == [
        "Open bug about login",
        "Open question about login",
        "Done bug about login",
        "Critical crash",
    ]
    # The page link reads the same query string the same way.
    page = Client()
    page.force_login(maintainer)
    response = page.get(reverse("issues:export") + "?status=OPEN&label=bug")
    text = body(response)
    assert text.startswith("\ufeff")  # for spreadsheets that need it to see UTF-8
    assert [row["title"] for row in parse(text)] == ["Open bug about login"]


def test_bad_filters_are_400(maintainer):
    assert_error(client_for(maintainer).get(API + "?status=NOPE"), 400, "status")
    page = Client()
    page.force_login(maintainer)
    response = page.get(reverse("issues:export") + "?severity=HUGE")
    assert response.status_code == 400
    assert "severity" in response.content.decode()


def test_a_reporter_exports_only_their_own_issues(reporter, other_reporter, maintainer):
    IssueFactory(reporter=reporter, title="Mine")
    IssueFactory(reporter=other_reporter, title="Not mine")

    assert [row["title"] for row in export(reporter)] == ["Mine"]
    assert {row["title"] for row in export(maintainer)} == {"Mine", "Not mine"}
    assert client_for().get(API).status_code == 401
    anonymous = Client().get(reverse("issues:export"))
    assert anonymous.status_code == 302


FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTabbed", "\rReturn", "'=quoted already"]


def test_cells_that_start_like_a_formula_are_neutralised(maintainer):
    LabelFactory(name="=HYPERLINK")
    for title in FORMULAS:
        IssueFactory(reporter=maintainer, title=f"x{title}", description=title)
    IssueFactory(reporter=maintainer, title="Label", description="", labels=["=HYPERLINK"])

    rows = export(maintainer, "?ordering=number")

    assert [row["description"] for row in rows[:-1]] == [f"'{value}" for value in FORMULAS]
    assert rows[-1]["labels"] == "'=HYPERLINK"
    assert all(not row["title"].startswith(("=", "+", "-", "@")) for row in rows)


@pytest.mark.parametrize(
    "value", ["=1+1", "-", "'", "''=x", "'-", "plain", "'plain", "", "@", "a=b", "\t"]
)
def test_neutralise_and_restore_are_inverse(value):
    assert importer.restore(importer.neutralise(value)) == value
    assert not importer.neutralise(value).startswith(importer.FORMULA_START)


def test_export_then_import_round_trips(maintainer, reporter):
    other = UserFactory(role="MAINTAINER", email="other.maintainer@example.com")
    LabelFactory(name="bug"), LabelFactory(name="ui")
    tricky = [
        ("=cmd|' /C calc'!A0", "- a markdown list\n- with two items", "bug;ui"),
        ('Commas, "quotes" and ; semicolons', "Line one\r\nLine two\n\nÜnïcødé ✓", ""),
        ("@someone please look", "", "ui"),
        ("'=already quoted", "\ttab first", "bug"),
    ]
    for n, (title, description, labels) in enumerate(tricky):
        issue = IssueFactory(
            reporter=maintainer if n % 2 else reporter,
            title=title,
            description=description,
            severity=list(Severity)[n],
        )
        if labels:
            issue = services.replace_labels(actor=maintainer, issue=issue, labels=labels.split(";"))
        if n == 0:
            services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=other)
        if n == 2:
            services.change_status(
                actor=maintainer, issue=issue, version=issue.version, status=Status.DONE
            )

    def state():
        return sorted(
            (
                issue.title,
                issue.description,
                issue.status,
                issue.severity,
                issue.assignee_id,
                issue.reporter_id,
                tuple(sorted(label.name for label in issue.labels.all())),
                issue.resolved_at is not None,
            )
            for issue in Issue.objects.prefetch_related("labels")
        )

    before = state()
    exported = body(client_for(maintainer).get(API)).encode()
    Issue.objects.all().delete()

    job = run_import(maintainer, exported, name="export.csv")

    assert (job.created_count, job.errors) == (4, [])
    assert state() == before
    # And the page's export (with its byte order mark) reads back the same way.
    page = Client()
    page.force_login(maintainer)
    again = body(page.get(reverse("issues:export"))).encode()
    assert parse(again.decode()) == parse(body(client_for(maintainer).get(API)))
    assert run_import(maintainer, again).error_count == 0


def test_an_export_is_one_query_however_many_rows_and_chunks(maintainer, monkeypatch):
    monkeypatch.setattr(exporter, "CHUNK_BYTES", 100)
    labels = [LabelFactory(name="bug"), LabelFactory(name="ui")]
    client = client_for(maintainer)

    def queries_for(count):
        for _ in range(count - Issue.objects.count()):
            IssueFactory(reporter=maintainer, labels=labels)
        with CaptureQueriesContext(connection) as captured:
            rows = export(maintainer, "?label=bug")
        assert len(rows) == count
        assert {row["labels"] for row in rows} == {"bug;ui"}
        return len(captured)

    client.get(API)  # warm up whatever is cached per process
    small, large = queries_for(5), queries_for(35)

    assert large == small


def test_under_asgi_the_rows_stream_without_being_read_whole(maintainer):
    for n in range(3):
        IssueFactory(reporter=maintainer, title=f"Async {n}")
    client = AsyncClient()
    client.force_login(maintainer)

    async def download():
        response = await client.get(API)
        assert response.is_async
        return b"".join([part async for part in response.streaming_content])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = async_to_sync(download)().decode()

    # Django warns when it has to read a synchronous iterator whole to serve it.
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)]

    assert sorted(row["title"] for row in parse(text)) == ["Async 0", "Async 1", "Async 2"]


CELLS = [*FORMULAS, "", "'", "''=x", "plain", "a=b", "-", 'say "hi", then\nleave', "Ünï ✓"]


@pytest.mark.parametrize("value", CELLS)
def test_postgresql_neutralises_a_cell_as_python_does(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT issues_csv_cell(%s)", [value])
        (written,) = cursor.fetchone()
    # An empty cell comes back as NULL, which COPY writes as nothing at all.
    assert written == (importer.neutralise(value) or None)


@given(text=st.text(max_size=12))
@settings(
    max_examples=200,
    # Each example is a round trip to PostgreSQL: on a busy machine one can stall
    # past Hypothesis's default 200 ms deadline, which fails the test as "flaky".
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_postgresql_neutralises_any_text_as_python_does(text):
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    with connection.cursor() as cursor:
        cursor.execute("SELECT issues_csv_cell(%s)", [text])
        assert cursor.fetchone()[0] == (importer.neutralise(text) or None)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 5, 10, 28, 31, 466784, tzinfo=UTC),
        datetime(2026, 12, 5, 10, 28, 31, tzinfo=UTC),  # isoformat leaves out .000000
        datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 1, 2, 3, 500000, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
def test_postgresql_writes_times_as_isoformat_in_utc(moment):
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Berlin'")  # whatever the session's zone
        cursor.execute("SELECT issues_csv_time(%s)", [moment])
        (written,) = cursor.fetchone()
        cursor.execute("SET TIME ZONE 'UTC'")
    assert written == moment.astimezone(UTC).isoformat()


def test_empty_cells_are_written_empty_not_quoted(maintainer):
    issue = IssueFactory(reporter=maintainer, title="Bare", description="")

    text = body(client_for(maintainer).get(API))

    line = text.split("\r\n")[1]
    assert line.startswith(f"{issue.number},Bare,,OPEN,")
    assert '""' not in line


def test_a_filter_nothing_can_match_gives_the_header_alone(maintainer):
    IssueFactory(reporter=maintainer)

    assert body(client_for(maintainer).get(API + "?label=no-such-label")) == (
        ",".join(HEADER) + "\r\n"
    )


# As in production, outside a transaction: cancelling a statement inside one
# would abort the test's own transaction.
@pytest.mark.django_db(transaction=True)
def test_a_download_stopped_halfway_leaves_the_connection_usable(maintainer, monkeypatch):
    monkeypatch.setattr(exporter, "CHUNK_BYTES", 200)
    for _ in range(30):
        IssueFactory(reporter=maintainer, description="x" * 100)
    content = exporter.lines(Issue.objects.order_by("number"))
    assert next(content).startswith(b"number,title")
    assert connection.connection.info.transaction_status == TransactionStatus.ACTIVE  # mid-COPY
    before = connection.connection

    content.close()  # the client went away: the COPY is cancelled and drained

    assert connection.connection is before
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert Issue.objects.count() == 30

"""The CSV importer (issues.importer) through its service entry points: the bad
files it refuses or reports row by row, the good ones it reads, line numbers,
dry runs, batches, idempotence, limits and memory."""

import gc
import json
import os
import tracemalloc

import psycopg
import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from issues import importer, live, live_listener, notifications
from issues.errors import PayloadTooLarge
from issues.importer import jobs
from issues.models import (
    EventKind,
    ImportedRow,
    ImportJob,
    ImportStatus,
    Issue,
    IssueEvent,
    PendingMail,
    Severity,
    Status,
    Watch,
)
from issues.tests.csv_helpers import broker_down, csv_bytes, run_import, write_rows
from issues.tests.factories import LabelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def labels(db):
    return [LabelFactory(name="bug"), LabelFactory(name="ui"), LabelFactory(name="Backend")]


def file_errors(exc_info) -> list[str]:
    return exc_info.value.message_dict["file"]


def row_errors(job) -> list[tuple[int, str]]:
    return [(error["line"], error["column"]) for error in job.errors]


# --- good files ------------------------------------------------------------------------


def test_a_good_file_becomes_issues_with_numbers_labels_and_an_imported_event(maintainer, labels):
    assignee = UserFactory(role="MAINTAINER", email="max@example.com")
    reporter = UserFactory(role="REPORTER", email="rita@example.com")
    content = csv_bytes(
        [
            ["title", "description", "status", "severity", "assignee", "labels", "reporter"],
            ["Crash on save", "It *crashes*", "OPEN", "CRITICAL", "max@example.com", "bug;ui", ""],
            ["Already fixed", "", "DONE", "low", str(assignee.pk), "BACKEND", "rita@example.com"],
            ["Plain", "", "", "", "", "", ""],
        ]
    )

    job = run_import(maintainer, content)

    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.error_count, job.errors) == (3, 0, [])
    assert job.progress == 100
    crash, fixed, plain = Issue.objects.order_by("number")
    assert crash.number < fixed.number < plain.number
    assert (crash.title, crash.description, crash.status) == (
        "Crash on save",
        "It *crashes*",
        "OPEN",
    )
    assert (crash.severity, crash.assignee, crash.reporter) == (
        Severity.CRITICAL,
        assignee,
        maintainer,
    )
    assert sorted(crash.labels.values_list("name", flat=True)) == ["bug", "ui"]
    assert crash.resolved_at is None
    assert (fixed.status, fixed.severity, fixed.reporter) == (Status.DONE, Severity.LOW, reporter)
    assert fixed.resolved_at is not None
    assert list(fixed.labels.values_list("name", flat=True)) == ["Backend"]
    assert (plain.status, plain.severity, plain.assignee) == (Status.OPEN, Severity.MEDIUM, None)

    events = IssueEvent.objects.filter(issue__in=[crash, fixed, plain]).order_by("data__line")
    assert [e.kind for e in events] == [EventKind.IMPORTED] * 3
    assert {e.actor for e in events} == {maintainer}
    assert [e.data["line"] for e in events] == [2, 3, 4]
    assert {e.data["import"] for e in events} == {job.import_id}
    assert events[0].data["labels"] == ["bug", "ui"]
    assert events[0].data["assignee"] == {"id": assignee.pk, "name": assignee.name}
    # The reporter and the assignee watch what was imported, as with create_issue.
    assert Watch.objects.filter(issue=crash).count() == 2


def test_bom_semicolons_priority_and_pipe_separated_labels(maintainer, labels):
    content = csv_bytes(
        [
            ["Priority", "Title", "Labels"],
            ["high", "Semicolon file; with a semicolon inside", "bug|ui"],
            ["4", "Ranked by number", "bug | backend"],
        ],
        delimiter=";",
        bom=True,
    )

    job = run_import(maintainer, content)

    assert (job.created_count, job.errors) == (2, [])
    first, second = Issue.objects.order_by("number")
    assert first.title == "Semicolon file; with a semicolon inside"
    assert first.severity == Severity.HIGH
    assert sorted(first.labels.values_list("name", flat=True)) == ["bug", "ui"]
    assert second.severity == Severity.CRITICAL
    assert sorted(second.labels.values_list("name", flat=True)) == ["Backend", "bug"]


def test_crlf_line_endings_and_a_single_column(maintainer):
    job = run_import(maintainer, b"title\r\nFirst\r\nSecond\r\n")

    assert job.created_count == 2
    assert sorted(Issue.objects.values_list("title", flat=True)) == ["First", "Second"]


def test_status_spellings_are_forgiven(maintainer):
    content = csv_bytes([["title", "status"], ["a", "in progress"], ["b", "In-Progress"]])

    job = run_import(maintainer, content)

    assert job.created_count == 2
    assert set(Issue.objects.values_list("status", flat=True)) == {Status.IN_PROGRESS}


def test_an_exports_extra_columns_are_accepted_and_ignored(maintainer):
    content = csv_bytes(
        [
            ["number", "title", "created_at", "updated_at", "resolved_at"],
            ["999999", "From an export", "2020-01-01T00:00:00+00:00", "", ""],
        ]
    )

    job = run_import(maintainer, content)

    issue = Issue.objects.get()
    assert job.created_count == 1
    assert issue.number != 999999
    assert issue.created_at.year > 2020


def test_the_formula_guard_of_an_export_is_taken_off(maintainer):
    content = csv_bytes(
        [["title", "description"], ["'=SUM(A1:A2)", "'-starts with a dash"], ["'plain", ""]]
    )

    run_import(maintainer, content)

    assert sorted(Issue.objects.values_list("title", "description")) == [
        ("'plain", ""),
        ("=SUM(A1:A2)", "-starts with a dash"),
    ]


# --- what comes with an imported issue -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_each_imported_issue_is_announced_live_once_its_batch_commits(maintainer, settings):
    settings.IMPORT_BATCH_SIZE = 2
    with psycopg.connect(live_listener.conninfo(), autocommit=True) as listener:
        listener.execute(f"LISTEN {live.CHANNEL}")

        run_import(maintainer, "title\nOne\nTwo\nThree\n")

        payloads = [
            json.loads(notice.payload) for notice in listener.notifies(timeout=5, stop_after=3)
        ]
    # The same payload as live.announce("created", issue): ids, never content.
    assert sorted(payloads, key=lambda payload: payload["number"]) == [
        {
            "kind": "created",
            "issue": str(issue.pk),
            "number": issue.number,
            "reporter": maintainer.pk,
        }
        for issue in Issue.objects.order_by("number")
    ]


def test_imported_issues_mail_their_assignee_and_the_people_mentioned(maintainer):
    max_ = UserFactory(role="MAINTAINER", email="max@example.com", display_name="Max")
    mia = UserFactory(role="MAINTAINER", email="mia@example.com", display_name="Mia")
    content = csv_bytes(
        [
            ["title", "description", "assignee"],
            ["Assigned to Max", "", "max@example.com"],
            ["Mentions Mia", "@mia have a look", ""],
            ["Quiet", "nobody to tell", ""],
        ]
    )

    run_import(maintainer, content)

    events = {str(event.issue_id): event.pk for event in IssueEvent.objects.all()}
    refs = [ref for row in PendingMail.objects.all() for ref in row.refs]
    assert sorted(Issue.objects.get(pk=issue_id).title for _, issue_id in refs) == [
        "Assigned to Max",
        "Mentions Mia",
    ]
    assert all(events[issue_id] == event_id for event_id, issue_id in refs)
    notifications.send_pending_mail()
    assert sorted(message.to[0] for message in mail.outbox) == [max_.email, mia.email]


# --- file-level refusals ------------------------------------------------------------------


def refuse(actor, content) -> list[str]:
    with pytest.raises(ValidationError) as exc_info:
        run_import(actor, content)
    assert Issue.objects.count() == 0
    assert ImportJob.objects.count() == 0
    return file_errors(exc_info)


def test_a_file_without_a_title_column_is_refused(maintainer, media):
    errors = refuse(maintainer, "description,severity\nSomething,HIGH\n")

    assert any("no “title” column" in e for e in errors)
    assert not list((media / "imports").iterdir())  # the stored copy is gone


def test_duplicate_headers_are_refused(maintainer):
    assert any("repeats" in e for e in refuse(maintainer, "title,Title\na,b\n"))
    errors = refuse(maintainer, "title,severity,priority\na,LOW,HIGH\n")
    assert any("“priority” repeats column “severity”" in e for e in errors)


def test_unknown_and_unnamed_columns_are_refused(maintainer):
    errors = refuse(maintainer, "title,colour,\na,red,\n")

    assert "Unknown column “colour”." in errors
    assert "Column 3 has no name." in errors


def test_invalid_utf8_is_refused_naming_the_line(maintainer):
    content = b"title\nfine\ncaf" + b"\xe9 latin-1\nfine again\n"

    errors = refuse(maintainer, content)

    assert len(errors) == 1
    assert errors[0].startswith("Line 3 is not valid UTF-8 (byte 0xE9)")


def test_a_character_cut_at_the_end_of_the_file_is_invalid_utf8(maintainer):
    errors = refuse(maintainer, b"title\ncaf" + "é".encode()[:1])

    assert errors[0].startswith("Line 2 is not valid UTF-8")


def test_invalid_utf8_is_found_across_chunks(maintainer, monkeypatch):
    monkeypatch.setattr("issues.importer.reading.CHUNK", 7)
    content = b"title\n" + b"ok line\n" * 5 + "caf\xe9".encode("latin-1") + b"\n"

    assert refuse(maintainer, content)[0].startswith("Line 7 is not valid UTF-8")


def test_binary_junk_is_not_csv(maintainer):
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000")
    random_bytes = os.urandom(4096)

    assert "not valid UTF-8" in refuse(maintainer, png)[0]
    assert refuse(maintainer, b"title\nok\n\x00\x01\x02\x03")[0].startswith(
        "Line 3 contains a NUL byte: this is a binary file, not CSV"
    )
    assert refuse(maintainer, random_bytes)  # whichever reason, a clear refusal


def test_text_that_is_not_csv_says_so(maintainer):
    errors = refuse(maintainer, "Dear team,\nplease find attached the issues.\n")

    assert any("does not look like an issue CSV file" in e for e in errors)


def test_an_empty_file_is_refused(maintainer):
    assert refuse(maintainer, b"") == ["The file is empty."]
    assert "first line is empty" in refuse(maintainer, b"\n\ntitle\n")[0]


def test_a_header_without_rows_imports_nothing(maintainer):
    job = run_import(maintainer, "title,description\n")

    assert (job.status, job.created_count, job.rows) == (ImportStatus.DONE, 0, 0)


def test_limits_from_settings(maintainer, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(PayloadTooLarge, match="over the import limit of 100 bytes"):
        run_import(maintainer, "title\n" + "x\n" * 100)

    settings.IMPORT_MAX_BYTES = 10_000
    settings.IMPORT_MAX_ROWS = 3
    errors = refuse(maintainer, "title\na\nb\nc\nd\n")
    assert errors == [
        "The file has 4 rows; at most 3 can be imported at once. Split it into smaller files."
    ]
    # Multi-line cells: more lines than the limit, but only three rows.
    job = run_import(maintainer, 'title,description\na,"1\n2"\nb,"3\n4"\nc,\n')
    assert job.created_count == 3


def test_only_maintainers_and_admins_may_import(reporter, admin_user):
    with pytest.raises(PermissionDenied):
        run_import(reporter, "title\nNope\n")
    assert Issue.objects.count() == 0

    assert run_import(admin_user, "title\nYes\n").created_count == 1


# --- row errors --------------------------------------------------------------------------


def test_bad_rows_are_listed_and_the_good_ones_imported(maintainer, labels):
    UserFactory(role="REPORTER", email="rita@example.com")
    UserFactory(role="MAINTAINER", email="gone@example.com", is_active=False)
    content = csv_bytes(
        [
            ["title", "status", "priority", "assignee", "labels", "reporter"],
            ["Good one", "", "", "", "", ""],  # line 2
            ["   ", "OPEN", "", "", "", ""],  # 3: blank title
            ["x" * 10_000, "", "", "", "", ""],  # 4: far too long
            ["Bad status", "WONTFIX", "", "", "", ""],  # 5
            ["Bad severity", "", "urgent", "", "", ""],  # 6
            ["Unknown assignee", "", "", "nobody@example.com", "", ""],  # 7
            ["Reporter as assignee", "", "", "rita@example.com", "", ""],  # 8
            ["Unknown label", "", "", "", "bug;nope", ""],  # 9
            ["Unknown reporter", "", "", "", "", "ghost@example.com"],  # 10
            ["Inactive reporter", "", "", "", "", "gone@example.com"],  # 11
            ["", "OPENED", "9", "", "", ""],  # 12: three problems at once
            ["Good two", "", "", "", "", ""],  # 13
        ]
    )

    job = run_import(maintainer, content)

    assert sorted(Issue.objects.values_list("title", flat=True)) == ["Good one", "Good two"]
    assert job.created_count == 2
    assert row_errors(job) == [
        (3, "title"),
        (4, "title"),
        (5, "status"),
        (6, "priority"),
        (7, "assignee"),
        (8, "assignee"),
        (9, "labels"),
        (10, "reporter"),
        (11, "reporter"),
        (12, "title"),
        (12, "status"),
        (12, "priority"),
    ]
    messages = {(e["line"], e["column"]): e["message"] for e in job.errors}
    assert messages[(3, "title")] == "A title is required."
    assert messages[(4, "title")] == "At most 200 characters (got 10000)."
    assert messages[(5, "status")].startswith("'WONTFIX' is not a status")
    assert messages[(6, "priority")].startswith("'urgent' is not a severity")
    assert messages[(7, "assignee")] == "No user with email “nobody@example.com”."
    assert "cannot be assigned" in messages[(8, "assignee")]
    assert messages[(9, "labels")] == "Unknown label(s): nope."
    assert messages[(10, "reporter")] == "No active user with email “ghost@example.com”."
    assert job.error_count == 12
    assert job.rows == 12


def test_people_named_in_ways_that_cannot_be_looked_up(maintainer):
    content = csv_bytes(
        [
            ["title", "assignee", "reporter"],
            ["Not a reference", "max maintainer", ""],  # line 2
            ["Reporter by id", "", str(maintainer.pk)],  # 3
            ["An id out of any range", "9" * 30, ""],  # 4
            ["Nobody with that id", "987654321", ""],  # 5
        ]
    )

    job = run_import(maintainer, content)

    assert Issue.objects.count() == 0
    assert [(e["line"], e["column"], e["message"]) for e in job.errors] == [
        (2, "assignee", "“max maintainer” is neither an email address nor a user id."),
        (3, "reporter", f"“{maintainer.pk}” is not an email address."),
        (4, "assignee", f"No user with id “{'9' * 30}”."),
        (5, "assignee", "No user with id “987654321”."),
    ]


def test_line_numbers_count_physical_lines_through_quoted_multiline_cells(maintainer):
    content = (
        "title,description\n"  # 1
        'First,"one\n'  # 2
        "two\n"  # 3
        'three"\n'  # 4
        "\n"  # 5: blank, skipped
        ',"a description\n'  # 6: no title
        'on two lines"\n'  # 7
        'Third,"with ""quotes"", and commas"\n'  # 8
        "too,many,cells\n"  # 9
        'Bad "quote,x\n'  # 10: not a problem in the middle of a cell
        '"Unclosed,x\n'  # 11: runs to the end of the file
        "last\n"
    )

    job = run_import(maintainer, content)

    assert row_errors(job) == [(6, "title"), (9, ""), (11, "")]
    assert job.errors[1]["message"] == "This row has 3 cells but the header names 2 columns."
    assert "not valid CSV" in job.errors[2]["message"]
    first = Issue.objects.get(title="First")
    assert first.description == "one\ntwo\nthree"
    assert Issue.objects.get(title="Third").description == 'with "quotes", and commas'
    lines = dict(
        IssueEvent.objects.filter(kind=EventKind.IMPORTED).values_list("issue__title", "data__line")
    )
    assert lines == {"First": 2, "Third": 8, 'Bad "quote': 10}


def test_a_short_row_has_empty_cells(maintainer):
    job = run_import(maintainer, "title,description,severity\nOnly a title\n")

    assert job.created_count == 1
    assert Issue.objects.get().severity == Severity.MEDIUM


def test_people_and_labels_cost_a_few_queries_per_batch_not_per_row(maintainer, settings):
    settings.IMPORT_BATCH_SIZE = 20
    people = [UserFactory(role="MAINTAINER", email=f"m{n}@example.com") for n in range(8)]
    names = [LabelFactory(name=f"area-{n}").name for n in range(6)]

    def assignee(n):  # by email or by id
        return people[n % 8].email.upper() if n % 2 else str(people[n % 8].pk)

    rows = [
        [f"Issue {n}", assignee(n), people[(n + 1) % 8].email, f"{names[n % 6]};{names[n % 5]}"]
        for n in range(60)
    ]
    content = csv_bytes([["title", "assignee", "reporter", "labels"], *rows])

    with CaptureQueriesContext(connection) as queries:
        job = run_import(maintainer, content)

    assert (job.created_count, job.error_count) == (60, 0), job.errors
    lookups = [
        query["sql"]
        for query in queries
        if 'FROM "accounts_user"' in query["sql"] or 'FROM "issues_label"' in query["sql"]
    ]
    # The first batch: people by email, by id, and labels by name, one query each;
    # the later batches know them all.
    assert len(lookups) == 3, lookups
    seventh = Issue.objects.get(title="Issue 7")
    assert (seventh.assignee, seventh.reporter) == (people[7], people[0])
    assert sorted(seventh.labels.values_list("name", flat=True)) == ["area-1", "area-2"]
    assert Issue.objects.filter(assignee=people[2]).count() == 8


# --- dry runs, idempotence, batches ---------------------------------------------------


def test_a_dry_run_validates_and_writes_nothing(maintainer):
    content = csv_bytes([["title", "severity"], ["Good", "LOW"], ["", "LOW"], ["Also", "BAD"]])
    events = IssueEvent.objects.count()

    job = run_import(maintainer, content, dry_run=True)

    assert (job.dry_run, job.status, job.created_count) == (True, ImportStatus.DONE, 1)
    assert row_errors(job) == [(3, "title"), (4, "severity")]
    assert Issue.objects.count() == 0
    assert IssueEvent.objects.count() == events
    assert ImportedRow.objects.count() == 0


def test_importing_the_same_file_twice_creates_nothing_the_second_time(maintainer, labels):
    content = csv_bytes([["title", "labels"], ["One", "bug"], ["Two", "nope"], ["Three", ""]])

    first = run_import(maintainer, content)
    second = run_import(UserFactory(role="ADMIN"), content)

    assert (first.created_count, first.error_count) == (2, 1)
    assert first.import_id == second.import_id
    assert (second.created_count, second.skipped_count, second.error_count) == (0, 2, 1)
    assert Issue.objects.count() == 2
    # Once the missing label exists, the same file brings in just the row that failed.
    LabelFactory(name="nope")
    third = run_import(maintainer, content)
    assert (third.created_count, third.skipped_count, third.error_count) == (1, 2, 0)
    assert sorted(Issue.objects.values_list("title", flat=True)) == ["One", "Three", "Two"]
    # A dry run of it now says there is nothing left to import.
    dry = run_import(maintainer, content, dry_run=True)
    assert (dry.created_count, dry.skipped_count) == (0, 3)


def test_a_different_file_is_a_different_import(maintainer):
    run_import(maintainer, "title\nSame title\n")
    job = run_import(maintainer, "title\nSame title\n\n")

    assert job.created_count == 1
    assert Issue.objects.count() == 2


def test_every_batch_is_its_own_transaction_and_a_failure_says_how_far_it_got(
    maintainer, settings, monkeypatch
):
    settings.IMPORT_BATCH_SIZE = 3
    content = csv_bytes([["title"], *[[f"Issue {n}"] for n in range(10)]])
    write = jobs._write
    calls = []

    def failing_write(job, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return write(job, rows)

    monkeypatch.setattr(jobs, "_write", failing_write)
    with pytest.raises(RuntimeError):
        run_import(maintainer, content)

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED
    assert job.detail.startswith(
        "The import stopped after creating 6 issues: the database went away."
    )
    assert job.created_count == 6
    assert job.processed_lines == 7  # header + two batches of three
    assert Issue.objects.count() == 6
    assert not (settings.MEDIA_ROOT / job.stored_file).exists()

    monkeypatch.setattr(jobs, "_write", write)
    again = run_import(maintainer, content)
    assert (again.created_count, again.skipped_count) == (4, 6)
    assert sorted(Issue.objects.values_list("title", flat=True)) == [
        f"Issue {n}" for n in range(10)
    ]


def test_progress_is_written_after_every_batch(maintainer, settings, monkeypatch):
    settings.IMPORT_BATCH_SIZE = 2
    content = csv_bytes(
        [["title", "description"], *[[f"Issue {n}", ""] for n in range(5)], ["", "untitled"]]
    )
    seen = []
    flush = jobs._flush

    def spying_flush(run):
        flush(run)
        job = ImportJob.objects.get(pk=run.job.pk)
        seen.append((job.status, job.processed_lines, job.created_count, job.progress))

    monkeypatch.setattr(jobs, "_flush", spying_flush)
    job = run_import(maintainer, content)

    assert seen == [
        (ImportStatus.RUNNING, 3, 2, 42),
        (ImportStatus.RUNNING, 5, 4, 71),
        (ImportStatus.RUNNING, 7, 5, 99),
    ]
    assert (job.status, job.progress, job.error_count) == (ImportStatus.DONE, 100, 1)


def test_a_finished_job_is_not_run_again(maintainer):
    job = run_import(maintainer, "title\nOnce\n")

    assert importer.run_job(job.pk).created_count == 1
    assert Issue.objects.count() == 1


def test_an_importer_who_lost_the_role_before_the_worker_started_gets_a_failed_job(
    maintainer, settings, monkeypatch
):
    settings.IMPORT_ASYNC_ROWS = 1
    sent = []
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: sent.append(job_id))
    job = run_import(maintainer, "title\na\nb\n")
    maintainer.role = "REPORTER"
    maintainer.save()

    with pytest.raises(PermissionDenied):
        importer.run_job(job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "may no longer import" in job.detail
    assert Issue.objects.count() == 0


# --- the large-file path ------------------------------------------------------------------


def test_files_over_the_threshold_are_queued_for_the_worker(
    maintainer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_ROWS = 3
    settings.IMPORT_QUEUE = "imports-test"
    sent = []
    monkeypatch.setattr(
        "issues.importer.tasks.import_csv.apply_async",
        lambda args, **options: sent.append((args, options)),
    )

    with django_capture_on_commit_callbacks(execute=True):
        small = run_import(maintainer, "title\na\nb\nc\n")
        large = run_import(maintainer, "title\na\nb\nc\nd\n")

    assert small.status == ImportStatus.DONE
    assert large.status == ImportStatus.QUEUED
    assert (large.total_lines, large.progress) == (5, 0)
    assert sent == [([str(large.pk)], {"queue": "imports-test"})]
    assert (settings.MEDIA_ROOT / large.stored_file).exists()
    # What the worker then does:
    done = importer.run_job(large.pk)
    assert (done.status, done.created_count, done.progress) == (ImportStatus.DONE, 4, 100)
    assert not (settings.MEDIA_ROOT / large.stored_file).exists()


def test_an_unreachable_broker_fails_the_job_with_a_reason(
    maintainer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_ROWS = 1
    broker_down(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        job = run_import(maintainer, "title\na\nb\n")

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "could not be reached" in job.detail


# Committed batch by batch, as in production: inside one test transaction every
# batch's deferred foreign-key checks would pile up until the teardown's SET
# CONSTRAINTS ALL IMMEDIATE, which then takes minutes.
@pytest.mark.django_db(transaction=True)
def test_a_100000_row_file_is_imported(maintainer, settings, tmp_path):
    settings.IMPORT_ASYNC_ROWS = 200_000  # run it here, not in a worker
    path = write_rows(tmp_path / "big.csv", 100_000)

    with path.open("rb") as handle:
        job = importer.start_import(actor=maintainer, upload=handle, file_name="big.csv")

    assert (job.status, job.rows, job.created_count, job.error_count) == (
        ImportStatus.DONE,
        100_000,
        100_000,
        0,
    )
    assert Issue.objects.count() == 100_000
    assert IssueEvent.objects.filter(kind=EventKind.IMPORTED).count() == 100_000
    numbers = Issue.objects.values_list("number", flat=True)
    assert len(set(numbers)) == 100_000


def test_one_row_over_the_row_limit_is_refused(maintainer, tmp_path):
    path = write_rows(tmp_path / "too-big.csv", 100_001)

    with path.open("rb") as handle, pytest.raises(ValidationError) as exc_info:
        importer.start_import(actor=maintainer, upload=handle, file_name="too-big.csv")

    assert file_errors(exc_info) == [
        "The file has 100001 rows; at most 100000 can be imported at once. "
        "Split it into smaller files."
    ]


def peak_memory(actor, path) -> tuple[int, ImportJob]:
    gc.collect()
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            job = importer.start_import(actor=actor, upload=handle, file_name=path.name)
        return tracemalloc.get_traced_memory()[1], job
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_however_long_the_file(maintainer, settings, tmp_path):
    settings.IMPORT_ASYNC_ROWS = 1_000_000
    settings.IMPORT_BATCH_SIZE = 500
    padding = " lorem ipsum" * 20
    small = write_rows(tmp_path / "small.csv", 2_000, extra=padding)
    large = write_rows(tmp_path / "large.csv", 20_000, start=2_000, extra=padding)

    small_peak, small_job = peak_memory(maintainer, small)
    large_peak, large_job = peak_memory(maintainer, large)

    assert (small_job.created_count, large_job.created_count) == (2_000, 20_000)
    # Ten times the rows (and bytes: ~6 MB) must not take anything like ten times the memory.
    assert large_peak < small_peak * 2, (small_peak, large_peak)
    assert large_peak < 16 * 1024 * 1024

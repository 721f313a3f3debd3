"""The maintenance commands: dbstats, dbhealth (each broken state made by hand and
seen reported), cleanup (dry run, then --apply through the services) and vacuum."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import services
from issues.models import Attachment, Issue, IssueEvent, Label, Severity, Status
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory
from reports.models import DailyStat
from reports.tasks import aggregate_daily_stats


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue() + err.getvalue()


def attach(issue, actor, content=b"hello world\n"):
    upload = SimpleUploadedFile("notes.txt", content, content_type="text/plain")
    return services.add_attachment(actor=actor, issue=issue, upload=upload)


# --- dbstats ------------------------------------------------------------------


def test_dbstats_counts_tables_statuses_and_recent_activity(issue, maintainer):
    IssueFactory(reporter=maintainer, severity=Severity.CRITICAL)
    services.change_status(actor=maintainer, issue=issue, version=1, status=Status.DONE)
    CommentFactory(issue=issue)
    code, out = run("dbstats")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["issues_issue", "2"] in lines
    assert ["issues_comment", "1"] in lines
    assert ["accounts_user", "2"] in lines
    assert ["issues_issue_labels", "0"] in lines
    assert ["Done", "1"] in lines and ["Open", "1"] in lines and ["Triaged", "0"] in lines
    assert ["Critical", "1"] in lines and ["Medium", "1"] in lines
    assert ["created", "2"] in lines
    assert ["resolved", "1"] in lines
    assert ["comments", "1"] in lines
    # CREATED x2, FIELD_CHANGED, COMMENT_ADDED
    assert ["events", str(IssueEvent.objects.count())] in lines
    assert IssueEvent.objects.count() == 4


def test_dbstats_leaves_out_old_activity(issue):
    Issue.objects.filter(pk=issue.pk).update(created_at=timezone.now() - timedelta(days=8))
    IssueEvent.objects.filter(issue=issue).delete()
    code, out = run("dbstats")
    assert code == 0
    assert ["created", "0"] in [line.split() for line in out.splitlines()]


# --- dbhealth -----------------------------------------------------------------


@pytest.fixture
def healthy(issue, maintainer):
    """A small consistent data set: an assigned issue, a resolved one, a file."""
    issue = services.update_issue(
        actor=maintainer,
        issue=issue,
        version=1,
        changes={"assignee": maintainer, "severity": Severity.HIGH},  # one write, two events
    )
    done = IssueFactory(reporter=maintainer)
    services.bulk_change_status(actor=maintainer, ids=[done.pk], status=Status.DONE)
    label = LabelFactory(name="bug")
    services.replace_labels(actor=maintainer, issue=done, labels=[label])
    attach(issue, maintainer)
    aggregate_daily_stats()
    return issue


def test_dbhealth_clean_data_passes(healthy):
    code, out = run("dbhealth")
    assert code == 0, out
    assert "No problems found." in out


def test_dbhealth_reports_resolved_at_inconsistent_with_status(healthy, maintainer):
    done = Issue.objects.get(status=Status.DONE)
    with connection.cursor() as cursor:
        # The check constraint forbids this; only bypassing it makes it possible
        # (inside the test's transaction, so the constraint is back afterwards).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE issues_issue DROP CONSTRAINT issue_resolved_at_matches_status")
    Issue.objects.filter(pk=done.pk).update(resolved_at=None)
    Issue.objects.filter(pk=healthy.pk).update(resolved_at=timezone.now())
    code, out = run("dbhealth")
    assert code == 1
    assert f"issue #{done.number}: status DONE but resolved_at is empty" in out
    assert f"issue #{healthy.number}: status OPEN but resolved_at 20" in out
    assert "resolved_at matches status: 2 problem(s)" in out


def test_dbhealth_reports_assignees_who_cannot_be_assigned(healthy, maintainer):
    other = IssueFactory(reporter=maintainer)
    reporter = UserFactory(role="REPORTER")
    Issue.objects.filter(pk=other.pk).update(assignee=reporter)
    type(maintainer).objects.filter(pk=maintainer.pk).update(is_active=False)
    code, out = run("dbhealth")
    assert code == 1
    assert (
        f"issue #{other.number}: assignee {reporter.email} cannot be assigned (role REPORTER)"
        in out
    )
    assert (
        f"issue #{healthy.number}: assignee {maintainer.email} cannot be assigned (inactive)" in out
    )


def test_dbhealth_reports_missing_files_and_orphan_files(healthy, maintainer, settings):
    attachment = Attachment.objects.get()
    (settings.MEDIA_ROOT / attachment.file.name).unlink()
    stray = settings.MEDIA_ROOT / "attachments" / str(healthy.pk) / "stray.bin"
    stray.write_bytes(b"nobody's")
    code, out = run("dbhealth")
    assert code == 1
    assert f"attachment {attachment.pk}: file {attachment.file.name} is missing" in out
    assert f"file attachments/{healthy.pk}/stray.bin has no attachment row" in out


def test_dbhealth_reports_version_lower_than_its_writes(healthy):
    Issue.objects.filter(pk=healthy.pk).update(version=1)
    code, out = run("dbhealth")
    assert code == 1
    assert f"issue #{healthy.number}: version 1 is lower than 1 + 1 field-change write(s)" in out
    assert "versions count the writes: 1 problem(s)" in out


def test_dbhealth_reports_bulk_and_label_writes_too(healthy):
    done = Issue.objects.get(status=Status.DONE)  # one BULK_CHANGE, one LABELS_CHANGED
    assert done.version == 3
    Issue.objects.filter(pk=done.pk).update(version=2)
    code, out = run("dbhealth")
    assert code == 1
    assert f"issue #{done.number}: version 2 is lower than 1 + 2 field-change write(s)" in out


def test_dbhealth_reports_stale_and_missing_stats(healthy, settings):
    settings.STATS_INTERVAL_MINUTES = 30
    DailyStat.objects.update(computed_at=timezone.now() - timedelta(minutes=59))
    assert run("dbhealth")[0] == 0
    DailyStat.objects.update(computed_at=timezone.now() - timedelta(minutes=61))
    code, out = run("dbhealth")
    assert code == 1
    assert "daily stats: last computed" in out and "(60 min) ago" in out
    DailyStat.objects.all().delete()
    code, out = run("dbhealth")
    assert code == 1
    assert "daily stats: none computed yet" in out


# --- cleanup ------------------------------------------------------------------


@pytest.fixture
def old_and_new(maintainer, admin_user):
    old = IssueFactory(reporter=maintainer, title="Old and done")
    services.change_status(actor=maintainer, issue=old, version=1, status=Status.DONE)
    attachment = attach(old, maintainer)
    Issue.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=100))
    recent = IssueFactory(reporter=maintainer, title="Recently done")
    services.change_status(actor=maintainer, issue=recent, version=1, status=Status.DONE)
    still_open = IssueFactory(reporter=maintainer, title="Still open")
    Issue.objects.filter(pk=still_open.pk).update(created_at=timezone.now() - timedelta(days=400))
    used = LabelFactory(name="used")
    services.replace_labels(actor=maintainer, issue=still_open, labels=[used])
    LabelFactory(name="unused-a")
    LabelFactory(name="unused-b")
    return old, attachment


def test_cleanup_dry_run_lists_and_deletes_nothing(old_and_new):
    old, _ = old_and_new
    code, out = run("cleanup", "--resolved-older-than", "30", "--unused-labels")
    assert code == 0
    assert f"Would delete issue #{old.number} 'Old and done'" in out
    assert "Would delete 1 issue(s) resolved more than 30 day(s) ago." in out
    assert "Would delete label 'unused-a'" in out and "Would delete 2 unused label(s)." in out
    assert "Dry run" in out
    assert Issue.objects.count() == 3 and Label.objects.count() == 3


def test_cleanup_apply_deletes_through_services_and_logs(old_and_new, settings, caplog):
    old, attachment = old_and_new
    path = settings.MEDIA_ROOT / attachment.file.name
    assert path.exists()
    with caplog.at_level(logging.INFO, logger="tracker.maintenance"):
        code, out = run("cleanup", "--resolved-older-than", "30", "--unused-labels", "--apply")
    assert code == 0
    assert "Deleted 1 issue(s)" in out and "Deleted 2 unused label(s)." in out
    assert set(Issue.objects.values_list("title", flat=True)) == {"Recently done", "Still open"}
    assert list(Label.objects.values_list("name", flat=True)) == ["used"]
    assert not IssueEvent.objects.filter(issue_id=old.pk).exists()
    messages = [r.getMessage() for r in caplog.records if r.name == "tracker.maintenance"]
    assert any(f"deleted issue #{old.number}" in m for m in messages)
    assert any("deleted label 'unused-a'" in m for m in messages)
    assert any("deleted 2 unused label(s)" in m for m in messages)


@pytest.mark.django_db(transaction=True)
def test_cleanup_apply_removes_the_files_after_commit(maintainer, admin_user, settings):
    old = IssueFactory(reporter=maintainer)
    services.change_status(actor=maintainer, issue=old, version=1, status=Status.DONE)
    path = settings.MEDIA_ROOT / attach(old, maintainer).file.name
    Issue.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=10))
    assert run("cleanup", "--resolved-older-than", "5", "--apply")[0] == 0
    assert not Issue.objects.exists()
    assert not path.exists()


def test_cleanup_needs_an_admin_to_apply_and_something_to_do(maintainer):
    with pytest.raises(CommandError, match="Say what to clean"):
        call_command("cleanup")
    with pytest.raises(CommandError, match="active ADMIN"):
        call_command("cleanup", "--unused-labels", "--apply", stdout=StringIO())
    code, out = run("cleanup", "--unused-labels")  # a dry run needs no admin
    assert code == 0 and "Would delete 0 unused label(s)." in out


# --- vacuum -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_vacuum_analyzes_the_tables(issue):
    code, out = run("vacuum")
    assert code == 0 and "VACUUM ANALYZE done" in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
            "FROM pg_stat_user_tables WHERE relname = 'issues_issue'"
        )
        assert cursor.fetchone() == (True, True)


def test_vacuum_refuses_inside_a_transaction(db):
    with pytest.raises(CommandError, match="inside a transaction"):
        call_command("vacuum", stdout=StringIO())

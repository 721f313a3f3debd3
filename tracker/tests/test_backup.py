"""backup / backup --list / restore: a round trip that must give back every app
table's rows (count and content checksum) and every media file."""

import hashlib
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from issues import services
from issues.models import Issue, Severity, Status
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory
from reports.tasks import aggregate_daily_stats
from tracker.management.maintenance import app_models
from tracker.tests.support import ROOT, database_url


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BACKUP_DIR = tmp_path / "backups"


def table_snapshot() -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row's text, in primary-key order, per app table."""
    snapshot = {}
    with connection.cursor() as cursor:
        for model in app_models():
            table, pk = model._meta.db_table, model._meta.pk.column
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t.\"{pk}\"), '')) "  # noqa: S608
                f'FROM "{table}" t'
            )
            snapshot[table] = cursor.fetchone()
    return snapshot


def media_snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def attach(issue, actor, content):
    upload = SimpleUploadedFile("notes.txt", content, content_type="text/plain")
    return services.add_attachment(actor=actor, issue=issue, upload=upload)


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_gives_back_every_row_and_file(maintainer, reporter, settings):
    label = LabelFactory(name="bug")
    issues = [IssueFactory(reporter=reporter, title=f"Problem {n}") for n in range(5)]
    services.update_issue(
        actor=maintainer,
        issue=issues[0],
        version=1,
        changes={"status": Status.DONE, "severity": Severity.HIGH, "labels": [label]},
    )
    services.assign(actor=maintainer, issue=issues[1], version=1, assignee=maintainer)
    CommentFactory(issue=issues[1], author=maintainer, body="Looking into it")
    attach(issues[1], maintainer, b"first file\n")
    attach(issues[2], reporter, b"second file\n")
    aggregate_daily_stats()

    before = table_snapshot()
    media_before = media_snapshot(settings.MEDIA_ROOT)
    assert before["issues_issue"][0] == 5 and before["issues_attachment"][0] == 2
    assert len(media_before) == 2

    out = StringIO()
    call_command("backup", stdout=out)
    assert "Backup complete." in out.getvalue()
    dumps = sorted(settings.BACKUP_DIR.glob("tracker-*.dump"))
    assert len(dumps) == 1
    assert dumps[0].with_name(dumps[0].name.replace(".dump", ".media.tar.gz")).exists()

    listing = StringIO()
    call_command("backup", "--list", stdout=listing)
    assert dumps[0].name in listing.getvalue() and "UTC" in listing.getvalue()

    # Change and delete data and files.
    admin = type(maintainer).objects.create_user(
        email="boss@example.com", password="x-long-password-1", role="ADMIN"
    )
    services.delete_issue(actor=admin, issue=Issue.objects.get(pk=issues[2].pk))
    services.change_status(actor=maintainer, issue=issues[3], version=1, status=Status.TRIAGED)
    CommentFactory(issue=issues[4], author=reporter, body="Any news?")
    services.delete_label(actor=admin, label=label)
    attach(issues[4], reporter, b"a new file\n")
    assert table_snapshot() != before
    assert media_snapshot(settings.MEDIA_ROOT) != media_before

    connections.close_all()
    out = StringIO()
    call_command("restore", str(dumps[0]), "--yes", stdout=out)
    assert "Restore complete." in out.getvalue()

    connections.close_all()
    assert table_snapshot() == before
    assert media_snapshot(settings.MEDIA_ROOT) == media_before
    # The safety backup holds the state just before the restore.
    safety = sorted(settings.BACKUP_DIR.glob("pre-restore-*.dump"))
    assert len(safety) == 1 and safety[0].stat().st_size > 0
    assert "Safety backup of the current state" in out.getvalue()
    # Issue numbers keep being drawn from the restored sequence without clashing.
    IssueFactory(reporter=reporter)
    assert Issue.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_without_yes(settings):
    call_command("backup", stdout=StringIO())
    dump = next(settings.BACKUP_DIR.glob("*.dump"))
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", dump.name, stdout=StringIO())
    # Nothing happened: no safety backup was taken.
    assert not list(settings.BACKUP_DIR.glob("pre-restore-*"))
    with pytest.raises(CommandError, match="No such backup"):
        call_command("restore", "nope.dump", "--yes", stdout=StringIO())


def test_commands_exit_non_zero_from_the_command_line(tmp_path, db):
    """`restore` without --yes, and `dbhealth` with findings, fail for the shell."""
    dump = tmp_path / "tracker-20250101T000000Z.dump"
    dump.write_bytes(b"not really")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "BACKUP_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "restore", str(dump)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--yes" in result.stderr

    result = subprocess.run(
        [sys.executable, "manage.py", "dbhealth"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The test database has no daily stats yet: a finding, so exit status 1.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "daily stats: none computed yet" in result.stdout

"""`manage.py dbhealth`: integrity checks. Prints each finding and exits with
status 1 when there is any (0 and "No problems found." otherwise)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import F, Max, Q
from django.utils import timezone

from accounts.models import Role
from issues.models import Attachment, EventKind, Issue, IssueEvent, IssueLabel, Status
from reports.models import DailyStat

# Each write through the services bumps the version once and records one event per
# changed field, all carrying the new version in data.version: the writes are the
# distinct versions among an issue's field-change events.
FIELD_CHANGE_KINDS = (EventKind.FIELD_CHANGED, EventKind.LABELS_CHANGED, EventKind.BULK_CHANGE)


def resolved_at_findings():
    bad = Issue.objects.filter(
        Q(status=Status.DONE, resolved_at__isnull=True)
        | (~Q(status=Status.DONE) & Q(resolved_at__isnull=False))
    ).order_by("number")
    for issue in bad:
        yield (
            f"issue #{issue.number}: status {issue.status} but resolved_at "
            f"{'is empty' if issue.resolved_at is None else issue.resolved_at.isoformat()}"
        )


def assignee_findings():
    bad = (
        Issue.objects.filter(assignee__isnull=False)
        .filter(Q(assignee__is_active=False) | Q(assignee__role=Role.REPORTER))
        .select_related("assignee")
        .order_by("number")
    )
    for issue in bad:
        user = issue.assignee
        why = "inactive" if not user.is_active else f"role {user.role}"
        yield f"issue #{issue.number}: assignee {user.email} cannot be assigned ({why})"


def attachment_findings():
    storage = Attachment._meta.get_field("file").storage
    known = set()
    for pk, name in Attachment.objects.order_by("pk").values_list("pk", "file"):
        known.add(name)
        if not name or not storage.exists(name):
            yield f"attachment {pk}: file {name or '(none)'} is missing"
    media_root = Path(settings.MEDIA_ROOT)
    root = media_root / "attachments"
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(media_root).as_posix()
            if name not in known:
                yield f"file {name} has no attachment row"


def version_findings():
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.number, i.version, w.writes
            FROM {Issue._meta.db_table} i
            JOIN (
                SELECT issue_id,
                       COUNT(DISTINCT COALESCE(data->>'version', 'event ' || id::text)) AS writes
                FROM {IssueEvent._meta.db_table}
                WHERE kind = ANY(%s)
                GROUP BY issue_id
            ) w ON w.issue_id = i.id
            WHERE i.version < 1 + w.writes
            ORDER BY i.number
            """,  # noqa: S608 - table names come from the models
            [[str(k) for k in FIELD_CHANGE_KINDS]],
        )
        for number, version, writes in cursor.fetchall():
            yield (
                f"issue #{number}: version {version} is lower than 1 + {writes} "
                "field-change write(s) in its timeline"
            )


def label_link_findings():
    """Links whose copy of the issue's status (IssueLabel.status) differs: the
    triggers of issues migration 0010 keep them equal, so any is a bug, and it
    would make the lists' counts wrong."""
    bad = (
        IssueLabel.objects.exclude(status=F("issue__status"))
        .order_by("issue__number", "label__name")
        .values_list("issue__number", "label__name", "status", "issue__status")
    )
    for number, label, copied, status in bad:
        yield f"issue #{number}: label {label} says status {copied}, not {status}"


def stats_findings():
    limit = timedelta(minutes=2 * settings.STATS_INTERVAL_MINUTES)
    latest = DailyStat.objects.aggregate(latest=Max("computed_at"))["latest"]
    if latest is None:
        yield "daily stats: none computed yet (is beat running?)"
    elif timezone.now() - latest > limit:
        yield (
            f"daily stats: last computed {latest.isoformat()}, more than two schedule "
            f"periods ({2 * settings.STATS_INTERVAL_MINUTES} min) ago (is beat running?)"
        )


CHECKS = [
    ("resolved_at matches status", resolved_at_findings),
    ("assignees can be assigned", assignee_findings),
    ("attachments match files", attachment_findings),
    ("versions count the writes", version_findings),
    ("label links carry their issue's status", label_link_findings),
    ("daily stats are fresh", stats_findings),
]


class Command(BaseCommand):
    help = "Check the data's integrity; print each finding and exit 1 if there is any."

    def handle(self, *args, **options):
        total = 0
        for title, check in CHECKS:
            findings = list(check())
            total += len(findings)
            status = "ok" if not findings else f"{len(findings)} problem(s)"
            self.stdout.write(f"{title}: {status}")
            for finding in findings:
                self.stdout.write(f"  {finding}")
        if total:
            self.stderr.write(f"{total} problem(s) found.")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("No problems found."))

"""Building issues with a known past: created through the service layer (so each
has its CREATED event and a real number), then moved in time with
QuerySet.update. Timeline events, which the database refuses to UPDATE, are
inserted with the timestamp they should have."""

import datetime
import json

from django.db import connection

from issues import services
from issues.models import Issue, Severity, Status

UTC = datetime.UTC


def at(day: datetime.date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute, second), tzinfo=UTC)


def issue_at(
    actor,
    created: datetime.datetime,
    *,
    resolved: datetime.datetime | None = None,
    status: str | None = None,
    severity=Severity.MEDIUM,
    assignee=None,
    title: str = "An issue",
) -> Issue:
    """An issue created at `created`; DONE and resolved at `resolved` if given."""
    status = status or (Status.DONE if resolved else Status.OPEN)
    issue = services.create_issue(
        actor=actor, title=title, status=status, severity=severity, assignee=assignee
    )
    Issue.objects.filter(pk=issue.pk).update(
        created_at=created, resolved_at=resolved if status == Status.DONE else None
    )
    return Issue.objects.get(pk=issue.pk)


def add_event(issue, when: datetime.datetime, kind: str, field: str = "", old=None, new=None):
    """A timeline event stamped `when` (auto_now_add would stamp it now)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO issues_issueevent"
            " (issue_id, actor_id, kind, field, old_value, new_value, data, created_at)"
            " VALUES (%s, NULL, %s, %s, %s::jsonb, %s::jsonb, '{}'::jsonb, %s)",
            [issue.pk, kind, field, json.dumps(old), json.dumps(new), when],
        )

"""Changing many issues at once, all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import roles
from accounts.models import User
from issues import live, notifications, workflow
from issues.errors import NotFound
from issues.models import EventKind, Issue, IssueEvent, Status
from issues.services.validation import clean_status

BULK_MAX = 1000


@transaction.atomic
def bulk_change_status(*, actor: User, ids: Iterable[Any], status: str) -> list[Issue]:
    """Move many issues to one status: all of them or, on any problem, none.

    Unknown or invisible ids raise NotFound naming them; disallowed transitions
    raise ValidationError naming them. Issues already in `status` are left alone.
    """
    if not roles.can_triage(actor):
        raise PermissionDenied("Only maintainers may change the status of issues.")
    ids = list(ids or [])
    errors: dict[str, list[str]] = {}
    if not ids:
        errors["ids"] = ["Give at least one issue id."]
    elif len(ids) > BULK_MAX:
        errors["ids"] = [f"At most {BULK_MAX} issues at once (got {len(ids)})."]
    try:
        status = clean_status(status)
    except ValidationError as exc:
        errors["status"] = exc.messages
    wanted, malformed = set(), []
    for raw in ids:
        try:
            wanted.add(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            malformed.append(str(raw))
    if malformed:
        errors.setdefault("ids", []).append(f"Not issue ids: {', '.join(malformed)}.")
    if errors:
        raise ValidationError(errors)

    # Lock in id order so two bulk changes over overlapping sets cannot deadlock.
    issues = list(Issue.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    visible = {issue.pk: issue for issue in issues if roles.can_view_issue(actor, issue)}
    missing = sorted(str(pk) for pk in wanted - visible.keys())
    if missing:
        raise NotFound(f"No such issue(s): {', '.join(missing)}.", ids=missing)
    refused = [
        f"#{issue.number}: {workflow.refusal(issue.status, status)}"
        for issue in visible.values()
        if not workflow.can_move(issue.status, status)
    ]
    if refused:
        raise ValidationError({"status": refused})

    moving = [issue for issue in visible.values() if issue.status != status]
    if not moving:
        return []
    now = timezone.now()
    Issue.objects.filter(pk__in=[issue.pk for issue in moving]).update(
        status=status,
        resolved_at=now if status == Status.DONE else None,
        version=F("version") + 1,
        updated_at=now,
    )
    batch = str(uuid.uuid4())
    events = IssueEvent.objects.bulk_create(
        IssueEvent(
            issue=issue,
            actor=actor,
            kind=EventKind.BULK_CHANGE,
            field="status",
            old_value=issue.status,
            new_value=status,
            data={"batch": batch, "count": len(moving), "version": issue.version + 1},
        )
        for issue in moving
    )
    # The rows are locked until the commit: what the UPDATE wrote is what they hold.
    changed = sorted(moving, key=lambda issue: issue.number)
    for issue in changed:
        issue.status, issue.version, issue.updated_at = status, issue.version + 1, now
        issue.resolved_at = now if status == Status.DONE else None
    live.announce_many("updated", changed)
    # One task after the commit, so each watcher gets one mail for the whole batch.
    notifications.schedule(events)
    return changed

"""Threaded comments on issues."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from issues import live, notifications
from issues.models import Comment, EventKind, Issue, IssueEvent
from issues.services.issues import insert_events
from issues.services.validation import COMMENT_MAX, refuse_nul, require_visible
from tracker.db import Insert, Update, execute_together, one


def _clean_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError({"body": ["A comment cannot be empty."]})
    try:
        refuse_nul(body)
    except ValidationError as error:
        raise ValidationError({"body": error.messages}) from None
    if len(body) > COMMENT_MAX:
        raise ValidationError({"body": [f"At most {COMMENT_MAX} characters (got {len(body)})."]})
    return body


@transaction.atomic
def add_comment(
    *, actor: User, issue: Issue, body: str, parent: Comment | int | None = None
) -> Comment:
    """Comments do not bump the issue's version (they never conflict with an
    edit) but do count as activity for "recently updated"."""
    require_visible(actor, issue)
    if not roles.can_comment(actor, issue):
        raise PermissionDenied("You may not comment on this issue.")
    body = _clean_body(body)
    if parent is not None:
        parent_id = parent.pk if isinstance(parent, Comment) else parent
        try:
            parent = one(Comment.objects.filter(pk=parent_id, issue=issue))
        except (ValueError, TypeError):  # not an id at all ("abc", a list): bad input
            parent = None
        if parent is None:
            raise ValidationError({"parent": ["No such comment on this issue."]})
    comment = Comment(issue=issue, author=actor, body=body, parent=parent)
    _insert_comment(comment)
    event = IssueEvent(
        issue=issue,
        actor=actor,
        kind=EventKind.COMMENT_ADDED,
        data={"comment": comment.pk, "parent": parent.pk if parent else None},
    )
    insert_events(event)
    execute_together(
        _touch.statement({"updated_at": timezone.now()}, issue.pk),
        live.notice("commented", issue),
        notifications.pending([event]),  # watchers and @mentioned people, after the commit
    )
    return comment


# A comment's writes, compiled once (tracker.db): the comment, and the issue's
# activity time (a comment does not bump the version).
_insert_comment = Insert(Comment)
_touch = Update(Issue, where=("id",))


@transaction.atomic
def edit_comment(*, actor: User, comment: Comment, body: str) -> Comment:
    require_visible(actor, comment.issue)
    if not roles.can_edit_comment(actor, comment):
        raise PermissionDenied("Only the author may edit a comment.")
    comment.body = _clean_body(body)
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    live.announce("commented", comment.issue)
    return comment

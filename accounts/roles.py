"""The one place that answers "may this user ...?".

Every check takes the acting user (possibly anonymous) and, where it matters, the
issue. Services call these before writing; queries use `sees_all_issues` to scope
reads. Keep the rules here in step with the role table in DESIGN.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.models import Role

if TYPE_CHECKING:
    from issues.models import Issue


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_maintainer(user) -> bool:
    """MAINTAINER or ADMIN: the people who triage."""
    return _active(user) and user.role in (Role.MAINTAINER, Role.ADMIN)


def is_admin(user) -> bool:
    return _active(user) and user.role == Role.ADMIN


def sees_all_issues(user) -> bool:
    return is_maintainer(user)


def can_view_issue(user, issue: Issue) -> bool:
    return sees_all_issues(user) or (_active(user) and issue.reporter_id == user.pk)


def can_create_issue(user) -> bool:
    return _active(user)


def can_edit_text(user, issue: Issue) -> bool:
    """Title and description: the reporter of the issue, or any maintainer."""
    return is_maintainer(user) or (_active(user) and issue.reporter_id == user.pk)


def can_triage(user) -> bool:
    """Status, severity, assignee, labels, bulk status and CSV import."""
    return is_maintainer(user)


def can_comment(user, issue: Issue) -> bool:
    return can_view_issue(user, issue)


def can_attach(user, issue: Issue) -> bool:
    return can_view_issue(user, issue)


def can_edit_comment(user, comment) -> bool:
    return _active(user) and (comment.author_id == user.pk or is_admin(user))


def can_view_reports(user) -> bool:
    return is_maintainer(user)


def can_delete_issue(user) -> bool:
    return is_admin(user)


def can_manage_labels(user) -> bool:
    return is_admin(user)


def can_manage_users(user) -> bool:
    return is_admin(user)


def can_use_admin(user) -> bool:
    return is_admin(user)


def can_be_assigned(user) -> bool:
    """Only people who triage carry work; reporters and deactivated users do not."""
    return is_maintainer(user)

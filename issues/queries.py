"""Every read that filters or aggregates issues starts here, so that permission
scoping cannot be forgotten."""

from django.db.models import QuerySet

from accounts import roles
from issues.models import Issue


def visible_issues(user) -> QuerySet[Issue]:
    """The issues `user` may see: all of them for maintainers and admins, the
    ones they reported for reporters, none for anonymous or inactive users."""
    if roles.sees_all_issues(user):
        return Issue.objects.all()
    if roles.can_create_issue(user):
        return Issue.objects.filter(reporter=user)
    return Issue.objects.none()

"""Every question accounts.roles answers, asked by everyone in the role table of
DESIGN.md. A new function in roles.py without a row here fails the last test."""

import inspect

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import roles
from accounts.models import Role
from accounts.tests.factories import UserFactory
from issues.tests.factories import CommentFactory

ACTORS = [
    "anonymous",
    "inactive_reporter_own",  # the issue's own reporter, deactivated
    "inactive_admin",
    "reporter_own",  # reported the issue / wrote the comment
    "reporter_other",  # another reporter: someone else's issue and comment
    "maintainer",  # neither reported the issue nor wrote the comment
    "admin",  # neither reported the issue nor wrote the comment
]

# function -> what it is asked about, and the answer for each actor in ACTORS order.
#                                  anon   in-own in-adm own    other  maint  admin
TABLE = {
    "is_maintainer": ("user", [False, False, False, False, False, True, True]),
    "is_admin": ("user", [False, False, False, False, False, False, True]),
    "sees_all_issues": ("user", [False, False, False, False, False, True, True]),
    "can_view_issue": ("issue", [False, False, False, True, False, True, True]),
    "can_create_issue": ("user", [False, False, False, True, True, True, True]),
    "can_edit_text": ("issue", [False, False, False, True, False, True, True]),
    "can_triage": ("user", [False, False, False, False, False, True, True]),
    "can_comment": ("issue", [False, False, False, True, False, True, True]),
    "can_attach": ("issue", [False, False, False, True, False, True, True]),
    "can_edit_comment": ("comment", [False, False, False, True, False, False, True]),
    "can_view_reports": ("user", [False, False, False, False, False, True, True]),
    "can_delete_issue": ("user", [False, False, False, False, False, False, True]),
    "can_manage_labels": ("user", [False, False, False, False, False, False, True]),
    "can_manage_users": ("user", [False, False, False, False, False, False, True]),
    "can_use_admin": ("user", [False, False, False, False, False, False, True]),
    "can_be_assigned": ("user", [False, False, False, False, False, True, True]),
}


@pytest.fixture
def comment(issue):
    """A comment written by the issue's reporter on their own issue."""
    return CommentFactory(issue=issue, author=issue.reporter)


@pytest.fixture
def actors(reporter, other_reporter, maintainer, admin_user, comment):
    # The same person as `reporter`, deactivated after reporting and commenting.
    inactive_reporter = type(reporter).objects.get(pk=reporter.pk)
    inactive_reporter.is_active = False
    inactive_reporter.save(update_fields=["is_active"])
    return {
        "anonymous": AnonymousUser(),
        "inactive_reporter_own": inactive_reporter,
        "inactive_admin": UserFactory(role=Role.ADMIN, is_active=False),
        "reporter_own": reporter,
        "reporter_other": other_reporter,
        "maintainer": maintainer,
        "admin": admin_user,
    }


@pytest.mark.parametrize("function", list(TABLE))
def test_role_table_answers_for_every_actor(function, actors, issue, comment):
    subject, expected = TABLE[function]
    check = getattr(roles, function)
    args = {"user": (), "issue": (issue,), "comment": (comment,)}[subject]
    answers = {actor: check(actors[actor], *args) for actor in ACTORS}
    assert answers == dict(zip(ACTORS, expected, strict=True))


def test_none_as_user_is_refused_everything(issue, comment):
    for function, (subject, _answers) in TABLE.items():
        check = getattr(roles, function)
        args = {"user": (), "issue": (issue,), "comment": (comment,)}[subject]
        assert check(None, *args) is False, function


def test_demoted_admin_loses_admin_rights_but_keeps_maintainer_rights(admin_user):
    assert roles.can_use_admin(admin_user)
    admin_user.role = Role.MAINTAINER
    assert not roles.can_use_admin(admin_user)
    assert not roles.can_manage_users(admin_user)
    assert roles.can_triage(admin_user)


def test_every_public_function_of_roles_is_in_the_table():
    public = {
        name
        for name, member in inspect.getmembers(roles, inspect.isfunction)
        if member.__module__ == roles.__name__ and not name.startswith("_")
    }
    assert public == set(TABLE)

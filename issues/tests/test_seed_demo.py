from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Role, User
from issues.models import Comment, EventKind, Issue, IssueEvent, Label

pytestmark = pytest.mark.django_db

ISSUES = 20


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--issues", str(ISSUES), stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "issues": Issue.objects.count(),
        "labels": Label.objects.count(),
        "comments": Comment.objects.count(),
        "events": IssueEvent.objects.count(),
    }


def test_seed_demo_creates_a_user_per_role_and_issues_with_timelines():
    output = seed()

    roles = set(User.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    admin = User.objects.get(email="admin@example.com")
    assert admin.role == Role.ADMIN
    assert admin.check_password("demo-admin")
    assert Issue.objects.count() == ISSUES
    assert Label.objects.count() == 8
    created = IssueEvent.objects.filter(kind=EventKind.CREATED)
    assert created.count() == ISSUES
    assert set(created.values_list("issue_id", flat=True)) == set(
        Issue.objects.values_list("pk", flat=True)
    )
    # issues went further than being created: triaged, assigned, labelled, commented
    assert IssueEvent.objects.exclude(kind=EventKind.CREATED).exists()
    assert IssueEvent.objects.filter(actor__isnull=True).count() == 0
    # versions and resolved_at are what the services make
    for issue in Issue.objects.all():
        changes = issue.events.filter(
            kind__in=[EventKind.FIELD_CHANGED, EventKind.LABELS_CHANGED]
        ).count()
        assert issue.version == 1 + changes
        assert (issue.resolved_at is not None) == (issue.status == "DONE")
    assert f"Seeded 5 users and {ISSUES} issues." in output
    assert "admin@example.com" in output


def test_running_seed_demo_again_creates_nothing_new():
    seed()
    before = snapshot()

    output = seed()

    assert snapshot() == before
    assert "Demo data already present." in output

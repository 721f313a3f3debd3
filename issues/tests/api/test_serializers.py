"""The issue's hand-built representation is exactly what DRF's field-by-field
rendering of the declared fields (the ones the OpenAPI schema shows) gives."""

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from issues import queries, services
from issues.api import views  # noqa: F401 (DRF's views before tracker.api, as the URLconf loads them)
from issues.api.serializers import IssueSerializer
from issues.models import Status
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.django_db


def drf_rendering(serializer, issue) -> dict:
    return dict(serializers.ModelSerializer.to_representation(serializer, issue))


@pytest.fixture
def request_():
    return APIRequestFactory().get("/api/issues/", HTTP_HOST="testserver")


def test_an_open_issue_with_labels_and_an_assignee(maintainer, request_):
    for name in ("ui", "Bug", "api"):
        LabelFactory(name=name)
    issue = IssueFactory(reporter=maintainer, labels=["ui", "Bug", "api"], assignee=maintainer.pk)
    issue = queries.api_issue(maintainer, pk=issue.pk)
    serializer = IssueSerializer(issue, context={"request": request_})

    data = serializer.data

    assert data == drf_rendering(serializer, issue)
    assert list(data) == IssueSerializer.Meta.fields
    assert data["labels"] == ["api", "Bug", "ui"]
    assert data["assignee"] == {"id": maintainer.pk, "name": maintainer.name}
    assert data["url"] == f"http://testserver/api/issues/{issue.pk}/"
    assert data["resolved_at"] is None


def test_a_resolved_unassigned_issue_from_a_page_without_request(maintainer, reporter):
    issue = IssueFactory(reporter=reporter)
    services.update_issue(
        actor=maintainer, issue=issue, version=issue.version, changes={"status": Status.DONE}
    )
    issue = queries.api_issue(maintainer, pk=issue.pk)
    serializer = IssueSerializer(issue)

    data = serializer.data

    assert data == drf_rendering(serializer, issue)
    assert data["assignee"] is None and data["labels"] == []
    assert data["resolved_at"].endswith("Z") and data["url"] == f"/api/issues/{issue.pk}/"


def test_a_page_of_issues(maintainer, reporter, request_):
    issues = [IssueFactory(reporter=reporter) for _ in range(3)]
    rows = list(queries.api_issue_list(maintainer).filter(pk__in=[i.pk for i in issues]))
    serializer = IssueSerializer(rows, many=True, context={"request": request_})

    assert serializer.data == [drf_rendering(serializer.child, row) for row in rows]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns"])
def test_times_are_rendered_in_the_current_time_zone_as_drf_does(maintainer, zone):
    issue = IssueFactory(reporter=maintainer)
    services.update_issue(
        actor=maintainer, issue=issue, version=issue.version, changes={"status": Status.DONE}
    )
    issue = queries.api_issue(maintainer, pk=issue.pk)

    with timezone.override(zone):
        serializer = IssueSerializer(issue)
        data = serializer.data
        assert data == drf_rendering(serializer, issue)

    assert data["created_at"].endswith("Z") == (zone == "UTC")


def test_each_input_serializer_binds_its_own_copies_of_the_fields():
    """StrictSerializer copies its leaf fields instead of deep-copying them:
    each instance still has its own, bound to it, and its own errors."""
    from issues.api.serializers import IssueCreateInput

    good = IssueCreateInput(data={"title": "Fine", "labels": ["bug"], "severity": "LOW"})
    bad = IssueCreateInput(data={"title": 7, "labels": "bug", "severity": "HUGE"})
    assert good.is_valid(), good.errors
    assert not bad.is_valid()
    assert set(bad.errors) == {"title", "labels", "severity"}
    assert good.validated_data == {"title": "Fine", "labels": ["bug"], "severity": "LOW"}
    for name, field in good.fields.items():
        declared = IssueCreateInput._declared_fields[name]
        assert field is not bad.fields[name] is not declared
        assert field.parent is good and bad.fields[name].parent is bad
        assert getattr(declared, "parent", None) is None
    # A field with a field inside (the labels' child) is deep-copied, as DRF does.
    assert good.fields["labels"].child is not bad.fields["labels"].child
    assert good.fields["labels"].child.parent is good.fields["labels"]

"""POST /api/issues/bulk-status/: every listed issue changes, or none does."""

import uuid

import pytest
from django.db.models import Count

from issues.models import EventKind, Issue, IssueEvent, Status
from issues.tests.api import assert_error, client_for
from issues.tests.factories import IssueFactory

URL = "/api/issues/bulk-status/"


@pytest.fixture
def three(reporter, other_reporter, maintainer):
    return [
        IssueFactory(reporter=reporter, title="One"),
        IssueFactory(reporter=other_reporter, title="Two"),
        IssueFactory(reporter=maintainer, title="Three"),
    ]


def state() -> dict:
    """Status, version and number of timeline events of every issue."""
    events = dict(
        Issue.objects.annotate(n=Count("events")).values_list("pk", "n")
    )  # one query, whatever the number of issues
    return {
        pk: (status, version, updated_at, events[pk])
        for pk, status, version, updated_at in Issue.objects.values_list(
            "pk", "status", "version", "updated_at"
        )
    }


def ids(*issues) -> list[str]:
    return [str(issue.pk) for issue in issues]


@pytest.mark.django_db
def test_every_listed_issue_moves_with_its_own_event_and_version(maintainer_api, maintainer, three):
    response = maintainer_api.post(URL, {"ids": ids(*three), "status": "TRIAGED"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["updated"] == 3
    assert body["issues"] == [
        {"id": str(issue.pk), "number": issue.number, "status": "TRIAGED", "version": 2}
        for issue in sorted(three, key=lambda issue: issue.number)
    ]
    for issue in three:
        row = Issue.objects.get(pk=issue.pk)
        assert (row.status, row.version) == (Status.TRIAGED, 2)
        (event,) = IssueEvent.objects.filter(issue=issue, kind=EventKind.BULK_CHANGE)
        assert (event.field, event.old_value, event.new_value, event.actor) == (
            "status",
            "OPEN",
            "TRIAGED",
            maintainer,
        )
        assert event.data["count"] == 3
        assert event.data["version"] == 2
    batches = {e.data["batch"] for e in IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE)}
    assert len(batches) == 1


@pytest.mark.django_db
def test_moving_to_done_stamps_resolved_at(maintainer_api, three):
    maintainer_api.post(URL, {"ids": ids(*three), "status": "DONE"}, format="json")

    assert all(issue.resolved_at for issue in Issue.objects.all())


@pytest.mark.django_db
def test_issues_already_in_the_status_are_left_alone(maintainer_api, maintainer, three):
    first, second, third = three
    maintainer_api.post(URL, {"ids": ids(first), "status": "TRIAGED"}, format="json")
    before = state()

    response = maintainer_api.post(URL, {"ids": ids(*three), "status": "TRIAGED"}, format="json")

    assert response.json()["updated"] == 2
    after = state()
    assert after[first.pk] == before[first.pk]
    assert after[second.pk][1] == after[third.pk][1] == 2


@pytest.mark.django_db
def test_a_repeated_id_counts_once(maintainer_api, three):
    response = maintainer_api.post(
        URL, {"ids": ids(three[0], three[0]), "status": "DONE"}, format="json"
    )

    assert response.json()["updated"] == 1
    assert IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).count() == 1


@pytest.mark.django_db
def test_one_unknown_id_is_a_404_naming_it_and_nothing_changes(maintainer_api, three):
    before = state()
    unknown = str(uuid.uuid4())

    response = maintainer_api.post(
        URL, {"ids": [*ids(*three), unknown], "status": "DONE"}, format="json"
    )

    body = assert_error(response, 404, "ids")
    assert body["errors"]["ids"] == [unknown]
    assert unknown in body["detail"]
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["not-a-uuid", "42", "' OR 1=1 --"])
def test_one_malformed_id_is_a_400_naming_it_and_nothing_changes(maintainer_api, three, bad):
    before = state()

    response = maintainer_api.post(
        URL, {"ids": [*ids(*three), bad], "status": "DONE"}, format="json"
    )

    body = assert_error(response, 400, "ids")
    assert any(f"Not issue ids: {bad}." in reason for reason in body["errors"]["ids"])
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"id": 1}, "Not a valid string."),
        ("", "This field may not be blank."),
        (None, "This field may not be null."),
    ],
)
def test_an_id_that_is_no_string_is_a_400_naming_its_place(maintainer_api, three, bad, reason):
    before = state()

    response = maintainer_api.post(
        URL, {"ids": [*ids(*three), bad], "status": "DONE"}, format="json"
    )

    body = assert_error(response, 400, "ids")
    assert body["errors"]["ids"] == [f"Item 3: {reason}"]
    assert state() == before


@pytest.mark.django_db
def test_one_refused_transition_refuses_them_all(maintainer_api, three):
    first, second, third = three
    maintainer_api.post(URL, {"ids": ids(first, second), "status": "TRIAGED"}, format="json")
    before = state()

    # TRIAGED -> IN_PROGRESS is fine for two of them; OPEN -> IN_PROGRESS is not.
    response = maintainer_api.post(
        URL, {"ids": ids(*three), "status": "IN_PROGRESS"}, format="json"
    )

    body = assert_error(response, 400, "status")
    assert body["errors"]["status"][0].startswith(f"#{third.number}: ")
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["FINISHED", "done", "", None, 3])
def test_an_unknown_status_is_a_400_and_nothing_changes(maintainer_api, three, status):
    before = state()

    response = maintainer_api.post(URL, {"ids": ids(*three), "status": status}, format="json")

    assert_error(response, 400, "status")
    assert state() == before


@pytest.mark.django_db
def test_more_than_1000_ids_is_a_400(maintainer_api, three):
    before = state()
    too_many = ids(*three) + [str(uuid.uuid4()) for _ in range(998)]

    response = maintainer_api.post(URL, {"ids": too_many, "status": "DONE"}, format="json")

    body = assert_error(response, 400, "ids")
    assert "1000" in str(body["errors"]["ids"])
    assert state() == before


@pytest.mark.django_db
def test_exactly_1000_ids_are_accepted(maintainer_api, maintainer):
    Issue.objects.bulk_create(Issue(title=f"Row {i}", reporter=maintainer) for i in range(1000))

    response = maintainer_api.post(
        URL,
        {"ids": [str(pk) for pk in Issue.objects.values_list("pk", flat=True)], "status": "DONE"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["updated"] == 1000
    assert Issue.objects.filter(status=Status.DONE, version=2).count() == 1000
    assert IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).count() == 1000


@pytest.mark.django_db
def test_no_ids_is_a_400(maintainer_api):
    assert_error(maintainer_api.post(URL, {"ids": [], "status": "DONE"}, format="json"), 400, "ids")


@pytest.mark.django_db
def test_a_reporter_may_not_bulk_change_even_their_own_issues(reporter_api, three):
    before = state()

    response = reporter_api.post(URL, {"ids": ids(three[0]), "status": "DONE"}, format="json")

    assert_error(response, 403)
    assert state() == before


@pytest.mark.django_db
def test_a_reporter_learns_nothing_about_issues_they_cannot_see(reporter, three):
    client = client_for(reporter)
    hidden = client.post(URL, {"ids": ids(three[1]), "status": "DONE"}, format="json")
    unknown = client.post(URL, {"ids": [str(uuid.uuid4())], "status": "DONE"}, format="json")

    assert hidden.status_code == unknown.status_code == 403
    assert hidden.json() == unknown.json()

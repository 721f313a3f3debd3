"""One issue: create, read (ETag, 304), partial update with optimistic
concurrency (428 / 409 / If-Match), delete, and a real race between two
threads on their own database connections."""

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from issues.models import EventKind, Issue, IssueEvent, Severity
from issues.services import issues as issue_services
from issues.tests.api import assert_error, client_for, detail_url, issue_state
from issues.tests.factories import IssueFactory, LabelFactory


def etag(issue) -> str:
    return f'"{issue.pk}-{issue.version}"'


@pytest.mark.django_db
def test_creating_answers_201_with_location_and_etag(reporter_api, reporter):
    response = reporter_api.post(
        "/api/issues/",
        {"title": "Crash on start", "description": "Every time.", "severity": "HIGH"},
        format="json",
    )

    assert response.status_code == 201
    issue = Issue.objects.get()
    body = response.json()
    assert response["Location"] == f"http://testserver/api/issues/{issue.pk}/"
    assert response["ETag"] == f'"{issue.pk}-1"'
    assert body["id"] == str(issue.pk)
    assert body["url"] == response["Location"]
    assert (body["title"], body["description"], body["severity"], body["status"]) == (
        "Crash on start",
        "Every time.",
        "HIGH",
        "OPEN",
    )
    assert body["reporter"] == {"id": reporter.pk, "name": "Rita Reporter"}
    assert (body["version"], body["assignee"], body["labels"]) == (1, None, [])
    assert (issue.severity, issue.reporter) == (Severity.HIGH, reporter)


@pytest.mark.django_db
def test_the_answer_to_a_create_is_the_issue_as_a_fresh_read_gives_it(maintainer_api, maintainer):
    LabelFactory(name="ui")
    LabelFactory(name="Bug")
    body = {
        "title": "  Made with everything ",
        "description": "Some *text*",
        "status": "IN_PROGRESS",
        "severity": "HIGH",
        "assignee": maintainer.pk,
        "labels": ["ui", "bug"],
    }

    created = maintainer_api.post("/api/issues/", body, format="json")
    fresh = maintainer_api.get(created["Location"])

    assert created.status_code == 201 and fresh.status_code == 200
    assert created.json() == fresh.json()
    assert created["ETag"] == fresh["ETag"]
    assert created.json()["labels"] == ["Bug", "ui"]


@pytest.mark.django_db
def test_a_maintainer_creates_with_status_assignee_and_labels(maintainer_api, maintainer):
    LabelFactory(name="bug")
    response = maintainer_api.post(
        "/api/issues/",
        {"title": "Known", "status": "DONE", "assignee": maintainer.pk, "labels": ["BUG"]},
        format="json",
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["status"], body["assignee"]["id"], body["labels"]) == (
        "DONE",
        maintainer.pk,
        ["bug"],
    )
    assert body["resolved_at"] is not None


@pytest.mark.django_db
def test_reading_an_issue_gives_its_etag(reporter_api, issue):
    by_id = reporter_api.get(detail_url(issue))
    by_number = reporter_api.get(f"/api/issues/by-number/{issue.number}/")

    assert by_id.status_code == by_number.status_code == 200
    assert by_id["ETag"] == by_number["ETag"] == etag(issue)
    assert by_id.json() == by_number.json()
    assert by_id.json()["id"] == str(issue.pk)


@pytest.mark.django_db
def test_if_none_match_with_the_current_etag_is_a_304_without_a_body(reporter_api, issue):
    tag = reporter_api.get(detail_url(issue))["ETag"]

    response = reporter_api.get(detail_url(issue), HTTP_IF_NONE_MATCH=tag)
    weak = reporter_api.get(detail_url(issue), HTTP_IF_NONE_MATCH=f'"other", W/{tag}')
    by_number = reporter_api.get(f"/api/issues/by-number/{issue.number}/", HTTP_IF_NONE_MATCH=tag)

    assert response.status_code == weak.status_code == by_number.status_code == 304
    assert response.content == b""
    assert response["ETag"] == tag


@pytest.mark.django_db
def test_after_an_edit_the_old_etag_no_longer_matches(maintainer_api, issue):
    old = maintainer_api.get(detail_url(issue))["ETag"]
    edited = maintainer_api.patch(
        detail_url(issue), {"title": "Sharper title"}, format="json", HTTP_IF_MATCH=old
    )
    again = maintainer_api.get(detail_url(issue), HTTP_IF_NONE_MATCH=old)

    assert edited.status_code == 200
    assert edited["ETag"] == f'"{issue.pk}-2"' != old
    assert again.status_code == 200
    assert again["ETag"] == edited["ETag"]
    assert again.json()["title"] == "Sharper title"


@pytest.mark.django_db
def test_if_none_match_does_not_reveal_an_issue_to_someone_who_may_not_see_it(other_api, issue):
    response = other_api.get(detail_url(issue), HTTP_IF_NONE_MATCH=etag(issue))

    assert_error(response, 404)


@pytest.mark.django_db
def test_a_patch_changes_only_the_fields_sent(reporter_api, issue):
    before = Issue.objects.get(pk=issue.pk)

    response = reporter_api.patch(
        detail_url(issue), {"title": "Only the title", "version": 1}, format="json"
    )

    after = Issue.objects.get(pk=issue.pk)
    assert response.status_code == 200
    assert response.json()["title"] == after.title == "Only the title"
    assert after.description == before.description
    assert (after.status, after.severity, after.assignee_id) == (
        before.status,
        before.severity,
        before.assignee_id,
    )
    assert response.json()["version"] == after.version == 2
    assert response["ETag"] == f'"{issue.pk}-2"'


@pytest.mark.django_db
def test_a_patch_without_a_version_is_428_and_changes_nothing(reporter_api, issue):
    before = issue_state(issue)

    response = reporter_api.patch(detail_url(issue), {"title": "Blind edit"}, format="json")

    body = assert_error(response, 428, "version")
    assert "If-Match" in body["detail"]
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_stale_version_is_409_carrying_the_issue_as_it_is_now(
    reporter_api, maintainer_api, issue
):
    maintainer_api.patch(detail_url(issue), {"severity": "HIGH", "version": 1}, format="json")
    before = issue_state(issue)

    response = reporter_api.patch(
        detail_url(issue), {"title": "Edited from version 1", "version": 1}, format="json"
    )

    body = assert_error(response, 409)
    assert body["current"] == reporter_api.get(detail_url(issue)).json()
    assert (body["current"]["version"], body["current"]["severity"]) == (2, "HIGH")
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_stale_if_match_is_409(maintainer_api, issue):
    stale = etag(issue)
    maintainer_api.patch(detail_url(issue), {"title": "First"}, format="json", HTTP_IF_MATCH=stale)

    response = maintainer_api.patch(
        detail_url(issue), {"title": "Second"}, format="json", HTTP_IF_MATCH=stale
    )

    assert_error(response, 409)
    assert Issue.objects.get(pk=issue.pk).title == "First"


@pytest.mark.django_db
def test_the_etag_of_a_create_is_good_for_the_first_edit(maintainer_api):
    created = maintainer_api.post("/api/issues/", {"title": "New"}, format="json")

    response = maintainer_api.patch(
        created["Location"], {"title": "Renamed"}, format="json", HTTP_IF_MATCH=created["ETag"]
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"


@pytest.mark.django_db
def test_a_weak_etag_is_accepted_as_if_match(maintainer_api, issue):
    response = maintainer_api.patch(
        detail_url(issue), {"title": "Weak"}, format="json", HTTP_IF_MATCH=f"W/{etag(issue)}"
    )

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["*", '"nonsense"', '"{other}-1"', '"{issue}-"', '"{issue}-x"', '"{issue}-²"', '"{issue}--1"'],
)
def test_an_if_match_that_is_no_etag_of_this_issue_is_400(maintainer_api, issue, header):
    before = issue_state(issue)
    value = header.format(issue=issue.pk, other=uuid.uuid4())

    response = maintainer_api.patch(
        detail_url(issue), {"title": "x"}, format="json", HTTP_IF_MATCH=value
    )

    assert_error(response, 400, "If-Match")
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_body_version_that_disagrees_with_if_match_is_400(maintainer_api, issue):
    response = maintainer_api.patch(
        detail_url(issue),
        {"title": "x", "version": 7},
        format="json",
        HTTP_IF_MATCH=etag(issue),
    )

    assert_error(response, 400, "version")
    assert Issue.objects.get(pk=issue.pk).version == 1


@pytest.mark.django_db
def test_the_answer_to_a_patch_is_the_issue_as_a_fresh_read_gives_it(
    maintainer_api, maintainer, issue
):
    LabelFactory(name="ui")
    LabelFactory(name="Bug")
    issue.labels.add(LabelFactory(name="old"))
    changes = {
        "title": "  Every field at once ",
        "description": "New *text*",
        "status": "TRIAGED",
        "severity": "CRITICAL",
        "assignee": maintainer.pk,
        "labels": ["ui", "bug"],
    }

    response = maintainer_api.patch(
        detail_url(issue), changes, format="json", HTTP_IF_MATCH=etag(issue)
    )
    fresh = maintainer_api.get(detail_url(issue))

    assert response.status_code == fresh.status_code == 200
    assert response.json() == fresh.json()
    assert response["ETag"] == fresh["ETag"] == f'"{issue.pk}-2"'
    assert response.json()["labels"] == ["Bug", "ui"]
    assert response.json()["assignee"] == {"id": maintainer.pk, "name": maintainer.name}


@pytest.mark.django_db
def test_a_patch_that_changes_nothing_keeps_the_version(maintainer_api, issue):
    response = maintainer_api.patch(
        detail_url(issue), {"title": issue.title, "version": 1}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert IssueEvent.objects.filter(issue=issue).count() == 1


@pytest.mark.django_db
def test_a_patch_records_each_changed_field_in_the_timeline(maintainer_api, maintainer, issue):
    maintainer_api.patch(
        detail_url(issue),
        {"title": "New title", "severity": "LOW", "assignee": maintainer.pk, "version": 1},
        format="json",
    )

    changes = {
        event.field: (event.old_value, event.new_value, event.actor_id, event.data["version"])
        for event in IssueEvent.objects.filter(issue=issue, kind=EventKind.FIELD_CHANGED)
    }
    assert changes == {
        "title": (issue.title, "New title", maintainer.pk, 2),
        "severity": ("MEDIUM", "LOW", maintainer.pk, 2),
        "assignee": (None, {"id": maintainer.pk, "name": "Max Maintainer"}, maintainer.pk, 2),
    }


@pytest.mark.django_db
def test_a_refused_status_transition_is_400_naming_status(maintainer_api, issue):
    response = maintainer_api.patch(
        detail_url(issue), {"status": "IN_PROGRESS", "version": 1}, format="json"
    )

    assert_error(response, 400, "status")


@pytest.mark.django_db
def test_an_assignee_who_may_not_carry_work_is_400(maintainer_api, issue, other_reporter):
    response = maintainer_api.patch(
        detail_url(issue), {"assignee": other_reporter.pk, "version": 1}, format="json"
    )

    assert_error(response, 400, "assignee")


@pytest.mark.django_db
def test_an_admin_deletes_an_issue_and_it_is_gone_everywhere(admin_api, issue):
    response = admin_api.delete(detail_url(issue))

    assert response.status_code == 204
    assert not Issue.objects.filter(pk=issue.pk).exists()
    assert not IssueEvent.objects.filter(issue_id=issue.pk).exists()
    assert_error(admin_api.get(detail_url(issue)), 404)
    assert_error(admin_api.get(f"/api/issues/{issue.pk}/events/"), 404)


# --- The race: two requests, two threads, two database connections -------------


def race(issue, *edits):
    """Send each (user, body) PATCH from its own thread, all from version 1, at
    the same moment. Returns the responses in the order of `edits`."""
    start = threading.Barrier(len(edits))
    responses = [None] * len(edits)
    errors = []

    def run(index, user, body):
        try:
            client = APIClient()
            client.force_authenticate(user)
            start.wait(timeout=10)
            responses[index] = client.patch(
                detail_url(issue), {**body, "version": 1}, format="json"
            )
        except Exception as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, user, body)) for i, (user, body) in enumerate(edits)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return responses


@pytest.fixture
def both_read_before_either_writes(monkeypatch):
    """Hold each request after it has read and checked the version until the
    other has too: then only the compare-and-set in SQL can tell them apart."""
    read = threading.Barrier(2)
    original = issue_services._prepare_update

    def prepare_then_wait(*args, **kwargs):
        result = original(*args, **kwargs)
        read.wait(timeout=10)
        return result

    monkeypatch.setattr(issue_services, "_prepare_update", prepare_then_wait)


def assert_exactly_one_change_won(issue, responses, candidates):
    codes = sorted(response.status_code for response in responses)
    assert codes == [200, 409], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    loser = next(r for r in responses if r.status_code == 409).json()
    final = Issue.objects.get(pk=issue.pk)
    applied = [name for name, is_applied in candidates(final).items() if is_applied]
    assert len(applied) == 1, applied
    assert final.version == 2 == winner["version"]
    # The loser is told what the issue is now: the winner's state.
    assert loser["current"]["version"] == 2
    assert {k: loser["current"][k] for k in ("title", "severity")} == {
        k: winner[k] for k in ("title", "severity")
    }
    changes = IssueEvent.objects.filter(issue=issue, kind=EventKind.FIELD_CHANGED)
    assert changes.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_patches_from_one_version_give_one_200_and_one_409(
    reporter, maintainer, admin_user
):
    issue = IssueFactory(reporter=reporter, title="Original")

    responses = race(
        issue, (maintainer, {"title": "Max's title"}), (admin_user, {"severity": "CRITICAL"})
    )

    assert_exactly_one_change_won(
        issue,
        responses,
        lambda final: {
            "title": final.title == "Max's title",
            "severity": final.severity == Severity.CRITICAL,
        },
    )


@pytest.mark.django_db(transaction=True)
def test_when_both_have_read_the_version_the_sql_compare_and_set_still_refuses_one(
    reporter, maintainer, admin_user, both_read_before_either_writes
):
    issue = IssueFactory(reporter=reporter, title="Original")

    responses = race(
        issue, (maintainer, {"title": "Max's title"}), (admin_user, {"title": "Ada's"})
    )

    assert_exactly_one_change_won(
        issue,
        responses,
        lambda final: {"max": final.title == "Max's title", "ada": final.title == "Ada's"},
    )


@pytest.mark.django_db
def test_if_none_match_star_is_a_304_for_an_existing_issue(maintainer, issue):
    response = client_for(maintainer).get(f"/api/issues/{issue.pk}/", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 304

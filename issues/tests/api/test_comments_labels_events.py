"""An issue's comments (threads), its labels (replace / add / remove), the label
catalogue, and the timeline that records all of it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.dateparse import parse_datetime

from issues.models import Comment, EventKind, Issue, IssueEvent, Label
from issues.tests.api import PNG, assert_error, issue_state
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory


def ref(user) -> dict:
    return {"id": user.pk, "name": user.name}


@pytest.fixture
def labels(db):
    return {name: LabelFactory(name=name) for name in ("bug", "UI", "docs")}


# --- Comments ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_comment_is_created_with_its_author(reporter_api, reporter, issue):
    response = reporter_api.post(
        f"/api/issues/{issue.pk}/comments/", {"body": "Still happens in **2.0**."}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    comment = Comment.objects.get()
    assert body["id"] == comment.pk
    assert (body["body"], body["parent"], body["depth"]) == ("Still happens in **2.0**.", None, 0)
    assert body["author"] == ref(reporter)
    assert body["edited_at"] is None
    assert (comment.issue_id, comment.author) == (issue.pk, reporter)


@pytest.mark.django_db
def test_a_comment_does_not_change_the_issue_version(reporter_api, issue):
    reporter_api.post(f"/api/issues/{issue.pk}/comments/", {"body": "Hello"}, format="json")

    assert Issue.objects.get(pk=issue.pk).version == 1


@pytest.mark.django_db
def test_a_reply_knows_its_parent_and_depth(reporter_api, maintainer_api, issue):
    url = f"/api/issues/{issue.pk}/comments/"
    first = reporter_api.post(url, {"body": "Root"}, format="json").json()
    reply = maintainer_api.post(url, {"body": "Reply", "parent": first["id"]}, format="json")
    deeper = reporter_api.post(url, {"body": "Deeper", "parent": reply.json()["id"]}, format="json")

    assert reply.status_code == deeper.status_code == 201
    assert (reply.json()["parent"], reply.json()["depth"]) == (first["id"], 1)
    assert (deeper.json()["parent"], deeper.json()["depth"]) == (reply.json()["id"], 2)


@pytest.mark.django_db
def test_comments_are_listed_thread_by_thread_depth_first(
    reporter_api, reporter, maintainer, issue
):
    def say(body, parent=None, author=reporter):
        return CommentFactory(issue=issue, author=author, body=body, parent=parent)

    # Written in this order: the threads interleave in time.
    first = say("first")
    second = say("second", author=maintainer)
    first_a = say("first, reply a", first, maintainer)
    say("second, reply", second)
    say("first, reply a, reply", first_a, maintainer)
    say("first, reply b", first)

    rows = reporter_api.get(f"/api/issues/{issue.pk}/comments/").json()["results"]

    assert [(row["body"], row["depth"]) for row in rows] == [
        ("first", 0),
        ("first, reply a", 1),
        ("first, reply a, reply", 2),
        ("first, reply b", 1),
        ("second", 0),
        ("second, reply", 1),
    ]
    by_body = {row["body"]: row for row in rows}
    assert by_body["first, reply a, reply"]["parent"] == by_body["first, reply a"]["id"]
    assert by_body["second"]["author"] == ref(maintainer)


@pytest.mark.django_db
def test_replying_to_a_comment_of_another_issue_is_a_400(maintainer_api, reporter, issue):
    elsewhere = CommentFactory(issue=IssueFactory(reporter=reporter), author=reporter)

    response = maintainer_api.post(
        f"/api/issues/{issue.pk}/comments/",
        {"body": "Wrong thread", "parent": elsewhere.pk},
        format="json",
    )

    assert_error(response, 400, "parent")
    assert not Comment.objects.filter(issue=issue).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   \n"}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"body": None}, "body"),
        ({"body": 42}, "body"),
        ({}, "body"),
        ({"body": "ok", "parent": 999_999_999}, "parent"),
        ({"body": "ok", "parent": "first"}, "parent"),
        ({"body": "ok", "author": 1}, "author"),
    ],
)
def test_a_bad_comment_is_a_400_naming_the_field(reporter_api, issue, payload, field):
    response = reporter_api.post(f"/api/issues/{issue.pk}/comments/", payload, format="json")

    assert_error(response, 400, field)
    assert not Comment.objects.exists()


# --- Labels of an issue --------------------------------------------------------


@pytest.fixture
def labelled(maintainer_api, labels, issue):
    maintainer_api.put(f"/api/issues/{issue.pk}/labels/", {"labels": ["bug"]}, format="json")
    return Issue.objects.get(pk=issue.pk)


def names(issue) -> list[str]:
    return sorted(Issue.objects.get(pk=issue.pk).labels.values_list("name", flat=True))


@pytest.mark.django_db
def test_put_replaces_the_whole_label_set(maintainer_api, maintainer, labelled):
    response = maintainer_api.put(
        f"/api/issues/{labelled.pk}/labels/", {"labels": ["ui", "DOCS"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["labels"] == ["docs", "UI"]
    assert response["ETag"] == f'"{labelled.pk}-3"'
    assert names(labelled) == ["UI", "docs"]
    event = IssueEvent.objects.filter(issue=labelled, kind=EventKind.LABELS_CHANGED).last()
    assert (event.old_value, event.new_value, event.actor) == (["bug"], ["docs", "UI"], maintainer)


@pytest.mark.django_db
def test_put_with_an_unknown_label_is_a_400_and_changes_nothing(maintainer_api, labelled):
    before = issue_state(labelled)

    response = maintainer_api.put(
        f"/api/issues/{labelled.pk}/labels/", {"labels": ["ui", "nosuch"]}, format="json"
    )

    body = assert_error(response, 400, "labels")
    assert "nosuch" in body["errors"]["labels"][0]
    assert issue_state(labelled) == before
    assert names(labelled) == ["bug"]


@pytest.mark.django_db
def test_put_with_an_empty_list_clears_the_labels(maintainer_api, labelled):
    response = maintainer_api.put(
        f"/api/issues/{labelled.pk}/labels/", {"labels": []}, format="json"
    )

    assert response.json()["labels"] == []
    assert names(labelled) == []


@pytest.mark.django_db
def test_put_checks_a_version_when_one_is_given(maintainer_api, labelled):
    stale = maintainer_api.put(
        f"/api/issues/{labelled.pk}/labels/", {"labels": ["docs"], "version": 1}, format="json"
    )
    fresh = maintainer_api.put(
        f"/api/issues/{labelled.pk}/labels/",
        {"labels": ["docs"]},
        format="json",
        HTTP_IF_MATCH=f'"{labelled.pk}-{labelled.version}"',
    )

    assert_error(stale, 409)
    assert stale.json()["current"]["labels"] == ["bug"]
    assert fresh.status_code == 200
    assert names(labelled) == ["docs"]


@pytest.mark.django_db
def test_post_adds_labels_and_keeps_the_others(maintainer_api, labelled):
    response = maintainer_api.post(
        f"/api/issues/{labelled.pk}/labels/", {"labels": ["ui", "bug"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["labels"] == ["bug", "UI"]
    assert names(labelled) == ["UI", "bug"]


@pytest.mark.django_db
def test_each_label_change_answers_with_the_issue_as_a_fresh_read_gives_it(
    maintainer_api, labelled
):
    url = f"/api/issues/{labelled.pk}/labels/"
    changes = [
        maintainer_api.put(url, {"labels": ["ui", "bug"]}, format="json"),
        maintainer_api.post(url, {"labels": ["docs"]}, format="json"),
        maintainer_api.delete(f"{url}bug/"),
        maintainer_api.post(url, {"labels": ["docs"]}, format="json"),  # no change
    ]

    for response in changes:
        assert response.status_code == 200
    fresh = maintainer_api.get(f"/api/issues/{labelled.pk}/")
    assert changes[-1].json() == changes[-2].json() == fresh.json()
    assert changes[-1]["ETag"] == fresh["ETag"] == f'"{labelled.pk}-5"'
    assert [r.json()["labels"] for r in changes] == [
        ["bug", "UI"],
        ["bug", "docs", "UI"],
        ["docs", "UI"],
        ["docs", "UI"],
    ]


@pytest.mark.django_db
def test_post_with_an_unknown_label_is_a_400_and_changes_nothing(maintainer_api, labelled):
    before = issue_state(labelled)

    response = maintainer_api.post(
        f"/api/issues/{labelled.pk}/labels/", {"labels": ["nosuch"]}, format="json"
    )

    assert_error(response, 400, "labels")
    assert issue_state(labelled) == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["bug", "BUG"])
def test_delete_removes_one_label_by_name(maintainer_api, maintainer, labels, issue, name):
    maintainer_api.put(f"/api/issues/{issue.pk}/labels/", {"labels": ["bug", "ui"]}, format="json")

    response = maintainer_api.delete(f"/api/issues/{issue.pk}/labels/{name}/")

    assert response.status_code == 200
    assert response.json()["labels"] == ["UI"]
    assert names(issue) == ["UI"]
    event = IssueEvent.objects.filter(issue=issue, kind=EventKind.LABELS_CHANGED).last()
    assert (event.old_value, event.new_value) == (["bug", "UI"], ["UI"])


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nosuch", "docs"])
def test_delete_of_a_label_the_issue_does_not_carry_is_a_404(maintainer_api, labelled, name):
    before = issue_state(labelled)

    response = maintainer_api.delete(f"/api/issues/{labelled.pk}/labels/{name}/")

    assert_error(response, 404)
    assert issue_state(labelled) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"labels": "bug"},
        {"labels": None},
        {"labels": [1]},
        {"labels": [""]},
        {},
        {"labels": ["bug"], "colour": "#ffffff"},
        {"labels": ["bug"] * 101},
    ],
)
def test_a_bad_label_payload_is_a_400_and_changes_nothing(maintainer_api, labelled, payload):
    before = issue_state(labelled)

    response = maintainer_api.put(f"/api/issues/{labelled.pk}/labels/", payload, format="json")

    assert_error(response, 400)
    assert issue_state(labelled) == before


# --- The label catalogue -------------------------------------------------------


@pytest.mark.django_db
def test_everyone_signed_in_reads_the_catalogue_in_name_order(reporter_api, labels):
    rows = reporter_api.get("/api/labels/").json()

    assert [row["name"] for row in rows] == ["UI", "bug", "docs"]
    assert rows[1] == {
        "id": labels["bug"].pk,
        "name": "bug",
        "colour": "#1d76db",
        "description": "",
    }


@pytest.mark.django_db
def test_an_admin_creates_renames_and_deletes_a_label(admin_api, maintainer_api, issue, labels):
    created = admin_api.post(
        "/api/labels/", {"name": "security", "colour": "#D73A4A"}, format="json"
    )
    label_id = created.json()["id"]
    maintainer_api.put(f"/api/issues/{issue.pk}/labels/", {"labels": ["security"]}, format="json")
    renamed = admin_api.patch(f"/api/labels/{label_id}/", {"name": "Security"}, format="json")
    deleted = admin_api.delete(f"/api/labels/{label_id}/")

    assert created.status_code == 201
    assert created.json() == {
        "id": label_id,
        "name": "security",
        "colour": "#d73a4a",
        "description": "",
    }
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Security"
    assert deleted.status_code == 204
    assert not Label.objects.filter(pk=label_id).exists()
    assert names(issue) == []
    assert_error(admin_api.get(f"/api/labels/{label_id}/"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "BUG"}, "name"),  # names are unique whatever the case
        ({"name": ""}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({"name": "ok", "colour": "#12345g"}, "colour"),
        ({"name": "ok", "description": "x" * 201}, "description"),
        ({"name": "ok", "issues": []}, "issues"),
        ({"name": 7}, "name"),
    ],
)
def test_a_bad_label_is_a_400_naming_the_field(admin_api, labels, payload, field):
    response = admin_api.post("/api/labels/", payload, format="json")

    assert_error(response, 400, field)
    assert Label.objects.count() == 3


@pytest.mark.django_db
def test_renaming_a_label_onto_another_is_a_400(admin_api, labels):
    response = admin_api.patch(f"/api/labels/{labels['docs'].pk}/", {"name": "Ui"}, format="json")

    assert_error(response, 400, "name")
    assert Label.objects.get(pk=labels["docs"].pk).name == "docs"


# --- The timeline ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_timeline_records_everything_oldest_first(
    reporter_api, maintainer_api, reporter, maintainer, labels, media
):
    created = reporter_api.post("/api/issues/", {"title": "Crash"}, format="json").json()
    url = f"/api/issues/{created['id']}/"
    reporter_api.patch(url, {"title": "Crash on save", "version": 1}, format="json")
    maintainer_api.patch(
        url, {"status": "TRIAGED", "severity": "HIGH", "version": 2}, format="json"
    )
    maintainer_api.put(url + "labels/", {"labels": ["bug"]}, format="json")
    comment = reporter_api.post(url + "comments/", {"body": "Logs attached."}, format="json")
    attachment = reporter_api.post(
        url + "attachments/",
        {"file": SimpleUploadedFile("log.png", PNG, content_type="image/png")},
        format="multipart",
    )
    maintainer_api.post(
        "/api/issues/bulk-status/", {"ids": [created["id"]], "status": "DONE"}, format="json"
    )

    body = maintainer_api.get(url + "events/").json()
    events = body["results"]

    assert body["count"] == len(events) == 8
    rows = [(e["kind"], e["field"], e["old_value"], e["new_value"], e["actor"]) for e in events]
    rows[2:4] = sorted(rows[2:4])  # two fields of one edit: their order is no one's business
    assert rows == [
        ("CREATED", "", None, None, ref(reporter)),
        ("FIELD_CHANGED", "title", "Crash", "Crash on save", ref(reporter)),
        ("FIELD_CHANGED", "severity", "MEDIUM", "HIGH", ref(maintainer)),
        ("FIELD_CHANGED", "status", "OPEN", "TRIAGED", ref(maintainer)),
        ("LABELS_CHANGED", "labels", [], ["bug"], ref(maintainer)),
        ("COMMENT_ADDED", "", None, None, ref(reporter)),
        ("ATTACHMENT_ADDED", "", None, None, ref(reporter)),
        ("BULK_CHANGE", "status", "TRIAGED", "DONE", ref(maintainer)),
    ]
    assert events[0]["data"]["title"] == "Crash"
    assert events[5]["data"] == {"comment": comment.json()["id"], "parent": None}
    assert events[6]["data"]["attachment"] == attachment.json()["id"]
    assert events[6]["data"]["name"] == "log.png"
    # Compared as times, not as text: a time on a whole second is written without
    # its ".000000", which would sort after the later times of that second.
    times = [parse_datetime(e["created_at"]) for e in events]
    assert all(times) and times == sorted(times)


@pytest.mark.django_db
def test_the_timeline_is_paginated(maintainer_api, issue):
    for n in range(4):
        CommentFactory(issue=issue, body=f"comment {n}")

    page = maintainer_api.get(f"/api/issues/{issue.pk}/events/?limit=2&offset=2").json()

    assert page["count"] == 5
    assert [e["kind"] for e in page["results"]] == ["COMMENT_ADDED", "COMMENT_ADDED"]
    assert page["next"].endswith(f"/api/issues/{issue.pk}/events/?limit=2&offset=4")
    assert page["previous"].endswith(f"/api/issues/{issue.pk}/events/?limit=2")


@pytest.mark.django_db
def test_a_label_change_whose_body_version_and_if_match_disagree_is_a_400(
    maintainer_api, labels, issue
):
    before = issue_state(issue)

    response = maintainer_api.put(
        f"/api/issues/{issue.pk}/labels/",
        {"labels": ["bug"], "version": 1},
        format="json",
        HTTP_IF_MATCH=f'"{issue.pk}-2"',
    )

    assert_error(response, 400, "version")
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_label_change_with_a_stale_if_match_is_a_409(maintainer_api, labels, issue):
    response = maintainer_api.post(
        f"/api/issues/{issue.pk}/labels/",
        {"labels": ["bug"]},
        format="json",
        HTTP_IF_MATCH=f'"{issue.pk}-7"',
    )

    assert response.status_code == 409
    assert response.json()["current"]["version"] == 1

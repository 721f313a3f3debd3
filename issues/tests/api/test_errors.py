"""Bad input of every kind gets one JSON error shape, {"detail": str, "errors":
{field: [reason, ...]}}, with the right 4xx status and the field named where
there is one. Never a 500, and never a half-applied change."""

import json

import pytest

from issues.models import Comment, Issue, Label
from issues.tests.api import assert_error, issue_state
from issues.tests.factories import LabelFactory

TITLE_OK = {"title": "A fine title"}

# (case id, body sent to POST /api/issues/ as JSON, expected status, field named)
CREATE_CASES = [
    ("unknown field", {**TITLE_OK, "priority": "high"}, 400, "priority"),
    ("read-only field", {**TITLE_OK, "number": 7}, 400, "number"),
    ("title as number", {"title": 123}, 400, "title"),
    ("title as float", {"title": 1.5}, 400, "title"),
    ("title as bool", {"title": True}, 400, "title"),
    ("title as list", {"title": ["a"]}, 400, "title"),
    ("title as object", {"title": {"text": "a"}}, 400, "title"),
    ("title null", {"title": None}, 400, "title"),
    ("title missing", {"description": "no title"}, 400, "title"),
    ("title empty", {"title": ""}, 400, "title"),
    ("title blank", {"title": "   "}, 400, "title"),
    ("title 201 chars", {"title": "x" * 201}, 400, "title"),
    ("title 10000 chars", {"title": "x" * 10_000}, 400, "title"),
    ("title with NUL", {"title": "a\u0000b"}, 400, "title"),
    ("description over 50000", {**TITLE_OK, "description": "d" * 50_001}, 400, "description"),
    ("description null", {**TITLE_OK, "description": None}, 400, "description"),
    ("description as number", {**TITLE_OK, "description": 5}, 400, "description"),
    ("labels as string", {**TITLE_OK, "labels": "bug"}, 400, "labels"),
    ("labels as object", {**TITLE_OK, "labels": {"bug": True}}, 400, "labels"),
    ("labels null", {**TITLE_OK, "labels": None}, 400, "labels"),
    ("labels with null", {**TITLE_OK, "labels": [None]}, 400, "labels"),
    ("labels with number", {**TITLE_OK, "labels": [1]}, 400, "labels"),
    ("unknown label", {**TITLE_OK, "labels": ["nosuch"]}, 400, "labels"),
    ("assignee as text", {**TITLE_OK, "assignee": "abc"}, 400, "assignee"),
    ("assignee as float", {**TITLE_OK, "assignee": 1.5}, 400, "assignee"),
    ("assignee as list", {**TITLE_OK, "assignee": [1]}, 400, "assignee"),
    ("assignee unknown", {**TITLE_OK, "assignee": 999_999_999}, 400, "assignee"),
    ("assignee negative", {**TITLE_OK, "assignee": -1}, 400, "assignee"),
    ("assignee beyond bigint", {**TITLE_OK, "assignee": 10**30}, 400, "assignee"),
    ("severity unknown", {**TITLE_OK, "severity": "HUGE"}, 400, "severity"),
    ("severity as rank", {**TITLE_OK, "severity": 3}, 400, "severity"),
    ("severity null", {**TITLE_OK, "severity": None}, 400, "severity"),
    ("status unknown", {**TITLE_OK, "status": "NOPE"}, 400, "status"),
    ("status lower case", {**TITLE_OK, "status": "open"}, 400, "status"),
    ("status as number", {**TITLE_OK, "status": 1}, 400, "status"),
    ("several problems at once", {"title": 5, "severity": "HUGE"}, 400, "severity"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [case[1:] for case in CREATE_CASES],
    ids=[case[0] for case in CREATE_CASES],
)
def test_a_bad_create_is_refused_with_one_shape(maintainer_api, payload, status, field):
    LabelFactory(name="bug")

    response = maintainer_api.post("/api/issues/", payload, format="json")

    body = assert_error(response, status, field)
    assert all(isinstance(reason, str) for reasons in body["errors"].values() for reason in reasons)
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_every_problem_is_reported_at_once(maintainer_api):
    response = maintainer_api.post(
        "/api/issues/", {"title": 5, "severity": "HUGE", "colour": "red"}, format="json"
    )

    body = assert_error(response, 400)
    # Unknown fields are reported first, on their own: a typo must not pass silently.
    assert body["errors"] == {"colour": ["Unknown field."]}

    response = maintainer_api.post("/api/issues/", {"title": 5, "severity": "HUGE"}, format="json")
    assert set(assert_error(response, 400)["errors"]) == {"title", "severity"}


# (case id, raw body, content type, expected status, field named)
RAW_CASES = [
    ("malformed JSON", b'{"title": "x",}', "application/json", 400, None),
    ("truncated JSON", b'{"title": "x"', "application/json", 400, None),
    ("not UTF-8", b'{"title": "\xff\xfe"}', "application/json", 400, None),
    ("NaN", b'{"title": NaN}', "application/json", 400, None),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json", 400, None),
    ("array instead of object", b'[{"title": "x"}]', "application/json", 400, "non_field_errors"),
    ("string instead of object", b'"title"', "application/json", 400, "non_field_errors"),
    ("number instead of object", b"42", "application/json", 400, "non_field_errors"),
    ("null instead of object", b"null", "application/json", 400, "non_field_errors"),
    ("empty body", b"", "application/json", 400, "title"),
    ("lone surrogate", b'{"title": "\\ud800"}', "application/json", 400, "title"),
    ("plain text", b"title=x", "text/plain", 415, None),
    ("form encoded", b"title=x", "application/x-www-form-urlencoded", 415, None),
    (
        "multipart",
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        415,
        None,
    ),
    ("xml", b"<issue><title>x</title></issue>", "application/xml", 415, None),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "content_type", "status", "field"),
    [case[1:] for case in RAW_CASES],
    ids=[case[0] for case in RAW_CASES],
)
def test_a_body_that_is_no_json_object_is_refused_with_one_shape(
    maintainer_api, raw, content_type, status, field
):
    response = maintainer_api.generic("POST", "/api/issues/", raw, content_type=content_type)

    assert_error(response, status, *([field] if field else []))
    assert not Issue.objects.exists()


PATCH_CASES = [
    ("unknown field", {"version": 1, "reporter": 1}, 400, "reporter"),
    ("id", {"version": 1, "id": "x"}, 400, "id"),
    ("version as text", {"version": "one", "title": "x"}, 400, "version"),
    ("version null", {"version": None, "title": "x"}, 400, "version"),
    ("version as list", {"version": [1], "title": "x"}, 400, "version"),
    ("title null", {"version": 1, "title": None}, 400, "title"),
    ("title as number", {"version": 1, "title": 42}, 400, "title"),
    ("title empty", {"version": 1, "title": ""}, 400, "title"),
    ("title 10000 chars", {"version": 1, "title": "t" * 10_000}, 400, "title"),
    ("description over 50000", {"version": 1, "description": "d" * 50_001}, 400, "description"),
    ("labels as string", {"version": 1, "labels": "bug"}, 400, "labels"),
    ("assignee as text", {"version": 1, "assignee": "abc"}, 400, "assignee"),
    ("bad status", {"version": 1, "status": "CLOSED"}, 400, "status"),
    ("bad severity", {"version": 1, "severity": "BLOCKER"}, 400, "severity"),
    ("stale version with bad field", {"version": 99, "severity": "BLOCKER"}, 400, "severity"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [case[1:] for case in PATCH_CASES],
    ids=[case[0] for case in PATCH_CASES],
)
def test_a_bad_patch_is_refused_with_one_shape_and_changes_nothing(
    maintainer_api, issue, payload, status, field
):
    before = issue_state(issue)

    response = maintainer_api.patch(f"/api/issues/{issue.pk}/", payload, format="json")

    assert_error(response, status, field)
    assert issue_state(issue) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [b"[]", b"null", b'"x"', b"{", b"[" * 50_000],
    ids=["array", "null", "string", "malformed", "deeply nested"],
)
def test_a_patch_body_that_is_no_json_object_is_a_400(maintainer_api, issue, raw):
    before = issue_state(issue)

    response = maintainer_api.generic(
        "PATCH", f"/api/issues/{issue.pk}/", raw, content_type="application/json"
    )

    assert_error(response, 400)
    assert issue_state(issue) == before


PATH_CASES = [
    "/api/issues/not-a-uuid/",
    "/api/issues/123/",
    "/api/issues/00000000-0000-0000-0000-00000000000g/",
    "/api/issues/" + "a" * 5000 + "/",
    "/api/issues/%00/",
    "/api/issues/%F0%9F%90%9B/",
    "/api/issues/'%20OR%201=1--/",
    "/api/issues/12345678-1234-5678-1234-567812345678/",
    "/api/issues/not-a-uuid/events/",
    "/api/issues/not-a-uuid/comments/",
    "/api/issues/not-a-uuid/attachments/",
    "/api/issues/not-a-uuid/attachments/1/download/",
    "/api/issues/by-number/99999999999999999999999999/",
    "/api/issues/by-number/0/",
    "/api/labels/99999999999999999999999999/",
    "/api/auth/tokens/99999999999999999999999999/",
    "/api/no-such-endpoint/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATH_CASES)
def test_a_path_naming_nothing_is_a_404_with_one_shape(admin_api, path):
    method = "delete" if "/tokens/" in path else "get"

    response = getattr(admin_api, method)(path)

    assert_error(response, 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("patch", "/api/issues/not-a-uuid/", 404),
        ("delete", "/api/issues/not-a-uuid/", 404),
        ("put", "/api/issues/not-a-uuid/", 405),
        ("put", "/api/issues/not-a-uuid/labels/", 404),
        ("post", "/api/issues/not-a-uuid/labels/", 404),
        ("delete", "/api/issues/not-a-uuid/labels/bug/", 404),
        ("post", "/api/issues/not-a-uuid/comments/", 404),
        ("patch", "/api/labels/0/", 404),
        ("delete", "/api/labels/0/", 404),
    ],
)
def test_writes_to_a_path_naming_nothing_are_404_or_405_never_500(admin_api, method, path, status):
    response = getattr(admin_api, method)(path, {"labels": [], "body": "x"}, format="json")

    assert_error(response, status)


@pytest.mark.django_db
def test_an_unsupported_method_is_a_405_with_one_shape(admin_api, issue):
    response = admin_api.put(f"/api/issues/{issue.pk}/", {"title": "x"}, format="json")

    body = assert_error(response, 405)
    assert "PUT" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/issues/{issue}/comments/", [], "non_field_errors"),
        ("/api/issues/{issue}/comments/", {"body": None}, "body"),
        ("/api/issues/{issue}/labels/", {"labels": None}, "labels"),
        ("/api/issues/bulk-status/", {"ids": None, "status": "DONE"}, "ids"),
        ("/api/issues/bulk-status/", {"ids": "abc", "status": "DONE"}, "ids"),
        ("/api/issues/bulk-status/", {"ids": [], "status": "DONE", "force": True}, "force"),
        ("/api/issues/bulk-status/", ["x"], "non_field_errors"),
        ("/api/labels/", {"name": None}, "name"),
        ("/api/labels/", {"name": "ok", "colour": None}, "colour"),
        ("/api/labels/", {"name": "ok", "colour": 123456}, "colour"),
        ("/api/auth/token/", {"email": None, "password": "x"}, "email"),
        ("/api/auth/token/", {"email": "a@example.com"}, "password"),
        ("/api/auth/token/", {"email": "a@example.com", "password": "x", "n": 1}, "n"),
        ("/api/auth/token/", {"email": "a@b.c", "password": "x", "name": "n" * 101}, "name"),
    ],
)
def test_bad_bodies_elsewhere_are_400_naming_the_field(admin_api, issue, url, payload, field):
    comments, labels = Comment.objects.count(), Label.objects.count()

    response = admin_api.post(url.format(issue=issue.pk), payload, format="json")

    assert_error(response, 400, field)
    assert (Comment.objects.count(), Label.objects.count()) == (comments, labels)


@pytest.mark.django_db
def test_the_summary_line_names_the_first_problem(maintainer_api):
    response = maintainer_api.post("/api/issues/", {"title": "x" * 201}, format="json")

    body = assert_error(response, 400, "title")
    assert body["detail"] == f"title: {body['errors']['title'][0]}"
    assert json.dumps(body)  # plain JSON all the way down

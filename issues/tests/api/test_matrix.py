"""Who may do what, endpoint by endpoint: every route of tracker/api_urls.py, asked
by each of anonymous, the REPORTER who reported the issue, another REPORTER, a
MAINTAINER and an ADMIN. A refused request changes nothing; an issue a user may
not see answers exactly like one that does not exist."""

import uuid
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver

from accounts import services as account_services
from accounts.models import ApiToken
from issues import services
from issues.models import Attachment, Comment, ImportJob, Issue, Label, Status, Watch
from issues.tests.api import PNG, assert_error, client_for, issue_state
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory

ANON, OWNER, OTHER, MAINT, ADMIN = "anonymous", "owner", "other-reporter", "maintainer", "admin"
ROLES = (ANON, OWNER, OTHER, MAINT, ADMIN)


def codes(anon, owner, other, maintainer, admin) -> dict:
    return dict(zip(ROLES, (anon, owner, other, maintainer, admin), strict=True))


def png_upload(world):
    return {"file": SimpleUploadedFile("screen.png", PNG, content_type="image/png")}


def patch(**fields):
    return lambda world: {**fields, "version": world.issue.version}


# Effects of the successful writes, checked after the request.
def created_issue(world, user, body):
    return Issue.objects.get(pk=body["id"]).reporter == user


def issue_row(world):
    return Issue.objects.get(pk=world.issue.pk)


def labels_of(world):
    return sorted(issue_row(world).labels.values_list("name", flat=True))


class Case:
    def __init__(self, method, url, expected, body=None, fmt="json", effect=None, field=None):
        self.method, self.url, self.expected = method, url, expected
        self.body, self.fmt, self.effect, self.field = body, fmt, effect, field

    def __repr__(self):
        return f"{self.method} {self.url}"


CASES = [
    Case(
        "POST",
        "/api/auth/token/",
        # Exchanging a password for a token is how a script signs in: no session needed.
        codes(201, 201, 201, 201, 201),
        body=lambda w: {"email": w.reporter.email, "password": "correct-horse-battery-staple"},
        effect=lambda w, u, b: b["token"].startswith("trk_"),
    ),
    Case("GET", "/api/auth/tokens/", codes(401, 200, 200, 200, 200)),
    Case(
        "DELETE",
        "/api/auth/tokens/{token}/",
        # The API revokes only your own tokens, and another's looks like no token at all.
        codes(401, 204, 404, 404, 404),
        effect=lambda w, u, b: not ApiToken.objects.filter(pk=w.token.pk).exists(),
    ),
    Case("GET", "/api/users/me/", codes(401, 200, 200, 200, 200)),
    Case("GET", "/api/users/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/issues/", codes(401, 200, 200, 200, 200)),
    Case(
        "POST",
        "/api/issues/",
        codes(401, 201, 201, 201, 201),
        body=lambda w: {"title": "Printer on fire"},
        effect=created_issue,
    ),
    Case(
        "POST",
        "/api/issues/bulk-status/",
        # Reporters may not bulk-change at all: the answer does not depend on the
        # ids, so it tells nothing about issues they cannot see.
        codes(401, 403, 403, 200, 200),
        body=lambda w: {"ids": [str(w.issue.pk)], "status": "TRIAGED"},
        effect=lambda w, u, b: issue_row(w).status == Status.TRIAGED,
    ),
    Case("GET", "/api/issues/by-number/{number}/", codes(401, 200, 404, 200, 200)),
    Case("GET", "/api/issues/{issue}/", codes(401, 200, 404, 200, 200)),
    Case(
        "PATCH",
        "/api/issues/{issue}/",
        codes(401, 200, 404, 200, 200),
        body=patch(title="Edited through the API"),
        effect=lambda w, u, b: issue_row(w).title == "Edited through the API",
    ),
    Case(
        "PATCH",
        "/api/issues/{issue}/",
        codes(401, 403, 404, 200, 200),
        body=patch(status="TRIAGED"),
        field="status",
        effect=lambda w, u, b: issue_row(w).status == Status.TRIAGED,
    ),
    Case(
        "PATCH",
        "/api/issues/{issue}/",
        codes(401, 403, 404, 200, 200),
        body=patch(severity="CRITICAL"),
        field="severity",
        effect=lambda w, u, b: b["severity"] == "CRITICAL",
    ),
    Case(
        "PATCH",
        "/api/issues/{issue}/",
        codes(401, 403, 404, 200, 200),
        body=lambda w: {"assignee": w.maintainer.pk, "version": w.issue.version},
        field="assignee",
        effect=lambda w, u, b: issue_row(w).assignee == w.maintainer,
    ),
    Case(
        "PATCH",
        "/api/issues/{issue}/",
        codes(401, 403, 404, 200, 200),
        body=patch(labels=["bug", "ui"]),
        field="labels",
        effect=lambda w, u, b: labels_of(w) == ["bug", "ui"],
    ),
    Case(
        "DELETE",
        "/api/issues/{issue}/",
        codes(401, 403, 404, 403, 204),
        effect=lambda w, u, b: not Issue.objects.filter(pk=w.issue.pk).exists(),
    ),
    Case("GET", "/api/issues/{issue}/events/", codes(401, 200, 404, 200, 200)),
    Case("GET", "/api/issues/{issue}/comments/", codes(401, 200, 404, 200, 200)),
    Case(
        "POST",
        "/api/issues/{issue}/comments/",
        codes(401, 201, 404, 201, 201),
        body=lambda w: {"body": "Seen it too."},
        effect=lambda w, u, b: Comment.objects.get(pk=b["id"]).author == u,
    ),
    Case(
        "PUT",
        "/api/issues/{issue}/labels/",
        codes(401, 403, 404, 200, 200),
        body=lambda w: {"labels": ["ui"]},
        field="labels",
        effect=lambda w, u, b: labels_of(w) == ["ui"],
    ),
    Case(
        "POST",
        "/api/issues/{issue}/labels/",
        codes(401, 403, 404, 200, 200),
        body=lambda w: {"labels": ["ui"]},
        field="labels",
        effect=lambda w, u, b: labels_of(w) == ["bug", "ui"],
    ),
    Case(
        "DELETE",
        "/api/issues/{issue}/labels/bug/",
        codes(401, 403, 404, 200, 200),
        field="labels",
        effect=lambda w, u, b: labels_of(w) == [],
    ),
    # Anyone who sees the issue may watch it (and the reporter already does).
    Case("GET", "/api/issues/{issue}/watch/", codes(401, 200, 404, 200, 200)),
    Case(
        "POST",
        "/api/issues/{issue}/watch/",
        codes(401, 204, 404, 204, 204),
        effect=lambda w, u, b: Watch.objects.filter(user=u, issue=w.issue).exists(),
    ),
    Case(
        "DELETE",
        "/api/issues/{issue}/watch/",
        codes(401, 204, 404, 204, 204),
        effect=lambda w, u, b: not Watch.objects.filter(user=u, issue=w.issue).exists(),
    ),
    Case("GET", "/api/issues/{issue}/attachments/", codes(401, 200, 404, 200, 200)),
    Case(
        "POST",
        "/api/issues/{issue}/attachments/",
        codes(401, 201, 404, 201, 201),
        body=png_upload,
        fmt="multipart",
        effect=lambda w, u, b: Attachment.objects.get(pk=b["id"]).uploaded_by == u,
    ),
    Case(
        "GET",
        "/api/issues/{issue}/attachments/{attachment}/download/",
        codes(401, 200, 404, 200, 200),
    ),
    # CSV import is for maintainers and admins; an import is seen by who started it
    # (the maintainer here) and by admins. Export is the list's rows, as CSV.
    Case(
        "POST",
        "/api/issues/import/",
        codes(401, 403, 403, 200, 200),
        body=lambda w: {"file": SimpleUploadedFile("i.csv", b"title\nImported\n")},
        fmt="multipart",
        effect=lambda w, u, b: (
            b["created"] == 1 and Issue.objects.filter(title="Imported").exists()
        ),
    ),
    Case("GET", "/api/issues/import/{job}/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/issues/export.csv", codes(401, 200, 200, 200, 200)),
    Case("GET", "/api/labels/", codes(401, 200, 200, 200, 200)),
    Case(
        "POST",
        "/api/labels/",
        codes(401, 403, 403, 403, 201),
        body=lambda w: {"name": "security", "colour": "#d73a4a"},
        effect=lambda w, u, b: Label.objects.filter(name="security").exists(),
    ),
    Case("GET", "/api/labels/{label}/", codes(401, 200, 200, 200, 200)),
    Case(
        "PATCH",
        "/api/labels/{label}/",
        codes(401, 403, 403, 403, 200),
        body=lambda w: {"colour": "#000000"},
        effect=lambda w, u, b: Label.objects.get(pk=w.label.pk).colour == "#000000",
    ),
    Case(
        "DELETE",
        "/api/labels/{label}/",
        codes(401, 403, 403, 403, 204),
        effect=lambda w, u, b: not Label.objects.filter(pk=w.label.pk).exists(),
    ),
    # The API's description is public on purpose (SPECTACULAR_SETTINGS
    # SERVE_PERMISSIONS): it describes the API, not anybody's data.
    Case("GET", "/api/schema/", codes(200, 200, 200, 200, 200)),
    Case("GET", "/api/docs/", codes(200, 200, 200, 200, 200)),
    # Reports: maintainers and admins only.
    Case("GET", "/api/reports/open-by-severity/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/reports/by-status/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/reports/top-assignees/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/reports/resolution-latency/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/reports/throughput/", codes(401, 403, 403, 200, 200)),
    Case("GET", "/api/reports/open-age/", codes(401, 403, 403, 200, 200)),
]


@pytest.fixture
def world(reporter, other_reporter, maintainer, admin_user, media):
    LabelFactory(name="bug")
    LabelFactory(name="ui")
    label = LabelFactory(name="wontfix")
    issue = IssueFactory(reporter=reporter, title="The save button does nothing")
    issue = services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])
    CommentFactory(issue=issue, author=reporter)
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=SimpleUploadedFile("shot.png", PNG)
    )
    token, _ = account_services.create_token(actor=reporter, name="laptop script")
    users = {ANON: None, OWNER: reporter, OTHER: other_reporter, MAINT: maintainer}
    users[ADMIN] = admin_user
    job = ImportJob.objects.create(
        created_by=maintainer, file_name="world.csv", import_id="0" * 64, status="DONE"
    )
    return SimpleNamespace(
        job=job,
        issue=Issue.objects.get(pk=issue.pk),
        label=label,
        attachment=attachment,
        token=token,
        reporter=reporter,
        maintainer=maintainer,
        users=users,
    )


def url_of(case, world, *, issue_id=None, number=None) -> str:
    return case.url.format(
        issue=issue_id or world.issue.pk,
        number=number or world.issue.number,
        attachment=world.attachment.pk,
        label=world.label.pk,
        token=world.token.pk,
        job=world.job.pk,
    )


def send(client, case, world, url):
    body = case.body(world) if case.body else None
    kwargs = {"format": case.fmt} if body is not None else {}
    return getattr(client, case.method.lower())(url, body, **kwargs)


def snapshot(world) -> tuple:
    issue = Issue.objects.filter(pk=world.issue.pk).first()
    return (
        issue_state(issue) if issue else None,
        Issue.objects.count(),
        list(Label.objects.order_by("pk").values_list("pk", "name", "colour")),
        Comment.objects.count(),
        Attachment.objects.count(),
        ApiToken.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_each_role_gets_the_answer_the_role_table_gives(case, role, world):
    user = world.users[role]
    expected = case.expected[role]
    before = snapshot(world)

    response = send(client_for(user), case, world, url_of(case, world))

    assert response.status_code == expected, (response.status_code, response.content[:300])
    if expected >= 400:
        body = assert_error(
            response, expected, *([case.field] if expected == 403 and case.field else [])
        )
        if expected == 403 and case.field:
            # The refusal names the field the reporter may not change.
            assert case.field in body["detail"]
        assert snapshot(world) == before, "a refused request changed something"
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"
    if expected < 400 and case.effect is not None:
        body = response.json() if response.content and expected != 204 else None
        assert case.effect(world, user, body)


NOT_FOUND_FOR_OTHER = [
    case for case in CASES if case.expected[OTHER] == 404 and "{token}" not in case.url
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", NOT_FOUND_FOR_OTHER, ids=repr)
def test_an_issue_a_reporter_may_not_see_answers_exactly_like_one_that_does_not_exist(case, world):
    client = client_for(world.users[OTHER])
    hidden = send(client, case, world, url_of(case, world))
    absent = send(client, case, world, url_of(case, world, issue_id=uuid.uuid4(), number=999_999))

    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    assert hidden.json() == {"detail": "No such issue.", "errors": {}}


@pytest.mark.django_db
def test_the_matrix_covers_every_route_of_the_api():
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/")
    routes = {"/api/" + str(p.pattern) for p in api.url_patterns}
    placeholders = {
        "<int:token_id>": "{token}",
        "<issue_number:number>": "{number}",
        "<str:issue_id>": "{issue}",
        "<str:name>": "bug",
        "<int:attachment_id>": "{attachment}",
        "<int:label_id>": "{label}",
        "<str:job_id>": "{job}",
    }
    for pattern, placeholder in placeholders.items():
        routes = {route.replace(pattern, placeholder) for route in routes}

    assert routes == {case.url for case in CASES}


@pytest.mark.django_db
def test_a_reporter_lists_only_the_issues_they_reported(world, other_reporter):
    IssueFactory(reporter=other_reporter, title="Otto's own")
    mine = client_for(world.reporter).get("/api/issues/").json()
    theirs = client_for(other_reporter).get("/api/issues/").json()
    everyone = client_for(world.maintainer).get("/api/issues/").json()

    assert [row["title"] for row in mine["results"]] == ["The save button does nothing"]
    assert mine["count"] == 1
    assert [row["title"] for row in theirs["results"]] == ["Otto's own"]
    assert everyone["count"] == 2


@pytest.mark.django_db
def test_a_reporter_cannot_create_an_issue_with_triage_fields(reporter_api):
    response = reporter_api.post("/api/issues/", {"title": "Mine", "status": "DONE"}, format="json")

    assert_error(response, 403, "status")
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_the_user_list_filters_by_role_and_text(maintainer_api, maintainer, admin_user, reporter):
    by_role = maintainer_api.get("/api/users/?role=maintainer").json()
    by_text = maintainer_api.get("/api/users/", {"q": "ada"}).json()
    by_email = maintainer_api.get("/api/users/", {"q": reporter.email.upper()}).json()
    bad = maintainer_api.get("/api/users/?role=KING")

    assert [user["id"] for user in by_role["results"]] == [maintainer.pk]
    assert [user["id"] for user in by_text["results"]] == [admin_user.pk]
    assert [user["id"] for user in by_email["results"]] == [reporter.pk]
    assert by_role["results"][0] == {
        "id": maintainer.pk,
        "email": maintainer.email,
        "display_name": "Max Maintainer",
        "name": "Max Maintainer",
        "role": "MAINTAINER",
    }
    assert_error(bad, 400, "role")


@pytest.mark.django_db
def test_the_user_list_leaves_out_deactivated_people(maintainer_api, maintainer):
    maintainer.__class__.objects.create_user(
        "gone@example.com", "x", display_name="Gone", is_active=False
    )
    emails = [user["email"] for user in maintainer_api.get("/api/users/").json()["results"]]

    assert maintainer.email in emails
    assert "gone@example.com" not in emails

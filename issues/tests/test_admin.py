"""The issues side of the admin: issues and labels are written through the service
layer (checked, versioned, on the timeline); comments and events are history."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import services
from issues.models import (
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    Label,
    PendingMail,
    Severity,
    Status,
)
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory

pytestmark = pytest.mark.django_db

# `admin_client` is pytest-django's: the test client logged in as conftest's `admin_user`.

ISSUE_ADD = reverse("admin:issues_issue_add")
ISSUE_CHANGELIST = reverse("admin:issues_issue_changelist")
LABEL_ADD = reverse("admin:issues_label_add")


def issue_change_url(issue: Issue) -> str:
    return reverse("admin:issues_issue_change", args=[issue.pk])


def issue_form(issue: Issue, **overrides) -> dict:
    """The change form as the admin page would post it, unchanged unless overridden."""
    data = {
        "title": issue.title,
        "description": issue.description,
        "status": issue.status,
        "severity": issue.severity,
        "assignee": issue.assignee_id or "",
        "labels": [label.pk for label in issue.labels.all()],
        "seen_version": issue.version,
        "_save": "Save",
    }
    data.update(overrides)
    return data


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def events(issue: Issue) -> list[tuple]:
    return list(
        IssueEvent.objects.filter(issue=issue)
        .order_by("id")
        .values_list("kind", "field", "actor_id", "old_value", "new_value")
    )


# --- issues: add ---------------------------------------------------------------


def test_the_issue_add_page_renders(admin_client):
    response = admin_client.get(ISSUE_ADD)

    assert response.status_code == 200
    assert "seen_version" in response.context["adminform"].form.fields


def test_adding_an_issue_in_the_admin_goes_through_the_service(
    admin_client, admin_user, maintainer
):
    bug = LabelFactory(name="bug")

    response = admin_client.post(
        ISSUE_ADD,
        {
            "title": "  Made in the admin  ",
            "description": "Steps",
            "status": Status.TRIAGED,
            "severity": Severity.HIGH,
            "assignee": maintainer.pk,
            "labels": [bug.pk],
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == ISSUE_CHANGELIST
    created = Issue.objects.get()
    assert created.title == "Made in the admin"
    assert created.number > 0
    assert (created.status, created.severity, created.version) == (
        Status.TRIAGED,
        Severity.HIGH,
        1,
    )
    assert (created.reporter, created.assignee) == (admin_user, maintainer)
    assert [label.name for label in created.labels.all()] == ["bug"]
    [event] = IssueEvent.objects.filter(issue=created)
    assert (event.kind, event.actor) == (EventKind.CREATED, admin_user)
    assert event.data["labels"] == ["bug"]


def test_an_issue_added_as_done_in_the_admin_is_resolved(admin_client):
    response = admin_client.post(
        ISSUE_ADD,
        {"title": "Already fixed", "status": Status.DONE, "severity": Severity.LOW},
    )

    assert response.status_code == 302
    created = Issue.objects.get()
    assert created.status == Status.DONE
    assert created.resolved_at is not None


def test_adding_an_issue_without_a_title_reshows_the_form(admin_client):
    response = admin_client.post(
        ISSUE_ADD, {"title": "   ", "status": Status.OPEN, "severity": Severity.LOW}
    )

    assert response.status_code == 200
    assert "title" in form_errors(response)
    assert not Issue.objects.exists()


# --- issues: change --------------------------------------------------------------


def test_the_issue_change_page_carries_the_version_seen(admin_client, issue):
    services.change_status(actor=UserFactory(role="ADMIN"), issue=issue, version=1, status="DONE")

    response = admin_client.get(issue_change_url(issue))

    assert response.status_code == 200
    assert response.context["adminform"].form["seen_version"].value() == 2
    assert b'name="seen_version" value="2"' in response.content


def test_changing_an_issue_in_the_admin_is_versioned_and_on_the_timeline(
    admin_client, admin_user, maintainer, issue
):
    response = admin_client.post(
        issue_change_url(issue),
        issue_form(issue, title="Retitled by admin", status=Status.DONE, assignee=maintainer.pk),
    )

    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.title, issue.status, issue.assignee, issue.version) == (
        "Retitled by admin",
        Status.DONE,
        maintainer,
        2,
    )
    assert issue.resolved_at is not None
    changed = IssueEvent.objects.filter(issue=issue, kind=EventKind.FIELD_CHANGED)
    assert {event.field for event in changed} == {"title", "status", "assignee"}
    assert {event.actor_id for event in changed} == {admin_user.pk}
    assert {event.data["version"] for event in changed} == {2}
    status_event = changed.get(field="status")
    assert (status_event.old_value, status_event.new_value) == (Status.OPEN, Status.DONE)


def test_changing_labels_in_the_admin_records_a_labels_event(admin_client, admin_user, issue):
    bug, ui = LabelFactory(name="bug"), LabelFactory(name="ui")

    response = admin_client.post(issue_change_url(issue), issue_form(issue, labels=[ui.pk, bug.pk]))

    assert response.status_code == 302
    issue.refresh_from_db()
    assert [label.name for label in issue.labels.all()] == ["bug", "ui"]
    assert issue.version == 2
    assert events(issue)[1:] == [
        (EventKind.LABELS_CHANGED, "labels", admin_user.pk, [], ["bug", "ui"])
    ]


def test_saving_an_unchanged_issue_writes_nothing(admin_client, issue):
    before = events(issue)

    response = admin_client.post(issue_change_url(issue), issue_form(issue))

    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.version == 1
    assert events(issue) == before


def test_a_stale_version_reshows_the_form_with_a_conflict_and_changes_nothing(
    admin_client, maintainer, issue
):
    services.update_issue(
        actor=maintainer, issue=issue, version=1, changes={"title": "Changed meanwhile"}
    )
    before = events(issue)

    response = admin_client.post(
        issue_change_url(issue),
        issue_form(issue, title="Admin's edit", severity=Severity.CRITICAL, seen_version=1),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert len(errors) == 1
    assert f"Issue #{issue.number} was changed meanwhile (now at version 2)." in errors[0]
    assert b"was changed meanwhile" in response.content
    issue.refresh_from_db()
    assert (issue.title, issue.severity, issue.version) == ("Changed meanwhile", Severity.MEDIUM, 2)
    assert events(issue) == before


def test_a_disallowed_status_transition_reshows_the_form_with_the_error(admin_client, issue):
    title = issue.title

    response = admin_client.post(
        issue_change_url(issue), issue_form(issue, status=Status.IN_PROGRESS, title="Also this")
    )

    assert response.status_code == 200
    assert form_errors(response)["status"] == [
        "Cannot move from Open to In progress; allowed: Triaged, Done."
    ]
    issue.refresh_from_db()
    assert (issue.status, issue.title, issue.version) == (Status.OPEN, title, 1)
    assert len(events(issue)) == 1


def test_reopening_a_done_issue_in_the_admin_clears_resolved_at(admin_client, maintainer, issue):
    issue = services.change_status(actor=maintainer, issue=issue, version=1, status=Status.DONE)

    response = admin_client.post(issue_change_url(issue), issue_form(issue, status=Status.OPEN))

    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.resolved_at, issue.version) == (Status.OPEN, None, 3)


def test_a_missing_seen_version_reshows_the_form_instead_of_failing(admin_client, issue):
    title = issue.title
    data = issue_form(issue, title="No version")
    del data["seen_version"]

    response = admin_client.post(issue_change_url(issue), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    issue.refresh_from_db()
    assert (issue.title, issue.version) == (title, 1)


def test_a_reporter_is_not_offered_as_assignee(admin_client, other_reporter, issue):
    response = admin_client.post(
        issue_change_url(issue), issue_form(issue, assignee=other_reporter.pk)
    )

    assert response.status_code == 200
    assert "assignee" in form_errors(response)
    issue.refresh_from_db()
    assert issue.assignee is None


def test_deleting_an_issue_in_the_admin_removes_it_and_its_timeline(admin_client, issue):
    CommentFactory(issue=issue)

    response = admin_client.post(
        reverse("admin:issues_issue_delete", args=[issue.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Issue.objects.filter(pk=issue.pk).exists()
    assert not IssueEvent.objects.filter(issue_id=issue.pk).exists()
    assert not Comment.objects.filter(issue_id=issue.pk).exists()


def test_bulk_deleting_issues_from_the_changelist_removes_them(admin_client, reporter):
    first, second = IssueFactory(reporter=reporter), IssueFactory(reporter=reporter)
    kept = IssueFactory(reporter=reporter)

    response = admin_client.post(
        ISSUE_CHANGELIST,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Issue.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_deletion_names_its_comments_and_watches_in_the_same_few_queries(
    admin_client, reporter, maintainer
):
    """The delete page and the "delete selected" confirmation name every comment
    and watch a deletion takes along, each by its own columns: no query per
    comment (for its issue) or watch (for its user)."""
    admin_client.get(reverse("admin:index"))  # the session is warm

    def confirmations(replies):
        issue = IssueFactory(reporter=reporter)
        root = CommentFactory(issue=issue, author=maintainer, body="root")
        for n in range(replies):
            CommentFactory(issue=issue, author=maintainer, body=f"reply {n}", parent=root)
            services.watch(actor=UserFactory(role="MAINTAINER"), issue=issue)
        comments = reverse("admin:issues_comment_changelist")
        selected = {"action": "delete_selected", "_selected_action": [root.pk]}
        counts, pages = [], []
        for fetch in (
            lambda: admin_client.get(reverse("admin:issues_issue_delete", args=[issue.pk])),
            lambda: admin_client.get(reverse("admin:issues_comment_delete", args=[root.pk])),
            lambda: admin_client.post(comments, selected),
        ):
            with CaptureQueriesContext(connection) as captured:
                response = fetch()
            assert response.status_code == 200
            counts.append(len(captured))
            pages.append(response.content.decode())
        return issue, counts, pages

    _, few, _ = confirmations(1)
    issue, many, pages = confirmations(20)

    assert many == few
    for comment in Comment.objects.filter(issue=issue):
        assert all(str(comment) in page for page in pages)
    assert pages[0].count(f"watches {issue.pk}") == 21  # the reporter's too


# --- labels ------------------------------------------------------------------------


def test_an_admin_creates_a_label_through_the_service(admin_client):
    response = admin_client.post(
        LABEL_ADD, {"name": " needs-info ", "colour": "#ABCDEF", "description": "Waiting"}
    )

    assert response.status_code == 302
    label = Label.objects.get()
    # the service strips the name and lower-cases the colour
    assert (label.name, label.colour, label.description) == ("needs-info", "#abcdef", "Waiting")


@pytest.mark.parametrize("name", ["BUG", "Bug", "bug"])
def test_a_label_name_taken_in_any_case_is_refused_with_a_form_error(admin_client, name):
    LabelFactory(name="bug")

    response = admin_client.post(LABEL_ADD, {"name": name, "colour": "#123456"})

    assert response.status_code == 200
    assert form_errors(response) == {"name": [f"A label named '{name}' already exists."]}
    assert list(Label.objects.values_list("name", flat=True)) == ["bug"]


def test_renaming_a_label_onto_another_in_another_case_is_refused(admin_client):
    LabelFactory(name="bug")
    ui = LabelFactory(name="ui")

    response = admin_client.post(
        reverse("admin:issues_label_change", args=[ui.pk]), {"name": "Bug", "colour": "#123456"}
    )

    assert response.status_code == 200
    assert form_errors(response) == {"name": ["A label named 'Bug' already exists."]}
    assert sorted(Label.objects.values_list("name", flat=True)) == ["bug", "ui"]


def test_changing_only_the_case_of_a_label_name_is_allowed(admin_client):
    label = LabelFactory(name="bug")

    response = admin_client.post(
        reverse("admin:issues_label_change", args=[label.pk]), {"name": "Bug", "colour": "#123456"}
    )

    assert response.status_code == 302
    label.refresh_from_db()
    assert label.name == "Bug"


def test_an_admin_renames_a_label(admin_client):
    label = LabelFactory(name="bgu")

    response = admin_client.post(
        reverse("admin:issues_label_change", args=[label.pk]),
        {"name": "bug", "colour": "#D73A4A", "description": ""},
    )

    assert response.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.colour) == ("bug", "#d73a4a")


def test_a_label_colour_that_is_not_hex_is_refused(admin_client):
    response = admin_client.post(LABEL_ADD, {"name": "odd", "colour": "red"})

    assert response.status_code == 200
    assert form_errors(response)
    assert not Label.objects.exists()


def test_deleting_a_label_in_the_admin_takes_it_off_issues(admin_client, maintainer, issue):
    services.replace_labels(actor=maintainer, issue=issue, labels=[LabelFactory(name="bug").name])
    label = Label.objects.get(name="bug")

    response = admin_client.post(
        reverse("admin:issues_label_delete", args=[label.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Label.objects.exists()
    assert issue.labels.count() == 0


# --- comments and events are history ------------------------------------------


@pytest.fixture
def comment(issue):
    return CommentFactory(issue=issue, body="Original words")


def test_comments_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:issues_comment_add")).status_code == 403


def test_comments_are_viewable_but_not_changeable_in_the_admin(admin_client, comment):
    url = reverse("admin:issues_comment_change", args=[comment.pk])

    page = admin_client.get(url)
    post = admin_client.post(url, {"body": "Rewritten by admin", "issue": comment.issue_id})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert b"Original words" in page.content
    assert post.status_code == 403
    comment.refresh_from_db()
    assert comment.body == "Original words"


def test_an_admin_may_delete_a_comment_for_moderation(admin_client, comment):
    response = admin_client.post(
        reverse("admin:issues_comment_delete", args=[comment.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Comment.objects.filter(pk=comment.pk).exists()


def test_issue_events_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, issue):
    event = IssueEvent.objects.get(issue=issue)
    change_url = reverse("admin:issues_issueevent_change", args=[event.pk])

    assert admin_client.get(change_url).status_code == 200
    assert admin_client.get(reverse("admin:issues_issueevent_add")).status_code == 403
    assert admin_client.post(change_url, {"kind": EventKind.IMPORTED}).status_code == 403
    delete_url = reverse("admin:issues_issueevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    admin_client.post(
        reverse("admin:issues_issueevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    event.refresh_from_db()
    assert event.kind == EventKind.CREATED


def test_the_event_changelist_offers_no_delete_action(admin_client, issue):
    response = admin_client.get(reverse("admin:issues_issueevent_changelist"))

    assert response.status_code == 200
    assert response.context["action_form"] is None


# --- pending mail ----------------------------------------------------------------


def test_pending_mail_is_listed_and_may_be_tried_at_the_next_run(admin_client, issue):
    later = timezone.now() + timedelta(hours=1)
    pending = PendingMail.objects.create(refs=[[1, str(issue.pk)], [2, str(issue.pk)]])
    PendingMail.objects.filter(pk=pending.pk).update(attempts=4, send_after=later)
    changelist = reverse("admin:issues_pendingmail_changelist")

    page = admin_client.get(changelist)
    response = admin_client.post(
        changelist, {"action": "send_at_next_run", "_selected_action": [pending.pk]}, follow=True
    )

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [pending]
    assert "1 mail(s) will be tried at the next run." in response.content.decode()
    pending.refresh_from_db()
    assert pending.send_after <= timezone.now() and pending.attempts == 4
    assert admin_client.get(reverse("admin:issues_pendingmail_add")).status_code == 403


def test_pending_mail_may_be_dropped_but_not_changed(admin_client, issue):
    pending = PendingMail.objects.create(refs=[[1, str(issue.pk)]])
    change_url = reverse("admin:issues_pendingmail_change", args=[pending.pk])

    assert admin_client.post(change_url, {"refs": "[]"}).status_code == 403
    response = admin_client.post(
        reverse("admin:issues_pendingmail_delete", args=[pending.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not PendingMail.objects.exists()


def test_pending_mail_is_for_admins_only(client, maintainer):
    client.force_login(maintainer)

    response = client.get(reverse("admin:issues_pendingmail_changelist"))

    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(("page", "model"), [("comment", "comment"), ("issueevent", "event")])
def test_comments_and_events_are_listed_newest_first_by_their_key(
    admin_client, maintainer, reporter, page, model
):
    """By the primary key's index: the models' own order (created_at) has none,
    and sorting millions of rows by it took seconds a page."""
    issue = IssueFactory(reporter=reporter)
    comments = [CommentFactory(issue=issue, author=maintainer, body=f"n{n}") for n in range(3)]
    rows = comments if model == "comment" else list(issue.events.order_by("id"))

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(f"admin:issues_{page}_changelist"))

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == sorted(rows, key=lambda row: row.pk, reverse=True)
    listed = [q["sql"] for q in captured if "ORDER BY" in q["sql"] and f"issues_{page}" in q["sql"]]
    assert listed and all(f'ORDER BY "issues_{page}"."id" DESC' in sql for sql in listed)

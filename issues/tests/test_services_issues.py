"""Single-issue services: create, update (and its dry run), status, assignment,
labels and delete — for every role, with the timeline each call leaves."""

import base64
import itertools
import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import services, workflow
from issues.errors import FieldPermissionDenied, NotFound, VersionConflict
from issues.models import (
    Attachment,
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLabel,
    Label,
    PendingMail,
    Severity,
    Status,
    Watch,
)
from issues.services import issues as issue_services
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def timeline(issue) -> list[tuple]:
    """(kind, field, old, new, actor id) for every event of the issue, oldest first."""
    return list(
        IssueEvent.objects.filter(issue_id=issue.pk)
        .order_by("created_at", "id")
        .values_list("kind", "field", "old_value", "new_value", "actor_id")
    )


def changes_after_creation(issue) -> list[tuple]:
    events = timeline(issue)
    assert events[0][0] == EventKind.CREATED
    return events[1:]


def state(issue) -> tuple:
    """Everything a refused call must leave untouched."""
    row = Issue.objects.get(pk=issue.pk)
    return (
        row.title,
        row.description,
        row.status,
        row.severity,
        row.assignee_id,
        row.version,
        row.resolved_at,
        row.updated_at,
        sorted(row.labels.values_list("name", flat=True)),
        IssueEvent.objects.filter(issue_id=issue.pk).count(),
    )


def ref(user) -> dict:
    return {"id": user.pk, "name": user.name}


@pytest.fixture
def inactive_maintainer(db):
    return UserFactory(role="MAINTAINER", is_active=False, display_name="Ina Inactive")


@pytest.fixture
def labels(db):
    return {name: LabelFactory(name=name) for name in ("bug", "UI", "docs")}


def issue_in(status, maintainer, reporter) -> Issue:
    """An issue of `reporter` that a maintainer filed directly in `status`."""
    issue = services.create_issue(actor=maintainer, title=f"In {status}", status=status)
    Issue.objects.filter(pk=issue.pk).update(reporter=reporter)
    return Issue.objects.get(pk=issue.pk)


# --- create_issue ------------------------------------------------------------------


def test_reporter_creates_an_open_issue_with_a_created_event(reporter):
    before = timezone.now()

    issue = services.create_issue(
        actor=reporter, title="  Crash on save  ", description="Steps: *click*", severity="high"
    )

    issue.refresh_from_db()
    assert issue.title == "Crash on save"
    assert issue.description == "Steps: *click*"
    assert issue.severity == Severity.HIGH
    assert issue.status == Status.OPEN
    assert issue.reporter == reporter
    assert issue.assignee is None
    assert issue.resolved_at is None
    assert issue.version == 1
    assert issue.number > 0
    assert before <= issue.created_at <= timezone.now()
    assert list(issue.labels.all()) == []
    event = issue.events.get()
    assert (event.kind, event.actor, event.field) == (EventKind.CREATED, reporter, "")
    assert event.data == {
        "title": "Crash on save",
        "status": "OPEN",
        "severity": "HIGH",
        "labels": [],
        "assignee": None,
    }


def test_maintainer_creates_a_triaged_assigned_labelled_issue(maintainer, labels):
    issue = services.create_issue(
        actor=maintainer,
        title="Broken docs",
        status=Status.TRIAGED,
        severity=Severity.LOW,
        assignee=maintainer,
        labels=["docs", "BUG"],
    )

    issue.refresh_from_db()
    assert issue.status == Status.TRIAGED
    assert issue.severity == Severity.LOW
    assert issue.assignee == maintainer
    assert sorted(issue.labels.values_list("name", flat=True)) == ["bug", "docs"]
    event = issue.events.get()
    assert event.kind == EventKind.CREATED
    assert event.data["labels"] == ["bug", "docs"]
    assert event.data["status"] == "TRIAGED"


def test_a_create_writes_in_one_statement_and_answers_what_the_database_gave(maintainer, labels):
    """The issue, its event, labels, watches, mail and live notice: one
    statement, so no transaction (nor savepoint) of its own; the number and the
    event's id come back from it."""
    with CaptureQueriesContext(connection) as queries:
        issue = services.create_issue(
            actor=maintainer,
            title="Crash",
            status=Status.DONE,
            assignee=maintainer,
            labels=["docs", "bug"],
        )

    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(writes) == 1 and writes[0].startswith("WITH issue AS (INSERT")
    stored = Issue.objects.get(pk=issue.pk)
    assert (issue.number, issue._state.adding) == (stored.number, False)
    assert issue.label_names == ["bug", "docs"]
    # The links, written after the issue, copied its status (migration 0010).
    links = IssueLabel.objects.filter(issue=issue)
    assert sorted(links.values_list("status", flat=True)) == [Status.DONE, Status.DONE]
    assert list(Watch.objects.filter(issue=issue).values_list("user", flat=True)) == [maintainer.pk]
    event = stored.events.get()
    assert PendingMail.objects.get().refs == [[event.pk, str(issue.pk)]]


@pytest.mark.django_db(transaction=True)
def test_a_create_that_fails_leaves_nothing(maintainer, labels, monkeypatch):
    """One statement, atomic without a transaction of its own: a label deleted
    between the create's lookup and its write fails it all (the link's foreign
    key), the issue and its event included."""
    looked_up = issue_services.clean_fields

    def label_deleted_meanwhile(fields):
        cleaned = looked_up(fields)
        Label.objects.filter(name="bug").delete()
        return cleaned

    monkeypatch.setattr(issue_services, "clean_fields", label_deleted_meanwhile)
    with pytest.raises(IntegrityError):
        services.create_issue(actor=maintainer, title="Lost", assignee=maintainer, labels=["bug"])

    assert not Issue.objects.filter(title="Lost").exists()
    assert not IssueEvent.objects.filter(data__title="Lost").exists()
    assert not Watch.objects.exists() and not PendingMail.objects.exists()


def test_creating_an_issue_as_done_stamps_resolved_at(admin_user):
    issue = services.create_issue(actor=admin_user, title="Already fixed", status=Status.DONE)

    issue.refresh_from_db()
    assert issue.status == Status.DONE
    assert issue.resolved_at is not None


def test_create_issue_records_the_event_kind_it_is_given(maintainer):
    issue = services.create_issue(actor=maintainer, title="From CSV", event_kind=EventKind.IMPORTED)

    assert list(issue.events.values_list("kind", flat=True)) == [EventKind.IMPORTED]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),  # PostgreSQL text cannot hold NUL
        ({"title": "ok", "description": 42}, "description"),
        ({"title": "ok", "description": "\x00"}, "description"),
        ({"title": "ok", "description": "x" * 50_001}, "description"),
        ({"title": "ok", "severity": "urgent"}, "severity"),
        ({"title": "ok", "severity": 7}, "severity"),
        ({"title": "ok", "severity": True}, "severity"),
        ({"title": "ok", "status": "CLOSED"}, "status"),
        ({"title": "ok", "labels": ["no-such-label"]}, "labels"),
        ({"title": "ok", "labels": ["bug\x00"]}, "labels"),
        ({"title": "ok", "assignee": 999_999}, "assignee"),
    ],
)
def test_create_issue_refuses_bad_input_naming_the_field(maintainer, kwargs, field):
    with pytest.raises(ValidationError) as excinfo:
        services.create_issue(actor=maintainer, **kwargs)

    assert set(excinfo.value.message_dict) == {field}
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()


def test_create_issue_reports_every_bad_field_at_once(reporter):
    with pytest.raises(ValidationError) as excinfo:
        services.create_issue(actor=reporter, title="", severity="urgent", description=[])

    assert set(excinfo.value.message_dict) == {"title", "severity", "description"}


def test_create_issue_refuses_a_reporter_as_assignee(maintainer, reporter):
    with pytest.raises(ValidationError) as excinfo:
        services.create_issue(actor=maintainer, title="ok", assignee=reporter)

    assert "assignee" in excinfo.value.message_dict
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("status", {"status": Status.TRIAGED}),
        ("labels", {"labels": ["bug"]}),
        ("assignee", {"assignee": "maintainer"}),
    ],
)
def test_reporter_cannot_set_triage_fields_when_creating(
    reporter, maintainer, labels, field, kwargs
):
    if kwargs.get("assignee") == "maintainer":
        kwargs = {"assignee": maintainer}

    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.create_issue(actor=reporter, title="Sneaky", **kwargs)

    assert excinfo.value.field == field
    assert not Issue.objects.exists()


def test_inactive_user_cannot_create_an_issue(db):
    inactive = UserFactory(role="ADMIN", is_active=False)

    with pytest.raises(PermissionDenied):
        services.create_issue(actor=inactive, title="Ghost")

    assert not Issue.objects.exists()


def test_anonymous_user_cannot_create_an_issue(db):
    with pytest.raises(PermissionDenied):
        services.create_issue(actor=AnonymousUser(), title="Ghost")

    assert not Issue.objects.exists()


# --- update_issue: text fields -----------------------------------------------------


@pytest.mark.parametrize("who", ["reporter", "maintainer", "admin_user"])
def test_owner_maintainer_and_admin_can_edit_title_and_description(request, issue, who):
    actor = request.getfixturevalue(who)
    old_title, old_description = issue.title, issue.description

    updated = services.update_issue(
        actor=actor,
        issue=issue,
        version=1,
        changes={"title": "  Better title ", "description": "More detail"},
    )

    assert updated.version == 2
    assert updated.title == "Better title"
    assert updated.description == "More detail"
    assert Issue.objects.get(pk=issue.pk).version == 2
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "title", old_title, "Better title", actor.pk),
        (EventKind.FIELD_CHANGED, "description", old_description, "More detail", actor.pk),
    ]
    assert {e.data["version"] for e in issue.events.exclude(kind=EventKind.CREATED)} == {2}


def test_update_advances_updated_at(issue, reporter):
    before = Issue.objects.get(pk=issue.pk).updated_at

    updated = services.update_issue(
        actor=reporter, issue=issue, version=1, changes={"title": "Changed"}
    )

    assert updated.updated_at > before


def test_other_reporter_gets_not_found_when_editing(issue, other_reporter):
    before = state(issue)

    with pytest.raises(NotFound):
        services.update_issue(
            actor=other_reporter, issue=issue, version=1, changes={"title": "Mine now"}
        )

    assert state(issue) == before


def test_inactive_reporter_cannot_edit_their_own_issue(issue, reporter):
    reporter.is_active = False
    reporter.save(update_fields=["is_active"])
    before = state(issue)

    with pytest.raises(NotFound):
        services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "x"})

    assert state(issue) == before


def test_anonymous_user_gets_not_found_when_editing(issue):
    with pytest.raises(NotFound):
        services.update_issue(actor=AnonymousUser(), issue=issue, version=1, changes={"title": "x"})


def test_update_of_a_deleted_issue_is_not_found(issue, reporter, admin_user):
    # Delete through another copy: deleting clears the pk of the object deleted.
    services.delete_issue(actor=admin_user, issue=Issue.objects.get(pk=issue.pk))
    assert issue.pk is not None

    with pytest.raises(NotFound):
        services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "x"})


# --- update_issue: triage fields ---------------------------------------------------


TRIAGE_CHANGES = {
    "status": lambda users: Status.TRIAGED,
    "severity": lambda users: "CRITICAL",
    "assignee": lambda users: users["maintainer"],
    "labels": lambda users: ["bug"],
}


@pytest.mark.parametrize("field", list(TRIAGE_CHANGES))
def test_reporter_cannot_change_triage_fields_of_their_own_issue(
    issue, reporter, maintainer, labels, field
):
    before = state(issue)

    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.update_issue(
            actor=reporter,
            issue=issue,
            version=1,
            changes={field: TRIAGE_CHANGES[field]({"maintainer": maintainer})},
        )

    assert excinfo.value.field == field
    assert field in str(excinfo.value)
    assert state(issue) == before


def test_reporter_cannot_change_status_even_alongside_a_title_edit(issue, reporter):
    before = state(issue)

    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.update_issue(
            actor=reporter,
            issue=issue,
            version=1,
            changes={"title": "Allowed", "status": Status.DONE},
        )

    assert excinfo.value.field == "status"
    assert state(issue) == before


@pytest.mark.parametrize("field", list(TRIAGE_CHANGES))
def test_other_reporter_gets_not_found_rather_than_field_refusal(
    issue, other_reporter, maintainer, labels, field
):
    with pytest.raises(NotFound):
        services.update_issue(
            actor=other_reporter,
            issue=issue,
            version=1,
            changes={field: TRIAGE_CHANGES[field]({"maintainer": maintainer})},
        )


@pytest.mark.parametrize("field", list(TRIAGE_CHANGES))
def test_inactive_maintainer_cannot_change_triage_fields(
    issue, inactive_maintainer, maintainer, labels, field
):
    before = state(issue)

    with pytest.raises(NotFound):
        services.update_issue(
            actor=inactive_maintainer,
            issue=issue,
            version=1,
            changes={field: TRIAGE_CHANGES[field]({"maintainer": maintainer})},
        )

    assert state(issue) == before


@pytest.mark.parametrize("who", ["maintainer", "admin_user"])
def test_maintainer_and_admin_change_severity_with_a_named_event(request, issue, who):
    actor = request.getfixturevalue(who)

    updated = services.update_issue(
        actor=actor, issue=issue, version=1, changes={"severity": "critical"}
    )

    assert updated.severity == Severity.CRITICAL
    assert updated.version == 2
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "severity", "MEDIUM", "CRITICAL", actor.pk)
    ]


def test_several_fields_in_one_update_bump_the_version_once(issue, maintainer, labels):
    updated = services.update_issue(
        actor=maintainer,
        issue=issue,
        version=1,
        changes={
            "title": "New",
            "status": Status.TRIAGED,
            "severity": Severity.HIGH,
            "assignee": maintainer,
            "labels": ["bug"],
        },
    )

    assert updated.version == 2
    events = changes_after_creation(issue)
    assert [(kind, field) for kind, field, *_ in events] == [
        (EventKind.FIELD_CHANGED, "title"),
        (EventKind.FIELD_CHANGED, "status"),
        (EventKind.FIELD_CHANGED, "severity"),
        (EventKind.FIELD_CHANGED, "assignee"),
        (EventKind.LABELS_CHANGED, "labels"),
    ]
    assert events[3][2:] == (None, ref(maintainer), maintainer.pk)
    assert events[4][2:] == ([], ["bug"], maintainer.pk)


def test_a_no_op_update_changes_nothing(issue, maintainer):
    before = state(issue)

    result = services.update_issue(
        actor=maintainer,
        issue=issue,
        version=1,
        changes={
            "title": f"  {issue.title}  ",
            "status": Status.OPEN,
            "severity": "medium",
            "assignee": None,
            "labels": [],
        },
    )

    assert result.version == 1
    assert state(issue) == before


def test_only_the_fields_that_differ_are_recorded(issue, reporter):
    services.update_issue(
        actor=reporter,
        issue=issue,
        version=1,
        changes={"title": issue.title, "description": "Only this changed"},
    )

    assert [field for _, field, *_ in changes_after_creation(issue)] == ["description"]


def test_each_change_bumps_the_version_by_exactly_one(issue, maintainer):
    for version, severity in enumerate(["LOW", "HIGH", "CRITICAL"], start=1):
        updated = services.update_issue(
            actor=maintainer, issue=issue, version=version, changes={"severity": severity}
        )
        assert updated.version == version + 1

    assert [old for _, _, old, _, _ in changes_after_creation(issue)] == ["MEDIUM", "LOW", "HIGH"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reporter": 1}, "reporter"),
        ({"version": 5}, "version"),
        ({"number": 7}, "number"),
        ({"title": ""}, "title"),
        ({"title": "y" * 201}, "title"),
        ({"description": ["not", "text"]}, "description"),
        ({"severity": "severe"}, "severity"),
        ({"status": "WONTFIX"}, "status"),
        ({"labels": "bug"}, "labels"),
        ({"labels": [""]}, "labels"),
        ({"labels": ["\x00"]}, "labels"),
        ({"title": "\x00"}, "title"),
        ({"description": "text\x00"}, "description"),
        ({"assignee": "not-an-id"}, "assignee"),
    ],
)
def test_update_refuses_bad_input_naming_the_field(issue, maintainer, changes, field):
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.update_issue(actor=maintainer, issue=issue, version=1, changes=changes)

    assert set(excinfo.value.message_dict) == {field}
    assert state(issue) == before


def test_update_reports_every_bad_field_at_once(issue, maintainer):
    with pytest.raises(ValidationError) as excinfo:
        services.update_issue(
            actor=maintainer,
            issue=issue,
            version=1,
            changes={"title": " ", "severity": 0, "status": "NOPE"},
        )

    assert set(excinfo.value.message_dict) == {"title", "severity", "status"}


@pytest.mark.parametrize("version", [None, "1", 1.0, True])
def test_update_requires_an_integer_version(issue, reporter, version):
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.update_issue(actor=reporter, issue=issue, version=version, changes={"title": "x"})

    assert set(excinfo.value.message_dict) == {"version"}
    assert state(issue) == before


# --- check_update ------------------------------------------------------------------


def test_check_update_returns_the_differences_without_writing(issue, maintainer):
    before = state(issue)

    diffs = services.check_update(
        actor=maintainer,
        issue=issue,
        version=1,
        changes={"title": issue.title, "severity": "HIGH", "status": Status.TRIAGED},
    )

    assert diffs == {"severity": Severity.HIGH, "status": Status.TRIAGED}
    assert state(issue) == before


def test_check_update_of_a_no_op_is_empty(issue, reporter):
    assert (
        services.check_update(
            actor=reporter, issue=issue, version=1, changes={"title": issue.title}
        )
        == {}
    )


def test_check_update_refuses_what_update_would_refuse(issue, reporter, other_reporter):
    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.check_update(actor=reporter, issue=issue, version=1, changes={"severity": 1})
    assert excinfo.value.field == "severity"

    with pytest.raises(NotFound):
        services.check_update(actor=other_reporter, issue=issue, version=1, changes={"title": "x"})

    with pytest.raises(ValidationError) as excinfo:
        services.check_update(actor=reporter, issue=issue, version=1, changes={"title": ""})
    assert set(excinfo.value.message_dict) == {"title"}


def test_check_update_reports_a_stale_version(issue, reporter):
    services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "First"})

    with pytest.raises(VersionConflict) as excinfo:
        services.check_update(actor=reporter, issue=issue, version=1, changes={"title": "Second"})

    assert excinfo.value.current.version == 2
    assert excinfo.value.current.title == "First"


def test_check_update_refuses_a_disallowed_transition(issue, maintainer):
    with pytest.raises(ValidationError) as excinfo:
        services.check_update(
            actor=maintainer, issue=issue, version=1, changes={"status": Status.IN_PROGRESS}
        )

    assert set(excinfo.value.message_dict) == {"status"}


# --- Version conflict --------------------------------------------------------------


def test_a_stale_version_gets_a_conflict_carrying_the_current_state(issue, reporter, maintainer):
    services.update_issue(actor=maintainer, issue=issue, version=1, changes={"title": "Theirs"})
    before = state(issue)

    with pytest.raises(VersionConflict) as excinfo:
        services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "Mine"})

    current = excinfo.value.current
    assert isinstance(current, Issue)
    assert current.pk == issue.pk
    assert current.version == 2
    assert current.title == "Theirs"
    assert f"#{issue.number}" in str(excinfo.value)
    assert state(issue) == before


def test_a_future_version_is_a_conflict_too(issue, reporter):
    with pytest.raises(VersionConflict) as excinfo:
        services.update_issue(actor=reporter, issue=issue, version=5, changes={"title": "x"})

    assert excinfo.value.current.version == 1


def test_a_stale_caller_copy_does_not_matter_only_the_version_does(issue, reporter):
    services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "Second"})
    assert issue.version == 1  # the caller's copy is stale

    updated = services.update_issue(
        actor=reporter, issue=issue, version=2, changes={"description": "Third"}
    )

    assert (updated.version, updated.title, updated.description) == (3, "Second", "Third")


def test_an_edit_that_loses_the_race_writes_nothing_that_follows_from_it(
    issue, reporter, maintainer
):
    """Another edit lands between an edit's read and its write: its
    compare-and-set fails, and what is written with it in one statement does
    not happen either (no event, no watch by the new assignee, no mail)."""
    current, diffs = issue_services._prepare_update(
        maintainer, issue, 1, {"status": Status.TRIAGED, "assignee": maintainer}
    )
    services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "Theirs"})
    before = (IssueEvent.objects.count(), PendingMail.objects.count(), Watch.objects.count())

    with pytest.raises(VersionConflict) as excinfo:
        issue_services._apply_changes(maintainer, current, 1, diffs)

    assert excinfo.value.current.title == "Theirs"
    assert (IssueEvent.objects.count(), PendingMail.objects.count(), Watch.objects.count()) == (
        before
    )
    assert not Watch.objects.filter(user=maintainer, issue=issue).exists()
    stored = Issue.objects.get(pk=issue.pk)
    assert (stored.status, stored.assignee_id, stored.version) == (Status.OPEN, None, 2)


def test_an_edit_returns_its_events_with_their_ids_and_mails_the_notifying_ones(
    issue, reporter, maintainer
):
    """Several fields at once: one event each, in the order changed, the ids
    the database gave them; the mail row names only those that may concern
    someone (the status, the assignment; not the title)."""
    issue_services.update_issue(
        actor=maintainer,
        issue=issue,
        version=1,
        changes={"title": "Renamed", "status": Status.TRIAGED, "assignee": maintainer},
    )

    events = list(IssueEvent.objects.filter(issue=issue, kind=EventKind.FIELD_CHANGED))
    assert [(e.field, e.data) for e in events] == [
        ("title", {"version": 2}),
        ("status", {"version": 2}),
        ("assignee", {"version": 2}),
    ]
    assert events[1].old_value == Status.OPEN and events[1].new_value == Status.TRIAGED
    (mail,) = PendingMail.objects.all()
    assert mail.refs == [[events[1].pk, str(issue.pk)], [events[2].pk, str(issue.pk)]]
    assert Watch.objects.filter(user=maintainer, issue=issue).exists()


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_edits_from_the_same_version_exactly_one_wins(
    reporter, maintainer, monkeypatch
):
    issue = IssueFactory(reporter=reporter, title="Original")
    # Both threads must have read version 1 before either writes: hold them at a
    # barrier between the read (and checks) and the compare-and-set write.
    barrier = threading.Barrier(2, timeout=10)
    real_apply = issue_services._apply_changes

    def apply_after_both_read(*args, **kwargs):
        barrier.wait()
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(issue_services, "_apply_changes", apply_after_both_read)
    results: dict[str, object] = {}

    def edit(actor, title):
        try:
            results[title] = services.update_issue(
                actor=actor, issue=issue, version=1, changes={"title": title}
            )
        except Exception as exc:  # collected and asserted on below
            results[title] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=edit, args=(reporter, "Reporter's title")),
        threading.Thread(target=edit, args=(maintainer, "Maintainer's title")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    winners = {t: r for t, r in results.items() if isinstance(r, Issue)}
    losers = {t: r for t, r in results.items() if isinstance(r, VersionConflict)}
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    (winning_title,) = winners
    (conflict,) = losers.values()
    assert conflict.current.version == 2
    assert conflict.current.title == winning_title

    final = Issue.objects.get(pk=issue.pk)
    assert final.version == 2
    assert final.title == winning_title
    changed = IssueEvent.objects.filter(issue_id=issue.pk, kind=EventKind.FIELD_CHANGED)
    assert list(changed.values_list("field", "old_value", "new_value")) == [
        ("title", "Original", winning_title)
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_label_replacements_without_version_both_apply_in_turn(reporter, maintainer):
    issue = IssueFactory(reporter=reporter)
    LabelFactory(name="bug")
    LabelFactory(name="ui")
    barrier = threading.Barrier(2, timeout=10)
    errors: list[Exception] = []

    def replace(names):
        try:
            barrier.wait()
            services.replace_labels(actor=maintainer, issue=issue, labels=names)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=replace, args=(names,)) for names in (["bug"], ["ui"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    final = Issue.objects.get(pk=issue.pk)
    assert final.version == 3
    events = list(
        IssueEvent.objects.filter(issue_id=issue.pk, kind=EventKind.LABELS_CHANGED)
        .order_by("id")
        .values_list("old_value", "new_value")
    )
    assert len(events) == 2
    # The second replacement saw the first one's result, not the original.
    assert events[0][0] == []
    assert events[1][0] == events[0][1]
    assert list(final.labels.values_list("name", flat=True)) == events[1][1]


# --- change_status -----------------------------------------------------------------


def test_maintainer_moves_an_issue_to_triaged(issue, maintainer):
    updated = services.change_status(
        actor=maintainer, issue=issue, version=1, status=Status.TRIAGED
    )

    assert (updated.status, updated.version, updated.resolved_at) == (Status.TRIAGED, 2, None)
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "status", "OPEN", "TRIAGED", maintainer.pk)
    ]


def test_entering_done_stamps_resolved_at_and_reopening_clears_it(issue, admin_user):
    before = timezone.now()

    done = services.change_status(actor=admin_user, issue=issue, version=1, status=Status.DONE)

    assert done.status == Status.DONE
    assert before <= done.resolved_at <= timezone.now()

    reopened = services.change_status(actor=admin_user, issue=issue, version=2, status=Status.OPEN)

    assert reopened.status == Status.OPEN
    assert reopened.resolved_at is None
    assert reopened.version == 3
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "status", "OPEN", "DONE", admin_user.pk),
        (EventKind.FIELD_CHANGED, "status", "DONE", "OPEN", admin_user.pk),
    ]


def test_walking_the_whole_workflow_keeps_resolved_at_in_step(issue, maintainer):
    path = [Status.TRIAGED, Status.IN_PROGRESS, Status.DONE]
    for version, status in enumerate(path, start=1):
        updated = services.change_status(
            actor=maintainer, issue=issue, version=version, status=status
        )
        assert (updated.resolved_at is not None) == (status == Status.DONE)

    assert updated.version == 4
    assert [(old, new) for _, _, old, new, _ in changes_after_creation(issue)] == [
        ("OPEN", "TRIAGED"),
        ("TRIAGED", "IN_PROGRESS"),
        ("IN_PROGRESS", "DONE"),
    ]


# Sorted: TRANSITIONS holds frozensets, whose order changes from run to run, and
# pytest-xdist needs every worker to collect the same parameters in the same order.
ALLOWED = sorted(
    (str(src), str(dst)) for src, targets in workflow.TRANSITIONS.items() for dst in targets
)
REFUSED = [
    (src, dst)
    for src, dst in itertools.permutations(Status.values, 2)
    if dst not in workflow.TRANSITIONS[src]
]


def test_the_workflow_refuses_some_transitions():
    assert (Status.OPEN, Status.IN_PROGRESS) in REFUSED
    assert (Status.DONE, Status.TRIAGED) in REFUSED
    assert len(ALLOWED) + len(REFUSED) == 12


@pytest.mark.parametrize(("src", "dst"), ALLOWED)
def test_allowed_transitions_are_applied(reporter, maintainer, src, dst):
    issue = issue_in(src, maintainer, reporter)

    updated = services.change_status(actor=maintainer, issue=issue, version=1, status=dst)

    assert updated.status == dst
    assert updated.version == 2
    assert (updated.resolved_at is not None) == (dst == Status.DONE)
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "status", src, dst, maintainer.pk)
    ]


@pytest.mark.parametrize(("src", "dst"), REFUSED)
def test_disallowed_transitions_are_refused_on_status(reporter, maintainer, src, dst):
    issue = issue_in(src, maintainer, reporter)
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.change_status(actor=maintainer, issue=issue, version=1, status=dst)

    assert set(excinfo.value.message_dict) == {"status"}
    assert excinfo.value.message_dict["status"] == [workflow.refusal(src, dst)]
    assert state(issue) == before


def test_changing_to_the_current_status_is_a_no_op(issue, maintainer):
    before = state(issue)

    result = services.change_status(actor=maintainer, issue=issue, version=1, status=Status.OPEN)

    assert result.version == 1
    assert state(issue) == before


@pytest.mark.parametrize("bad", ["CLOSED", "done", "", None, 3])
def test_change_status_refuses_an_unknown_status(issue, maintainer, bad):
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.change_status(actor=maintainer, issue=issue, version=1, status=bad)

    assert set(excinfo.value.message_dict) == {"status"}
    assert state(issue) == before


def test_reporter_cannot_change_status(issue, reporter):
    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.change_status(actor=reporter, issue=issue, version=1, status=Status.DONE)

    assert excinfo.value.field == "status"
    assert Issue.objects.get(pk=issue.pk).status == Status.OPEN


def test_other_reporter_changing_status_gets_not_found(issue, other_reporter):
    with pytest.raises(NotFound):
        services.change_status(actor=other_reporter, issue=issue, version=1, status=Status.DONE)


def test_inactive_maintainer_cannot_change_status(issue, inactive_maintainer):
    with pytest.raises(NotFound):
        services.change_status(
            actor=inactive_maintainer, issue=issue, version=1, status=Status.DONE
        )

    assert Issue.objects.get(pk=issue.pk).status == Status.OPEN


def test_change_status_with_a_stale_version_conflicts(issue, maintainer):
    services.change_status(actor=maintainer, issue=issue, version=1, status=Status.TRIAGED)

    with pytest.raises(VersionConflict) as excinfo:
        services.change_status(actor=maintainer, issue=issue, version=1, status=Status.DONE)

    assert excinfo.value.current.status == Status.TRIAGED
    assert Issue.objects.get(pk=issue.pk).resolved_at is None


# --- assign ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["maintainer", "admin_user"])
def test_maintainer_and_admin_can_assign(request, issue, maintainer, admin_user, who):
    actor = request.getfixturevalue(who)

    updated = services.assign(actor=actor, issue=issue, version=1, assignee=admin_user)

    assert updated.assignee == admin_user
    assert updated.version == 2
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "assignee", None, ref(admin_user), actor.pk)
    ]


def test_assign_accepts_a_user_id_and_unassigning_records_the_old_assignee(issue, maintainer):
    services.assign(actor=maintainer, issue=issue, version=1, assignee=maintainer.pk)

    updated = services.assign(actor=maintainer, issue=issue, version=2, assignee=None)

    assert updated.assignee is None
    assert updated.version == 3
    assert changes_after_creation(issue) == [
        (EventKind.FIELD_CHANGED, "assignee", None, ref(maintainer), maintainer.pk),
        (EventKind.FIELD_CHANGED, "assignee", ref(maintainer), None, maintainer.pk),
    ]


def test_reassigning_the_same_person_is_a_no_op(issue, maintainer):
    services.assign(actor=maintainer, issue=issue, version=1, assignee=maintainer)
    before = state(issue)

    result = services.assign(actor=maintainer, issue=issue, version=2, assignee=maintainer.pk)

    assert result.version == 2
    assert state(issue) == before


@pytest.mark.parametrize("assignee", ["reporter", "other_reporter", "inactive_maintainer"])
def test_only_active_maintainers_and_admins_can_be_assignees(request, issue, maintainer, assignee):
    target = request.getfixturevalue(assignee)
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.assign(actor=maintainer, issue=issue, version=1, assignee=target)

    assert set(excinfo.value.message_dict) == {"assignee"}
    assert state(issue) == before


def test_a_deactivated_admin_cannot_be_assigned_by_id(issue, maintainer):
    gone = UserFactory(role="ADMIN", is_active=False)

    with pytest.raises(ValidationError) as excinfo:
        services.assign(actor=maintainer, issue=issue, version=1, assignee=gone.pk)

    assert set(excinfo.value.message_dict) == {"assignee"}


@pytest.mark.parametrize("bad", [999_999, "abc", 3.5, [1]])
def test_assign_refuses_an_unknown_user(issue, maintainer, bad):
    with pytest.raises(ValidationError) as excinfo:
        services.assign(actor=maintainer, issue=issue, version=1, assignee=bad)

    assert set(excinfo.value.message_dict) == {"assignee"}
    assert Issue.objects.get(pk=issue.pk).assignee is None


def test_reporter_cannot_assign_even_themselves(issue, reporter, maintainer):
    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.assign(actor=reporter, issue=issue, version=1, assignee=maintainer)

    assert excinfo.value.field == "assignee"
    assert Issue.objects.get(pk=issue.pk).assignee is None


def test_other_reporter_assigning_gets_not_found(issue, other_reporter, maintainer):
    with pytest.raises(NotFound):
        services.assign(actor=other_reporter, issue=issue, version=1, assignee=maintainer)


def test_inactive_maintainer_cannot_assign(issue, inactive_maintainer, maintainer):
    with pytest.raises(NotFound):
        services.assign(actor=inactive_maintainer, issue=issue, version=1, assignee=maintainer)


# --- replace_labels ----------------------------------------------------------------


def label_set(issue) -> list[str]:
    return sorted(Issue.objects.get(pk=issue.pk).labels.values_list("name", flat=True))


def test_maintainer_replaces_labels_with_a_version(issue, maintainer, labels):
    updated = services.replace_labels(
        actor=maintainer, issue=issue, labels=["ui", "BUG"], version=1
    )

    assert updated.version == 2
    assert label_set(issue) == ["UI", "bug"]
    assert changes_after_creation(issue) == [
        (EventKind.LABELS_CHANGED, "labels", [], ["bug", "UI"], maintainer.pk)
    ]


def test_replacing_labels_again_records_the_old_and_new_sets(issue, admin_user, labels):
    services.replace_labels(actor=admin_user, issue=issue, labels=["bug", "docs"], version=1)

    updated = services.replace_labels(
        actor=admin_user, issue=issue, labels=[labels["UI"]], version=2
    )

    assert updated.version == 3
    assert label_set(issue) == ["UI"]
    assert changes_after_creation(issue)[-1] == (
        EventKind.LABELS_CHANGED,
        "labels",
        ["bug", "docs"],
        ["UI"],
        admin_user.pk,
    )


def test_replacing_labels_without_a_version_applies_on_top_of_other_edits(
    issue, reporter, maintainer, labels
):
    services.update_issue(actor=reporter, issue=issue, version=1, changes={"title": "Edited"})

    updated = services.replace_labels(actor=maintainer, issue=issue, labels=["docs"])

    assert updated.version == 3
    assert updated.title == "Edited"
    assert label_set(issue) == ["docs"]


def test_replacing_labels_with_the_same_set_is_a_no_op(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug", "UI"], version=1)
    before = state(issue)

    result = services.replace_labels(actor=maintainer, issue=issue, labels=["ui", "Bug", "bug"])

    assert result.version == 2
    assert state(issue) == before


def test_clearing_labels_records_an_empty_set(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])

    updated = services.replace_labels(actor=maintainer, issue=issue, labels=[], version=2)

    assert updated.version == 3
    assert label_set(issue) == []
    assert changes_after_creation(issue)[-1][2:4] == (["bug"], [])


@pytest.mark.parametrize("version", [None, 1])
def test_unknown_label_names_are_refused_and_nothing_changes(issue, maintainer, labels, version):
    services.replace_labels(actor=maintainer, issue=issue, labels=["docs"], version=1)
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.replace_labels(
            actor=maintainer,
            issue=issue,
            labels=["bug", "nope", "Missing"],
            version=None if version is None else 2,
        )

    assert set(excinfo.value.message_dict) == {"labels"}
    message = excinfo.value.message_dict["labels"][0]
    assert "nope" in message and "missing" in message
    assert "bug" not in message
    assert state(issue) == before
    assert label_set(issue) == ["docs"]


@pytest.mark.parametrize("bad", ["bug", None, 42, [None], ["  "]])
def test_replace_labels_refuses_something_that_is_not_a_list_of_names(
    issue, maintainer, labels, bad
):
    with pytest.raises(ValidationError) as excinfo:
        services.replace_labels(actor=maintainer, issue=issue, labels=bad)

    assert set(excinfo.value.message_dict) == {"labels"}
    assert label_set(issue) == []


@pytest.mark.parametrize("version", [None, 1])
def test_reporter_cannot_replace_labels(issue, reporter, labels, version):
    with pytest.raises(FieldPermissionDenied) as excinfo:
        services.replace_labels(actor=reporter, issue=issue, labels=["bug"], version=version)

    assert excinfo.value.field == "labels"
    assert label_set(issue) == []


@pytest.mark.parametrize("version", [None, 1])
def test_other_reporter_replacing_labels_gets_not_found(issue, other_reporter, labels, version):
    with pytest.raises(NotFound):
        services.replace_labels(actor=other_reporter, issue=issue, labels=["bug"], version=version)

    assert label_set(issue) == []


def test_inactive_maintainer_cannot_replace_labels(issue, inactive_maintainer, labels):
    with pytest.raises(NotFound):
        services.replace_labels(actor=inactive_maintainer, issue=issue, labels=["bug"])


def test_replace_labels_with_a_stale_version_conflicts(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"], version=1)

    with pytest.raises(VersionConflict) as excinfo:
        services.replace_labels(actor=maintainer, issue=issue, labels=["docs"], version=1)

    assert excinfo.value.current.version == 2
    assert label_set(issue) == ["bug"]


def test_replace_labels_on_a_deleted_issue_is_not_found(issue, maintainer, admin_user, labels):
    services.delete_issue(actor=admin_user, issue=Issue.objects.get(pk=issue.pk))
    assert issue.pk is not None

    with pytest.raises(NotFound):
        services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])


# --- add_labels and remove_label ---------------------------------------------------


def test_add_labels_keeps_the_labels_already_there(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["docs"])

    updated = services.add_labels(actor=maintainer, issue=issue, labels=["BUG", "docs"])

    assert updated.version == 3
    assert label_set(issue) == ["bug", "docs"]
    assert changes_after_creation(issue)[-1] == (
        EventKind.LABELS_CHANGED,
        "labels",
        ["docs"],
        ["bug", "docs"],
        maintainer.pk,
    )


def test_adding_labels_the_issue_already_has_is_a_no_op(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])
    before = state(issue)

    result = services.add_labels(actor=maintainer, issue=issue, labels=["Bug"], version=2)

    assert result.version == 2
    assert state(issue) == before


def test_add_labels_refuses_unknown_names_and_changes_nothing(issue, maintainer, labels):
    before = state(issue)

    with pytest.raises(ValidationError) as excinfo:
        services.add_labels(actor=maintainer, issue=issue, labels=["bug", "ghost"])

    assert set(excinfo.value.message_dict) == {"labels"}
    assert state(issue) == before


def test_add_labels_with_a_stale_version_conflicts(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["docs"])

    with pytest.raises(VersionConflict) as excinfo:
        services.add_labels(actor=maintainer, issue=issue, labels=["bug"], version=1)

    assert excinfo.value.current.version == 2
    assert label_set(issue) == ["docs"]


def test_remove_label_takes_one_label_off_whatever_its_case(issue, admin_user, labels):
    services.replace_labels(actor=admin_user, issue=issue, labels=["bug", "UI"])

    updated = services.remove_label(actor=admin_user, issue=issue, name="ui", version=2)

    assert updated.version == 3
    assert label_set(issue) == ["bug"]
    assert changes_after_creation(issue)[-1][2:] == (["bug", "UI"], ["bug"], admin_user.pk)


def test_removing_a_label_the_issue_does_not_carry_is_not_found(issue, maintainer, labels):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])
    before = state(issue)

    with pytest.raises(NotFound):
        services.remove_label(actor=maintainer, issue=issue, name="docs")

    assert state(issue) == before


@pytest.mark.parametrize("call", ["add", "remove"])
def test_reporter_cannot_add_or_remove_labels(issue, reporter, maintainer, labels, call):
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])
    before = state(issue)

    with pytest.raises(FieldPermissionDenied) as excinfo:
        if call == "add":
            services.add_labels(actor=reporter, issue=issue, labels=["docs"])
        else:
            services.remove_label(actor=reporter, issue=issue, name="bug")

    assert excinfo.value.field == "labels"
    assert state(issue) == before


@pytest.mark.parametrize("who", ["other_reporter", "inactive_maintainer"])
@pytest.mark.parametrize("call", ["add", "remove"])
def test_who_cannot_see_the_issue_gets_not_found_adding_or_removing_labels(
    request, issue, maintainer, labels, who, call
):
    actor = request.getfixturevalue(who)
    services.replace_labels(actor=maintainer, issue=issue, labels=["bug"])

    with pytest.raises(NotFound):
        if call == "add":
            services.add_labels(actor=actor, issue=issue, labels=["docs"])
        else:
            services.remove_label(actor=actor, issue=issue, name="bug")

    assert label_set(issue) == ["bug"]


# --- delete_issue ------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_admin_deletes_an_issue_with_its_timeline_comments_and_files(
    issue, reporter, admin_user, media, django_capture_on_commit_callbacks
):
    comment = CommentFactory(issue=issue, author=reporter)
    CommentFactory(issue=issue, author=reporter, parent=comment)
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=SimpleUploadedFile("shot.png", PNG)
    )
    stored = Path(media) / attachment.file.name
    assert stored.read_bytes() == PNG

    pk = issue.pk  # deleting clears the pk of the object deleted
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.delete_issue(actor=admin_user, issue=issue)
    # The file outlives the transaction: a rollback must not lose it.
    assert stored.exists()
    for callback in callbacks:
        callback()

    assert not stored.exists()
    assert issue.pk is None
    assert not Issue.objects.filter(pk=pk).exists()
    assert not IssueEvent.objects.filter(issue_id=pk).exists()
    assert not Comment.objects.exists()
    assert not Attachment.objects.exists()


def test_deleting_an_issue_without_attachments_is_fine(
    issue, admin_user, django_capture_on_commit_callbacks
):
    pk = issue.pk
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.delete_issue(actor=admin_user, issue=issue)

    assert len(callbacks) == 1
    assert not Issue.objects.filter(pk=pk).exists()
    assert not Issue.objects.exists()


@pytest.mark.parametrize("who", ["reporter", "maintainer"])
def test_reporter_and_maintainer_cannot_delete_an_issue(request, issue, who):
    actor = request.getfixturevalue(who)
    before = state(issue)

    with pytest.raises(PermissionDenied) as excinfo:
        services.delete_issue(actor=actor, issue=issue)

    assert not isinstance(excinfo.value, FieldPermissionDenied)
    assert state(issue) == before


def test_other_reporter_deleting_gets_not_found(issue, other_reporter):
    with pytest.raises(NotFound):
        services.delete_issue(actor=other_reporter, issue=issue)

    assert Issue.objects.filter(pk=issue.pk).exists()


def test_inactive_admin_cannot_delete_an_issue(issue):
    gone = UserFactory(role="ADMIN", is_active=False)

    with pytest.raises(NotFound):
        services.delete_issue(actor=gone, issue=issue)

    assert Issue.objects.filter(pk=issue.pk).exists()


def test_deleting_a_label_user_leaves_the_label_catalogue_alone(issue, admin_user, labels):
    services.replace_labels(actor=admin_user, issue=issue, labels=["bug"])

    services.delete_issue(actor=admin_user, issue=issue)

    assert sorted(Label.objects.values_list("name", flat=True)) == ["UI", "bug", "docs"]


def test_resending_an_assignee_who_can_no_longer_be_assigned_is_not_refused(maintainer, issue):
    assignee = UserFactory(role="MAINTAINER")
    issue = services.assign(actor=maintainer, issue=issue, version=1, assignee=assignee)
    assignee.role = "REPORTER"
    assignee.save()

    updated = services.update_issue(
        actor=maintainer,
        issue=issue,
        version=issue.version,
        changes={"title": "Renamed", "assignee": assignee.pk},
    )

    assert (updated.title, updated.assignee_id) == ("Renamed", assignee.pk)


def test_a_maintainer_creating_an_assigned_issue_records_the_assignee(maintainer):
    created = services.create_issue(actor=maintainer, title="Assigned", assignee=maintainer)

    assert created.events.get().data["assignee"] == {"id": maintainer.pk, "name": maintainer.name}

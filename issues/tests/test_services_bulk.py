"""bulk_change_status: all of the issues or none of them."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import services, workflow
from issues.errors import NotFound
from issues.models import EventKind, Issue, IssueEvent, Status
from issues.tests.factories import IssueFactory


def snapshot() -> dict:
    """Every issue's status, version and timestamps, and the number of events."""
    rows = {
        str(pk): rest
        for pk, *rest in Issue.objects.values_list(
            "pk", "status", "version", "resolved_at", "updated_at"
        )
    }
    return {"issues": rows, "events": IssueEvent.objects.count()}


@pytest.fixture
def three(reporter, other_reporter):
    """Three OPEN issues from two different reporters."""
    return [
        IssueFactory(reporter=reporter),
        IssueFactory(reporter=other_reporter),
        IssueFactory(reporter=reporter),
    ]


def ids(issues) -> list[str]:
    return [str(issue.pk) for issue in issues]


def at_status(issue, status, maintainer):
    """Move `issue` to `status` through the allowed workflow steps."""
    path = {
        Status.OPEN: [],
        Status.TRIAGED: [Status.TRIAGED],
        Status.IN_PROGRESS: [Status.TRIAGED, Status.IN_PROGRESS],
        Status.DONE: [Status.DONE],
    }[status]
    for step in path:
        current = Issue.objects.get(pk=issue.pk)
        services.change_status(
            actor=maintainer, issue=current, version=current.version, status=step
        )
    return Issue.objects.get(pk=issue.pk)


# --- Happy paths -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["maintainer", "admin_user"])
def test_maintainer_and_admin_move_many_issues_at_once(request, three, who):
    actor = request.getfixturevalue(who)

    changed = services.bulk_change_status(actor=actor, ids=ids(three), status=Status.TRIAGED)

    assert [issue.pk for issue in changed] == sorted(
        (issue.pk for issue in three), key=lambda pk: Issue.objects.get(pk=pk).number
    )
    for issue in three:
        row = Issue.objects.get(pk=issue.pk)
        assert (row.status, row.version, row.resolved_at) == (Status.TRIAGED, 2, None)
        assert row.updated_at > issue.updated_at
        event = row.events.get(kind=EventKind.BULK_CHANGE)
        assert (event.field, event.old_value, event.new_value, event.actor) == (
            "status",
            "OPEN",
            "TRIAGED",
            actor,
        )
        assert event.data["count"] == 3
        assert event.data["version"] == 2
    batches = set(
        IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).values_list("data__batch", flat=True)
    )
    assert len(batches) == 1


def test_ids_may_be_uuid_objects_strings_and_repeated(three, maintainer):
    mixed = [three[0].pk, str(three[1].pk), str(three[1].pk).upper(), three[2].pk]

    changed = services.bulk_change_status(actor=maintainer, ids=mixed, status=Status.DONE)

    assert len(changed) == 3
    assert IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).count() == 3


def test_bulk_done_stamps_resolved_at_and_bulk_reopen_clears_it(three, maintainer):
    before = timezone.now()

    services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.DONE)

    for issue in three:
        row = Issue.objects.get(pk=issue.pk)
        assert row.status == Status.DONE
        assert before <= row.resolved_at <= timezone.now()

    services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.OPEN)

    for issue in three:
        row = Issue.objects.get(pk=issue.pk)
        assert (row.status, row.resolved_at, row.version) == (Status.OPEN, None, 3)
        assert list(
            row.events.filter(kind=EventKind.BULK_CHANGE)
            .order_by("id")
            .values_list("old_value", "new_value")
        ) == [("OPEN", "DONE"), ("DONE", "OPEN")]


def test_issues_already_in_the_target_status_are_left_alone(three, maintainer):
    already = at_status(three[1], Status.TRIAGED, maintainer)
    events_before = already.events.count()

    changed = services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.TRIAGED)

    assert {issue.pk for issue in changed} == {three[0].pk, three[2].pk}
    untouched = Issue.objects.get(pk=already.pk)
    assert (untouched.version, untouched.updated_at) == (already.version, already.updated_at)
    assert untouched.events.count() == events_before
    moved_counts = set(
        IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).values_list("data__count", flat=True)
    )
    assert moved_counts == {2}


def test_when_every_issue_is_already_there_nothing_happens(three, maintainer):
    before = snapshot()

    changed = services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.OPEN)

    assert changed == []
    assert snapshot() == before


def test_issues_at_different_stages_can_all_go_to_done(three, maintainer):
    at_status(three[0], Status.TRIAGED, maintainer)
    at_status(three[1], Status.IN_PROGRESS, maintainer)

    services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.DONE)

    rows = {row.pk: row for row in Issue.objects.all()}
    assert {row.status for row in rows.values()} == {Status.DONE}
    assert [rows[i.pk].version for i in three] == [3, 4, 2]
    olds = dict(
        IssueEvent.objects.filter(kind=EventKind.BULK_CHANGE).values_list("issue_id", "old_value")
    )
    assert olds == {three[0].pk: "TRIAGED", three[1].pk: "IN_PROGRESS", three[2].pk: "OPEN"}


def test_exactly_the_maximum_number_of_ids_is_accepted(three, maintainer):
    many = ids(three) + [str(uuid.uuid4()) for _ in range(services.BULK_MAX - 3)]

    # The size is fine, so the refusal is about the unknown ids, not the count.
    with pytest.raises(NotFound):
        services.bulk_change_status(actor=maintainer, ids=many, status=Status.TRIAGED)


# --- All or nothing ----------------------------------------------------------------


def test_an_unknown_id_is_named_and_nothing_changes(three, maintainer):
    ghost = uuid.uuid4()
    before = snapshot()

    with pytest.raises(NotFound) as excinfo:
        services.bulk_change_status(
            actor=maintainer, ids=[*ids(three), str(ghost)], status=Status.DONE
        )

    assert str(ghost) in str(excinfo.value)
    assert excinfo.value.ids == [str(ghost)]
    assert not any(str(issue.pk) in str(excinfo.value) for issue in three)
    assert snapshot() == before


def test_a_deleted_issue_is_reported_as_unknown_and_nothing_changes(three, maintainer, admin_user):
    wanted = ids(three)  # deleting clears the in-memory object's pk
    services.delete_issue(actor=admin_user, issue=three[1])
    before = snapshot()

    with pytest.raises(NotFound) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=wanted, status=Status.TRIAGED)

    assert wanted[1] in str(excinfo.value)
    assert snapshot() == before


@pytest.mark.parametrize("malformed", ["not-a-uuid", "42", "", None, 42])
def test_a_malformed_id_is_named_and_nothing_changes(three, maintainer, malformed):
    before = snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(
            actor=maintainer, ids=[*ids(three), malformed], status=Status.DONE
        )

    assert set(excinfo.value.message_dict) == {"ids"}
    assert str(malformed) in excinfo.value.message_dict["ids"][0]
    assert snapshot() == before


def test_more_than_the_maximum_number_of_ids_is_refused(three, maintainer):
    too_many = ids(three) + [str(uuid.uuid4()) for _ in range(services.BULK_MAX - 2)]
    assert len(too_many) == 1001
    before = snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=too_many, status=Status.DONE)

    assert set(excinfo.value.message_dict) == {"ids"}
    assert "1001" in excinfo.value.message_dict["ids"][0]
    assert snapshot() == before


@pytest.mark.parametrize("empty", [[], (), iter([])])
def test_an_empty_list_of_ids_is_refused(maintainer, empty):
    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=empty, status=Status.DONE)

    assert set(excinfo.value.message_dict) == {"ids"}


@pytest.mark.parametrize("bad", ["CLOSED", "done", "", None])
def test_an_unknown_status_is_refused_and_nothing_changes(three, maintainer, bad):
    before = snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=ids(three), status=bad)

    assert set(excinfo.value.message_dict) == {"status"}
    assert snapshot() == before


def test_bad_ids_and_bad_status_are_reported_together(maintainer):
    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=["nope"], status="LATER")

    assert set(excinfo.value.message_dict) == {"ids", "status"}


def test_one_disallowed_transition_refuses_the_whole_batch(three, maintainer):
    triaged = at_status(three[1], Status.TRIAGED, maintainer)
    opened = [Issue.objects.get(pk=three[0].pk), Issue.objects.get(pk=three[2].pk)]
    before = snapshot()

    # TRIAGED -> IN_PROGRESS is allowed, OPEN -> IN_PROGRESS is not.
    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.IN_PROGRESS)

    reasons = excinfo.value.message_dict["status"]
    assert set(excinfo.value.message_dict) == {"status"}
    assert sorted(reasons) == sorted(
        f"#{issue.number}: {workflow.refusal(Status.OPEN, Status.IN_PROGRESS)}" for issue in opened
    )
    assert not any(f"#{triaged.number}:" in reason for reason in reasons)
    assert snapshot() == before


def test_a_single_done_issue_cannot_be_bulk_moved_to_triaged(three, maintainer):
    done = at_status(three[0], Status.DONE, maintainer)
    before = snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.bulk_change_status(actor=maintainer, ids=ids(three), status=Status.TRIAGED)

    assert excinfo.value.message_dict["status"] == [
        f"#{done.number}: {workflow.refusal(Status.DONE, Status.TRIAGED)}"
    ]
    assert snapshot() == before


# --- Who may -----------------------------------------------------------------------


def test_reporter_cannot_bulk_change_even_their_own_issues(three, reporter):
    before = snapshot()

    with pytest.raises(PermissionDenied):
        services.bulk_change_status(
            actor=reporter, ids=[ids(three)[0], ids(three)[2]], status=Status.DONE
        )

    assert snapshot() == before


def test_reporter_is_refused_before_any_id_is_looked_at(other_reporter, three):
    # Refusing up front means a reporter cannot probe which ids exist.
    with pytest.raises(PermissionDenied) as excinfo:
        services.bulk_change_status(
            actor=other_reporter, ids=[str(uuid.uuid4())], status=Status.DONE
        )

    assert not isinstance(excinfo.value, NotFound)


def test_inactive_maintainer_cannot_bulk_change(three):
    gone = UserFactory(role="MAINTAINER", is_active=False)
    before = snapshot()

    with pytest.raises(PermissionDenied):
        services.bulk_change_status(actor=gone, ids=ids(three), status=Status.DONE)

    assert snapshot() == before

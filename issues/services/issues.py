"""Creating, editing and deleting single issues."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from issues import live, notifications, queries, workflow
from issues.errors import FieldPermissionDenied, NotFound, VersionConflict
from issues.models import (
    Attachment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLabel,
    Label,
    Severity,
    Status,
)
from issues.services.validation import (
    EDITABLE_FIELDS,
    TEXT_FIELDS,
    clean_fields,
    event_value,
    label_names,
    require_visible,
    sorted_names,
    user_ref,
)
from issues.services.watching import watches
from tracker.db import Insert, Prepared, Statement, Update, execute_together, one


def create_issue(
    *,
    actor: User,
    title: str,
    description: str = "",
    severity: Any = Severity.MEDIUM,
    status: str = Status.OPEN,
    assignee: Any = None,
    labels: Iterable[Any] = (),
    event_kind: str = EventKind.CREATED,
) -> Issue:
    """Anyone signed in may report; only maintainers may set a status other than
    OPEN, an assignee or labels while doing so.

    Everything a create writes is one statement (tracker.db.execute_together),
    atomic without a transaction of its own: the issue, its event, its labels,
    the reporter and assignee watching it, its mail (sent after the commit) and
    its live notice. As three statements in a transaction (five round trips
    with its BEGIN and COMMIT) an API create cost the web worker 7.45 M
    instructions against 6.69 M, and 5.0 / 2.2 ms of CPU (worker / database)
    against 3.9 / 1.8 ms, in process at 20,000 issues (2026-12-07)."""
    if not roles.can_create_issue(actor):
        raise PermissionDenied("Sign in to report issues.")
    fields: dict[str, Any] = {"title": title, "description": description, "severity": severity}
    if status != Status.OPEN:
        fields["status"] = status
    if assignee is not None:
        fields["assignee"] = assignee
    labels = list(labels or [])
    if labels:
        fields["labels"] = labels
    for field in fields.keys() & {"status", "assignee", "labels"}:
        if not roles.can_triage(actor):
            raise FieldPermissionDenied(field)
    cleaned = clean_fields(fields)
    label_objs = cleaned.pop("labels", [])
    status = cleaned.get("status", Status.OPEN)
    issue = Issue(
        reporter=actor, resolved_at=timezone.now() if status == Status.DONE else None, **cleaned
    )
    issue.label_names = label_names(label_objs)  # as queries.api_issue reads them: no read back
    event = IssueEvent(
        issue=issue,
        actor=actor,
        kind=event_kind,
        data={
            "title": issue.title,
            "status": issue.status,
            "severity": Severity(issue.severity).name,
            "labels": issue.label_names,
            "assignee": user_ref(issue.assignee),
        },
    )
    number, event_id = execute_together(
        _insert_issue.statement(issue, name="issue"),
        insert_events.statement(event, name="event"),
        _new_links(issue, label_objs),
        watches(issue, issue.reporter, issue.assignee),
        notifications.pending_of_written([event], "event"),
        live.notice_of_new("created", issue, "issue", name="notice"),
        Statement("SELECT issue.number, event.id FROM issue, event, notice", []),
    )
    _insert_issue.stored(issue, [number])
    insert_events.stored(event, [event_id])
    return issue


def _new_links(issue: Issue, labels: list[Label]) -> Statement | None:
    """The label links of an issue written by the same statement, in its WITH
    clause "issue": a link's trigger copies its issue's status (migration
    0010), so they are written after it (FROM issue)."""
    if not labels:
        return None
    meta = IssueLabel._meta
    return Statement(
        f"INSERT INTO {meta.db_table} (issue_id, label_id)"  # noqa: S608 - the model's own names
        " SELECT %s, label FROM issue, unnest(%s::bigint[]) AS label",
        [issue.pk, [label.pk for label in labels]],
    )


def update_issue(
    *, actor: User, issue: Issue, version: int | None, changes: Mapping[str, Any]
) -> Issue:
    """Change any of title, description, status, severity, assignee and labels.

    `version` is the version the client saw; the write is a compare-and-set on
    it, so of two edits made from the same version exactly one wins and the
    other gets VersionConflict carrying the issue as it is now. The read it is
    checked against needs no transaction or lock for that: the compare-and-set
    fails if anything changed the issue since (_apply_changes).
    """
    current, diffs = _prepare_update(actor, issue, version, changes)
    if not diffs:
        return current
    return _apply_changes(actor, current, version, diffs)


def check_update(
    *, actor: User, issue: Issue, version: int | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything update_issue would refuse, without writing: forms call this in
    their validation so a refusal re-shows the form instead of losing the input."""
    return _prepare_update(actor, issue, version, changes)[1]


def _prepare_update(
    actor: User, issue: Issue, version: int | None, changes: Mapping[str, Any]
) -> tuple[Issue, dict[str, Any]]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: ["Not an editable field."] for field in sorted(unknown)})
    if version is None:
        raise ValidationError({"version": ["The version you edited is required."]})
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationError({"version": ["Must be an integer."]})
    # Read afresh: the copy the caller holds may be stale; only its id counts. The
    # label names come with it: the compare-and-set fails if they change before
    # the write (every label change bumps the version), so they are the ones the
    # write replaces and, unless it changes them, the ones it leaves.
    current = _current.one(issue.pk)
    if current is None:
        raise NotFound("No such issue.")
    current.label_names = sorted_names(current.label_names)
    require_visible(actor, current)
    for field in changes:
        allowed = (
            roles.can_edit_text(actor, current) if field in TEXT_FIELDS else roles.can_triage(actor)
        )
        if not allowed:
            raise FieldPermissionDenied(field)
    # Re-sending the assignee an issue already has is not a new assignment, even if
    # that person has since lost the right to be assigned (a form posts every field).
    assignee = changes.get("assignee", ...)
    if assignee is not ... and getattr(assignee, "pk", assignee) == current.assignee_id:
        changes = {f: v for f, v in changes.items() if f != "assignee"}
    cleaned = clean_fields(changes)
    if current.version != version:
        raise VersionConflict(current)
    new_labels = cleaned.pop("labels", None)
    diffs = {f: v for f, v in cleaned.items() if getattr(current, f) != v}
    if new_labels is not None and label_names(new_labels) != current.label_names:
        diffs["labels"] = new_labels
    if "status" in diffs and not workflow.can_move(current.status, diffs["status"]):
        raise ValidationError({"status": [workflow.refusal(current.status, diffs["status"])]})
    return current, diffs


def _apply_changes(actor: User, current: Issue, version: int, diffs: dict[str, Any]) -> Issue:
    """Returns the issue as written, its `label_names` included, so that an answer
    rendering it reads nothing more.

    The compare-and-set and what follows from it (the timeline events, a new
    assignee watching, the mail, the live notice) are one statement
    (tracker.db.execute_together), each clause written only if the
    compare-and-set changed the row: atomic without a transaction. As three
    statements in a transaction (seven a request with the read, the token and
    BEGIN and COMMIT, against three) an API PATCH of a status cost the web
    worker 9.82 M instructions against 9.15 M (callgrind, in process, at
    1,000,000 issues, 2026-12-07). A label change replaces the issue's label
    links after it, in a transaction with it: a link copies its issue's status
    (migration 0010), which it sees only once the compare-and-set is done."""
    now = timezone.now()
    row = {f: v for f, v in diffs.items() if f != "labels"}
    if "status" in row:
        row["resolved_at"] = now if row["status"] == Status.DONE else None
    events = [
        IssueEvent(
            issue=current,
            actor=actor,
            kind=EventKind.LABELS_CHANGED if field == "labels" else EventKind.FIELD_CHANGED,
            field=field,
            old_value=(
                current.label_names
                if field == "labels"
                else event_value(field, getattr(current, field))
            ),
            new_value=event_value(field, new),
            data={"version": version + 1},
        )
        for field, new in diffs.items()
    ]
    with transaction.atomic() if "labels" in diffs else nullcontext():
        written = execute_together(
            _compare_and_set.statement(
                {**row, "updated_at": now}, current.pk, version, name="changed"
            ),
            insert_events.statement(*events, name="event", after="changed"),
            # A new assignee watches the issue.
            watches(current, diffs.get("assignee"), after="changed"),
            notifications.pending_of_written(events, "event"),
            live.notice("updated", current, after="changed", name="notice"),
            Statement(
                "SELECT (SELECT array_agg(event.id ORDER BY event.id) FROM event)"
                " FROM changed, notice",
                [],
            ),
        )
        if written is None:  # someone else's write landed between our read and this one
            raise VersionConflict(_fresh(current.pk))
        if "labels" in diffs:
            current.labels.set(diffs["labels"])
    for event, event_id in zip(events, written[0], strict=True):
        insert_events.stored(event, [event_id])
    # The compare-and-set succeeded, so the row now holds exactly what was written.
    for field, value in row.items():
        setattr(current, field, value)
    current.version, current.updated_at = version + 1, now
    if "labels" in diffs:
        current.label_names = label_names(diffs["labels"])
    return current


# A create's and an edit's writes, compiled once (tracker.db.Insert).
_insert_issue = Insert(Issue)
insert_events = Insert(IssueEvent)
_compare_and_set = Update(Issue, where=("id", "version"), increments=("version",))

# An edit's read of the issue it changes, compiled once (tracker.db.Prepared).
_current = Prepared(
    lambda pk: (
        Issue.objects.select_related("reporter", "assignee")
        .annotate(label_names=queries.label_names())
        .filter(pk=pk)
    ),
    server_prepared=True,
)


def _fresh(pk) -> Issue:
    return Issue.objects.select_related("reporter", "assignee").get(pk=pk)


def change_status(*, actor: User, issue: Issue, version: int | None, status: str) -> Issue:
    """Entering DONE stamps resolved_at; leaving it (reopening) clears it."""
    return update_issue(actor=actor, issue=issue, version=version, changes={"status": status})


def assign(*, actor: User, issue: Issue, version: int | None, assignee: Any) -> Issue:
    return update_issue(actor=actor, issue=issue, version=version, changes={"assignee": assignee})


def replace_labels(
    *, actor: User, issue: Issue, labels: Iterable[Any], version: int | None = None
) -> Issue:
    """Replace the whole label set in one step. Without a version the change
    applies on top of whatever is current (labels do not clobber other fields);
    with one it is checked like any other edit."""
    if version is None:
        with transaction.atomic():
            current = _locked(actor, issue)
            return update_issue(
                actor=actor, issue=current, version=current.version, changes={"labels": labels}
            )
    return update_issue(actor=actor, issue=issue, version=version, changes={"labels": labels})


def add_labels(
    *, actor: User, issue: Issue, labels: Iterable[Any], version: int | None = None
) -> Issue:
    """Add to the label set, keeping the labels already there."""
    with transaction.atomic():
        current = _locked(actor, issue, triage=True)
        merged = [*current.labels.all(), *clean_fields({"labels": labels})["labels"]]
        return update_issue(
            actor=actor,
            issue=current,
            version=current.version if version is None else version,
            changes={"labels": merged},
        )


def remove_label(*, actor: User, issue: Issue, name: str, version: int | None = None) -> Issue:
    """Take one label off; a label the issue does not carry is a NotFound."""
    with transaction.atomic():
        current = _locked(actor, issue, triage=True)
        kept = [label for label in current.labels.all() if label.name.lower() != name.lower()]
        if len(kept) == current.labels.count():
            raise NotFound(f"Issue #{current.number} has no label '{name}'.")
        return update_issue(
            actor=actor,
            issue=current,
            version=current.version if version is None else version,
            changes={"labels": kept},
        )


def _locked(actor: User, issue: Issue, *, triage: bool = False) -> Issue:
    """The issue's row, locked until the transaction ends, so that a change computed
    from the current labels cannot lose a concurrent one."""
    current = one(Issue.objects.select_for_update().filter(pk=issue.pk))
    if current is None:
        raise NotFound("No such issue.")
    require_visible(actor, current)
    if triage and not roles.can_triage(actor):
        raise FieldPermissionDenied("labels")
    return current


@transaction.atomic
def delete_issue(*, actor: User, issue: Issue) -> None:
    """Deleting removes the issue with its timeline, comments and files."""
    require_visible(actor, issue)
    if not roles.can_delete_issue(actor):
        raise PermissionDenied("Only admins may delete issues.")
    files = [a.file.name for a in issue.attachments.all()]
    live.announce("deleted", issue)
    issue.delete()
    storage = Attachment._meta.get_field("file").storage
    transaction.on_commit(lambda: [storage.delete(name) for name in files])

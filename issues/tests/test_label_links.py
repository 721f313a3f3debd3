"""Label links carry their issue's status (IssueLabel.status), kept by the
triggers of migration 0010 whoever writes (see also
issues/tests/api/test_counted_lists.py)."""

import threading

import pytest
from django.db import connection, connections, transaction

from issues import services
from issues.models import Issue, IssueLabel, Status
from issues.tests.factories import IssueFactory, LabelFactory
from tracker.management.commands.dbhealth import label_link_findings


def link_statuses(issue) -> set[str]:
    return set(IssueLabel.objects.filter(issue=issue).values_list("status", flat=True))


@pytest.fixture
def bug():
    return LabelFactory(name="bug")


@pytest.fixture
def ui():
    return LabelFactory(name="ui")


# --- the copy of the status -----------------------------------------------------------


@pytest.mark.django_db
def test_a_new_issue_s_links_carry_its_status(maintainer, bug, ui):
    issue = services.create_issue(
        actor=maintainer, title="Crash", status=Status.TRIAGED, labels=[bug, ui]
    )
    assert link_statuses(issue) == {Status.TRIAGED}


@pytest.mark.django_db
def test_a_status_change_rewrites_the_issue_s_links(maintainer, bug, ui):
    issue = IssueFactory(reporter=maintainer, labels=[bug, ui])
    other = IssueFactory(reporter=maintainer, labels=[bug])

    services.update_issue(
        actor=maintainer,
        issue=issue,
        version=issue.version,
        changes={"status": Status.TRIAGED},
    )

    assert link_statuses(issue) == {Status.TRIAGED}
    assert link_statuses(other) == {Status.OPEN}


@pytest.mark.django_db
def test_a_label_added_later_takes_the_issue_s_status(maintainer, bug, ui):
    issue = IssueFactory(reporter=maintainer, labels=[bug])
    services.bulk_change_status(actor=maintainer, ids=[str(issue.pk)], status=Status.DONE)

    services.replace_labels(actor=maintainer, issue=issue, labels=["bug", "ui"])

    assert link_statuses(issue) == {Status.DONE}


@pytest.mark.django_db
def test_bulk_status_rewrites_every_link(maintainer, bug, ui):
    issues = [IssueFactory(reporter=maintainer, labels=[bug, ui]) for _ in range(3)]

    services.bulk_change_status(
        actor=maintainer, ids=[str(i.pk) for i in issues[:2]], status=Status.DONE
    )

    assert [link_statuses(i) for i in issues] == [{Status.DONE}, {Status.DONE}, {Status.OPEN}]


@pytest.mark.django_db
def test_a_link_cannot_be_given_another_status_than_its_issue_s(maintainer, bug):
    issue = IssueFactory(reporter=maintainer, labels=[bug])

    IssueLabel.objects.filter(issue=issue).update(status=Status.DONE)
    IssueLabel.objects.create(issue=IssueFactory(reporter=maintainer), label=bug)

    assert set(IssueLabel.objects.values_list("status", flat=True)) == {Status.OPEN}


@pytest.mark.django_db(transaction=True)
def test_a_link_written_beside_a_status_change_waits_for_it_and_takes_the_new_status(
    maintainer, bug
):
    """Without the trigger's lock the link would read the old status, and the
    status change, not seeing the uncommitted link, would not rewrite it."""
    issue = IssueFactory(reporter=maintainer)
    changed, done = threading.Event(), threading.Event()

    def change_status():
        try:
            with transaction.atomic():
                Issue.objects.filter(pk=issue.pk).update(
                    status=Status.DONE, resolved_at="2026-01-01T00:00Z"
                )
                changed.set()
                done.wait(timeout=1)  # the link's insert is blocked meanwhile
        finally:
            connections.close_all()

    writer = threading.Thread(target=change_status)
    writer.start()
    assert changed.wait(timeout=10)
    blocked = threading.Timer(0.5, done.set)
    blocked.start()
    IssueLabel.objects.create(issue=issue, label=bug)
    writer.join(timeout=10)
    blocked.cancel()

    assert done.is_set(), "the link's insert did not wait for the status change"
    assert link_statuses(issue) == {Status.DONE}


@pytest.mark.django_db
def test_dbhealth_finds_a_link_whose_status_drifted(maintainer, bug):
    issue = IssueFactory(reporter=maintainer, labels=[bug])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        cursor.execute("ALTER TABLE issues_issue_labels DISABLE TRIGGER issues_issue_labels_status")
        cursor.execute("UPDATE issues_issue_labels SET status = 'DONE'")
        cursor.execute("ALTER TABLE issues_issue_labels ENABLE TRIGGER issues_issue_labels_status")

    found = list(label_link_findings())
    assert found == [f"issue #{issue.number}: label bug says status DONE, not OPEN"]


# --- the table's indexes --------------------------------------------------------------


@pytest.mark.django_db
def test_the_links_have_no_index_that_another_leads_with():
    """Migration 0011: every status change rewrites its issue's links and each of
    their indexes, so no index is kept that a wider one already serves."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, IssueLabel._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    assert ("issue_id",) not in indexed
    assert ("label_id",) not in indexed
    # What serves their foreign keys (a deleted issue's or label's links) instead:
    assert {("issue_id", "label_id"), ("label_id", "status", "issue_id")} <= indexed

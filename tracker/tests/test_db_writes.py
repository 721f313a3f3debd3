"""Writes compiled once (tracker.db.Insert: a create's issue, label links,
event and watch, an edit's events; tracker.db.Update: an edit's
compare-and-set) store what the ORM stores, prepared by PostgreSQL once per
connection; tracker.db.execute_together runs result-free ones as one statement."""

import uuid

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import live_listener
from issues.models import EventKind, Issue, IssueEvent, IssueLabel, Label, Status, Watch
from tracker.db import Insert, Statement, Update, execute_together
from tracker.tests.test_db import field_values, prepared_statements

pytestmark = pytest.mark.django_db


def test_a_row_is_stored_as_save_stores_it(reporter, maintainer):
    inserted = Issue(title="Inserted", description="Body", reporter=reporter, assignee=maintainer)
    saved = Issue(title="Saved", description="Body", reporter=reporter, assignee=maintainer)

    Insert(Issue)(inserted)
    saved.save()

    # Its number comes back from the database's sequence, as save()'s does.
    assert inserted.number == saved.number - 1
    assert not inserted._state.adding and inserted._state.db == "default"
    assert inserted.created_at is not None and inserted.updated_at is not None
    stored = Issue.objects.get(pk=inserted.pk)
    assert field_values(stored) == field_values(inserted)
    differing = {
        name
        for name, value in field_values(stored).items()
        if value != field_values(Issue.objects.get(pk=saved.pk))[name]
    }
    assert differing == {"id", "number", "title", "created_at", "updated_at"}


def test_several_rows_are_one_statement_each_given_its_key(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    events = [
        IssueEvent(issue=issue, actor=reporter, kind=EventKind.FIELD_CHANGED, field=field)
        for field in ("title", "severity", "status")
    ]

    with CaptureQueriesContext(connection) as queries:
        Insert(IssueEvent)(*events)

    assert len(queries) == 1
    assert [e.pk for e in events] == sorted(e.pk for e in events)
    stored = {e.pk: e for e in IssueEvent.objects.filter(issue=issue)}
    assert [stored[e.pk].field for e in events] == ["title", "severity", "status"]
    assert all(stored[e.pk].data == {} and stored[e.pk].old_value is None for e in events)


def test_json_values_are_stored_as_json(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    event = IssueEvent(
        issue=issue,
        actor=None,
        kind=EventKind.FIELD_CHANGED,
        field="labels",
        old_value=["bug"],
        new_value="a string",
        data={"version": 2, "nested": {"list": [1, None, "x"]}},
    )

    Insert(IssueEvent)(event)

    stored = IssueEvent.objects.get(pk=event.pk)
    assert (stored.old_value, stored.new_value) == (["bug"], "a string")
    assert stored.data == {"version": 2, "nested": {"list": [1, None, "x"]}}
    assert stored.actor_id is None


def test_what_the_database_sets_comes_back(maintainer):
    """A label link takes its issue's status in PostgreSQL (a trigger)."""
    issue = Issue.objects.create(title="Issue", reporter=maintainer, status=Status.TRIAGED)
    link = IssueLabel(issue=issue, label=Label.objects.create(name="bug"))

    Insert(IssueLabel)(link)

    assert link.pk == IssueLabel.objects.get(issue=issue).pk
    assert link.status == Status.TRIAGED


def test_ignoring_conflicts_skips_a_row_already_there(reporter, maintainer):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    insert = Insert(Watch, ignore_conflicts=True)
    insert(Watch(user=reporter, issue=issue))

    insert(Watch(user=reporter, issue=issue), Watch(user=maintainer, issue=issue))

    assert sorted(Watch.objects.filter(issue=issue).values_list("user_id", flat=True)) == sorted(
        [reporter.pk, maintainer.pk]
    )


def test_no_rows_is_no_statement():
    with CaptureQueriesContext(connection) as queries:
        Insert(Watch, ignore_conflicts=True)()
    assert len(queries) == 0


def test_a_failed_insert_raises_django_s_error(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)

    with pytest.raises(IntegrityError), transaction.atomic():
        Insert(Watch)(Watch(user=reporter, issue=issue), Watch(user=reporter, issue=issue))
    assert not Watch.objects.exists()


def test_it_is_prepared_once_on_its_connection(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    insert = Insert(IssueEvent)
    before = prepared_statements()

    with CaptureQueriesContext(connection) as queries:
        for kind in (EventKind.CREATED, EventKind.FIELD_CHANGED, EventKind.IMPORTED):
            insert(IssueEvent(issue=issue, actor=reporter, kind=kind, data={"kind": kind}))

    (new,) = set(prepared_statements()) - set(before)
    assert new.startswith('INSERT INTO "issues_issueevent"') and "$1" in new
    # Logged with its values written in, as Django's own inserts are.
    assert len(queries) == 3 and f"'{issue.pk.hex}'::uuid" in queries[0]["sql"]
    assert IssueEvent.objects.filter(issue=issue).count() == 3


def test_a_value_of_its_own_where_the_database_sets_one_is_refused(reporter):
    """The number comes from a sequence (db_default): Insert leaves the column
    out, so a number given here would be silently replaced."""
    issue = Issue(title="Numbered", reporter=reporter, number=424242)

    with pytest.raises(ValueError, match=r"Issue\.number is set by the database"):
        Insert(Issue)(issue)
    assert not Issue.objects.filter(title="Numbered").exists()


def test_a_model_with_save_receivers_is_refused(reporter):
    def receiver(**kwargs):
        pass

    post_save.connect(receiver, sender=Label)
    try:
        with pytest.raises(ValueError, match="save receivers"):
            Insert(Label)(Label(name=f"label-{uuid.uuid4().hex[:8]}"))
    finally:
        post_save.disconnect(receiver, sender=Label)
    assert not Label.objects.exists()


compare_and_set = Update(Issue, where=("id", "version"), increments=("version",))


def test_an_update_sets_its_values_where_the_row_still_has_the_version(reporter, maintainer):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    now = timezone.now()

    changed = compare_and_set(
        {"status": Status.TRIAGED, "assignee": maintainer, "updated_at": now}, issue.pk, 1
    )

    assert changed == 1
    stored = Issue.objects.get(pk=issue.pk)
    assert (stored.status, stored.assignee_id, stored.updated_at) == (
        Status.TRIAGED,
        maintainer.pk,
        now,
    )
    assert stored.version == 2 and stored.title == "Issue"


def test_an_update_of_a_row_that_moved_on_changes_nothing(reporter, maintainer):
    issue = Issue.objects.create(title="Issue", reporter=reporter, assignee=maintainer)
    assert compare_and_set({"title": "First"}, issue.pk, 1) == 1

    assert compare_and_set({"title": "Second", "assignee": None}, issue.pk, 1) == 0
    assert compare_and_set({"title": "Second"}, uuid.uuid4(), 2) == 0

    stored = Issue.objects.get(pk=issue.pk)
    assert (stored.title, stored.assignee_id, stored.version) == ("First", maintainer.pk, 2)
    assert compare_and_set({"assignee": None}, issue.pk, 2) == 1
    assert Issue.objects.get(pk=issue.pk).assignee_id is None


def test_an_update_is_prepared_once_on_its_connection_for_each_set_of_fields(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    update = Update(Issue, where=("id", "version"), increments=("version",))
    before = prepared_statements()

    for version in (1, 2, 3):
        assert update({"severity": version}, issue.pk, version) == 1
    assert update({"title": "Renamed", "severity": 4}, issue.pk, 4) == 1

    new = set(prepared_statements()) - set(before)
    assert len(new) == 2 and all(s.startswith('UPDATE "issues_issue"') for s in new)
    stored = Issue.objects.get(pk=issue.pk)
    assert (stored.title, stored.severity, stored.version) == ("Renamed", 4, 5)


def test_without_a_prepare_threshold_the_writes_are_not_prepared(reporter):
    """DATABASE_PREPARED=0: the same rows, bound by the server, nothing kept."""
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    before = prepared_statements()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None
    try:
        for kind in (EventKind.FIELD_CHANGED, EventKind.IMPORTED):
            Insert(IssueEvent)(IssueEvent(issue=issue, actor=reporter, kind=kind))
        assert compare_and_set({"title": "Renamed"}, issue.pk, 1) == 1
    finally:
        connection.connection.prepare_threshold = threshold

    assert prepared_statements() == before
    assert IssueEvent.objects.filter(issue=issue).count() == 2
    assert Issue.objects.get(pk=issue.pk).title == "Renamed"


# --- execute_together: result-free writes in one statement --------------------------


def notices_heard(run) -> list[tuple[str, str]]:
    """The (channel, payload) notices a committed `run()` sends, as a listener
    on another connection hears them."""
    with psycopg.connect(live_listener.conninfo(), autocommit=True) as listener:
        listener.execute("LISTEN together")
        run()
        return [(n.channel, n.payload) for n in listener.notifies(timeout=1, stop_after=1)]


@pytest.mark.django_db(transaction=True)
def test_inserts_an_update_and_a_notice_are_one_statement(reporter, maintainer):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    label = Label.objects.create(name="bug")
    event = IssueEvent(issue=issue, actor=reporter, kind=EventKind.CREATED)
    watches = [Watch(user=reporter, issue=issue), Watch(user=maintainer, issue=issue)]
    touched = timezone.now() + timezone.timedelta(days=1)

    def run():
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            execute_together(
                Insert(IssueLabel).statement(IssueLabel(issue=issue, label=label)),
                None,  # what a helper gives for nothing to write
                Insert(Watch, ignore_conflicts=True).statement(*watches),
                Statement("SELECT pg_notify(%s, %s)", ["together", "hello"]),
                Insert(IssueEvent).statement(event),
                Update(Issue, where=("id",)).statement({"updated_at": touched}, issue.pk),
            )
        (sql,) = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
        assert sql.startswith("WITH w0 AS (INSERT INTO")
        assert sql.endswith(") SELECT pg_notify('together', 'hello')")

    assert notices_heard(run) == [("together", "hello")]
    assert list(issue.labels.all()) == [label]
    assert {w.user_id for w in Watch.objects.filter(issue=issue)} == {reporter.pk, maintainer.pk}
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.CREATED).count() == 1
    assert Issue.objects.get(pk=issue.pk).updated_at == touched
    # Nothing came back: the instances have no key from it.
    assert event.pk is None


def edit_together(issue, actor, watcher, version: int, title: str):
    """An edit as the services write one: a compare-and-set, and what follows
    from it written only if it changed the row."""
    events = [
        IssueEvent(
            issue=issue,
            actor=actor,
            kind=EventKind.FIELD_CHANGED,
            field=field,
            old_value=None,
            new_value=title if field == "title" else None,
            data={"version": version + 1},
        )
        for field in ("title", "severity")
    ]
    row = execute_together(
        compare_and_set.statement({"title": title}, issue.pk, version, name="changed"),
        Insert(IssueEvent).statement(*events, name="event", after="changed"),
        Insert(Watch, ignore_conflicts=True).statement(
            Watch(user=watcher, issue=issue), after="changed"
        ),
        Statement("SELECT pg_notify(%s, %s) FROM changed", ["together", title], name="notice"),
        Statement("SELECT (SELECT array_agg(id ORDER BY id) FROM event) FROM changed, notice", []),
    )
    return events, row


@pytest.mark.django_db(transaction=True)
def test_writes_after_a_compare_and_set_happen_only_if_it_changed_the_row(
    reporter, maintainer, other_reporter
):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    won = []

    heard = notices_heard(lambda: won.append(edit_together(issue, reporter, maintainer, 1, "A")))

    events, (ids,) = won[0]
    assert heard == [("together", "A")]
    stored = IssueEvent.objects.filter(issue=issue).order_by("pk")
    # Typed as their columns (a NULL, JSON, text), in the order given, by rising id.
    assert [(e.pk, e.field, e.old_value, e.new_value, e.data) for e in stored] == [
        (ids[0], "title", None, "A", {"version": 2}),
        (ids[1], "severity", None, None, {"version": 2}),
    ]
    assert Watch.objects.filter(issue=issue, user=maintainer).exists()
    lost = []

    heard = notices_heard(
        lambda: lost.append(edit_together(issue, reporter, other_reporter, 1, "B"))
    )

    assert lost == [(lost[0][0], None)] and heard == []
    assert IssueEvent.objects.filter(issue=issue).count() == 2
    assert not Watch.objects.filter(issue=issue, user=other_reporter).exists()
    assert Issue.objects.get(pk=issue.pk).title == "A"


def test_without_a_select_the_last_write_is_the_main_statement(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    events = [
        IssueEvent(issue=issue, actor=reporter, kind=EventKind.FIELD_CHANGED, field=field)
        for field in ("title", "status")
    ]

    with CaptureQueriesContext(connection) as queries:
        execute_together(
            Insert(IssueEvent).statement(events[0]),
            Insert(Watch, ignore_conflicts=True).statement(Watch(user=reporter, issue=issue)),
            Insert(IssueEvent).statement(events[1]),
        )

    assert len(queries) == 1
    assert queries[0]["sql"].count("WITH") == 1
    assert 'DO NOTHING) INSERT INTO "issues_issueevent"' in queries[0]["sql"]
    assert sorted(IssueEvent.objects.filter(issue=issue).values_list("field", flat=True)) == [
        "status",
        "title",
    ]
    assert Watch.objects.filter(issue=issue, user=reporter).exists()


def test_one_statement_runs_as_it_is_and_none_runs_nothing(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    watch = Insert(Watch, ignore_conflicts=True).statement(Watch(user=reporter, issue=issue))

    with CaptureQueriesContext(connection) as queries:
        execute_together(None, Insert(Watch).statement())
        execute_together(watch)

    assert [q["sql"].split(" ", 3)[:3] for q in queries] == [["INSERT", "INTO", '"issues_watch"']]
    assert Watch.objects.filter(issue=issue, user=reporter).exists()


@pytest.mark.django_db(transaction=True)
def test_a_named_clause_returns_its_rows_to_the_clauses_that_read_it(reporter):
    """Insert.statement(name=...) returns what the database gave the row, for
    the later clauses and the main SELECT to read by that name; the main
    SELECT's row is execute_together()'s answer, and the instance is marked
    stored with it."""
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    event = IssueEvent(issue=issue, actor=reporter, kind=EventKind.CREATED)
    written = Insert(IssueEvent)
    copy = Statement(
        "INSERT INTO issues_issueevent (issue_id, kind, field, data, created_at)"
        " SELECT %s, 'IMPORTED', id::text, '{}', now() FROM first",
        [issue.pk],
    )

    def run():
        with transaction.atomic():
            row = execute_together(
                written.statement(event, name="first"),
                copy,
                Statement("SELECT pg_notify(%s, id::text) FROM first", ["together"], name="heard"),
                Statement("SELECT first.id, 'read' FROM first, heard", []),
            )
        written.stored(event, row[:1])
        return row

    heard = notices_heard(run)
    assert event.pk is not None and not event._state.adding
    assert heard == [("together", str(event.pk))]
    copied = IssueEvent.objects.get(issue=issue, kind=EventKind.IMPORTED)
    assert copied.field == str(event.pk)  # the id the first clause returned


@pytest.mark.django_db(transaction=True)
def test_a_named_select_nobody_reads_does_not_run(reporter):
    """A SELECT clause runs only if read: an unread one is no error but sends
    nothing (why create's SELECT reads live.notice_of_new's clause)."""
    issue = Issue.objects.create(title="Issue", reporter=reporter)

    def run():
        with transaction.atomic():
            return execute_together(
                Statement("SELECT pg_notify(%s, %s)", ["together", "unread"], name="unread"),
                Insert(Watch).statement(Watch(user=reporter, issue=issue)),
            )

    assert notices_heard(run) == []
    assert Watch.objects.filter(issue=issue).exists()


def test_two_selects_are_refused():
    notice = Statement("SELECT pg_notify(%s, %s)", ["together", "hello"])
    with pytest.raises(ValueError, match="at most one unnamed SELECT"):
        execute_together(notice, notice)


def test_a_failing_clause_fails_the_whole_statement(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    twice = [Watch(user=reporter, issue=issue), Watch(user=reporter, issue=issue)]

    with pytest.raises(IntegrityError), transaction.atomic():
        execute_together(
            Insert(IssueEvent).statement(
                IssueEvent(issue=issue, actor=reporter, kind=EventKind.CREATED)
            ),
            Insert(Watch).statement(*twice),
        )
    assert not IssueEvent.objects.filter(issue=issue).exists()
    assert not Watch.objects.exists()


def test_each_combination_is_prepared_once_on_its_connection(reporter):
    issue = Issue.objects.create(title="Issue", reporter=reporter)
    before = prepared_statements()

    for kind in (EventKind.FIELD_CHANGED, EventKind.IMPORTED, EventKind.CREATED):
        execute_together(
            Insert(IssueEvent).statement(IssueEvent(issue=issue, actor=reporter, kind=kind)),
            Statement("SELECT pg_notify(%s, %s)", ["together", kind]),
        )

    (new,) = set(prepared_statements()) - set(before)
    assert new.startswith('WITH w0 AS (INSERT INTO "issues_issueevent"') and "$1" in new
    assert IssueEvent.objects.filter(issue=issue).count() == 3

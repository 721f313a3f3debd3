"""Reads of fixed shape compiled once (tracker.db.Prepared: the API token, the
session, the issue page's and the API's reads) read exactly what the ORM reads,
and what they build behaves as a model instance the ORM loaded."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.authentication import token_with_user
from accounts.models import ApiToken, User
from accounts.services import create_token
from issues import services
from issues.models import EventKind, Issue, IssueEvent
from issues.tests.factories import IssueFactory
from tracker.db import Prepared, preparing_cursor
from tracker.sessions import SessionStore

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_token_and_its_user_are_what_the_orm_reads(maintainer):
    token, _ = create_token(actor=maintainer, name="laptop")

    found = token_with_user.one(token.digest)
    user = found.user

    assert field_values(found) == field_values(ApiToken.objects.get(pk=token.pk))
    assert field_values(user) == field_values(User.objects.get(pk=maintainer.pk))


def test_what_it_builds_is_saved_as_an_update_of_its_row(maintainer):
    token, _ = create_token(actor=maintainer, name="laptop")
    user = token_with_user.one(token.digest).user
    assert not user._state.adding and user._state.db == "default"

    user.display_name = "Renamed"
    user.save(update_fields=["display_name"])

    assert User.objects.get(pk=maintainer.pk).display_name == "Renamed"
    assert User.objects.count() == 1


def test_no_row_is_none(maintainer):
    with CaptureQueriesContext(connection) as queries:
        assert token_with_user.one("0" * 64) is None
    assert len(queries) == 1


def test_a_session_is_read_back_with_its_data():
    session = SessionStore()
    session["cart"] = ["a", 1]
    session.create()

    again = SessionStore(session.session_key)

    assert again.load() == {"cart": ["a", 1]}
    assert again.session_key == session.session_key


def test_an_expired_session_is_not_read_and_its_key_is_dropped():
    session = SessionStore()
    session["cart"] = ["a"]
    session.create()
    Session.objects.filter(pk=session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    again = SessionStore(session.session_key)

    assert again.load() == {}
    assert again.session_key is None


def test_an_unknown_session_key_reads_nothing():
    again = SessionStore("x" * 32)

    assert again.load() == {}
    assert again.session_key is None


def events_of(issue_id):
    return (
        IssueEvent.objects.filter(issue_id=issue_id)
        .exclude(kind=EventKind.COMMENT_ADDED)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def snapshot(objects) -> list:
    return [
        (field_values(o), o.actor and field_values(o.actor), getattr(o, "n", None)) for o in objects
    ]


def test_a_prepared_read_gives_what_its_queryset_gives_for_each_call_s_values(reporter, maintainer):
    first = IssueFactory(reporter=reporter)
    services.update_issue(actor=maintainer, issue=first, version=1, changes={"status": "TRIAGED"})
    second = IssueFactory(reporter=maintainer)
    events = Prepared(events_of)

    for issue in (first, second, first):
        got = events(issue.pk)
        assert snapshot(got) == snapshot(events_of(issue.pk))
        assert got and all(isinstance(e.data, dict) for e in got)  # JSON decoded
    assert events(uuid.uuid4()) == []


def test_nullable_related_rows_and_annotations_come_back_as_the_orm_s(reporter, maintainer):
    def issue_by_number(number, n):
        return (
            Issue.objects.select_related("reporter", "assignee")
            .annotate(n=models.Value(n))
            .filter(number=number)
        )

    assigned = IssueFactory(reporter=maintainer, assignee=maintainer.pk)
    nobody = IssueFactory(reporter=reporter)
    read = Prepared(issue_by_number)

    for issue in (assigned, nobody):
        (got,) = read(issue.number, 7)
        (orm,) = issue_by_number(issue.number, 7)
        assert field_values(got) == field_values(orm) and got.n == orm.n == 7
        assert field_values(got.reporter) == field_values(orm.reporter)
        assert (got.assignee and field_values(got.assignee)) == (
            orm.assignee and field_values(orm.assignee)
        )
    assert read.one(nobody.number, 1).assignee is None
    assert read.one(assigned.number, 1).assignee == maintainer


def test_a_prepared_read_is_one_query_on_the_calling_thread_s_connection(reporter):
    issue = IssueFactory(reporter=reporter)
    events = Prepared(events_of)
    events(issue.pk)

    with CaptureQueriesContext(connection) as queries:
        assert len(events(issue.pk)) == 1
    assert len(queries) == 1

    found = []

    def elsewhere():
        found.append(events.one(uuid.uuid4()))
        connection.close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert found == [None]


def numbered(numbers, reporter_id, *, descending):
    """Issues among `numbers` (all when None), of `reporter_id` (anyone's when None)."""
    issues = Issue.objects.order_by("-number" if descending else "number")
    if numbers is not None:
        issues = issues.filter(number__in=numbers)
    if reporter_id is not None:
        issues = issues.filter(reporter_id=reporter_id)
    return issues


def test_each_shape_of_arguments_is_compiled_once_and_read_with_each_call_s_values(
    reporter, maintainer
):
    Issue.objects.bulk_create(
        Issue(title=f"Issue {n}", reporter=reporter if n % 2 else maintainer, number=n)
        for n in range(1, 6)
    )
    read = Prepared(numbered)
    calls = [
        (([1, 2, 3], None), {"descending": False}),
        (([4, 5, 1], None), {"descending": False}),  # same shape, other values
        (([2, 4], reporter.pk), {"descending": True}),
        (([2, 4], maintainer.pk), {"descending": True}),
        ((None, maintainer.pk), {"descending": False}),
        ((None, None), {"descending": True}),
        (((5,), None), {"descending": True}),  # a tuple is a list of one
    ]
    for args, fixed in calls * 2:
        assert [i.number for i in read(*args, **fixed)] == [
            i.number for i in numbered(*args, **fixed)
        ]
    assert len(read._plans) == 5


def test_beyond_max_plans_the_oldest_shape_is_dropped(reporter, monkeypatch):
    Issue.objects.create(title="Issue 3", reporter=reporter, number=3)
    monkeypatch.setattr(Prepared, "MAX_PLANS", 2)
    read = Prepared(numbered)

    for length in (1, 2, 3, 1):
        assert [i.number for i in read([3] * length, None, descending=False)] == [3]

    shapes_kept = [args_shape[0] for args_shape, _fixed in read._plans]
    assert shapes_kept == [(int, int, int), (int,)]


def test_a_read_whose_argument_does_not_reach_its_sql_is_refused():
    with pytest.raises(ValueError, match="do not reach the SQL"):
        Prepared(lambda number: Issue.objects.all())(1)


def test_only_int_str_uuid_and_datetime_arguments_are_taken():
    with pytest.raises(TypeError):
        Prepared(lambda day: Issue.objects.filter(created_at__date=day))(timezone.now().date())


def test_a_column_left_out_is_read_when_first_used_as_the_orm_does(maintainer):
    read = Prepared(lambda pk: User.objects.only("id", "email").filter(pk=pk))

    user = read.one(maintainer.pk)

    assert (
        user.get_deferred_fields()
        == User.objects.only("id", "email").get(pk=maintainer.pk).get_deferred_fields()
    )
    with CaptureQueriesContext(connection) as queries:
        assert user.display_name == maintainer.display_name
    assert len(queries) == 1


def test_a_model_whose_instances_are_watched_is_built_through_its_init(maintainer):
    """Instances are built without Model.__init__ only when nothing listens to it."""
    seen = []

    def watch(sender, instance, **kwargs):
        seen.append(instance.pk)

    models.signals.post_init.connect(watch, sender=User)
    try:
        user = Prepared(lambda pk: User.objects.filter(pk=pk)).one(maintainer.pk)
    finally:
        models.signals.post_init.disconnect(watch, sender=User)

    assert seen == [maintainer.pk] and user == maintainer


def test_a_count_is_compiled_once_per_shape_and_capped_as_paging_counts(reporter, maintainer):
    Issue.objects.bulk_create(
        Issue(title=f"Issue {n}", reporter=reporter if n % 2 else maintainer, number=n)
        for n in range(1, 8)
    )
    read = Prepared(numbered)

    for args, cap in [
        ((None, None), 10),
        ((None, None), 3),  # capped: counts no further than cap + 1
        (([1, 2, 3], reporter.pk), 10),
        (([4, 5, 6], reporter.pk), 10),
        (([4, 5, 6], maintainer.pk), 1),
    ]:
        counted = numbered(*args, descending=False).count()
        assert read.count(*args, cap=cap, descending=False) == min(counted, cap + 1)
    assert len(read._plans) == 4  # a plan per shape and cap


def test_a_shape_that_can_match_nothing_reads_nothing_without_a_query(reporter):
    Issue.objects.create(title="Issue 1", reporter=reporter, number=1)
    read = Prepared(numbered)

    with CaptureQueriesContext(connection) as queries:
        assert read([], None, descending=False) == []  # `number__in=[]`
        assert read.count([], None, cap=5, descending=False) == 0
    assert len(queries) == 0
    assert [i.number for i in read([1], None, descending=False)] == [1]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_server_prepared_read_is_prepared_once_on_its_connection(reporter, maintainer):
    first = IssueFactory(reporter=reporter)
    services.update_issue(actor=maintainer, issue=first, version=1, changes={"status": "TRIAGED"})
    second = IssueFactory(reporter=maintainer)
    events = Prepared(events_of, server_prepared=True)
    before = prepared_statements()

    with CaptureQueriesContext(connection) as queries:
        for issue in (first, second, first):
            got = events(issue.pk)
            assert snapshot(got) == snapshot(events_of(issue.pk))
            assert got and all(isinstance(e.data, dict) for e in got)
        assert events(uuid.uuid4()) == []

    (new,) = set(prepared_statements()) - set(before)
    assert "issues_issueevent" in new and "$1" in new  # bound by the server
    # Each call still shows in the query log, with its values written in, as
    # Django's own queries do (and runs as logged: the benchmark replays it).
    logged = [q["sql"] for q in queries.captured_queries if "issues_issueevent" in q["sql"]]
    assert len(logged) == 7  # 4 prepared, 3 by the ORM
    assert sum(f"'{first.pk.hex}'::uuid" in sql for sql in logged) == 4
    with connection.cursor() as cursor:
        cursor.execute(logged[0])
        assert len(cursor.fetchall()) == len(events_of(first.pk))


def test_without_a_prepare_threshold_a_server_prepared_read_is_not_prepared(reporter, settings):
    """DATABASE_PREPARED=0 (e.g. behind PgBouncer in transaction mode before
    1.21): the same reads, bound by the server, and nothing kept."""
    issue = IssueFactory(reporter=reporter)
    events = Prepared(events_of, server_prepared=True)
    before = prepared_statements()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None
    try:
        assert snapshot(events(issue.pk)) == snapshot(events_of(issue.pk))
        assert snapshot(events(issue.pk)) == snapshot(events_of(issue.pk))
    finally:
        connection.connection.prepare_threshold = threshold

    assert prepared_statements() == before


def test_the_orm_s_own_queries_are_not_prepared(reporter):
    before = prepared_statements()

    for _ in range(5):
        assert list(Issue.objects.filter(reporter=reporter)) == []

    assert prepared_statements() == before


def test_a_connection_keeps_one_preparing_cursor_for_its_statements():
    """Made once per connection (and per logging state), not per statement; a
    reconnected connection gets a cursor of its own."""

    def raw_cursor():
        with preparing_cursor(connection) as cursor:
            cursor.execute("SELECT %s::int", [41])
            assert cursor.fetchone() == (41,)
            return cursor.cursor

    first = raw_cursor()
    assert raw_cursor() is first and not first.closed
    with CaptureQueriesContext(connection) as queries:
        logged = raw_cursor()
    assert logged is not first and raw_cursor() is first
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT 41::int"]


@pytest.mark.django_db(transaction=True)
def test_a_kept_cursor_goes_on_after_a_failed_statement_and_a_reconnection():
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        preparing_cursor(connection) as cursor,
    ):
        cursor.execute("SELECT 1 / %s::int", [0])
    with preparing_cursor(connection) as cursor:
        cursor.execute("SELECT 1 / %s::int", [1])
        assert cursor.fetchone() == (1,)
        before = cursor.cursor

    connection.close()
    with preparing_cursor(connection) as cursor:
        cursor.execute("SELECT 1 / %s::int", [1])
        assert cursor.fetchone() == (1,)
        assert cursor.cursor is not before and cursor.cursor.connection is connection.connection

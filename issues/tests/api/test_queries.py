"""No N+1 anywhere: a page of 5 and a page of 200 cost the same, small, number
of SQL queries. The rows are written directly (bulk_create): these tests are
about reading them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from issues.models import Attachment, Comment, EventKind, Issue, IssueEvent
from issues.tests.factories import IssueFactory, LabelFactory

MAX_QUERIES = 8


def queries_for(client, url, expected_rows):
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert len(rows) == expected_rows
    return len(context.captured_queries), rows


@pytest.fixture
def people(maintainer, admin_user):
    extra = [UserFactory(role="MAINTAINER") for _ in range(3)]
    return [maintainer, admin_user, *extra]


@pytest.fixture
def many_issues(people, reporter):
    """210 issues, each with a reporter, an assignee and two or three labels."""
    labels = [LabelFactory(name=f"label-{n}") for n in range(6)]
    issues = Issue.objects.bulk_create(
        Issue(
            title=f"Issue {n}",
            description="Crash when saving the file",
            reporter=people[n % len(people)] if n % 2 else reporter,
            assignee=people[(n + 1) % len(people)],
            number=50_000 + n,
        )
        for n in range(210)
    )
    through = Issue.labels.through
    through.objects.bulk_create(
        through(issue_id=issue.pk, label_id=labels[(n + k) % len(labels)].pk)
        for n, issue in enumerate(issues)
        for k in range(2 + n % 2)
    )
    return issues


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "&ordering=severity",
        "&q=crash",
        "&label=label-1",
        "&status=OPEN&assignee=me",
        "&reporter=me&ordering=-number",
    ],
)
def test_the_issue_list_costs_the_same_for_5_rows_as_for_200(maintainer_api, many_issues, query):
    small, _ = queries_for(maintainer_api, f"/api/issues/?limit=5{query}", 5)
    with CaptureQueriesContext(connection) as context:
        body = maintainer_api.get(f"/api/issues/?limit=200{query}").json()
    large = len(context.captured_queries)

    assert len(body["results"]) == min(200, body["count"])
    assert body["count"] > 5
    # A page that holds the whole list needs no count query: never more for more rows.
    assert large <= small <= MAX_QUERIES
    # The related data is really there, not skipped.
    assert all(row["labels"] and row["assignee"]["name"] for row in body["results"])


@pytest.mark.django_db
def test_a_reporters_list_costs_the_same_for_5_rows_as_for_100(reporter_api, many_issues):
    small, _ = queries_for(reporter_api, "/api/issues/?limit=5", 5)
    large, rows = queries_for(reporter_api, "/api/issues/?limit=200", 105)

    assert large <= small <= MAX_QUERIES


@pytest.fixture
def busy_issue(reporter, people):
    """An issue with 210 timeline events and 210 comments, threaded, by five people."""
    issue = IssueFactory(reporter=reporter)
    IssueEvent.objects.bulk_create(
        IssueEvent(
            issue=issue,
            actor=people[n % len(people)],
            kind=EventKind.FIELD_CHANGED,
            field="title",
            old_value=f"t{n}",
            new_value=f"t{n + 1}",
        )
        for n in range(210)
    )
    roots = Comment.objects.bulk_create(
        Comment(issue=issue, author=people[n % len(people)], body=f"root {n}") for n in range(70)
    )
    Comment.objects.bulk_create(
        Comment(issue=issue, author=people[n % len(people)], body=f"reply {n}", parent=root)
        for n, root in enumerate(roots * 2)
    )
    return issue


@pytest.mark.django_db
def test_the_timeline_costs_the_same_for_5_events_as_for_200(maintainer_api, busy_issue):
    url = f"/api/issues/{busy_issue.pk}/events/"
    small, _ = queries_for(maintainer_api, url + "?limit=5", 5)
    large, rows = queries_for(maintainer_api, url + "?limit=200", 200)

    assert small == large <= MAX_QUERIES
    assert all(row["actor"]["name"] for row in rows)


@pytest.mark.django_db
def test_the_comments_cost_the_same_for_5_as_for_200(maintainer_api, busy_issue):
    url = f"/api/issues/{busy_issue.pk}/comments/"
    small, _ = queries_for(maintainer_api, url + "?limit=5", 5)
    large, rows = queries_for(maintainer_api, url + "?limit=200", 200)

    assert small == large <= MAX_QUERIES
    assert all(row["author"]["name"] for row in rows)
    assert {row["depth"] for row in rows} == {0, 1}


@pytest.mark.django_db
def test_a_reply_costs_the_same_however_deep_its_thread(maintainer_api, maintainer, reporter):
    """The answer's depth is worked out from the thread's links read at once, not
    by reading each comment above the reply in turn."""
    issue = IssueFactory(reporter=reporter)
    url = f"/api/issues/{issue.pk}/comments/"
    chain = [Comment.objects.create(issue=issue, author=maintainer, body="root")]
    for n in range(20):
        chain.append(
            Comment.objects.create(issue=issue, author=maintainer, body=f"r{n}", parent=chain[-1])
        )
    Comment.objects.create(issue=issue, author=maintainer, body="elsewhere", parent=chain[0])

    def reply_to(parent):
        with CaptureQueriesContext(connection) as context:
            response = maintainer_api.post(
                url, {"body": "Me too", "parent": parent.pk}, format="json"
            )
        assert response.status_code == 201, response.content
        return len(context.captured_queries), response.json()["depth"]

    shallow, shallow_depth = reply_to(chain[1])
    deep, deep_depth = reply_to(chain[20])

    assert (shallow_depth, deep_depth) == (2, 21)
    assert deep == shallow
    assert reply_to(chain[0])[1] == 1


@pytest.mark.django_db
def test_the_attachment_list_costs_the_same_for_1_as_for_30(maintainer_api, busy_issue, people):
    def attach(count):
        Attachment.objects.bulk_create(
            Attachment(
                issue=busy_issue,
                uploaded_by=people[n % len(people)],
                file=f"attachments/{busy_issue.pk}/{n}.txt",
                original_name=f"{n}.txt",
                size=1,
                content_type="text/plain",
            )
            for n in range(count)
        )

    url = f"/api/issues/{busy_issue.pk}/attachments/"
    attach(1)
    one, _ = queries_for(maintainer_api, url, 1)
    attach(29)
    thirty, _ = queries_for(maintainer_api, url, 30)

    assert one == thirty <= MAX_QUERIES


@pytest.mark.django_db
def test_reading_one_issue_takes_a_few_queries(maintainer_api, many_issues):
    issue = many_issues[0]
    with CaptureQueriesContext(connection) as context:
        response = maintainer_api.get(f"/api/issues/{issue.pk}/")

    assert response.status_code == 200
    assert len(response.json()["labels"]) == 2
    assert len(context.captured_queries) == 1  # the issue with its people and label names


def reads_after_the_last_write(captured) -> list[str]:
    """The SELECTs a write request made after its last write (WITH: writes run
    together, tracker.db.execute_together): rendering the answer."""
    sqls = [q["sql"] for q in captured]
    writes = ("INSERT", "UPDATE", "DELETE", "WITH")
    last = max(i for i, sql in enumerate(sqls) if sql.startswith(writes))
    return [sql for sql in sqls[last + 1 :] if sql.startswith("SELECT") and "pg_notify" not in sql]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_changing_labels_leaves_the_issue_to_the_service_to_read(
    maintainer_api, many_issues, method
):
    """As PATCH: the view does not read the issue first (the service locks and
    reads it, and answers 404 for one the user may not see), nor after (the
    service returns the labels it wrote)."""
    issue = many_issues[0]
    name = issue.labels.first().name
    url = f"/api/issues/{issue.pk}/labels/" + (f"{name}/" if method == "delete" else "")
    body = {} if method == "delete" else {"labels": [name, "label-5"]}
    with CaptureQueriesContext(connection) as context:
        response = getattr(maintainer_api, method)(url, body, format="json")

    assert response.status_code == 200, response.content
    issue_reads = [
        q for q in context.captured_queries if q["sql"].startswith('SELECT "issues_issue"."id"')
    ]
    assert len(issue_reads) == 2  # the service's lock and its compare-and-set's read
    assert reads_after_the_last_write(context.captured_queries) == []
    assert sorted(response.json()["labels"]) == sorted(issue.labels.values_list("name", flat=True))


@pytest.mark.django_db
def test_a_patch_answers_from_what_it_wrote(maintainer_api, many_issues):
    issue = many_issues[0]
    with CaptureQueriesContext(connection) as context:
        response = maintainer_api.patch(
            f"/api/issues/{issue.pk}/",
            {"status": "TRIAGED", "labels": ["label-4"], "version": issue.version},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert reads_after_the_last_write(context.captured_queries) == []
    assert response.json()["labels"] == ["label-4"]
    assert response.json()["version"] == issue.version + 1


@pytest.mark.django_db
def test_a_patch_of_fields_is_a_read_and_one_statement(maintainer_api, many_issues, maintainer):
    """The service's read of the issue, then its compare-and-set with the
    event, the new assignee's watch, the mail and the live notice, as one
    statement: no transaction (no savepoint inside the test's)."""
    issue = many_issues[0]
    with CaptureQueriesContext(connection) as context:
        response = maintainer_api.patch(
            f"/api/issues/{issue.pk}/",
            {"status": "TRIAGED", "version": issue.version},
            format="json",
        )

    assert response.status_code == 200, response.content
    sqls = [q["sql"] for q in context.captured_queries]
    assert [sql.split(" ", 1)[0] for sql in sqls] == ["SELECT", "WITH"], sqls
    assert 'UPDATE "issues_issue"' in sqls[1] and "pg_notify" in sqls[1]
    assert response.json()["version"] == issue.version + 1


@pytest.mark.django_db
def test_a_create_answers_from_what_it_wrote(maintainer_api, many_issues, maintainer):
    with CaptureQueriesContext(connection) as context:
        response = maintainer_api.post(
            "/api/issues/",
            {"title": "New", "labels": ["label-2", "label-1"], "assignee": maintainer.pk},
            format="json",
        )

    assert response.status_code == 201, response.content
    assert reads_after_the_last_write(context.captured_queries) == []
    assert response.json()["labels"] == ["label-1", "label-2"]
    assert response.json()["assignee"]["id"] == maintainer.pk

"""Lists filtered by statuses and one label are counted from the label's links
alone (IssueLabel.status), and lists filtered by words alone from the search
rows (IssueFilter.counted); either way the count is the list's."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues import queries, services
from issues.filters import IssueFilter
from issues.models import Issue, IssueSearch, Status
from issues.tests.factories import IssueFactory, LabelFactory
from tracker import paging

# From OPEN, the statuses' way through the workflow.
PATHS = {
    Status.OPEN: [],
    Status.TRIAGED: [Status.TRIAGED],
    Status.IN_PROGRESS: [Status.TRIAGED, Status.IN_PROGRESS],
    Status.DONE: [Status.DONE],
}


@pytest.fixture
def mixed(maintainer, reporter):
    """An issue of each person in each status with bug, ui, both or neither."""
    bug, ui = LabelFactory(name="bug"), LabelFactory(name="ui")
    made = []
    for person, status, labels in itertools.product(
        (maintainer, reporter), Status.values, ([bug], [ui], [bug, ui], [])
    ):
        issue = IssueFactory(reporter=person)
        services.replace_labels(actor=maintainer, issue=issue, labels=[x.name for x in labels])
        for step in PATHS[status]:
            services.bulk_change_status(actor=maintainer, ids=[str(issue.pk)], status=step)
        made.append(issue)
    return made


def expected(issues, statuses=(), labels=(), reporter=None) -> int:
    return sum(
        1
        for issue in Issue.objects.filter(pk__in=[i.pk for i in issues])
        if (not statuses or issue.status in statuses)
        and set(labels) <= {label.name for label in issue.labels.all()}
        and (reporter is None or issue.reporter_id == reporter.pk)
    )


def count_query(captured) -> str:
    (count,) = [q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"].upper()]
    return count


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, statuses, labels",
    [
        ("status=OPEN&label=bug", ["OPEN"], ["bug"]),
        ("status=OPEN,DONE&label=BUG", ["OPEN", "DONE"], ["bug"]),
        ("label=ui", [], ["ui"]),
        ("status=TRIAGED&label=bug,ui", ["TRIAGED"], ["bug", "ui"]),
        ("status=DONE", ["DONE"], []),
    ],
)
def test_the_api_count_of_statuses_and_labels_is_the_list_s(
    maintainer_api, mixed, query, statuses, labels
):
    body = maintainer_api.get(f"/api/issues/?limit=1&{query}").json()

    assert body["count"] == expected(mixed, statuses, labels)
    assert body["count_exact"] is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, table, statuses, labels",
    [
        ("status=OPEN,TRIAGED&label=bug", "issues_issue_labels", ["OPEN", "TRIAGED"], ["bug"]),
        ("q=issue number", "issues_issuesearch", [], []),
    ],
)
def test_statuses_and_a_label_or_words_alone_are_counted_without_the_issues(
    maintainer_api, mixed, query, table, statuses, labels
):
    with CaptureQueriesContext(connection) as captured:
        body = maintainer_api.get(f"/api/issues/?limit=1&{query}").json()

    assert f'FROM "{table}"' in count_query(captured)
    assert '"issues_issue"' not in count_query(captured)
    assert (body["count"], body["count_exact"]) == (expected(mixed, statuses, labels), True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "narrowing", ["severity=MEDIUM", "assignee=none", "q=issue", "created_after=2000-01-01"]
)
def test_any_other_filter_is_counted_on_the_issues(maintainer_api, mixed, narrowing):
    with CaptureQueriesContext(connection) as captured:
        body = maintainer_api.get(f"/api/issues/?limit=1&status=OPEN&label=bug&{narrowing}")

    assert '"issues_issue"' in count_query(captured)
    assert body.json()["count"] == expected(mixed, ["OPEN"], ["bug"])


@pytest.mark.django_db
def test_a_reporter_s_count_is_of_their_own_issues(reporter_api, reporter, mixed):
    body = reporter_api.get("/api/issues/?limit=1&status=OPEN&label=bug").json()

    assert body["count"] == expected(mixed, ["OPEN"], ["bug"], reporter=reporter) > 0
    assert body["count"] < expected(mixed, ["OPEN"], ["bug"])


@pytest.mark.django_db
def test_an_unknown_label_counts_nothing(maintainer_api, mixed):
    body = maintainer_api.get("/api/issues/?status=OPEN&label=nope").json()
    assert (body["count"], body["results"]) == (0, [])


@pytest.mark.django_db
def test_the_html_list_and_the_board_count_from_the_links_too(client, maintainer, mixed):
    client.force_login(maintainer)
    more = [IssueFactory(reporter=maintainer, labels=[LabelFactory(name="bug")]) for _ in range(50)]
    everything = [*mixed, *more]

    with CaptureQueriesContext(connection) as captured:  # a full page of 50: counted
        page = client.get(reverse("issues:list"), {"status": "OPEN", "label": "bug"})
    # Read before the next request: each request empties the query log.
    assert 'FROM "issues_issue_labels"' in count_query(captured)
    board = client.get(reverse("issues:board"), {"label": "bug"})

    assert page.status_code == board.status_code == 200
    assert page.context["page"].count == paging.Count(expected(everything, ["OPEN"], ["bug"]), True)
    counts = {column["status"]: column["count"].value for column in board.context["columns"]}
    assert counts == {s: expected(everything, [s], ["bug"]) for s in Status.values}


@pytest.mark.django_db
@pytest.mark.parametrize("also", ["status=OPEN", "label=bug", "severity=MEDIUM"])
def test_words_with_another_filter_are_counted_on_the_issues(maintainer_api, mixed, also):
    with CaptureQueriesContext(connection) as captured:
        body = maintainer_api.get(f"/api/issues/?limit=1&q=issue&{also}").json()

    assert '"issues_issue"' in count_query(captured)
    wanted = {"status=OPEN": expected(mixed, ["OPEN"]), "label=bug": expected(mixed, [], ["bug"])}
    assert body["count"] == wanted.get(also, len(mixed))


@pytest.mark.django_db
@pytest.mark.parametrize("words, counted", [("#42", Issue), ("42", Issue), ("crash", IssueSearch)])
def test_a_number_is_counted_on_the_issues(rf, maintainer, words, counted):
    """A number is looked up as an issue's too (queries.search), which the search
    rows alone cannot count."""
    request = rf.get("/", {"q": words})
    request.user = maintainer
    rows = queries.issue_list(maintainer)
    issue_filter = IssueFilter(request.GET, queryset=rows, request=request)

    assert issue_filter.is_valid()
    assert issue_filter.counted().model is counted


@pytest.mark.django_db
def test_a_reporter_s_search_counts_their_own_issues(reporter_api, reporter, mixed):
    body = reporter_api.get("/api/issues/?limit=1&q=issue").json()

    assert body["count"] == expected(mixed, reporter=reporter) == len(mixed) // 2

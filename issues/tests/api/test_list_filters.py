"""GET /api/issues/: every filter, the search ranking, every ordering and the
pagination, against five hand-built issues whose answers are worked out by hand."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from issues import queries, services
from issues.models import Issue, Severity, Status
from issues.tests.api import assert_error, client_for
from issues.tests.factories import LabelFactory


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make(actor, key, *, number, title, description, status, severity, assignee, labels, created,
         updated):  # fmt: skip
    """Created through the service (so it is a real issue with its timeline), then
    put into the exact state the test needs: the service would refuse to skip
    workflow steps or to back-date."""
    issue = services.create_issue(actor=actor, title=title, description=description)
    issue.labels.set(labels)
    Issue.objects.filter(pk=issue.pk).update(
        number=number,
        status=status,
        severity=severity,
        assignee=assignee,
        resolved_at=at(updated) if status == Status.DONE else None,
        created_at=at(created),
        updated_at=at(updated),
    )
    return key, Issue.objects.get(pk=issue.pk)


@pytest.fixture
def data(reporter, other_reporter, maintainer, admin_user):
    bug, ui, docs = (LabelFactory(name=name) for name in ("bug", "UI", "docs"))
    rows = [
        make(reporter, "A", number=9_000_040, title="Login page crashes on submit",
             description="A stack trace appears after pressing the button.",
             status=Status.OPEN, severity=Severity.CRITICAL, assignee=maintainer,
             labels=[bug, ui], created="2024-01-01T12:00:00", updated="2024-03-05T12:00:00"),
        make(other_reporter, "B", number=9_000_041, title="Dark mode colours are off",
             description="The login button is unreadable on a black background.",
             status=Status.TRIAGED, severity=Severity.LOW, assignee=admin_user,
             labels=[ui], created="2024-01-02T12:00:00", updated="2024-01-05T12:00:00"),
        make(maintainer, "C", number=9_000_042, title="Typo in the README",
             description="", status=Status.IN_PROGRESS, severity=Severity.MEDIUM,
             assignee=None, labels=[docs], created="2024-02-01T12:00:00",
             updated="2024-02-10T12:00:00"),
        make(reporter, "D", number=9_000_043, title="Export fails for large files",
             description="Timeout after thirty seconds.", status=Status.DONE,
             severity=Severity.HIGH, assignee=None, labels=[bug],
             created="2024-03-01T12:00:00", updated="2024-03-02T12:00:00"),
        make(maintainer, "E", number=9_000_044, title="Search is slow",
             description="Every query takes seconds.", status=Status.OPEN,
             severity=Severity.MEDIUM, assignee=maintainer, labels=[],
             created="2024-01-15T12:00:00", updated="2024-01-20T12:00:00"),
    ]  # fmt: skip
    issues = dict(rows)
    # Renumber C as #42 (nothing else here may carry 42 anywhere).
    Issue.objects.filter(pk=issues["C"].pk).update(number=42)
    issues["C"].refresh_from_db()
    return SimpleNamespace(**issues, by_pk={str(i.pk): k for k, i in issues.items()})


def keys(data, response) -> list[str]:
    """The issues of a list response, as the letters of the fixture, in order."""
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    letters = [data.by_pk[row["id"]] for row in body["results"]]
    assert body["count"] == len(letters)  # everything fits on one page here
    return letters


@pytest.fixture
def get(maintainer_api, data):
    return lambda query="", client=maintainer_api: keys(data, client.get("/api/issues/" + query))


@pytest.mark.django_db
def test_the_default_order_is_most_recently_updated_first(get):
    assert get() == ["A", "D", "C", "E", "B"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("number", ["C", "A", "B", "D", "E"]),
        ("-number", ["E", "D", "B", "A", "C"]),
        ("created_at", ["A", "B", "E", "C", "D"]),
        ("-created_at", ["D", "C", "E", "B", "A"]),
        ("updated_at", ["B", "E", "C", "D", "A"]),
        ("-updated_at", ["A", "D", "C", "E", "B"]),
        # By rank LOW < MEDIUM < HIGH < CRITICAL, not alphabetically; the two
        # MEDIUM issues (#42 and E) keep a stable order by number.
        ("severity", ["B", "C", "E", "D", "A"]),
        ("-severity", ["A", "D", "E", "C", "B"]),
    ],
)
def test_orderings(get, ordering, expected):
    assert get(f"?ordering={ordering}") == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=OPEN", ["A", "E"]),
        ("?status=OPEN&status=DONE", ["A", "D", "E"]),
        ("?status=OPEN,DONE", ["A", "D", "E"]),
        ("?status=open,in_progress", ["A", "C", "E"]),
        ("?severity=CRITICAL", ["A"]),
        ("?severity=HIGH&severity=CRITICAL", ["A", "D"]),
        ("?severity=low,medium", ["B", "C", "E"]),
        ("?status=OPEN&severity=MEDIUM", ["E"]),
        ("?assignee=none", ["C", "D"]),
        ("?label=bug", ["A", "D"]),
        ("?label=bug&label=ui", ["A"]),
        ("?label=BUG,ui", ["A"]),
        ("?label=ui", ["A", "B"]),
        ("?label=bug,nosuchlabel", []),
        ("?label=nosuchlabel", []),
        ("?created_after=2024-02-01", ["C", "D"]),
        # after is inclusive, before exclusive: E was created at exactly 12:00.
        ("?created_after=2024-01-15T12:00:00Z", ["C", "D", "E"]),
        ("?created_before=2024-01-15T12:00:00Z", ["A", "B"]),
        ("?created_after=2024-01-02&created_before=2024-02-02", ["B", "C", "E"]),
        ("?updated_after=2024-03-01", ["A", "D"]),
        ("?updated_before=2024-01-20T12:00:00Z", ["B"]),
        ("?updated_after=2024-01-06&updated_before=2024-03-03", ["C", "D", "E"]),
    ],
)
def test_filters(get, query, expected):
    assert get(query + "&ordering=number") == sorted(expected, key="CABDE".index)


@pytest.mark.django_db
def test_assignee_and_reporter_take_a_user_id(get, maintainer, admin_user, reporter):
    assert get(f"?assignee={maintainer.pk}&ordering=number") == ["A", "E"]
    assert get(f"?assignee={admin_user.pk}") == ["B"]
    assert get(f"?reporter={reporter.pk}&ordering=number") == ["A", "D"]


@pytest.mark.django_db
def test_me_means_the_user_asking(get, maintainer, admin_user):
    as_admin = client_for(admin_user)

    assert get("?assignee=me&ordering=number") == ["A", "E"]
    assert get("?assignee=me", client=as_admin) == ["B"]
    assert get("?reporter=me&ordering=number") == ["C", "E"]
    assert get("?reporter=me", client=as_admin) == []


@pytest.mark.django_db
def test_a_reporter_filters_within_the_issues_they_reported(get, reporter_api):
    assert get("?ordering=number", client=reporter_api) == ["A", "D"]
    assert get("?assignee=none", client=reporter_api) == ["D"]
    assert get("?label=ui", client=reporter_api) == ["A"]
    assert get("?q=login", client=reporter_api) == ["A"]


@pytest.mark.django_db
def test_search_ranks_a_title_match_above_a_description_only_match(get, data):
    # A has "login" in its title; B only in its description, but B is the more
    # recently updated: only the rank puts A first.
    Issue.objects.filter(pk=data.B.pk).update(updated_at=at("2025-01-01T00:00:00"))

    assert get("?q=login") == ["A", "B"]
    assert get("?q=LOGIN") == ["A", "B"]


@pytest.mark.django_db
def test_search_covers_title_and_description_with_stemming(get):
    assert get("?q=crashing") == ["A"]
    assert get("?q=unreadable") == ["B"]
    assert get("?q=timeout") == ["D"]
    assert get("?q=elephant") == []


@pytest.mark.django_db
def test_search_understands_web_search_syntax(get, data):
    Issue.objects.filter(pk=data.B.pk).update(updated_at=at("2025-01-01T00:00:00"))

    assert get("?q=login -dark") == ["A"]
    assert get('?q="login button"') == ["B"]
    # Two title matches (ranked alike, then most recently updated first) above
    # a description-only match.
    assert get("?q=login or export") == ["A", "D", "B"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["42", "%2342", " %2342 "])
def test_search_by_number_finds_that_issue(get, query):
    assert get(f"?q={query}") == ["C"]


@pytest.mark.django_db
def test_a_number_finds_that_issue_and_the_issues_that_mention_it(get, data):
    Issue.objects.filter(pk=data.E.pk).update(description="Error 42 after every query.")

    # The word match is ranked; the issue found by its number alone comes after.
    assert get("?q=42") == ["E", "C"]
    assert get("?q=42&status=IN_PROGRESS") == ["C"]
    assert get("?q=43") == []


@pytest.mark.django_db
def test_search_combines_with_filters_and_an_explicit_ordering(get):
    assert get("?q=login&status=TRIAGED") == ["B"]
    assert get("?q=login&ordering=number") == ["A", "B"]
    assert get("?q=login&ordering=-number") == ["B", "A"]


@pytest.mark.django_db
def test_a_list_row_carries_the_whole_issue(maintainer_api, data, maintainer):
    row = maintainer_api.get("/api/issues/?severity=CRITICAL").json()["results"][0]

    assert row == {
        "id": str(data.A.pk),
        "number": 9_000_040,
        "url": f"http://testserver/api/issues/{data.A.pk}/",
        "title": "Login page crashes on submit",
        "description": "A stack trace appears after pressing the button.",
        "status": "OPEN",
        "severity": "CRITICAL",
        "reporter": {"id": data.A.reporter_id, "name": "Rita Reporter"},
        "assignee": {"id": maintainer.pk, "name": "Max Maintainer"},
        "labels": ["bug", "UI"],
        "version": 1,
        "created_at": "2024-01-01T12:00:00Z",
        "updated_at": "2024-03-05T12:00:00Z",
        "resolved_at": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=NOPE", "status"),
        ("status=OPEN,NOPE", "status"),
        ("status=%25Y-%25m-%25d", "status"),  # "%" in a value once made the message a 500
        ("severity=%25s", "severity"),
        ("severity=HUGE", "severity"),
        ("severity=3", "severity"),
        ("assignee=abc", "assignee"),
        ("assignee=-1", "assignee"),
        ("assignee=%C2%B2", "assignee"),  # "²" passes str.isdigit() but is no number
        ("reporter=none", "reporter"),
        ("reporter=abc", "reporter"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-01", "created_before"),
        ("updated_after=2024-02-30", "updated_after"),
        ("updated_before=noon", "updated_before"),
        ("ordering=title", "ordering"),
        ("ordering=severity;drop", "ordering"),
        ("q=" + "a" * 501, "q"),
        ("q=%00", "q"),
        ("label=%00", "label"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_parameter(maintainer_api, data, query, parameter):
    response = maintainer_api.get("/api/issues/?" + query)

    body = assert_error(response, 400, parameter)
    assert list(body["errors"]) == [parameter]


def test_a_bad_value_with_percent_signs_is_quoted_as_typed(maintainer_api, data):
    response = maintainer_api.get("/api/issues/?status=%25Y%25s")

    body = assert_error(response, 400, "status")
    assert body["errors"]["status"][0].startswith("Unknown value(s) %Y%s; use OPEN")


def test_one_request_s_bad_filter_does_not_reach_the_next(maintainer_api, data):
    """The filter form's class is built once for every request (IssueFilter.get_form_class);
    each request's values and errors stay its own."""
    assert_error(maintainer_api.get("/api/issues/?status=NOPE"), 400, "status")

    assert keys(data, maintainer_api.get("/api/issues/?status=DONE")) == ["D"]
    assert_error(maintainer_api.get("/api/issues/?severity=HUGE"), 400, "severity")


@pytest.mark.django_db
def test_an_empty_filter_value_is_no_filter(get):
    assert get("?status=&severity=&assignee=&reporter=&label=&q=&ordering=") == [
        "A",
        "D",
        "C",
        "E",
        "B",
    ]


@pytest.fixture
def many(maintainer):
    """205 plain issues, written directly: this is about pages, not about creation."""
    Issue.objects.bulk_create(
        Issue(title=f"Bulk issue {i}", reporter=maintainer, number=10_000 + i) for i in range(205)
    )
    same = at("2024-05-01T00:00:00")
    Issue.objects.filter(number__gte=10_000).update(created_at=same, updated_at=same)


@pytest.mark.django_db
def test_a_page_holds_50_issues_by_default(maintainer_api, many):
    body = maintainer_api.get("/api/issues/?ordering=number").json()

    assert body["count"] == 205
    assert len(body["results"]) == 50
    assert [row["number"] for row in body["results"]] == list(range(10_000, 10_050))
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/issues/?limit=50&offset=50&ordering=number"


@pytest.mark.django_db
def test_a_page_holds_at_most_200_issues(maintainer_api, many):
    body = maintainer_api.get("/api/issues/?limit=500&ordering=number").json()

    assert len(body["results"]) == 200
    assert body["count"] == 205
    assert body["next"] == "http://testserver/api/issues/?limit=200&offset=200&ordering=number"


@pytest.mark.django_db
def test_limit_and_offset_select_a_window(maintainer_api, many):
    body = maintainer_api.get("/api/issues/?limit=3&offset=200&ordering=-number").json()
    last = maintainer_api.get("/api/issues/?offset=200&ordering=number").json()

    assert [row["number"] for row in body["results"]] == [10_004, 10_003, 10_002]
    assert [row["number"] for row in last["results"]] == list(range(10_200, 10_205))
    assert last["next"] is None


@pytest.mark.django_db
def test_an_offset_beyond_what_the_database_counts_is_an_empty_page(maintainer_api, many):
    """PostgreSQL refuses an OFFSET past a bigint (it was a 500): past the end, so empty."""
    body = maintainer_api.get("/api/issues/", {"offset": "9" * 20, "status": "OPEN"}).json()

    assert body["results"] == [] and body["next"] is None
    assert body["count"] == 205 and body["count_exact"]


@pytest.mark.django_db
def test_pages_do_not_overlap_or_skip_when_many_issues_share_the_sort_value(maintainer_api, many):
    # All 205 share one created_at: only the tie-breaker keeps the pages apart.
    seen = []
    for offset in range(0, 205, 50):
        page = maintainer_api.get(f"/api/issues/?ordering=created_at&offset={offset}").json()
        seen += [row["number"] for row in page["results"]]

    assert sorted(seen) == list(range(10_000, 10_205))


@pytest.mark.django_db
def test_the_count_reflects_the_filters_not_the_page(maintainer_api, data, many):
    body = maintainer_api.get("/api/issues/?status=OPEN&limit=1").json()

    assert body["count"] == 207  # the 205 bulk issues are OPEN, plus A and E
    assert len(body["results"]) == 1
    assert maintainer_api.get("/api/issues/?label=bug&limit=1").json()["count"] == 2


def test_a_page_is_compiled_once_for_each_shape_of_the_filter(maintainer_api, data):
    """Other values in the same filters reuse the page's compiled SQL (queries.api_pages)."""
    assert keys(data, maintainer_api.get("/api/issues/?status=OPEN&label=bug")) == ["A"]
    plans = len(queries.api_pages._reads[queries.ALL]._plans)

    assert keys(data, maintainer_api.get("/api/issues/?status=DONE&label=BUG")) == ["D"]
    assert keys(data, maintainer_api.get("/api/issues/?status=TRIAGED&label=ui")) == ["B"]
    assert len(queries.api_pages._reads[queries.ALL]._plans) == plans


@pytest.mark.parametrize("person", ["assignee", "reporter"])
def test_a_user_id_beyond_any_column_s_range_finds_nobody(maintainer_api, data, person):
    response = maintainer_api.get(f"/api/issues/?{person}=99999999999999999999")

    assert keys(data, response) == []


def test_each_filter_set_has_its_own_filters_and_leaves_the_class_s_alone(rf):
    """IssueFilter copies its filters one by one instead of deeply: each
    instance still owns its filters (their `parent`)."""
    from issues.filters import IssueFilter

    first, second = (IssueFilter({"status": "OPEN"}, request=rf.get("/")) for _ in range(2))
    assert first.filters.keys() == second.filters.keys() == IssueFilter.base_filters.keys()
    for name, base in IssueFilter.base_filters.items():
        assert first.filters[name] is not second.filters[name] is not base
        assert first.filters[name].parent is first and second.filters[name].parent is second
        assert getattr(base, "parent", None) is None
    assert first.is_valid() and second.is_valid()
    assert first.form.cleaned_data["status"] == ["OPEN"]
    assert first.form.fields.keys() == second.form.fields.keys()
    for name, field in first.form.fields.items():
        assert field is not second.form.fields[name]
    assert not IssueFilter({"status": "CLOSED"}, request=rf.get("/")).is_valid()
    assert first.is_valid() and first.form.errors == {}

"""A one-word search is paged among the issues with the word in their title
first (issues.queries.titles_first), and falls back to every match when they
do not fill the page: each page must be the page of the ranking of every match."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now

from issues import queries
from issues.models import Issue, Status
from issues.queries import Narrowing
from issues.tests.factories import IssueFactory
from issues.views import lists

# (title, description): title matches first, the more "flux" the better.
SHAPES = [
    ("Flux flux flux", "flux"),
    ("Flux flux", ""),
    ("Flux in the title", "and flux flux in the description"),
    ("Flux once", "nothing more"),
    ("Unrelated title", "flux flux flux flux"),
    ("Other title", "flux flux"),
    ("Third title", "a single flux here"),
    ("No match at all", "capacitor"),
]


@pytest.fixture
def issues(reporter):
    return [IssueFactory(reporter=reporter, title=t, description=d) for t, d in SHAPES]


def ranking(word: str) -> list[str]:
    """Every match of `word` by the search index's distance, as PostgreSQL ranks
    them over all the search words: what each page must agree with."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT issue_id::text, vector <=> plainto_tsquery('english', %s) AS distance"
            " FROM issues_issuesearch WHERE vector @@ plainto_tsquery('english', %s)"
            " ORDER BY distance",
            [word, word],
        )
        rows = cursor.fetchall()
    distances = [distance for _, distance in rows]
    assert len(set(distances)) == len(distances), "ties would make the pages ambiguous"
    return [issue_id for issue_id, _ in rows]


def page(client, query: str, offset: int, limit: int) -> dict:
    response = client.get(f"/api/issues/?q={query}&offset={offset}&limit={limit}")
    assert response.status_code == 200, response.content[:500]
    return response.json()


@pytest.mark.django_db
def test_every_page_of_a_one_word_search_is_that_page_of_the_whole_ranking(maintainer_api, issues):
    ranked = ranking("flux")
    assert len(ranked) == 7
    titles = {str(issue.pk) for issue in issues if "flux" in issue.title.lower()}
    assert set(ranked[:4]) == titles  # the premise: title matches rank first

    for limit in (1, 2, 3, 4, 5, 7, 10):
        for offset in range(0, 9):
            body = page(maintainer_api, "flux", offset, limit)
            assert [row["id"] for row in body["results"]] == ranked[offset : offset + limit], (
                offset,
                limit,
            )
            assert (body["next"] is not None) == (offset + limit < len(ranked))
            if body["results"]:
                assert (body["count"], body["count_exact"]) == (7, True)


def _issue_reads(captured) -> list[str]:
    return [q["sql"] for q in captured if 'FROM "issues_issue"' in q["sql"] and "<=>" in q["sql"]]


@pytest.mark.django_db
def test_a_page_among_the_title_matches_is_read_from_them_alone(maintainer_api, issues):
    with CaptureQueriesContext(connection) as captured:
        page(maintainer_api, "flux", 0, 3)

    reads = _issue_reads(captured)
    assert len(reads) == 1
    assert '"title_vector" <=>' in reads[0]


@pytest.mark.django_db
def test_a_page_past_the_title_matches_is_read_again_among_every_match(maintainer_api, issues):
    with CaptureQueriesContext(connection) as captured:
        body = page(maintainer_api, "flux", 2, 3)

    assert [row["id"] for row in body["results"]] == ranking("flux")[2:5]
    reads = _issue_reads(captured)
    assert len(reads) == 2
    assert '"title_vector" <=>' in reads[0]
    assert '"vector" <=>' in reads[1] and "title_vector" not in reads[1]


@pytest.mark.django_db
def test_a_word_in_no_title_is_found_in_the_descriptions(maintainer_api, issues):
    body = page(maintainer_api, "capacitor", 0, 10)

    assert [row["title"] for row in body["results"]] == ["No match at all"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["the", "zzzzzz"])
def test_a_stop_word_or_an_unknown_word_finds_nothing(maintainer_api, issues, query):
    assert page(maintainer_api, query, 0, 10)["results"] == []


@pytest.mark.django_db
def test_the_html_list_pages_a_one_word_search_alike(client, maintainer, issues):
    client.force_login(maintainer)
    titles = {str(issue.pk): issue.title for issue in issues}
    expected = [titles[issue_id] for issue_id in ranking("flux")]

    response = client.get("/issues/?q=flux")

    assert response.status_code == 200
    shown = [issue.title for issue in response.context["page"].object_list]
    assert shown == expected


@pytest.mark.django_db
def test_each_board_column_of_a_one_word_search_is_its_status_s_part_of_the_ranking(
    client, maintainer, issues, monkeypatch, django_assert_max_num_queries
):
    """The columns are looked for among the title matches first; a column they
    do not fill (here Triaged, and the empty ones) is read again among every
    match, in one more query for all such columns."""
    monkeypatch.setattr(lists, "COLUMN_SIZE", 2)
    moved = {"Flux flux", "Other title"}
    Issue.objects.filter(title__in=moved).update(status=Status.TRIAGED)
    titles = {str(issue.pk): issue.title for issue in issues}
    ranked = [titles[issue_id] for issue_id in ranking("flux")]
    client.force_login(maintainer)

    with CaptureQueriesContext(connection) as captured, django_assert_max_num_queries(8):
        columns = client.get("/issues/board/?q=flux").context["columns"]

    shown = {column["status"]: [card.title for card in column["cards"]] for column in columns}
    assert shown == {
        "OPEN": [title for title in ranked if title not in moved][:2],
        "TRIAGED": [title for title in ranked if title in moved],
        "IN_PROGRESS": [],
        "DONE": [],
    }
    assert [column["more"] for column in columns] == [True, False, False, False]
    reads = _issue_reads(captured)
    assert len(reads) == 2
    assert '"title_vector" <=>' in reads[0]
    assert '"vector" <=>' in reads[1] and "title_vector" not in reads[1]


@pytest.mark.django_db
def test_a_board_whose_columns_the_title_matches_fill_reads_them_alone(
    client, maintainer, reporter, monkeypatch
):
    monkeypatch.setattr(lists, "COLUMN_SIZE", 1)
    for status in Status.values:
        for n in range(2):
            issue = IssueFactory(reporter=reporter, title=f"Flux {status} {n}")
            resolved_at = now() if status == Status.DONE else None
            Issue.objects.filter(pk=issue.pk).update(status=status, resolved_at=resolved_at)
    client.force_login(maintainer)

    with CaptureQueriesContext(connection) as captured:
        columns = client.get("/issues/board/?q=flux").context["columns"]

    assert [len(column["cards"]) for column in columns] == [1, 1, 1, 1]
    assert all(column["more"] for column in columns)
    reads = _issue_reads(captured)
    assert len(reads) == 1 and '"title_vector" <=>' in reads[0]


@pytest.mark.django_db
def test_a_board_looks_only_in_the_statuses_its_filter_keeps(client, maintainer, issues):
    client.force_login(maintainer)

    with CaptureQueriesContext(connection) as captured:
        columns = client.get("/issues/board/?q=flux&status=OPEN").context["columns"]

    assert [len(column["cards"]) for column in columns] == [7, 0, 0, 0]
    reads = _issue_reads(captured)  # the title matches, then every match: Open alone
    assert len(reads) == 2 and not any("UNION" in read for read in reads)


@pytest.mark.parametrize(
    ("words", "ordering", "number", "first"),
    [
        ("flux", "", None, True),
        ("  Flux ", "", None, True),
        ("naïve", "", None, True),
        ("v2", "", None, True),
        ("flux", "-updated_at", None, False),  # not ordered by rank
        ("flux capacitor", "", None, False),
        ("-flux", "", None, False),
        ('"flux"', "", None, False),
        ("flux-capacitor", "", None, False),
        ("42", "", 42, False),  # also the issue numbered 42
    ],
)
def test_titles_first_is_for_one_word_ordered_by_rank(words, ordering, number, first):
    assert queries.titles_first(Narrowing(words=words, number=number), ordering) is first


@pytest.mark.django_db
def test_the_title_read_finds_nothing_for_several_words(reporter):
    """PostgreSQL's own check that the words are one word: the rank of a title
    match only dominates for one, so several words must not be ranked there."""
    IssueFactory(reporter=reporter, title="Flux capacitor", description="")

    def found(words: str, in_titles: bool) -> int:
        return queries.narrowed(
            Issue.objects.all(), Narrowing(words=words), in_titles=in_titles
        ).count()

    assert found("flux", in_titles=True) == 1
    assert found("flux capacitor", in_titles=False) == 1
    assert found("flux capacitor", in_titles=True) == 0

"""List counts are exact up to LIST_COUNT_CAP; beyond it `count` is the cap
with `count_exact` false, and `next` still walks the whole list."""

import pytest

from issues import services
from issues.models import Issue, Status
from issues.tests.factories import LabelFactory
from issues.views import lists


@pytest.fixture
def seven(reporter, settings):
    settings.LIST_COUNT_CAP = 4
    Issue.objects.bulk_create(
        Issue(title=f"Crash {n}", reporter=reporter, number=70 + n) for n in range(7)
    )


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.mark.django_db
def test_a_list_longer_than_the_cap_says_its_count_is_not_exact(maintainer_api, seven):
    body = page(maintainer_api, "/api/issues/?limit=2&ordering=number")

    assert body["count"] == 4
    assert body["count_exact"] is False
    assert [row["number"] for row in body["results"]] == [70, 71]


@pytest.mark.django_db
def test_next_links_walk_past_the_cap_to_the_end(maintainer_api, seven):
    url, seen, last = "/api/issues/?limit=2&ordering=number", [], None
    while url:
        last = page(maintainer_api, url)
        seen += [row["number"] for row in last["results"]]
        url = last["next"]

    assert seen == list(range(70, 77))
    # The last page saw the end: its count is exact.
    assert (last["count"], last["count_exact"]) == (7, True)
    assert "offset=4" in last["previous"]


@pytest.mark.django_db
def test_a_list_within_the_cap_is_counted_exactly(maintainer_api, seven):
    Issue.objects.filter(number__gte=74).update(status=Status.DONE, resolved_at="2025-01-01T00:00Z")
    body = page(maintainer_api, "/api/issues/?limit=2&status=OPEN")
    assert (body["count"], body["count_exact"], len(body["results"])) == (4, True, 2)
    assert body["next"] is not None


@pytest.mark.django_db
def test_filters_and_search_are_counted_too(maintainer_api, seven, maintainer, settings):
    settings.SEARCH_COUNT_CAP = 5
    label = LabelFactory(name="bug")
    for issue in Issue.objects.filter(number__in=[70, 72]):
        services.replace_labels(actor=maintainer, issue=issue, labels=[label.name])

    assert page(maintainer_api, "/api/issues/?label=bug&limit=1")["count"] == 2
    searched = page(maintainer_api, "/api/issues/?q=crash&limit=1")
    assert (searched["count"], searched["count_exact"]) == (5, False)
    assert page(maintainer_api, "/api/issues/?q=nothing-like-it")["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("ordering=number", (4, False)),  # LIST_COUNT_CAP
        ("q=crash", (6, False)),  # SEARCH_COUNT_CAP, words alone
        ("q=crash&ordering=-number", (6, False)),  # and in another order
        ("q=crash&status=OPEN", (5, False)),  # FILTERED_SEARCH_COUNT_CAP: narrowed
        ("q=crash&severity=MEDIUM", (5, False)),
        ("q=crash&status=OPEN&ordering=-number", (5, False)),
        ("status=OPEN", (4, False)),  # no search: LIST_COUNT_CAP
    ],
)
def test_a_search_is_counted_up_to_its_own_cap(maintainer_api, seven, settings, query, count):
    settings.SEARCH_COUNT_CAP = 6
    settings.FILTERED_SEARCH_COUNT_CAP = 5

    body = page(maintainer_api, f"/api/issues/?{query}&limit=2")

    assert (body["count"], body["count_exact"]) == count
    assert body["next"] is not None


@pytest.mark.django_db
def test_a_search_within_its_cap_is_counted_exactly(maintainer_api, seven, settings):
    settings.SEARCH_COUNT_CAP = 7
    settings.FILTERED_SEARCH_COUNT_CAP = 7

    plain = page(maintainer_api, "/api/issues/?q=crash&limit=2")
    narrowed = page(maintainer_api, "/api/issues/?q=crash&status=OPEN&limit=2")

    assert (plain["count"], plain["count_exact"]) == (7, True)
    assert (narrowed["count"], narrowed["count_exact"]) == (7, True)


@pytest.mark.django_db
def test_a_reporters_search_is_counted_as_a_narrowed_one(reporter_api, seven, settings):
    """A reporter's search is narrowed by what they may see (the seven are
    theirs), so it is counted issue by issue as any narrowed search is."""
    settings.SEARCH_COUNT_CAP = 6
    settings.FILTERED_SEARCH_COUNT_CAP = 5

    body = page(reporter_api, "/api/issues/?q=crash&limit=2")

    assert (body["count"], body["count_exact"]) == (5, False)


@pytest.mark.django_db
def test_the_html_list_says_a_search_has_more_than_its_cap(
    client, maintainer, seven, settings, monkeypatch
):
    settings.SEARCH_COUNT_CAP = 3
    monkeypatch.setattr(lists, "PAGE_SIZE", 2)
    client.force_login(maintainer)

    response = client.get("/issues/?q=crash")

    assert str(response.context["page"].count) == "3+"
    assert "3+" in response.content.decode()


@pytest.mark.django_db
def test_the_board_counts_a_search_up_to_its_cap_and_a_filter_up_to_the_lists(
    client, maintainer, seven, settings
):
    """Each column counts the search within its status: a narrowed search."""
    settings.SEARCH_COUNT_CAP = 5
    settings.FILTERED_SEARCH_COUNT_CAP = 3
    client.force_login(maintainer)

    searched = client.get("/issues/board/?q=crash").context["columns"]
    filtered = client.get("/issues/board/?severity=MEDIUM").context["columns"]

    assert str(searched[0]["count"]) == "3+"  # all seven are OPEN
    assert str(filtered[0]["count"]) == "4+"  # LIST_COUNT_CAP
    assert [str(column["count"]) for column in searched[1:]] == ["0"] * (len(searched) - 1)


@pytest.mark.django_db
def test_a_page_past_the_end_is_empty_and_points_back(maintainer_api, seven):
    body = page(maintainer_api, "/api/issues/?limit=2&offset=50")

    assert body["results"] == []
    assert body["next"] is None
    assert body["previous"] is not None


@pytest.mark.django_db
def test_the_schema_documents_count_exact(maintainer_api):
    schema = maintainer_api.get("/api/schema/?format=json").json()
    shape = schema["components"]["schemas"]["PaginatedIssueList"]

    assert shape["properties"]["count_exact"]["type"] == "boolean"
    assert "count_exact" in shape["required"]
    assert "cap" in shape["properties"]["count"]["description"]

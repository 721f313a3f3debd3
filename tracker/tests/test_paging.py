"""Capped counts and pages that never need the exact total (tracker.paging),
with a cap of 5 so that a handful of rows crosses it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issues.models import Issue, Label
from tracker import paging


@pytest.fixture
def rows(reporter):
    """Issues numbered 1..12; the list is ordered by number."""
    Issue.objects.bulk_create(
        Issue(title=f"Issue {n}", reporter=reporter, number=n) for n in range(1, 13)
    )
    return Issue.objects.order_by("number")


def numbers(window) -> list[int]:
    return [issue.number for issue in window]


@pytest.mark.django_db
def test_a_count_is_exact_up_to_the_cap_and_more_than_the_cap_beyond(rows):
    assert paging.capped_count(rows.filter(number__lte=5), cap=5) == paging.Count(5, True)
    assert paging.capped_count(rows.filter(number__lte=6), cap=5) == paging.Count(5, False)
    assert paging.capped_count(rows.none(), cap=5) == paging.Count(0, True)
    assert paging.capped_count([1, 2, 3], cap=2) == paging.Count(3, True)  # a list is just len()


def test_a_count_reads_as_people_write_it():
    assert str(paging.Count(1234, True)) == "1,234"
    assert str(paging.Count(10_000, False)) == "10,000+"


@pytest.mark.django_db
def test_the_counting_query_stops_at_the_cap(rows):
    with CaptureQueriesContext(connection) as captured:
        paging.capped_count(rows, cap=5)

    (query,) = captured.captured_queries
    assert "LIMIT 6" in query["sql"]
    assert "ORDER BY" not in query["sql"]


@pytest.mark.django_db
def test_a_short_first_page_is_counted_without_a_count_query(rows):
    with CaptureQueriesContext(connection) as captured:
        window, has_next, count = paging.page_slice(rows.filter(number__lte=3), 0, 5, cap=5)

    assert numbers(window) == [1, 2, 3]
    assert not has_next
    assert count == paging.Count(3, True)
    assert len(captured) == 1


@pytest.mark.django_db
def test_pages_go_on_past_the_cap(rows):
    first = paging.page_slice(rows, 0, 4, cap=5)
    second = paging.page_slice(rows, 4, 4, cap=5)
    last = paging.page_slice(rows, 8, 4, cap=5)

    assert (numbers(first[0]), first[1], first[2]) == ([1, 2, 3, 4], True, paging.Count(5, False))
    assert (numbers(second[0]), second[1], second[2]) == (
        [5, 6, 7, 8],
        True,
        paging.Count(5, False),
    )
    # The last page sees the end: its count is exact again.
    assert (numbers(last[0]), last[1], last[2]) == ([9, 10, 11, 12], False, paging.Count(12, True))


@pytest.mark.django_db
def test_a_page_past_the_end_is_empty_with_the_capped_count(rows):
    window, has_next, count = paging.page_slice(rows, 40, 4, cap=5)

    assert (window, has_next, count) == ([], False, paging.Count(5, False))


@pytest.mark.django_db
def test_an_offset_past_a_bigint_is_past_the_end(rows):
    """PostgreSQL's OFFSET is a bigint; a larger one was an error there."""
    window, has_next, count = paging.page_slice(rows, 10**20, 4, cap=5)

    assert (window, has_next, count) == ([], False, paging.Count(5, False))
    assert paging.get_page(rows, "9" * 20, 5, cap=5).number == 3


@pytest.mark.django_db
def test_get_page_falls_back_to_the_first_or_the_last_page(rows):
    assert paging.get_page(rows, "nonsense", 5, cap=5).number == 1
    assert paging.get_page(rows, "-3", 5, cap=5).number == 1
    last = paging.get_page(rows, 99, 5, cap=5)
    assert (last.number, numbers(last), last.has_next) == (3, [11, 12], False)
    assert last.count == paging.Count(12, True)
    assert last.num_pages == 3


@pytest.mark.django_db
def test_a_page_beyond_the_cap_does_not_know_the_number_of_pages(rows):
    page = paging.get_page(rows, 2, 3, cap=5)

    assert numbers(page) == [4, 5, 6]
    assert page.count == paging.Count(5, False)
    assert page.num_pages is None
    assert page.has_previous() and page.has_next and page.has_other_pages()
    assert (page.previous_page_number(), page.next_page_number()) == (1, 3)


@pytest.mark.django_db
def test_several_capped_counts_come_in_one_query(rows):
    with CaptureQueriesContext(connection) as captured:
        counts = paging.capped_counts(
            {
                "low": rows.filter(number__lte=2),
                "high": rows.filter(number__gt=2),
                "none": rows.filter(number__gt=100),
            },
            cap=5,
        )

    assert counts == {
        "low": paging.Count(2, True),
        "high": paging.Count(5, False),
        "none": paging.Count(0, True),
    }
    assert len(captured) == 1
    assert paging.capped_counts({}) == {}


@pytest.mark.django_db
def test_an_empty_queryset_counts_0_without_sql(rows):
    with CaptureQueriesContext(connection) as captured:
        nothing = paging.capped_counts({"a": rows.none(), "b": rows.none()}, cap=5)
        mixed = paging.capped_counts({"a": rows.none(), "b": rows.filter(number__lte=2)}, cap=5)

    assert nothing == {"a": paging.Count(0, True), "b": paging.Count(0, True)}
    assert mixed == {"a": paging.Count(0, True), "b": paging.Count(2, True)}
    assert len(captured) == 1


@pytest.mark.django_db
def test_a_page_is_read_by_its_ids_without_repeating_the_filter(rows):
    """The filter finds the page's ids; the rows are then read by id alone."""
    with CaptureQueriesContext(connection) as captured:
        window, _, _ = paging.page_slice(rows.filter(title__startswith="Issue 1"), 0, 2, cap=5)

    assert numbers(window) == [1, 10]
    sql = captured.captured_queries[0]["sql"]
    assert sql.count("LIKE") == 1  # the filter, inside the ids' subquery only
    assert sql.index("LIKE") > sql.index("IN (SELECT")


@pytest.mark.django_db
def test_a_filter_across_a_to_many_join_keeps_its_where_so_no_row_comes_twice(rows):
    bug, ui = Label.objects.create(name="bug"), Label.objects.create(name="ui")
    for issue in rows.filter(number__lte=3):
        issue.labels.add(bug, ui)

    window, has_next, _ = paging.page_slice(rows.filter(labels__name="bug"), 0, 5, cap=5)

    assert numbers(window) == [1, 2, 3]  # once each, not once per label
    assert not has_next


def test_a_listing_is_read_and_counted_by_its_own_functions(rows):
    asked = []

    def counter(cap):
        asked.append(cap)
        return min(rows.count(), cap + 1)

    listing = paging.Listing(
        read=lambda offset, limit: list(rows[offset : offset + limit]), count=counter
    )

    assert paging.capped_count(listing, cap=5) == paging.Count(5, False)
    assert paging.capped_count(listing, cap=20) == paging.Count(12, True)
    last = paging.get_page(listing, 99, 5, cap=5)  # past the end: counted exactly
    assert (last.number, numbers(last)) == (3, [11, 12])
    assert asked[:2] == [5, 20] and max(asked) > 12

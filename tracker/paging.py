"""Counting and paging long lists without counting a million rows.

An exact `count(*)` of a filter that matches most of a million issues reads
most of the table (70 ms for 850,000 closed issues), on every page view. Large
trackers show "10,000+" instead, and so do we: a count is exact up to a cap
(settings.LIST_COUNT_CAP), and beyond it we only know (and say) that there are
more. The count query itself stops at cap + 1 rows (`SELECT count(*) FROM (... LIMIT
10001)`), and is skipped altogether when the page itself shows that the list is
short (a first page that is not full) or long (a page past the cap).

Whether there is a next page never depends on the count: each page reads one row
more than it shows, so "next" keeps working past the cap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet, Subquery
from django.db.models.sql.where import WhereNode


def count_cap() -> int:
    """settings.LIST_COUNT_CAP (environment LIST_COUNT_CAP, default 10,000)."""
    return settings.LIST_COUNT_CAP


@dataclass(frozen=True)
class Count:
    """How many rows a list has: exactly `value` when `exact`, else more than `value`."""

    value: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"{self.value:,}+"


@dataclass(frozen=True)
class Listing:
    """A list read by means of its own rather than as a queryset: `read(offset,
    limit)` gives those rows, `count(cap)` how many there are, counted no
    further than cap + 1. E.g. the issue lists, read and counted through SQL
    compiled once per shape of their filter (issues.filters.IssueFilter.listing),
    and counted from rows cheaper to count than the ones they show."""

    read: Callable[[int, int], list]
    count: Callable[[int], int]
    cap: int | None = None  # its count's own cap, when not count_cap()


def capped_count(rows, cap: int | None = None) -> Count:
    """The number of rows of a queryset, Listing (or list), counted up to `cap`
    only (by default the Listing's cap, else count_cap())."""
    cap = _cap(rows) if cap is None else cap
    if isinstance(rows, Listing):
        found = rows.count(cap)
    elif isinstance(rows, QuerySet):
        found = rows.order_by().values("pk")[: cap + 1].count()
    else:
        return Count(len(rows), True)
    return Count(found, True) if found <= cap else Count(cap, False)


def capped_counts(querysets: Mapping[str, QuerySet], cap: int | None = None) -> dict[str, Count]:
    """Several capped counts in one SQL query (one scalar subquery each), e.g.
    the columns of the board. An empty queryset (`.none()`, which has no SQL)
    counts 0 without one."""
    cap = count_cap() if cap is None else cap
    counted = {key: rows for key, rows in querysets.items() if not rows.query.is_empty()}
    found = dict.fromkeys(querysets, 0)
    if counted:
        parts, params = [], []
        for queryset in counted.values():
            sql, part_params = queryset.order_by().values("pk")[: cap + 1].query.sql_with_params()
            # `sql` is the ORM's own compiled SQL; the values travel as parameters.
            parts.append(f"(SELECT count(*) FROM ({sql}) AS capped)")  # noqa: S608
            params.extend(part_params)
        db = next(iter(counted.values())).db
        with connections[db].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            found.update(zip(counted, cursor.fetchone(), strict=True))
    return {key: Count(n, True) if n <= cap else Count(cap, False) for key, n in found.items()}


def _cap(rows) -> int:
    if isinstance(rows, Listing) and rows.cap is not None:
        return rows.cap
    return count_cap()


def page_slice(rows, offset: int, limit: int, cap: int | None = None) -> tuple[list, bool, Count]:
    """Rows [offset, offset + limit) of a queryset, Listing or list, whether more
    follow, and the list's count.

    One query for the rows (one row more than asked, to know whether a next page
    exists) and at most one capped count, only when the page cannot tell."""
    cap = _cap(rows) if cap is None else cap
    offset = min(offset, MAX_OFFSET)
    if isinstance(rows, Listing):
        window = rows.read(offset, limit + 1)
    else:
        window = list(window_query(rows, offset, limit + 1))
    has_next = len(window) > limit
    window = window[:limit]
    seen = offset + len(window)
    if not window and offset > 0:
        count = capped_count(rows, cap)  # past the end: how far is the end?
    elif not has_next:
        count = Count(seen, True)  # the last page: everything is in sight
    elif seen >= cap:
        count = Count(cap, False)  # past the cap, more to come: no need to count
    else:
        count = capped_count(rows, cap)
    return window, has_next, count


def window_query(rows, offset: int, limit: int):
    """rows[offset:offset + limit]; for a queryset, found first by id alone and
    only then read whole ("deferred join"): walking the list's index to the page
    then needs only the index (an index-only scan with the id included), and
    only the rows shown are fetched from the table with their joins.

    When the list is ordered by an annotation first (the search's distance,
    `vector <=> query`), the ids are found by that alone: an index can
    hand out rows by such an operator, but not by it followed by more keys.
    The page is then sorted by every key, so ties are ordered within a page."""
    if not isinstance(rows, QuerySet) or rows.query.is_empty():
        return rows[offset : offset + limit]
    ids = rows.values("pk")
    ordering = rows.query.order_by
    if ordering and isinstance(ordering[0], str) and ordering[0] in rows.query.annotations:
        ids = ids.order_by(ordering[0])
    return _unfiltered(rows).filter(pk__in=Subquery(ids[offset : offset + limit]))


def _unfiltered(rows: QuerySet) -> QuerySet:
    """`rows` without their WHERE, to read a page's rows by their ids: the ids
    passed it already. Repeated around them, it was planned and run again for
    nothing: the page of open bugs took PostgreSQL 4.2 ms with it and 2.9 ms
    without (1,000,000 issues, `EXPLAIN ANALYZE`, 2026-12-06).

    Kept when a join could give a row more than once (across a to-many
    relation), since the WHERE is then what keeps only the matching rows of
    the join; the lists filter such relations by EXISTS, not by a join."""
    for join in rows.query.alias_map.values():
        field = getattr(join, "join_field", None)
        if field is not None and (field.one_to_many or field.many_to_many):
            return rows
    shown = rows.all()
    shown.query.where = WhereNode()
    return shown


@dataclass
class Page:
    """One page of the HTML lists, with what the template needs to link pages
    (a Django Page look-alike that never needs the exact total)."""

    object_list: Sequence
    number: int
    per_page: int
    has_next: bool
    count: Count
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def num_pages(self) -> int | None:
        """The number of pages, when the count is exact."""
        if not self.count.exact:
            return None
        return max(1, math.ceil(self.count.value / self.per_page))

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def get_page(rows, number, per_page: int, cap: int | None = None) -> Page:
    """Like Paginator.get_page: a page number that is not a positive whole number
    gives the first page; one past the end gives the last page (found without
    counting everything when the list is long). `rows`: as in page_slice."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = 1
    number = max(1, number)
    window, has_next, count = page_slice(rows, (number - 1) * per_page, per_page, cap)
    if not window and number > 1:
        # Past the end (a stale link): show the last page. Rare, so an exact count is fine.
        total = count.value if count.exact else _exact_count(rows)
        number = max(1, math.ceil(total / per_page))
        window, has_next, count = page_slice(rows, (number - 1) * per_page, per_page, cap)
    return Page(window, number, per_page, has_next, count)


def _exact_count(rows) -> int:
    if isinstance(rows, Listing):
        return rows.count(UNCAPPED)
    return rows.count() if isinstance(rows, QuerySet) else len(rows)


UNCAPPED = 2**62  # a cap no list reaches, for a Listing's exact count
# PostgreSQL's OFFSET is a bigint: a larger one (a hand-edited link) is an error
# there, and past every list's end here, so it is read as this one.
MAX_OFFSET = 2**62

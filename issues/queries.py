"""Every read that filters or aggregates issues starts here, so that permission
scoping cannot be forgotten, and the joins a page needs are made once."""

import re
import uuid
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OrderBy,
    OuterRef,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from accounts import roles
from accounts.models import Role, User
from issues import mentions
from issues.models import (
    Comment,
    EventKind,
    Issue,
    IssueEvent,
    IssueLabel,
    IssueSearch,
    Label,
)
from tracker import paging
from tracker.db import Prepared, one

SEARCH_CONFIG = "english"
NUMBER_QUERY = re.compile(r"#?(\d{1,18})")
# A search for one word (letters and digits): titles_first.
ONE_WORD = re.compile(r"[^\W_]+")


def visible_issues(user) -> QuerySet[Issue]:
    """The issues `user` may see: all of them for maintainers and admins, the
    ones they reported for reporters, none for anonymous or inactive users."""
    return _scoped(_scope(user), user.pk)


# What a user may see of the issues, as visible_issues reads it.
ALL, OWN, NONE = "all", "own", "none"


def _scope(user) -> str:
    if roles.sees_all_issues(user):
        return ALL
    if roles.can_create_issue(user):
        return OWN
    return NONE


def _scoped(scope: str, user_id) -> QuerySet[Issue]:
    if scope == ALL:
        return Issue.objects.all()
    if scope == OWN:
        return Issue.objects.filter(reporter_id=user_id)
    return Issue.objects.none()


class _VisibleRead:
    """A read of the issues a user may see, compiled once for each scope
    (tracker.db.Prepared): `build(issues, *args, **fixed)` narrows and shapes
    the visible issues. Called as Prepared is, with the user first."""

    def __init__(self, build, *, server_prepared: bool = False):
        self._reads = {
            ALL: Prepared(
                lambda *args, **fixed: build(_scoped(ALL, None), *args, **fixed),
                server_prepared=server_prepared,
            ),
            OWN: Prepared(
                lambda user_id, *args, **fixed: build(_scoped(OWN, user_id), *args, **fixed),
                server_prepared=server_prepared,
            ),
        }

    def __call__(self, user, *args, **fixed) -> list[Issue]:
        read, args = self._read(user, args)
        return read(*args, **fixed) if read else []

    def one(self, user, *args, **fixed) -> Issue | None:
        read, args = self._read(user, args)
        return read.one(*args, **fixed) if read else None

    def count(self, user, *args, cap: int, **fixed) -> int:
        read, args = self._read(user, args)
        return read.count(*args, cap=cap, **fixed) if read else 0

    def _read(self, user, args: tuple) -> tuple[Prepared | None, tuple]:
        scope = _scope(user)
        if scope == NONE:
            return None, ()
        return self._reads[scope], ((user.pk, *args) if scope == OWN else args)


def issue_list(user) -> QuerySet[Issue]:
    """Visible issues with what a list row shows, in a constant number of queries."""
    return visible_issues(user).select_related("reporter", "assignee").prefetch_related("labels")


def issue_detail(user, **lookup) -> Issue | None:
    return one(issue_list(user).filter(**lookup))


def listed_issues(user) -> QuerySet[Issue]:
    """issue_list for the pages that read every label anyway (the list and the
    board, for their label filter): each issue's label ids instead of a prefetch
    of its labels, which `give_labels` turns into its labels."""
    return _listed(visible_issues(user))


def _listed(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    return issues.select_related("reporter", "assignee").annotate(label_ids=_label_ids())


def give_labels(issues, all_labels: list[Label]) -> None:
    """Gives each issue (read with `label_ids`) its labels, taken from
    `all_labels` (in their order) instead of read again, as `shown_labels`,
    which `labels_of` and the badges read. A plain list: as a prefetch of
    `issue.labels` it built a related manager and its filtered queryset per
    issue, more than everything else the list did with its labels."""
    ranked = {label.pk: (rank, label) for rank, label in enumerate(all_labels)}
    for issue in issues:
        found = sorted(ranked[pk] for pk in issue.label_ids if pk in ranked)
        issue.shown_labels = [label for _, label in found]


def labels_of(issue: Issue) -> list[Label]:
    """The issue's labels: those give_labels gave it, or else `issue.labels`."""
    labels = getattr(issue, "shown_labels", None)
    return list(issue.labels.all()) if labels is None else labels


def issue_page(user, number: int) -> tuple[Issue | None, list[Label]]:
    """The issue page's issue and every label (for the panel's picker), in two
    queries: the issue comes with its people, whether `user` watches it
    (`user_watching`), whether it has attachments (`has_attachments`: most have
    none, and then they need no query) and its label ids, and its labels are
    taken from the list of all labels instead of being read again."""
    all_labels = every_label()
    issue = _issue_page.one(user, user.pk, number)
    if issue is not None:
        give_labels([issue], all_labels)
    return issue, all_labels


def _label_ids() -> RawSQL:
    """An issue's label ids as an array (as SQL: see _page_extras)."""
    return RawSQL(
        'ARRAY(SELECT label_id FROM issues_issue_labels WHERE issue_id = "issues_issue".id)',
        (),
        output_field=ArrayField(BigIntegerField()),
    )


_issue_page = _VisibleRead(
    lambda issues, user_id, number: (
        _listed(issues).annotate(**_page_extras(user_id)).filter(number=number)
    ),
    server_prepared=True,
)


def _page_extras(user_id: int) -> dict[str, RawSQL]:
    """The issue page's two flags. This and the label arrays are written as SQL:
    as ORM subqueries (Exists, ArraySubquery) the issue page's three cost a
    millisecond more to build and compile on every page than the database takes
    to run them (1,000,000 issues, 2026-12-05)."""
    return {
        "user_watching": RawSQL(
            "EXISTS(SELECT 1 FROM issues_watch"
            ' WHERE issue_id = "issues_issue".id AND user_id = %s)',
            (user_id,),
            output_field=BooleanField(),
        ),
        "has_attachments": RawSQL(
            'EXISTS(SELECT 1 FROM issues_attachment WHERE issue_id = "issues_issue".id)',
            (),
            output_field=BooleanField(),
        ),
    }


def label_names() -> RawSQL:
    """An issue's label names as an array, read with the issue itself instead of
    by a prefetch. Unsorted: whoever shows or compares them sorts them
    (validation.sorted_names), the same whatever the database's collation. As
    SQL: see _page_extras."""
    return RawSQL(
        "ARRAY(SELECT label.name FROM issues_issue_labels link"
        " JOIN issues_label label ON label.id = link.label_id"
        ' WHERE link.issue_id = "issues_issue".id)',
        (),
        output_field=ArrayField(CharField()),
    )


# What the API does not show of the people on an issue (it shows their id and
# name): not read, so a page of 50 parses some 200 timestamps fewer (about 1 ms).
UNSHOWN_USER_FIELDS = (
    "password",
    "last_login",
    "date_joined",
    "role",
    "is_active",
    "email_notifications",
)


def api_issue_list(user) -> QuerySet[Issue]:
    """Visible issues as the API renders them: the people joined, the label
    names (all the API shows of labels) gathered in the same query as an array,
    so one issue is one query and a page is one query plus its count."""
    return _as_api_renders(visible_issues(user))


def _as_api_renders(issues: QuerySet[Issue]) -> QuerySet[Issue]:
    return (
        issues.select_related("reporter", "assignee")
        .defer(*(f"{who}__{f}" for who in ("reporter", "assignee") for f in UNSHOWN_USER_FIELDS))
        .annotate(label_names=label_names())
    )


def api_issue(user, **lookup) -> Issue | None:
    return one(api_issue_list(user).filter(**lookup))


_api_issue_by_id = _VisibleRead(
    lambda issues, issue_id: _as_api_renders(issues).filter(pk=issue_id), server_prepared=True
)


def api_issue_by_id(user, issue_id: uuid.UUID) -> Issue | None:
    """api_issue(user, pk=issue_id): the API's read of one issue."""
    return _api_issue_by_id.one(user, issue_id)


class SearchDistance(Func):
    """`vector <=> query`: the RUM index's distance (the inverse of a
    ts_rank-like score that weighs title (A) above description (B) matches).
    Ordering by it, ascending, reads the best matches straight from the index."""

    arg_joiner = " <=> "
    template = "(%(expressions)s)"
    output_field = FloatField()


def words_query(text: str) -> SearchQuery:
    """`text` as the search reads it: web-search syntax, English stemming."""
    return SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)


def search(queryset: QuerySet[Issue], text: str) -> QuerySet[Issue]:
    """Full-text match over title (weight A) and description (weight B), ranked
    (`search_distance`, smaller is better); "#42" or "42" also finds issue 42."""
    text = text.strip()
    return _search(queryset, text, searched_number(text)) if text else queryset


def searched_number(text: str) -> int | None:
    """The issue number a search also looks for ("#42" or "42"), or None."""
    number = NUMBER_QUERY.fullmatch(text.strip())
    return int(number.group(1)) if number else None


def titles_first(narrowing: "Narrowing", ordering: str = "") -> bool:
    """Whether a page of this ranked search can be looked for among the issues
    with the word in their title first (`narrowed(..., in_titles=True)`): a
    search for one word, ordered by rank.

    For one word, every issue with it in its title ranks above every issue
    with it in the description only (the RUM index's distance is at most
    1.645 with a title occurrence, at least 2.5 without), and the title's
    words keep all their positions (IssueSearch.title_vector), so a page
    found among the title matches is the same page as among all matches. A
    common word's title matches are a fraction of its matches: "error" at
    1,000,000 issues has 21,000 of 98,000, ranked in 6 ms against 30 ms.
    When they do not fill the page, the page is read among all matches."""
    words = narrowing.words
    return (
        not ordering
        and words is not None
        and narrowing.number is None
        and ONE_WORD.fullmatch(words.strip()) is not None
    )


def _search(
    queryset: QuerySet[Issue], text: str, number: int | None, in_titles: bool = False
) -> QuerySet[Issue]:
    query = words_query(text)
    if in_titles:
        # Nothing unless the words are one word (titles_first): the rank of a
        # title match only dominates for one. Checked by PostgreSQL too, which
        # reads the query as the search does, so a text the Python check let
        # through as one word but that is several finds nothing here, and the
        # page is then read among all matches.
        one_word = Exact(Func(query, function="numnode", output_field=IntegerField()), 1)
        return queryset.filter(one_word, search__title_vector=query).annotate(
            search_distance=SearchDistance(F("search__title_vector"), query)
        )
    if number is not None:
        # Words or the number: gathered as one list of ids (each side by its own
        # index), since an OR across the issue and its search row can use neither.
        matching = RawSQL(
            "SELECT issue_id FROM issues_issuesearch"
            " WHERE vector @@ websearch_to_tsquery(%s::regconfig, %s)"
            " UNION SELECT id FROM issues_issue WHERE number = %s",
            [SEARCH_CONFIG, text, number],
        )
        queryset = queryset.filter(pk__in=matching)
    else:
        queryset = queryset.filter(search__vector=query)
    return queryset.annotate(search_distance=SearchDistance(F("search__vector"), query))


class Narrowing(NamedTuple):
    """What the issue lists' filters ask for (issues.filters.IssueFilter), as
    `narrowed` takes it: None for what is not asked for."""

    statuses: list[str] | None = None
    severities: list[int] | None = None
    assignee: int | None = None
    reporter: int | None = None
    label_ids: list[int] | None = None  # issues carrying all of them
    words: str | None = None  # searched, ranked
    number: int | None = None  # the issue number `words` also name (searched_number)
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


def narrowed(
    issues: QuerySet[Issue],
    narrowing: Narrowing,
    *,
    unassigned: bool = False,
    ordering: str = "",
    in_titles: bool = False,
) -> QuerySet[Issue]:
    """`issues` narrowed as the lists' filters ask, and ordered: by `ordering`
    (a field name, "-" for descending), else by rank when searching, else by
    the latest update; with `in_titles`, only the issues with the searched
    word in their title (see titles_first). Branches only on what is None and
    on `unassigned`, `ordering` and `in_titles`, never on a value, so that a
    page of it can be compiled once per shape (`_pages`)."""
    n = narrowing
    if n.statuses:
        issues = issues.filter(status__in=n.statuses)
    if n.severities:
        issues = issues.filter(severity__in=n.severities)
    if unassigned:
        issues = issues.filter(assignee__isnull=True)
    elif n.assignee is not None:
        issues = issues.filter(assignee=n.assignee)
    if n.reporter is not None:
        issues = issues.filter(reporter=n.reporter)
    issues = with_all_labels(issues, n.label_ids or [])
    if n.words is not None:
        issues = _search(issues, n.words, n.number, in_titles)
    for value, lookup in (
        (n.created_after, "created_at__gte"),
        (n.created_before, "created_at__lt"),
        (n.updated_after, "updated_at__gte"),
        (n.updated_before, "updated_at__lt"),
    ):
        if value is not None:
            issues = issues.filter(**{lookup: value})
    if ordering.lstrip("-") == "number":
        return issues.order_by(ordering)
    if ordering:
        # A unique tie-breaker keeps pages stable when many rows share a value.
        return issues.order_by(ordering, "-number" if ordering.startswith("-") else "number")
    if n.words is not None:
        return issues.order_by("search_distance", "-updated_at", "-number")
    return issues.order_by("-updated_at", "-number")


def _pages(shape) -> _VisibleRead:
    """Pages of the visible issues `narrowed`, with the columns `shape` gives
    them (`offset`, `limit`; without them, the rows to count), compiled once per
    visibility scope and shape of the narrowing: the filters combine in many
    ways, but a team uses a few, and building and compiling a page's queryset
    cost more than the database took to run it (3.5 ms of a closed bugs'
    page's 11.8, 2026-12-06). Called with the Narrowing's values."""

    def build(issues, *values, offset: int | None = None, limit: int | None = None, **fixed):
        rows = narrowed(shape(issues), Narrowing(*values), **fixed)
        return rows if offset is None else paging.window_query(rows, offset, limit)

    return _VisibleRead(build)


api_pages = _pages(_as_api_renders)  # the API's list
listed_pages = _pages(_listed)  # the HTML list's (give_labels then gives the labels)


def page_of(
    pages: _VisibleRead, user, narrowing: Narrowing, *, offset: int, limit: int, **fixed
) -> list[Issue]:
    """Rows [offset, offset + limit) of the list `narrowing` asks for, read
    through `pages` (api_pages or listed_pages): a one-word search's page is
    looked for among the title matches first (titles_first), and among all
    matches only when those do not fill it."""
    if titles_first(narrowing, fixed.get("ordering", "")):
        rows = pages(user, *narrowing, offset=offset, limit=limit, in_titles=True, **fixed)
        if len(rows) == limit:
            return rows
    return pages(user, *narrowing, offset=offset, limit=limit, **fixed)


def first_in_each_status(
    issues: QuerySet[Issue], narrowing: Narrowing, limits: dict[str, int], **fixed
) -> dict[str, list[Issue]]:
    """The first `limits[status]` issues in each of these statuses of the list
    `narrowing` asks for (the board's columns), in the list's order, in one
    query: a UNION ALL of each status's first rows, found by id first
    (paging.window_query), then sorted here as the list sorts. Each row of a
    search's list is found in the search index's own order, which starts by
    ranking every match: a one-word search's statuses are first looked for among
    its title matches, as page_of does, and among all matches only for the
    statuses whose column those do not fill, in a second query. (Ranking the 98,000
    matches of "error" once per column took 70 ms, the 21,000 title matches
    10 ms; all four columns in a single ordered query, 2.4 s.)"""
    found: dict[str, list[Issue]] = {status: [] for status in limits}
    # A status the filter leaves out has nothing to look for.
    pending = [status for status in limits if status in (narrowing.statuses or limits)]
    if pending and titles_first(narrowing, fixed.get("ordering", "")):
        found.update(_first_of(issues, narrowing, limits, pending, in_titles=True, **fixed))
        pending = [status for status in pending if len(found[status]) < limits[status]]
    if pending:
        found.update(_first_of(issues, narrowing, limits, pending, **fixed))
    return found


def _first_of(issues, narrowing, limits, statuses, **fixed) -> dict[str, list[Issue]]:
    listed = narrowed(issues, narrowing, **fixed)
    parts = [
        paging.window_query(listed.filter(status=status), 0, limits[status]).order_by()
        for status in statuses
    ]
    found: dict[str, list[Issue]] = {status: [] for status in statuses}
    for issue in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
        found[issue.status].append(issue)
    return {status: sorted_like(rows, listed.query.order_by) for status, rows in found.items()}


def label_ids(names: list[str], among: list[Label] | None = None) -> list[int] | None:
    """The ids of the labels named (case-insensitive), or None when one of the
    names is no label. Looked up first (one small query, or none when the
    caller has every label already: `among`) so that they reach PostgreSQL as
    constants: its statistics then tell a label on a quarter of the issues from
    one on a hundredth, and it picks the plan to match."""
    wanted = {name.strip().lower() for name in names if name.strip()}
    if not wanted:
        return []
    if among is None:
        ids = {label.pk for label in labels_named(sorted(wanted))}
    else:
        ids = {label.pk for label in among if label.name.lower() in wanted}
    return sorted(ids) if len(ids) == len(wanted) else None


# The labels of these lower-case names (label names are unique whatever their case).
labels_named = Prepared(
    lambda names: Label.objects.annotate(lname=Lower("name")).filter(lname__in=names),
    server_prepared=True,
)
# The user of this id, for a service that names one (as an assignee).
user_by_id = Prepared(lambda user_id: User.objects.filter(pk=user_id), server_prepared=True)


def search_matches(text: str) -> QuerySet[IssueSearch] | None:
    """The search words matching `text`, one row per issue, as many as the
    issues `search` finds among all of them (None for a number, which search
    also looks up as one): counted from the search index alone, without
    joining the issues."""
    text = text.strip()
    if not text or NUMBER_QUERY.fullmatch(text):
        return None
    return _words_matching(text)


def _words_matching(text: str) -> QuerySet[IssueSearch]:
    return IssueSearch.objects.filter(vector=words_query(text))


def with_all_labels(queryset: QuerySet[Issue], ids: list[int] | None) -> QuerySet[Issue]:
    """Issues carrying every label of `ids` (label_ids; None: an unknown label,
    which nothing carries).

    Each label is one EXISTS (a semi-join, served by the (label, issue) and
    (issue, label) indexes): walking the list's index in order and probing each
    issue's labels stops after a page, where grouping every issue of a label
    would not."""
    if ids is None:
        return queryset.none()
    for label_id in ids:
        queryset = queryset.filter(
            Exists(IssueLabel.objects.filter(issue_id=OuterRef("pk"), label_id=label_id))
        )
    return queryset


def label_links(label_id: int, statuses: list[str]) -> QuerySet[IssueLabel]:
    """The links of one label to issues in `statuses` (all statuses when empty):
    one per issue, so as many as the issues with that label and status, and
    counted from the (label, status, issue) index alone (IssueLabel.status)."""
    links = IssueLabel.objects.filter(label_id=label_id)
    return links.filter(status__in=statuses) if statuses else links


# The two counts IssueFilter.counter makes without the issues, compiled once
# (`.count(..., cap=...)`): search_matches's and label_links's.
search_match_count = Prepared(_words_matching)
label_link_count = Prepared(label_links)


def sorted_like(rows: list, ordering) -> list:
    """`rows` sorted in Python as `ordering` (a queryset's order_by: field names,
    "-name", or F(...).desc()) sorts them in SQL; ties keep their order."""
    rows = list(rows)
    for key in reversed(ordering):
        if isinstance(key, OrderBy) and isinstance(key.expression, F):
            name, descending = key.expression.name, key.descending
        elif isinstance(key, str):
            name, descending = key.lstrip("-"), key.startswith("-")
        else:
            raise ValueError(f"Cannot sort by {key!r} in Python.")
        rows.sort(key=attrgetter(name), reverse=descending)
    return rows


def timeline(issue: Issue) -> QuerySet[IssueEvent]:
    return _events(issue.pk)


def _events(issue_id) -> QuerySet[IssueEvent]:
    return (
        IssueEvent.objects.filter(issue_id=issue_id)
        .select_related("actor")
        .order_by("created_at", "id")
    )


# The issue page's reads of fixed shape, compiled once (tracker.db.Prepared).
_events_shown = Prepared(
    lambda issue_id: _events(issue_id).exclude(kind=EventKind.COMMENT_ADDED), server_prepared=True
)
_comments = Prepared(
    lambda issue_id: (
        Comment.objects.filter(issue_id=issue_id)
        .select_related("author")
        .order_by("created_at", "id")
    ),
    server_prepared=True,
)


def threaded_comments(issue: Issue) -> list[Comment]:
    """All comments of an issue in reading order: each thread depth-first, oldest
    first at every level; each comment gets a `depth` attribute."""
    comments = _comments(issue.pk)
    children: dict[int | None, list[Comment]] = {}
    for comment in comments:
        children.setdefault(comment.parent_id, []).append(comment)
    ordered: list[Comment] = []
    stack = [(comment, 0) for comment in reversed(children.get(None, []))]
    while stack:
        comment, depth = stack.pop()
        comment.depth = depth
        ordered.append(comment)
        stack.extend((reply, depth + 1) for reply in reversed(children.get(comment.pk, [])))
    return ordered


def comment_depth(comment: Comment) -> int:
    """How deep `comment` sits in its thread: 0 for a thread's first comment.
    Below a reply, the thread's links are read at once (one query), not each
    comment above it in turn."""
    parent = comment.parent
    if parent is None:
        return 0
    if parent.parent_id is None:
        return 1
    parent_of = dict(
        Comment.objects.filter(issue_id=comment.issue_id).values_list("pk", "parent_id")
    )
    depth, above = 1, parent.parent_id
    while above is not None:
        depth, above = depth + 1, parent_of.get(above)
    return depth


def labels() -> QuerySet[Label]:
    return Label.objects.order_by("name")


# labels(), read and compiled once (tracker.db.Prepared): for the pages that
# show them all (pickers, filters).
every_label = Prepared(labels, server_prepared=True)


def timeline_entries(issue: Issue) -> list[dict]:
    """The issue page's timeline: events and comment threads in time order. A
    thread (a comment and its replies, depth-first) sits at its first comment's time;
    COMMENT_ADDED events are left out because the comments themselves are shown.
    The people the comments and the description mention are read here, together,
    so rendering each text asks nothing more (mentions remembers them for the
    request)."""
    entries = [
        {"type": "event", "at": event.created_at, "event": event}
        for event in _events_shown(issue.pk)
    ]
    comments = threaded_comments(issue)
    mentions.resolve_in([issue.description, *(comment.body for comment in comments)])
    thread: list[Comment] = []
    for comment in comments:
        if comment.depth == 0:
            thread = [comment]
            entries.append({"type": "thread", "at": comment.created_at, "comments": thread})
        else:
            thread.append(comment)
    return sorted(entries, key=lambda entry: entry["at"])


def assignable_users() -> QuerySet[User]:
    """People who may carry work (accounts.roles.can_be_assigned), for pickers."""
    return User.objects.filter(is_active=True, role__in=[Role.MAINTAINER, Role.ADMIN]).order_by(
        "display_name", "email"
    )


# assignable_users(), read with only what a picker shows of them and compiled
# once (tracker.db.Prepared).
assignable_people = Prepared(
    lambda: assignable_users().only("id", "display_name", "email"), server_prepared=True
)

"""The issue list's filters, shared by the API and the HTML list so both read
the same query string the same way (and reject the same bad values)."""

import copy

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts import roles
from issues import queries
from issues.models import Issue, Label, Severity, Status
from tracker import paging


class ListWidget(forms.TextInput):
    """`?status=OPEN&status=DONE` and `?status=OPEN,DONE` both mean two values."""

    def value_from_datadict(self, data, files, name):
        raw = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        values = []
        for item in raw:
            for value in (item or "").split(","):
                if value.strip() and value.strip() not in values:
                    values.append(value.strip())
        return values

    def format_value(self, value):
        return ",".join(value) if isinstance(value, list) else value


class ChoiceListField(forms.Field):
    widget = ListWidget

    def __init__(self, *, accepted: dict, **kwargs):
        self.accepted = accepted  # spelling in the query (upper case) -> stored value
        super().__init__(**kwargs)

    def clean(self, value):
        values = value or []
        bad = [v for v in values if v.upper() not in self.accepted]
        if bad:
            # The values as params, not in the message: django-filter formats the
            # message with them, and a "%" typed in the query must stay text.
            raise ValidationError(
                "Unknown value(s) %(bad)s; use %(accepted)s.",
                params={"bad": ", ".join(bad), "accepted": ", ".join(self.accepted)},
            )
        return [self.accepted[v.upper()] for v in values]


class TextListField(forms.Field):
    widget = ListWidget
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query.
    default_validators = [ProhibitNullCharactersValidator()]

    def clean(self, value):
        values = value or []
        for item in values:
            self.run_validators(item)
        return values


class PersonField(forms.CharField):
    """A user id, or `me`; with `allow_none`, also `none` for "nobody"."""

    def __init__(self, *, allow_none=False, **kwargs):
        self.allow_none = allow_none
        super().__init__(**kwargs)

    def clean(self, value):
        value = (super().clean(value) or "").strip().lower()
        if not value or value == "me" or (self.allow_none and value == "none"):
            return value
        if not (value.isascii() and value.isdigit()):  # "²".isdigit() too, but int() refuses it
            words = "a user id, 'me' or 'none'" if self.allow_none else "a user id or 'me'"
            raise ValidationError(f"Use {words}.")
        return int(value)


# The filters declare and check the query string (and describe it to the
# OpenAPI schema); IssueFilter.narrowing turns what they cleaned into
# queries.narrowed's arguments, which does the filtering.


@extend_schema_field(OpenApiTypes.STR)
class ChoiceListFilter(filters.Filter):
    field_class = ChoiceListField


@extend_schema_field(OpenApiTypes.STR)
class TextListFilter(filters.Filter):
    field_class = TextListField


@extend_schema_field(OpenApiTypes.STR)
class PersonFilter(filters.Filter):
    field_class = PersonField


ORDERINGS = ("number", "created_at", "updated_at", "severity")
# How a list is counted (IssueFilter._counting).
LINKS, WORDS, ROWS, NOTHING = "links", "words", "rows", "nothing"
# What a list may be filtered by and still be counted without the issues
# (IssueFilter.counted); any other filter set, and it is counted as it is.
COUNTED_ALONE = frozenset({"status", "label", "q", "ordering"})


class _CopiedShallow(dict):
    """Filters or form fields, copied for each instance one by one rather than
    deeply (IssueFilter.get_filters, IssueFilter.get_form_class)."""

    def __deepcopy__(self, memo):
        return _CopiedShallow({name: copy.copy(value) for name, value in self.items()})


class IssueFilter(filters.FilterSet):
    status = ChoiceListFilter(
        field_name="status",
        accepted={s: s for s in Status.values},
        help_text="one or more of OPEN, TRIAGED, IN_PROGRESS, DONE (comma-separated or repeated)",
    )
    severity = ChoiceListFilter(
        field_name="severity",
        accepted={s.name: s.value for s in Severity},
        help_text="one or more of LOW, MEDIUM, HIGH, CRITICAL (comma-separated or repeated)",
    )
    assignee = PersonFilter(field_name="assignee", allow_none=True)
    reporter = PersonFilter(field_name="reporter")
    label = TextListFilter(
        help_text="label names; issues carrying all of them (comma-separated or repeated)",
    )
    q = filters.CharFilter(max_length=500, help_text="words searched for, ranked; or #number")
    created_after = filters.DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.DateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = filters.DateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = filters.DateTimeFilter(field_name="updated_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(fields=ORDERINGS)

    class Meta:
        model = Issue
        fields: list[str] = []

    def __init__(self, *args, labels: list[Label] | None = None, **kwargs):
        """`labels`: every label, when the caller reads them anyway (the HTML
        lists, for their label filter): the label filter then finds the names
        among them instead of by a query of its own."""
        super().__init__(*args, **kwargs)
        self.labels = labels

    @classmethod
    def get_filters(cls):
        """django-filter deep-copies the class's filters for each instance, only
        to give each copy the instance as its `parent` (and the model): nothing
        in a filter changes while it filters, so a copy of each filter does.
        The API list of open bugs (a page of 50) took 21.0 M instructions in
        the web worker with the deep copy, 20.1 M without (callgrind, in
        process, 1,000,000 issues, 2026-12-07)."""
        return _CopiedShallow(super().get_filters())

    _form_class: type[forms.Form] | None = None

    def get_form_class(self):
        """The same form class for every list: django-filter builds the class
        and its eleven fields anew for each request (about 0.4 ms), although
        nothing in them depends on it. Each form gets its own copy of each
        field, but not of the field's widget, messages and validators, which
        Django's forms deep-copy in case a form changes them: this form only
        cleans the query string (the HTML list draws its filters itself), so
        nothing changes them. The API list of open bugs took 16.4 M
        instructions in the web worker with the deep copy, 15.75 M without
        (callgrind, in process, 1,000,000 issues, 2026-12-07)."""
        cls = type(self)
        if cls.__dict__.get("_form_class") is None:
            form_class = super().get_form_class()
            form_class.base_fields = _CopiedShallow(form_class.base_fields)
            cls._form_class = form_class
        return cls._form_class

    def narrowing(self) -> tuple[queries.Narrowing, dict] | None:
        """The filter as queries.narrowed takes it (the values, then the keyword
        arguments that shape its SQL), or None when no issue can match (a label
        that does not exist). Call is_valid() first."""
        if not hasattr(self, "_narrowing"):
            self._narrowing = self._narrow(self.form.cleaned_data)
        return self._narrowing

    def _narrow(self, data: dict) -> tuple[queries.Narrowing, dict] | None:
        label_ids = queries.label_ids(data.get("label") or [], among=self.labels)
        if label_ids is None:
            return None
        words = (data.get("q") or "").strip()
        assignee, reporter = (self._person(data.get(name)) for name in ("assignee", "reporter"))
        narrowing = queries.Narrowing(
            statuses=data.get("status") or None,
            severities=data.get("severity") or None,
            assignee=assignee if assignee != "none" else None,
            reporter=reporter,
            label_ids=label_ids or None,
            words=words or None,
            number=queries.searched_number(words) if words else None,
            created_after=data.get("created_after"),
            created_before=data.get("created_before"),
            updated_after=data.get("updated_after"),
            updated_before=data.get("updated_before"),
        )
        ordering = data.get("ordering") or []
        return narrowing, {
            "unassigned": assignee == "none",
            "ordering": ordering[0] if ordering else "",
        }

    def _person(self, value) -> int | str | None:
        """A PersonField's value as a user id, "none", or None for anyone."""
        if value in (None, ""):
            return None
        return self.request.user.pk if value == "me" else value

    def listing(self, pages) -> paging.Listing:
        """The filtered list as a tracker.paging.Listing: its pages read through
        `pages` (queries.api_pages or queries.listed_pages), and counted as
        counted() would count it, each through SQL compiled once per shape; a
        search's count up to its own cap (count_cap())."""
        how, *args = self._counting()
        if how == NOTHING:
            return paging.Listing(read=lambda offset, limit: [], count=lambda cap: 0)
        narrowing, fixed = self.narrowing()
        user = self.request.user

        def read(offset: int, limit: int) -> list:
            return queries.page_of(pages, user, narrowing, offset=offset, limit=limit, **fixed)

        def count(cap: int) -> int:
            if how == LINKS:
                return queries.label_link_count.count(*args, cap=cap)
            if how == WORDS:
                return queries.search_match_count.count(*args, cap=cap)
            return pages.count(user, *narrowing, cap=cap, **fixed)

        return paging.Listing(read=read, count=count, cap=self.count_cap())

    def count_cap(self, *, by_status: bool = False) -> int | None:
        """How far this filter's counts go: a search's up to
        settings.SEARCH_COUNT_CAP (no index counts matches), a search narrowed
        any further (a status, a severity, what a reporter may see; or counted
        one status at a time, `by_status`, as the board's columns are) up to
        settings.FILTERED_SEARCH_COUNT_CAP, others, and a refused filter (which
        counts nothing), to the lists' own cap (None).

        A narrowed search is counted by checking the other filter match by
        match (or the search, issue by issue of the filter): at 1,000,000
        issues, counting 1,000 of "error" among the open issues took 108 ms, 100
        of them 7 ms (2026-12-06)."""
        narrowed = self.narrowing() if self.is_valid() else None
        if narrowed is None or narrowed[0].words is None:
            return None
        if not by_status and self._counting()[0] == WORDS:
            return settings.SEARCH_COUNT_CAP
        return settings.FILTERED_SEARCH_COUNT_CAP

    def counted(self, status: str | None = None) -> QuerySet:
        """The rows whose number is the filtered list's (or, with `status`, that
        of the list's issues in that status), for a capped count.

        The list itself, but for the two commonest filters over every issue,
        which are counted without joining the issues: statuses and one label,
        by the label's links in those statuses (a few milliseconds where the
        list's count merges every issue of the statuses with every link of the
        label: about 50 ms for open bugs at a million issues); and words alone,
        by the search rows that match (35 ms against 100-170 ms for "error",
        one issue in ten)."""
        how, *args = self._counting(status)
        if how == LINKS:
            return queries.label_links(*args)
        if how == WORDS:
            return queries.search_matches(*args)
        if how == NOTHING:
            return self.queryset.none()  # as the lists show a refused filter: empty
        return self.qs if status is None else self.qs.filter(status=status)

    def _counting(self, status: str | None = None) -> tuple:
        """How counted() counts: (LINKS, label id, statuses), (WORDS, words),
        (ROWS,), or (NOTHING,) for a refused filter or one nothing matches."""
        if not self.is_valid() or self.narrowing() is None:
            return (NOTHING,)
        narrowed = any(
            value not in (None, "", [])
            for name, value in self.form.cleaned_data.items()
            if name not in COUNTED_ALONE
        )
        if narrowed or not roles.sees_all_issues(self.request.user):
            return (ROWS,)
        n = self.narrowing()[0]
        statuses = n.statuses or []
        if status is not None:
            if statuses and status not in statuses:
                return (ROWS,)
            statuses = [status]
        label_ids = n.label_ids or []
        if n.words and not statuses and not label_ids:
            return (ROWS,) if n.number is not None else (WORDS, n.words)
        if not n.words and len(label_ids) == 1:
            return (LINKS, label_ids[0], statuses)
        return (ROWS,)

    def filter_queryset(self, queryset):
        found = self.narrowing()
        if found is None:
            return queryset.none()
        narrowing, fixed = found
        return queries.narrowed(queryset, narrowing, **fixed)

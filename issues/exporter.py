"""CSV export of issues: exactly the rows of the issue list with the same
filters (IssueFilter over queries.issue_list, so permission-scoped), streamed row
by row from a server-side cursor, in the format the importer reads back."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from issues import queries
from issues.filters import IssueFilter
from issues.importer.reading import neutralise
from issues.models import Issue, Severity

COLUMNS = (
    "number",
    "title",
    "description",
    "status",
    "severity",
    "assignee",
    "labels",
    "reporter",
    "created_at",
    "updated_at",
    "resolved_at",
)
# What each row is read as: plain values, the label names gathered with the issue,
# so that an export is one query (a server-side cursor) however many rows it has,
# and no model objects are made for it.
VALUES = (
    "number",
    "title",
    "description",
    "status",
    "severity",
    "assignee__email",
    "export_labels",
    "reporter__email",
    "created_at",
    "updated_at",
    "resolved_at",
)
CHUNK_SIZE = 5000  # rows per fetch from the server-side cursor
ROWS_PER_SEND = 1000  # under ASGI: rows handed over per trip to the database thread
SEVERITY_NAMES = {severity.value: severity.name for severity in Severity}


def filtered_issues(request) -> QuerySet[Issue]:
    """The issues the list would show for this request's query string; bad
    parameters raise ValidationError naming them."""
    issue_filter = IssueFilter(
        request.GET, queryset=queries.issue_list(request.user), request=request
    )
    if not issue_filter.is_valid():
        raise ValidationError(
            {field: list(errors) for field, errors in issue_filter.errors.items()}
        )
    return issue_filter.qs


class _Echo:
    """csv.writer writes to this and gets the formatted line back."""

    def write(self, value: str) -> str:
        return value


def rows(queryset: QuerySet[Issue]) -> Iterator[tuple]:
    """The issues of `queryset` (in its order) as VALUES tuples."""
    return (
        queryset.prefetch_related(None)
        .annotate(export_labels=queries.label_names())
        .values_list(*VALUES)
        .iterator(chunk_size=CHUNK_SIZE)
    )


def row(values: tuple) -> list[str]:
    """One issue's cells, formulas neutralised."""
    (number, title, description, status, severity, assignee, labels, reporter) = values[:8]
    created_at, updated_at, resolved_at = values[8:]
    return [
        str(number),
        neutralise(title),
        neutralise(description),
        status,
        SEVERITY_NAMES[severity],
        neutralise(assignee) if assignee else "",
        neutralise(";".join(labels)),
        neutralise(reporter),
        created_at.isoformat(),
        updated_at.isoformat(),
        resolved_at.isoformat() if resolved_at else "",
    ]


def lines(queryset: QuerySet[Issue], *, bom: bool = False) -> Iterator[str]:
    """The CSV text, one line (one issue) at a time."""
    writer = csv.writer(_Echo())
    yield ("\ufeff" if bom else "") + writer.writerow(COLUMNS)
    for values in rows(queryset):
        yield writer.writerow(row(values))


async def _async_lines(source: Iterator[str]) -> AsyncIterator[str]:
    """Under ASGI, Django would read a synchronous iterator whole before sending
    it; this hands it over a few rows at a time instead, every database call on
    the request's own thread (and connection)."""
    take = sync_to_async(lambda: list(islice(source, ROWS_PER_SEND)), thread_sensitive=True)
    try:
        while chunk := await take():
            yield "".join(chunk)
    finally:
        await sync_to_async(source.close, thread_sensitive=True)()


def csv_response(request, queryset: QuerySet[Issue], *, bom: bool = False):
    """A download of `queryset` as CSV; `bom` for spreadsheets that need one to
    recognise UTF-8."""
    content = lines(queryset, bom=bom)
    django_request = getattr(request, "_request", request)
    streaming = _async_lines(content) if isinstance(django_request, ASGIRequest) else content
    response = StreamingHttpResponse(streaming, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="issues-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response

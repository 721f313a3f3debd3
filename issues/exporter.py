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
# Rows per fetch from the server-side cursor; labels are prefetched per chunk, so
# an export costs one query plus one per chunk, whatever its size.
CHUNK_SIZE = 2000
ROWS_PER_SEND = 200  # under ASGI: rows handed over per trip to the database thread


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


def _when(value) -> str:
    return value.isoformat() if value else ""


def row(issue: Issue) -> list[str]:
    labels = sorted((label.name for label in issue.labels.all()), key=str.lower)
    return [
        str(issue.number),
        neutralise(issue.title),
        neutralise(issue.description),
        issue.status,
        Severity(issue.severity).name,
        neutralise(issue.assignee.email) if issue.assignee else "",
        neutralise(";".join(labels)),
        neutralise(issue.reporter.email),
        _when(issue.created_at),
        _when(issue.updated_at),
        _when(issue.resolved_at),
    ]


def lines(queryset: QuerySet[Issue], *, bom: bool = False) -> Iterator[str]:
    """The CSV text, one line (one issue) at a time."""
    writer = csv.writer(_Echo())
    yield ("\ufeff" if bom else "") + writer.writerow(COLUMNS)
    for issue in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow(row(issue))


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

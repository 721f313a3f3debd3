"""CSV export of issues: exactly the rows of the issue list with the same
filters (IssueFilter over queries.issue_list, so permission-scoped), written by
PostgreSQL itself (COPY) and streamed as it comes, in the format the importer
reads back.

PostgreSQL writes CSV as Python's csv module does (quotes only where needed, a
quote doubled), the cells it is given are formatted in SQL exactly as
`importer.neutralise` and `datetime.isoformat()` would (migration 0009, checked
against them by the tests), and an empty cell is sent as NULL so that it is
written empty rather than as "".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib.postgres.aggregates import StringAgg
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.db.models import Case, F, Func, QuerySet, TextField, Value, When
from django.db.models.functions import Lower
from django.http import StreamingHttpResponse
from django.utils import timezone

from issues import queries
from issues.filters import IssueFilter
from issues.models import Issue, Severity

CRLF = b"\r\n"

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
CHUNK_BYTES = 256 * 1024  # CSV text gathered before it is handed to the response


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


class _Formatted(Func):
    """A cell formatted from its column(s). Grouped by those columns, not by the
    formatted text: an issue's own columns then group as its primary key alone,
    instead of PostgreSQL sorting every title and description to group them."""

    output_field = TextField()

    def get_group_by_cols(self):
        return [
            col for source in self.get_source_expressions() for col in source.get_group_by_cols()
        ]


def _cell(expression) -> Func:
    """Text neutralised as `importer.neutralise` does it (migration 0009)."""
    return _Formatted(expression, function="issues_csv_cell")


def _time(name: str) -> Func:
    """A time as `datetime.isoformat()` writes it in UTC (migration 0009)."""
    return _Formatted(F(name), function="issues_csv_time")


def cells(queryset: QuerySet[Issue]) -> QuerySet:
    """The issues of `queryset` (in its order) as the CSV's cells, each formatted
    by PostgreSQL, so that no Python runs per row. The label names are gathered
    by a join and GROUP BY rather than a subquery per issue: over a whole table
    PostgreSQL then joins the links once, in bulk."""
    labels = StringAgg(
        "labels__name", ";", order_by=(Lower("labels__name"), "labels__name"), default=""
    )
    severity = Case(
        *(When(severity=severity, then=Value(severity.name)) for severity in Severity),
        output_field=TextField(),
    )
    return queryset.prefetch_related(None).values_list(
        "number",
        _cell(F("title")),
        _cell(F("description")),
        "status",
        severity,
        _cell(F("assignee__email")),
        _cell(labels),
        _cell(F("reporter__email")),
        _time("created_at"),
        _time("updated_at"),
        _time("resolved_at"),
    )


def copy_statement(queryset: QuerySet[Issue]) -> tuple[str, list] | None:
    """`COPY (<the cells' query>) TO STDOUT` and its parameters; None when
    nothing can match (e.g. an unknown label), so there is nothing to run."""
    try:
        sql, params = cells(queryset).query.sql_with_params()
    except EmptyResultSet:
        return None
    # `sql` is the ORM's own compiled SQL; the values travel as parameters.
    return f"COPY ({sql}) TO STDOUT (FORMAT csv)", list(params)  # noqa: S608


def lines(queryset: QuerySet[Issue], *, bom: bool = False) -> Iterator[bytes]:
    """The CSV as UTF-8, a chunk of lines at a time: PostgreSQL writes the rows,
    one CopyData message per row, and each row's line end becomes the CRLF of
    RFC 4180 here (a line break inside a quoted cell is left as it is). One
    statement whatever the number of rows, read as it is produced: memory stays
    flat. (Django's cursor has no copy(): the statement goes to psycopg's own,
    so Django's query log does not list it.)"""
    chunk = bytearray(("\ufeff" if bom else "").encode() + ",".join(COLUMNS).encode() + CRLF)
    statement = copy_statement(queryset)
    if statement is not None:
        with connections[queryset.db].cursor() as cursor, cursor.cursor.copy(*statement) as copy:
            for row in copy:
                chunk += row[:-1]
                chunk += CRLF
                if len(chunk) >= CHUNK_BYTES:
                    yield bytes(chunk)
                    chunk.clear()
    yield bytes(chunk)


async def _async_lines(source: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Under ASGI, Django would read a synchronous iterator whole before sending
    it; this hands it over a chunk at a time instead, every database call on
    the request's own thread (and connection)."""
    take = sync_to_async(lambda: next(source, b""), thread_sensitive=True)
    try:
        while chunk := await take():
            yield chunk
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

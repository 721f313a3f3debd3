"""Counting SQL statements, without replacing the database backend.

django-prometheus can count queries through its own ENGINE, a subclass of
Django's PostgreSQL wrapper that swaps psycopg's cursor class; that has broken
with psycopg 3 before (2.3.0 was yanked) and depends on backend internals. An
execute wrapper is public Django API: `count_query` is put on every connection
when it is opened (the `connection_created` signal, which a CONN_HEALTH_CHECKS
reconnect sends again, hence the membership test), and `tally()` counts the
statements of one request for tracker.metrics.http, which observes them per
view.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import Counter, Histogram

QUERIES = Counter(
    "tracker_db_queries",
    "SQL statements executed through Django's database connections by this process.",
)
REQUEST_QUERIES = Histogram(
    "tracker_http_request_db_queries",
    "SQL statements per request (until the response is returned), by view.",
    ["view"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)


class _Tally:
    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


# Mutable and shared, so statements run in a sync_to_async thread (which gets a
# copy of the context) still add to the request's tally.
_tally: ContextVar[_Tally | None] = ContextVar("db_query_tally", default=None)


def count_query(execute, sql, params, many, context):
    QUERIES.inc()
    tally = _tally.get()
    if tally is not None:
        tally.count += 1
    return execute(sql, params, many, context)


def install(sender=None, connection=None, **kwargs) -> None:
    """`connection_created` receiver. First in the list: `execute_wrapper()`
    blocks pop the last wrapper when they end, so ours must not be the last one
    even when a connection opens inside such a block."""
    if connection is not None and count_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, count_query)


@contextmanager
def tally():
    """The statements run until the block ends (by this context and the
    threads it hands work to), in `.count`. Statements a streaming response
    runs while it is read (the CSV export) count in QUERIES only."""
    counted = _Tally()
    token = _tally.set(counted)
    try:
        yield counted
    finally:
        _tally.reset(token)

"""Django's PostgreSQL backend, checking a pooled connection without a round trip,
and reading timestamps with Python's own parser.

With CONN_HEALTH_CHECKS Django has its psycopg pool run an empty query on every
connection it hands out: a round trip to the server before each request's first
query, a tenth of what serving an API detail costs. What that check exists to
catch is a connection the server ended while it sat idle in the pool (a restart,
pg_terminate_backend, an idle timeout). The server says so before it goes: it
sends its last error and closes the socket, so an idle connection with anything
to read is one it has ended. Polling the socket for that costs a system call.
Such connections are closed and handed back, and the pool discards them; the
request gets a live one, as with the pool's own check. Settings turn the pool's
check off (CONN_HEALTH_CHECKS) when this one is on duty.
"""

from __future__ import annotations

import functools
import select
from datetime import datetime, tzinfo

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg.adapt import AdaptersMap


def ended_by_server(connection) -> bool:
    """Whether the server has ended this idle connection: between queries a live
    connection has nothing to read, an ended one has the server's farewell."""
    if connection.closed or connection.broken:
        return True
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class IsoTzLoader(BaseTzLoader):
    """A timestamptz as Django's loader gives it (in the connection's
    `timezone`), parsed by datetime.fromisoformat (C) from PostgreSQL's ISO
    output. Django's loader subclasses psycopg's pure-Python one, which parses
    each value with a regular expression, ten times as long: the API list of
    open bugs (a page of 50, two timestamps an issue) took the web worker
    16.4 M instructions against 20.1 M, the API detail 3.57 M against 3.83 M
    (callgrind, in process, 1,000,000 issues, 2026-12-07). What fromisoformat
    does not read (another DateStyle, BC or infinite dates) goes to Django's
    loader, as before."""

    def load(self, data):
        try:
            return datetime.fromisoformat(str(data, "ascii")).astimezone(self.timezone)
        except ValueError:
            return super().load(data)


@functools.cache
def _adapters(timezone: tzinfo):
    """Django's adapters (get_adapters_template), with IsoTzLoader for timestamptz."""
    adapters = AdaptersMap(get_adapters_template(True, timezone))
    adapters.register_loader(
        "timestamptz", type("IsoTzLoader", (IsoTzLoader,), {"timezone": timezone})
    )
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if self.timezone is not None:  # USE_TZ: aware datetimes, in this zone
            params["context"] = _adapters(self.timezone)
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return connection
        # Every connection in the pool may have been ended at once (a restart):
        # each is discarded in turn, after which the pool makes new ones.
        for _ in range(pool.max_size):
            if not ended_by_server(connection):
                break
            connection.close()
            pool.putconn(connection)
            connection = super().get_new_connection(conn_params)
        return connection

"""Django's PostgreSQL backend, checking a pooled connection without a round trip.

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

import select

from django.db.backends.postgresql import base


def ended_by_server(connection) -> bool:
    """Whether the server has ended this idle connection: between queries a live
    connection has nothing to read, an ended one has the server's farewell."""
    if connection.closed or connection.broken:
        return True
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
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

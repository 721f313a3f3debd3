"""Django's database sessions, read by SQL written once (SESSION_ENGINE).

Every page loads its session first; as an ORM lookup that cost 0.5 ms, three
times what the statement itself takes, since Django builds and compiles the
query anew each time (1,000,000-issue database, 2026-12-05). Storage, expiry
and the session's data are Django's own: only this read changes."""

from functools import cache

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from tracker.db import columns, fetch_one


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        found = fetch_one(_session_sql(), [self.session_key, timezone.now()], self.model)
        if found is None:
            self._session_key = None
            return None
        return found[0]


@cache
def _session_sql() -> str:
    model = SessionStore.get_model_class()
    return (
        f"SELECT {columns(model, 's')} FROM {model._meta.db_table} s"  # noqa: S608 - from the model
        " WHERE s.session_key = %s AND s.expire_date > %s"
    )

"""Django's database sessions, read through tracker.db.Prepared (SESSION_ENGINE).

Every page loads its session first; as an ORM lookup that cost 0.5 ms, three
times what the statement itself takes, since Django builds and compiles the
query anew each time (1,000,000-issue database, 2026-12-05). Storage, expiry
and the session's data are Django's own: only this read changes."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from tracker.db import Prepared


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        found = None
        if self.session_key is not None:
            found = unexpired_session.one(self.session_key, timezone.now())
        if found is None:
            self._session_key = None
        return found


unexpired_session = Prepared(
    lambda key, now: SessionStore.get_model_class().objects.filter(
        session_key=key, expire_date__gt=now
    ),
    server_prepared=True,
)

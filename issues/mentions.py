"""@mentions: which people a description or comment names.

The rule: `@` followed by the local part of a user's email address (what comes
before the `@`), in any case: `@rita` names rita@example.com, `@j.doe` names
j.doe@example.org. Display names are not used: they hold spaces and change.

- The `@` must not follow a letter, digit or one of `. + - _ / @`, so an address
  written in the text (bob@example.com) names nobody.
- A full stop ends the mention unless a name character follows it
  ("thanks @rita." names rita).
- Only active users can be mentioned. When several active users share a local
  part (rita@a.example and rita@b.example), `@rita` is ambiguous and names nobody.
- Mentions in code spans and code blocks do not count (the markdown renderer
  never looks inside them), and `@name` that names nobody stays plain text.

`issues.markdown` renders a mention as a link to the issues assigned to that user
(there is no public profile page); `issues.notifications` mails the people named.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable

from django.core.signals import request_finished, request_started
from django.db.models import Q

from accounts.models import User

MENTION = r"(?<![\w.+/@-])@([\w+-]+(?:\.[\w+-]+)*)"
MENTION_RE = re.compile(MENTION)
# More distinct names than this in one text are not looked up (one query, bounded).
MAX_HANDLES = 50

# While a request runs, names already looked up are remembered, so a page that
# renders many comments asks the database once per distinct name, not per comment.
_memo = threading.local()


def _request_started(**kwargs) -> None:
    _memo.users = {}


def _request_finished(**kwargs) -> None:
    _memo.users = None


request_started.connect(_request_started, dispatch_uid="issues.mentions.start")
request_finished.connect(_request_finished, dispatch_uid="issues.mentions.finish")


def handles_in(text: str | None) -> set[str]:
    """Every candidate name in the text, lower case (code included: a superset)."""
    if not text or "@" not in text:
        return set()
    return {match.group(1).lower() for match in MENTION_RE.finditer(text)}


def resolve_in(texts: Iterable[str | None]) -> dict[str, User | None]:
    """resolve() for every name several texts mention, looked up together: one
    query at most (none when they name no one), for a page or a batch of mail."""
    return resolve(set().union(*map(handles_in, texts)))


def resolve(handles: Iterable[str]) -> dict[str, User | None]:
    """name -> the one active user it names, or None. One query at most."""
    wanted = sorted({handle.lower() for handle in handles})[:MAX_HANDLES]
    memo = getattr(_memo, "users", None)
    known = {h: memo[h] for h in wanted if memo is not None and h in memo}
    missing = [h for h in wanted if h not in known]
    if not missing:
        return known
    query = Q()
    for handle in missing:
        query |= Q(email__istartswith=f"{handle}@")
    found: dict[str, list[User]] = defaultdict(list)
    for user in User.objects.filter(query, is_active=True):
        found[user.email.rsplit("@", 1)[0].lower()].append(user)
    resolved = {h: found[h][0] if len(found[h]) == 1 else None for h in missing}
    if memo is not None:
        memo.update(resolved)
    return {**known, **resolved}

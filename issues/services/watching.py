"""Watching issues: who gets mail about an issue (see issues.notifications).

The reporter watches an issue from its creation and an assignee from being
assigned (`auto_watch`, called by the other services); anyone who can see an
issue may start or stop watching it. Watching grants nothing: a watcher who can
no longer see the issue simply gets no more mail about it.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from issues.models import Issue, Watch
from issues.services.validation import require_visible
from tracker.db import Insert, Statement, execute_together


@transaction.atomic
def watch(*, actor: User, issue: Issue) -> None:
    """Start watching; watching an issue one already watches changes nothing."""
    require_visible(actor, issue)
    auto_watch(issue, actor)


@transaction.atomic
def unwatch(*, actor: User, issue: Issue) -> None:
    """Stop watching (also the reporter and the assignee may); a no-op if not watching."""
    require_visible(actor, issue)
    Watch.objects.filter(user=actor, issue=issue).delete()


def is_watching(user: User, issue: Issue) -> bool:
    return bool(user and user.is_authenticated) and (
        Watch.objects.filter(user=user, issue=issue).exists()
    )


def auto_watch(issue: Issue, *users: User | None) -> None:
    """Make these users watch the issue, without asking whether they may: for
    services that have already decided (the reporter, a new assignee). Runs in the
    caller's transaction; a concurrent identical watch is not an error."""
    execute_together(watches(issue, *users))


def watches(issue: Issue, *users: User | None, after: str = "") -> Statement | None:
    """auto_watch()'s statement, for a service that runs it together with its
    other after-effects (tracker.db.execute_together); None if no one. With
    `after`, written only if that earlier clause returned a row."""
    watchers = {user for user in users if user is not None}
    return _insert_watches.statement(
        *(Watch(user=user, issue=issue) for user in watchers), after=after
    )


_insert_watches = Insert(Watch, ignore_conflicts=True)

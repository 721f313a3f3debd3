"""Mail notifications.

Who gets mail, and about what:

- **assigned**: the new assignee, when an issue is created with them or assigned to them;
- **status**: the watchers of an issue whose status changes (also by bulk change);
- **comment**: the watchers of an issue that gets a comment;
- **mention**: the people @mentioned (`issues.mentions`) in a new comment, in the
  description of a new issue, or newly in an edited description.

Never the person who made the change, never a user who is inactive or has turned
notifications off (`User.email_notifications`), and never anyone who cannot see
the issue at the time the mail goes out (a reporter sees only their own issues).

How: the services call `schedule(events)` with the timeline events they have just
appended, inside their transaction. That writes one PendingMail row in the same
transaction: nothing is sent for a change that rolls back, and a change that
commits is sent even if the task queue (Redis) is away at that moment. The
`send_pending_mail` task, which beat runs every NOTIFICATIONS_INTERVAL_SECONDS
(on the queue named by settings.NOTIFICATIONS_QUEUE), sends each row's mail and
deletes it: each recipient gets ONE mail listing everything of that change that
concerns them, so a bulk status change of 500 issues is one mail per person.
Code that makes many service calls in one go (an import) can gather them all
into one row with `collected()`.

Writing the row costs a change one small INSERT, where queueing a Celery task
took a fifth of the API's issue creation (0.4 ms of the web process's time).

The task takes ids only: (event id, issue id) pairs. Events that no longer exist
(rolled back, or the issue was deleted) or whose issue id does not match (a task
from another database) are skipped.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import User
from issues import markdown, mentions
from issues.models import Comment, EventKind, Issue, IssueEvent, PendingMail, Status, Watch
from tracker import log_context
from tracker.db import Insert, Statement, execute_together

log = logging.getLogger(__name__)

ASSIGNED, MENTION, STATUS, COMMENT = "assigned", "mention", "status", "comment"
# When one change concerns someone for several reasons, the first of these wins.
PRIORITY = (ASSIGNED, MENTION, STATUS, COMMENT)
CREATION_KINDS = (EventKind.CREATED, EventKind.IMPORTED)
QUOTE_LENGTH = 500
# send_pending_mail: failed changes after which a run stops, changes a run sends.
MAX_FAILURES = 3
PER_RUN = 1_000

_local = threading.local()


# --- scheduling (inside the services' transactions) ----------------------------------


def schedule(events: Iterable[IssueEvent]) -> None:
    """Send the notifications these just-written events call for, once the
    current transaction commits (a PendingMail row, in it)."""
    execute_together(pending(events))


def pending(events: Iterable[IssueEvent]) -> Statement | None:
    """schedule()'s statement, for a service that runs it together with its
    other after-effects (tracker.db.execute_together); None if the events
    concern no one, or if they are gathered (collected())."""
    events = _gathered_or_notifying(events)
    return _pending_row(_refs(events)) if events else None


def pending_of_written(events: list[IssueEvent], clause: str) -> Statement | None:
    """pending(events) for events written by the same statement as this row,
    in its WITH clause `clause` (tracker.db.Insert.statement(name=...)), which
    returns their ids rising in the order of `events`: the ids are known only
    there (a create's one event, an edit's). No row if that clause wrote
    nothing (an edit whose compare-and-set failed)."""
    notifying = {id(event) for event in _gathered_or_notifying(events)}
    if not notifying:
        return None
    positions = [n for n, event in enumerate(events, 1) if id(event) in notifying]
    meta = PendingMail._meta
    return Statement(
        f"INSERT INTO {meta.db_table} (refs, request_id)"  # noqa: S608 - the model's own names
        " SELECT jsonb_agg(jsonb_build_array(e.id, %s::text) ORDER BY e.id), %s"
        f" FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM {clause}) AS e"
        " WHERE e.n = ANY(%s::int[]) HAVING count(*) > 0",
        [str(events[0].issue_id), _request_id(), positions],
    )


def _gathered_or_notifying(events: Iterable[IssueEvent]) -> list[IssueEvent]:
    """The events that may concern someone, unless collected() gathers them
    (then none: the gathering writes them, once their ids are known)."""
    events = [event for event in events if _may_notify(event)]
    gathering = getattr(_local, "collected", None)
    if gathering is None:
        return events
    gathering.extend(events)
    return []


@contextmanager
def collected() -> Iterator[None]:
    """Gather the notifications of every service call inside the block into one
    PendingMail row, sent after the surrounding transaction (if any) commits:
    one mail per person for a whole import. Nothing is sent if the block raises."""
    if getattr(_local, "collected", None) is not None:  # nested: the outer one sends
        yield
        return
    _local.collected = events = []
    try:
        yield
    finally:
        _local.collected = None
    # An edit whose compare-and-set failed (VersionConflict, which the block
    # may catch) gathered events it never wrote: they have no id.
    events = [event for event in events if event.pk is not None]
    if events:
        execute_together(_pending_row(_refs(events)))


def _refs(events: list[IssueEvent]) -> list[list]:
    return [[event.pk, str(event.issue_id)] for event in events]


def _may_notify(event: IssueEvent) -> bool:
    """Cheap, no query: could this event concern anyone? (The task decides who.)"""
    if event.kind == EventKind.COMMENT_ADDED:
        return True
    if event.kind in CREATION_KINDS:
        return bool((event.data or {}).get("assignee")) or "@" in (event.issue.description or "")
    if event.field == "status":
        return True
    if event.field == "assignee":
        return bool(event.new_value)
    if event.field == "description":
        return "@" in (event.new_value or "")
    return False


def _pending_row(refs: list) -> Statement:
    """One PendingMail row, written by an INSERT prepared once per connection
    (tracker.db.Insert): every create, status change and comment writes one."""
    return _insert_pending.statement(PendingMail(refs=refs, request_id=_request_id()))


def _request_id() -> str:
    """The request a PendingMail row names, for the admin's list of pending mail."""
    return log_context.current_request_id() or ""


_insert_pending = Insert(PendingMail)


# --- the task -------------------------------------------------------------------------


@shared_task(name="issues.send_pending_mail")
def send_pending_mail() -> int:
    """Send the mail of every change committed so far, oldest first, and
    return the number of mails sent. Each change is sent and deleted in a
    transaction of its own, locked while it is sent (tasks running at once
    share the rows out). One whose mail fails is kept and tried again later,
    after a wait that doubles with each failure (retry_delay), so that it
    does not hold up the rest; after MAX_FAILURES failures (the mail server
    away) the run stops. A run sends at most PER_RUN changes, leaving the rest
    to the next, so that a backlog does not hold a worker from other tasks."""
    sent = failures = 0
    for _ in range(PER_RUN):
        if failures >= MAX_FAILURES:
            break
        with transaction.atomic():
            pending = (
                PendingMail.objects.select_for_update(skip_locked=True)
                .filter(send_after__lte=Now())
                .order_by("pk")
                .first()
            )
            if pending is None:
                break
            try:
                with transaction.atomic(), log_context.bound_request_id(pending.request_id):
                    sent += deliver(pending.refs)
            except Exception:
                failures += 1
                _try_again_later(pending)
            else:
                pending.delete()
    return sent


def _try_again_later(pending: PendingMail) -> None:
    """Keep mail whose sending failed (logged with its traceback) for a later run."""
    pending.attempts += 1
    delay = retry_delay(pending.attempts)
    log.exception(
        "notifications: mail of pending row %s failed; kept, tried again in %s", pending.pk, delay
    )
    pending.send_after = timezone.now() + delay
    pending.save(update_fields=["attempts", "send_after"])


def try_at_next_run(pending: QuerySet[PendingMail]) -> int:
    """Have these rows' mail tried at the next run, however long their backoff
    (an admin's call, once the mail server is mended); their failures stay
    counted. Returns how many."""
    return pending.update(send_after=Now())


def retry_delay(attempts: int) -> timedelta:
    """How long mail that failed `attempts` times waits: 1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=1))


@shared_task(name="issues.send_notifications")
def send_notifications(refs: list) -> int:
    """Mail everyone concerned by these events; returns the number of mails sent.
    (Tasks queued by an earlier version, which queued one per change.)"""
    return deliver(refs)


@dataclass
class Item:
    event: IssueEvent
    reason: str
    text: str
    quote: str = ""

    @property
    def anchor(self) -> str:
        """The fragment of the issue page that shows what this item is about: a
        comment's own place in the timeline, so a mail leads straight to it."""
        comment = _comment_id(self.event)
        return f"#comment-{comment}" if comment is not None else ""


@dataclass
class Digest:
    user: User
    items: list[Item] = field(default_factory=list)


def deliver(refs: Iterable) -> int:
    events = _events(refs)
    if not events:
        return 0
    reasons = _reasons(events)
    digests = _digests(events, reasons)
    messages = [_message(digest) for digest in digests]
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)
    log.info("notifications: %d event(s), %d mail(s)", len(events), len(messages))
    return len(messages)


def _events(refs: Iterable) -> list[IssueEvent]:
    wanted: dict[int, str] = {}
    for ref in refs:
        try:
            wanted[int(ref[0])] = str(ref[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
    events = (
        IssueEvent.objects.filter(pk__in=wanted)
        .select_related("issue", "actor")
        .order_by("issue__number", "created_at", "pk")
    )
    return [event for event in events if str(event.issue_id) == wanted[event.pk]]


def _reasons(events: list[IssueEvent]) -> dict[tuple[int, int], tuple[str, str, str]]:
    """(user id, event id) -> (reason, sentence, quote): one per person per event,
    never for the person who made the change."""
    watchers = _watchers(events)
    texts = _mention_texts(events)
    named = mentions.resolve_in(t for pair in texts.values() for t in pair)
    reasons: dict[tuple[int, int], tuple[str, str, str]] = {}
    for event in events:
        for user_id, reason, text, quote in _concerned(event, watchers, texts, named):
            key = (user_id, event.pk)
            if user_id is None or user_id == event.actor_id:
                continue
            if key not in reasons or PRIORITY.index(reason) < PRIORITY.index(reasons[key][0]):
                reasons[key] = (reason, text, quote)
    return reasons


def _concerned(event: IssueEvent, watchers: dict, texts: dict, named: dict) -> Iterator[tuple]:
    """(user id, reason, sentence, quote) for everyone this event may concern."""
    actor = event.actor.name if event.actor else "Someone"
    if _status_change(event):
        old, new = _status(event.old_value), _status(event.new_value)
        for user_id in watchers[event.issue_id]:
            yield user_id, STATUS, f"{actor} changed the status from {old} to {new}.", ""

    if event.kind in CREATION_KINDS:
        assignee = (event.data or {}).get("assignee")
        verb = "reported" if event.kind == EventKind.CREATED else "imported"
        text = f"{actor} {verb} this issue and assigned it to you."
    else:
        assignee = event.new_value if event.field == "assignee" else None
        text = f"{actor} assigned this issue to you."
    if isinstance(assignee, dict):
        yield assignee.get("id"), ASSIGNED, text, ""

    is_comment = event.kind == EventKind.COMMENT_ADDED
    now, before = texts.get(event.pk, ("", ""))
    quote = markdown.excerpt(now, QUOTE_LENGTH) if is_comment else ""
    if is_comment:
        for user_id in watchers[event.issue_id]:
            yield user_id, COMMENT, f"{actor} commented:", quote
    if now:
        where = "a comment:" if is_comment else "the description."
        already = {user.pk for user in markdown.mentioned_users(before, named)} if before else ()
        for user in markdown.mentioned_users(now, named):
            if user.pk not in already:
                yield user.pk, MENTION, f"{actor} mentioned you in {where}", quote


def _watchers(events: list[IssueEvent]) -> dict:
    """issue id -> ids of its watchers, for the issues whose watchers hear of these events."""
    issue_ids = {
        event.issue_id
        for event in events
        if event.kind == EventKind.COMMENT_ADDED or _status_change(event)
    }
    watchers: dict = defaultdict(set)
    rows = Watch.objects.filter(issue_id__in=issue_ids).values_list("issue_id", "user_id")
    for issue_id, user_id in rows:
        watchers[issue_id].add(user_id)
    return watchers


def _mention_texts(events: list[IssueEvent]) -> dict[int, tuple[str, str]]:
    """event id -> (the text that may mention people, the text it replaced)."""
    comments = Comment.objects.in_bulk([pk for pk in map(_comment_id, events) if pk is not None])
    texts = {}
    for event in events:
        if event.kind == EventKind.COMMENT_ADDED:
            comment = comments.get(_comment_id(event))
            texts[event.pk] = (comment.body if comment else "", "")
        elif event.kind in CREATION_KINDS:
            texts[event.pk] = (event.issue.description, "")
        elif event.field == "description":
            texts[event.pk] = (event.new_value or "", event.old_value or "")
    return texts


def _comment_id(event: IssueEvent) -> int | None:
    """The comment a COMMENT_ADDED event is about (its data names it), else None."""
    comment = (event.data or {}).get("comment")
    is_comment = event.kind == EventKind.COMMENT_ADDED and isinstance(comment, int)
    return comment if is_comment else None


def _digests(events: list[IssueEvent], reasons: dict) -> list[Digest]:
    users = User.objects.in_bulk({user_id for user_id, _ in reasons})
    by_id = {event.pk: event for event in events}
    digests: dict[int, Digest] = {}
    for (user_id, event_id), (reason, text, quote) in reasons.items():
        user, event = users.get(user_id), by_id[event_id]
        if user is None or not user.email_notifications:
            continue
        # Inactive users and those who may not see the issue (any more) get nothing.
        if not roles.can_view_issue(user, event.issue):
            continue
        digest = digests.setdefault(user_id, Digest(user))
        digest.items.append(Item(event, reason, text, quote))
    order = {event.pk: n for n, event in enumerate(events)}
    for digest in digests.values():
        digest.items.sort(key=lambda item: order[item.event.pk])
    return sorted(digests.values(), key=lambda digest: digest.user.pk)


def _message(digest: Digest) -> EmailMessage:
    issues: dict = {}
    for item in digest.items:
        issue: Issue = item.event.issue
        group = issues.setdefault(
            issue.pk,
            {
                "issue": issue,
                "url": _absolute(reverse("issues:detail", args=[issue.number])),
                "items": [],
            },
        )
        group["items"].append(item)
    context = {
        "user": digest.user,
        "groups": list(issues.values()),
        "count": len(issues),
        "profile_url": _absolute(reverse("accounts:profile")) + "#notifications",
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    subject = " ".join(render_to_string("issues/mail/notification_subject.txt", context).split())
    body = render_to_string("issues/mail/notification.txt", context)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


def _status_change(event: IssueEvent) -> bool:
    return event.field == "status" and event.kind in (
        EventKind.FIELD_CHANGED,
        EventKind.BULK_CHANGE,
    )


def _status(value) -> str:
    try:
        return Status(value).label
    except ValueError:
        return str(value)


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path

"""The listening side of live updates.

Each server process holds ONE PostgreSQL connection doing `LISTEN tracker_events`
(started lazily, when the first browser connects) and fans every notice out to the
connected browsers, each of which owns a bounded queue. A browser that does not
keep up loses messages instead of growing the server's memory: its queue is
replaced by a single "resync" message, which tells the page to re-fetch
everything it shows. If the LISTEN connection breaks (PostgreSQL restarted), the
listener logs a warning and reconnects with backoff; browsers stay connected and
get a "resync" once it is back, since notices sent meanwhile are lost.

A page is read before its browser connects to the stream, and a change made in
between would show only at the next one. So the hub keeps the last minute's
notices (BACKLOG_SECONDS), and a stream opened for a page read at a given time
is first sent those received since (Hub.missed); a resync when this process
cannot tell (it was not listening then, or that is further back than it keeps).

What reaches a browser is ids only (kind, issue uuid, number); the reporter id in
the notice is used here to filter and never leaves the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import signal
import threading
import time
from collections import deque

import psycopg
from django.conf import settings
from psycopg import pq, sql
from psycopg.conninfo import make_conninfo

from issues import live
from issues.live import CHANNEL

logger = logging.getLogger(__name__)

QUEUE_SIZE = 100  # messages waiting for one browser before it is told to resync
HEALTH_SECONDS = 30.0  # an idle LISTEN connection is probed this often...
HEALTH_TIMEOUT = 10.0  # ...and given up on if the probe takes longer than this
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
BACKLOG_SECONDS = 60.0  # notices kept for the streams of pages read before they connect
BACKLOG_SIZE = 1000  # ...and at most this many
CLOCK_SKEW = 1.0  # s: a page's time comes from the process (or host) that rendered it
PUBLIC_KEYS = ("kind", "issue", "number")
# What issues.live announces of an issue (its own event name each).
KINDS = frozenset({"created", "updated", "commented", "attached", "deleted"})
APPLICATION_NAME = "tracker-live"
# The connection parameters libpq knows: DATABASES[...]["OPTIONS"] also holds
# Django's and psycopg's own settings (pool, isolation_level, prepare_threshold, ...).
_LIBPQ_PARAMETERS = frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())


def conninfo() -> str:
    """libpq parameters for the database Django uses (settings.DATABASES["default"])."""
    db = settings.DATABASES["default"]
    params = {
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": db.get("PORT"),
    }
    params = {key: value for key, value in params.items() if value not in (None, "")}
    options = db.get("OPTIONS") or {}
    params.update({k: v for k, v in options.items() if k in _LIBPQ_PARAMETERS})
    params.setdefault("connect_timeout", 5)
    # Notice a silently dead peer even while no notice arrives.
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", 30)
    params.setdefault("keepalives_interval", 10)
    params.setdefault("keepalives_count", 3)
    params["application_name"] = APPLICATION_NAME
    return make_conninfo(**params)


def sse_event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def messages_for(payload: dict) -> str:
    """The SSE messages for one announcement, all carrying only ids: `issue`
    (for lists: any change of any issue), `issue-<kind>` (for what only some
    changes touch: the dashboard's reports count no comments or files),
    `issue-<number>` (for that issue's page: any change of it) and
    `issue-<number>-<kind>` (for the parts of the page only some changes touch:
    a comment changes the timeline alone, so the page's header, panel and files
    need not be read again for it)."""
    public = {key: payload[key] for key in PUBLIC_KEYS}
    number = int(public["number"])  # an int: nothing odd can reach the event name
    kind = public["kind"]
    if kind in KINDS:  # a known word: nothing odd can reach the event name
        names = ("issue", f"issue-{kind}", f"issue-{number}", f"issue-{number}-{kind}")
    else:
        names = ("issue", f"issue-{number}")
    return "".join(sse_event(name, public) for name in names)


# "You may have missed something; re-fetch what you show." Lists hear it as
# `issue`, anything else can listen for `resync`.
RESYNC = sse_event("issue", {"kind": "resync"}) + sse_event("resync", {"kind": "resync"})
# Put in a queue, it ends that browser's stream (the server is shutting down).
END = ""


class Subscription:
    """One connected browser: who it is, and what is waiting to be sent to it."""

    def __init__(self, user_id, sees_all: bool, maxsize: int = QUEUE_SIZE):
        self.user_id = user_id
        self.sees_all = sees_all
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.ended = False

    def may_see(self, payload: dict) -> bool:
        return self.sees_all or payload.get("reporter") == self.user_id

    def offer(self, text: str) -> None:
        if self.ended:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # Too slow: drop what is waiting and tell it to re-fetch instead.
            while not self.queue.empty():
                self.queue.get_nowait()
                self.dropped += 1
            self.dropped += 1
            self.queue.put_nowait(RESYNC)

    def end(self) -> None:
        self.ended = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(END)


class Hub:
    """The process's LISTEN connection and the browsers it feeds."""

    def __init__(self):
        self._start_afresh(loop=None)

    def _start_afresh(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Nothing running, no browser, nothing heard: a new hub, or one on a new
        event loop (a server has one loop for its life; tests start several, and
        nothing bound to a finished loop can be used on the next one)."""
        self._loop = loop
        self._task: asyncio.Task | None = None
        self._subs: set[Subscription] = set()
        self._listening = asyncio.Event()
        self._closing = False
        # (received at, payload, messages) of recent notices, oldest first; none
        # received before `_known_from` (wall-clock time) is known to this process.
        self._backlog: deque[tuple[float, dict, str]] = deque()
        self._known_from = math.inf

    @property
    def subscriptions(self) -> frozenset[Subscription]:
        return frozenset(self._subs)

    def subscribe(self, user_id, sees_all: bool) -> Subscription:
        """Register a browser (from the event loop); starts the listener if needed."""
        self._ensure_running()
        return self.attach(Subscription(user_id, sees_all))

    def attach(self, sub: Subscription) -> Subscription:
        if self._closing:
            sub.end()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def wait_listening(self, timeout: float) -> bool:
        """True once LISTEN is in place; False if that takes longer than `timeout`."""
        self._ensure_running()
        try:
            async with asyncio.timeout(timeout):
                await self._listening.wait()
        except TimeoutError:
            return False
        return True

    def dispatch(self, raw: str) -> None:
        """Hand one notice to every browser whose user may see the issue."""
        try:
            payload = json.loads(raw)
            if payload.get("kind") == live.STATS:  # for those who see every issue
                text, payload = sse_event(live.STATS, {"kind": live.STATS}), {}
            else:
                text = messages_for(payload)
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("live: ignoring malformed notice %.200r", raw)
            return
        now = time.time()
        self._backlog.append((now, payload, text))
        self._forget(now - BACKLOG_SECONDS)
        for sub in list(self._subs):
            if sub.may_see(payload):
                sub.offer(text)

    def missed(self, sub: Subscription, since: float) -> str:
        """What the browser of `sub` has missed if its page was read at `since`
        (a wall-clock time): the messages of the notices received since then
        that its user may see, or RESYNC when this process cannot tell."""
        since -= CLOCK_SKEW
        self._forget(time.time() - BACKLOG_SECONDS)
        if since <= self._known_from:
            return RESYNC
        return "".join(
            text for at, payload, text in self._backlog if at >= since and sub.may_see(payload)
        )

    def _forget(self, before: float) -> None:
        """Drop the notices received before `before`, and the oldest beyond BACKLOG_SIZE."""
        self._known_from = max(self._known_from, before)
        while self._backlog and (self._backlog[0][0] < before or len(self._backlog) > BACKLOG_SIZE):
            self._known_from = max(self._known_from, self._backlog.popleft()[0])

    def _started_listening(self) -> None:
        """Notices sent before now, or while the connection was lost, never arrive."""
        self._backlog.clear()
        self._known_from = time.time()
        self._listening.set()

    def broadcast(self, text: str) -> None:
        for sub in list(self._subs):
            sub.offer(text)

    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._start_afresh(loop)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._listen(), name="tracker-live-listener")
            self._hook_shutdown()

    def _hook_shutdown(self) -> None:
        """End every stream when the server is told to stop.

        A graceful shutdown (uvicorn on SIGTERM or Ctrl-C) waits for open responses
        to finish, which an event stream never does. So chain onto the handlers
        the server installed: end the streams, then let the server's handler run.
        The browsers reconnect to whichever server answers next.
        """
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set signal handlers

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if getattr(previous, "_tracker_live", False):
                continue

            def handler(sig, frame, previous=previous):
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self._end_all)
                if callable(previous):
                    previous(sig, frame)
                elif previous == signal.SIG_DFL:
                    signal.signal(sig, signal.SIG_DFL)
                    signal.raise_signal(sig)

            handler._tracker_live = True
            signal.signal(signum, handler)

    def _end_all(self) -> None:
        self._closing = True
        for sub in list(self._subs):
            sub.end()

    async def _listen(self) -> None:
        delay = BACKOFF_FIRST
        lost = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(conninfo(), autocommit=True)
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self._started_listening()
                    if lost:
                        logger.info("live: LISTEN connection re-established")
                        self.broadcast(RESYNC)
                    delay = BACKOFF_FIRST
                    while True:
                        async for notice in conn.notifies(timeout=HEALTH_SECONDS):
                            self.dispatch(notice.payload)
                        # Quiet for a while: make sure the connection still works.
                        async with asyncio.timeout(HEALTH_TIMEOUT):
                            await conn.execute("SELECT 1")
            except Exception as exc:  # any failure: the connection is gone, make a new one
                self._listening.clear()
                lost = True
                logger.warning(
                    "live: LISTEN connection failed (%s: %s); reconnecting in %.1f s",
                    type(exc).__name__,
                    " ".join(str(exc).split()) or "no detail",
                    delay,
                )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)


hub = Hub()

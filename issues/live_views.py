"""Server-sent events for live updates: GET /live/ (URL name "live-stream").

An async view, served by the ASGI server's event loop (under WSGI it answers
204 No Content, which tells EventSource to stop trying); it never touches the
database from the loop (the async ORM and sync_to_async do), and gives back its
database connection before it starts streaming, so an open browser tab does not
hold a PostgreSQL connection.

The stream:

    retry: 2000                   browsers reconnect 2 s after losing the server
    id: live                      ...and then send Last-Event-ID, which earns a resync

    (what the page missed)        ?since=<the Unix time its page was read>: the
                                  messages of the notices received since then
                                  (issues.live_listener.Hub.missed)

    event: issue                  for lists: some issue the user may see changed
    data: {"kind":"updated","issue":"<uuid>","number":42}

    event: issue-42               for the page of issue 42 (its timeline: any change)
    data: {"kind":"updated","issue":"<uuid>","number":42}

    event: issue-42-updated       for the parts of that page this kind touches
    data: {"kind":"updated","issue":"<uuid>","number":42}   (header and panel;
                                  -attached: its files; also -commented, -deleted)

    : ping                        every 15 s, so proxies keep the connection open

A resync (`event: issue` and `event: resync`, data {"kind":"resync"}) means events
may have been missed: after a reconnect, a lost LISTEN connection, or a browser
that fell behind. Events carry ids only; pages re-fetch through the normal,
permission-checked views.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import AsyncIterator
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aget_user
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from accounts import roles
from issues.live_listener import END, RESYNC, hub

logger = logging.getLogger(__name__)

RETRY_MS = 2000
STREAM_ID = "live"
HEARTBEAT_SECONDS = 15.0
# How often an open stream checks that its session and user are still valid
# (logged out, deactivated, role changed).
RECHECK_SECONDS = 60.0
# How long a new stream waits for the LISTEN connection before it starts anyway.
LISTEN_WAIT_SECONDS = 3.0

# Connections belong to the thread that opened them; thread_sensitive keeps us
# on the request's thread, so this closes the one the request used.
_release_db = sync_to_async(connections.close_all, thread_sensitive=True)


@require_GET
async def live_stream(request):
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponseForbidden(
            "Sign in to receive live updates.", content_type="text/plain; charset=utf-8"
        )
    if not isinstance(request, ASGIRequest):
        # Under WSGI (runserver, Django's live test server) a never-ending
        # response would be read to its end first and hold a thread forever.
        # 204 tells EventSource not to reconnect; the pages work without updates.
        _warn_wsgi()
        return HttpResponse(status=204)
    resumed = "HTTP_LAST_EVENT_ID" in request.META
    response = StreamingHttpResponse(
        _stream(request.session.session_key, user, resumed, _since(request)),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@functools.cache
def _warn_wsgi() -> None:
    logger.warning("live: updates need the ASGI server (uvicorn); /live/ answers 204")


def _since(request) -> float | None:
    """When the page that opens this stream was read (`since`, Unix time), if it says."""
    try:
        since = float(request.GET["since"])
    except (KeyError, ValueError):
        return None
    return since if math.isfinite(since) else None


def stream_url(request) -> str:
    """The stream's address for a page being read now: changes made after this
    request began reach the page even if made before the stream connects."""
    since = getattr(request, "started_at", None) or time.time()
    return f"{reverse('live-stream')}?{urlencode({'since': f'{since:.3f}'})}"


async def _stream(session_key: str, user, resumed: bool, since: float | None) -> AsyncIterator[str]:
    sub = hub.subscribe(user.pk, roles.sees_all_issues(user))
    try:
        await _release_db()
        await hub.wait_listening(LISTEN_WAIT_SECONDS)
        if resumed:
            missed = RESYNC
        elif since is not None:
            missed = hub.missed(sub, since)
        else:
            missed = ""
        yield f"retry: {RETRY_MS}\nid: {STREAM_ID}\n\n"
        if missed:
            yield missed
        loop = asyncio.get_running_loop()
        next_check = loop.time() + RECHECK_SECONDS
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    chunk = await sub.queue.get()
            except TimeoutError:
                chunk = ": ping\n\n"
            if chunk == END:
                return  # the server is shutting down
            yield chunk
            if loop.time() >= next_check:
                current = await current_user(session_key)
                if current is None:
                    return  # the browser retries, and is refused
                sub.sees_all = roles.sees_all_issues(current)
                next_check = loop.time() + RECHECK_SECONDS
    finally:
        # Also on disconnect: Django cancels the response (CancelledError here).
        hub.unsubscribe(sub)


async def current_user(session_key: str):
    """The active user the session still belongs to, or None (logged out,
    deactivated, password changed)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        user = await aget_user(SimpleNamespace(session=store))
    finally:
        await _release_db()
    return user if user.is_authenticated else None

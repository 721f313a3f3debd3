"""One log line per request, and the request id that ties it to every other line
the request (and the Celery tasks it queues) writes.

First in MIDDLEWARE, so the id is bound before any other middleware logs and the
duration covers the whole stack. Works in both modes (sync under WSGI and the
test client, async under uvicorn) without a thread hop of its own.
"""

from __future__ import annotations

import logging
import time

from django.utils.functional import SimpleLazyObject, empty

from tracker import log_context
from tracker.either_mode import EitherModeMiddleware

logger = logging.getLogger("tracker.request")

HEADER = "X-Request-ID"
UNNAMED_VIEW = "<unnamed view>"  # the label of paths that resolve to no view


def view_name(request) -> str:
    """The URL name of the view that answered (`issues:detail`), for logs and
    metric labels: a bounded set of values, unlike paths."""
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match else None) or UNNAMED_VIEW


def user_id(request) -> int | None:
    """The id of the user the request was authenticated as, if anything already
    looked: never a query of its own. DRF replaces `request.user` with the
    token's user; Django's lazy user caches it in `_cached_user` (sync) or
    `_acached_user` (async views)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        wrapped = user._wrapped
        user = None if wrapped is empty else wrapped
    if user is None:
        user = getattr(request, "_cached_user", None) or getattr(request, "_acached_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class RequestLogMiddleware(EitherModeMiddleware):
    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started, token = self._begin(request)
        try:
            response = self.get_response(request)
            self._finish(request, response, started)
        finally:
            log_context.request_id_var.reset(token)
        return response

    async def _acall(self, request):
        started, token = self._begin(request)
        try:
            response = await self.get_response(request)
            self._finish(request, response, started)
        finally:
            log_context.request_id_var.reset(token)
        return response

    def _begin(self, request):
        # When it began, on the wall clock: what a page shows is as of then, and
        # its live updates start from then (issues.live_views.stream_url).
        request.started_at = time.time()
        incoming = request.headers.get(HEADER)
        request.request_id = log_context.sane_request_id(incoming) or log_context.new_request_id()
        return time.perf_counter(), log_context.request_id_var.set(request.request_id)

    def _finish(self, request, response, started: float) -> None:
        response[HEADER] = request.request_id
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "method": request.method,
            "path": request.path,
            "view": view_name(request),
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": user_id(request),
        }
        logger.log(
            logging.WARNING if response.status_code >= 500 else logging.INFO,
            "%(method)s %(path)s %(status)s %(duration_ms)sms view=%(view)s user=%(user_id)s",
            fields,
            extra=fields,
        )

"""Login lockout (django-axes) adapted to Tracker: email logins, the lockout page,
the API's error shape, and the time a lockout ends.

Axes counts failed logins per (email, client address) pair; see the AXES_*
settings. Everything here is called by axes through those settings, or by our
views when they must answer a locked-out client themselves (the token endpoint).
"""

import math
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.utils import reset
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

LOCKED_OUT = "Too many failed logins for this email address from your network."


def normalise(email: str | None) -> str | None:
    """The form in which an email is counted: logins ignore case, so an attacker
    must not get a fresh allowance by typing the address in capitals. Cut to the
    length axes stores."""
    if email is None:
        return None
    return str(email).strip().lower()[:255] or None


def client_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the email a login attempt is for, whether it came
    from authenticate(username=...) (login form, admin, token endpoint) or from the
    posted form itself."""
    if credentials and credentials.get("username") is not None:
        return normalise(credentials["username"])
    data = getattr(request, "data", None) or request.POST
    return normalise(data.get("username") if hasattr(data, "get") else None)


def is_locked_out(request) -> bool:
    """Whether the last authenticate() on this request was refused by axes."""
    return bool(getattr(request, "axes_locked_out", False))


def unlocks_at(request, credentials: dict | None = None) -> datetime | None:
    """When the lockout of this request's (email, address) pair ends: the cool-off
    after the last failure counted; None when not locked or locked for good."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    latest = None
    for attempts in handler.get_user_attempts(request, credentials):
        found = attempts.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
        if found and (latest is None or found > latest):
            latest = found
    return latest + cool_off if latest else None


def retry_after_seconds(request, credentials: dict | None = None) -> int:
    end = unlocks_at(request, credentials)
    if end is None:
        cool_off = get_cool_off(request) or timedelta(0)
        return max(1, math.ceil(cool_off.total_seconds()))
    return max(1, math.ceil((end - timezone.now()).total_seconds()))


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"{LOCKED_OUT} Try again in {wait}, or ask an administrator to unlock it."


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out client sees instead of the login
    form (our pages and the admin's) — a page saying why and for how long; under
    /api/ the API's error shape. Both 429 with Retry-After."""
    if isinstance(original_response, dict) and credentials is None:
        # axes' async middleware passes (request, credentials).
        credentials, original_response = original_response, None
    seconds = retry_after_seconds(request, credentials)
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/"):
        from tracker.api import error_body  # not at import: DRF's settings import tracker.api

        response = JsonResponse(error_body(message(seconds)), status=status)
    else:
        context = {
            "message": message(seconds),
            "unlocks_at": timezone.now() + timedelta(seconds=seconds),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        }
        response = render(request, "registration/locked_out.html", context, status=status)
    response["Retry-After"] = str(seconds)
    return response


def succeeded(request, credentials: dict) -> None:
    """A right password outside Django's login() (the token endpoint): start the
    count afresh, as axes does on user_logged_in (AXES_RESET_ON_SUCCESS)."""
    if settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS:
        AxesProxyHandler.update_request(request)
        AxesProxyHandler.get_implementation().reset_user_attempts(request, credentials)


def unlock(email: str) -> int:
    """Forget the failed logins of an email address (from every client address);
    how many records went."""
    return reset(username=normalise(email))

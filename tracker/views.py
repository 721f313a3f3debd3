import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader


def home(request):
    """The issue list is the home page."""
    return redirect("issues:list")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return render(request, "404.html", status=404)


# How long a client should wait before retrying when the database is away.
RETRY_AFTER_SECONDS = 5


def server_error(request):
    """Rendered without the request's context processors: those read the session
    and the user, which is what fails when the database does. A database that
    cannot be reached (restarting, failing over) answers 503 with Retry-After, the
    honest "try again" for clients and load balancers; the error itself has
    already been logged by Django."""
    unavailable = isinstance(sys.exc_info()[1], OperationalError | InterfaceError)
    if _wants_json(request):
        if unavailable:
            detail = "The database is unavailable; try again in a moment."
        else:
            detail = "Server error."
        response = JsonResponse({"detail": detail, "errors": {}}, status=500)
    else:
        response = HttpResponse(loader.render_to_string("500.html"), status=500)
    if unavailable:
        response.status_code = 503
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def forbidden(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Forbidden.", "errors": {}}, status=403)
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from accounts import roles
from issues import queries


@login_required
def home(request):
    issues = queries.visible_issues(request.user).select_related("assignee")[:20]
    return render(
        request,
        "home.html",
        {"issues": issues, "can_use_admin": roles.can_use_admin(request.user)},
    )


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Server error.", "errors": {}}, status=500)
    return render(request, "500.html", status=500)

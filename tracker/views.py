from django.contrib.auth.decorators import login_required
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

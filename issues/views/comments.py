"""Comments and replies on the issue page."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from issues import queries, services
from issues.views.common import get_issue_or_404


@require_POST
@login_required
def add_comment(request, number: int):
    issue = get_issue_or_404(request, number)
    body = request.POST.get("body", "")
    parent = request.POST.get("parent") or None
    try:
        services.add_comment(actor=request.user, issue=issue, body=body, parent=parent)
    except (ValidationError, PermissionDenied) as exc:
        error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        context = {"issue": issue, "body": body, "parent": parent, "comment_error": error}
        template = "issues/_reply_form.html" if parent else "issues/_comment_form.html"
        response = render(request, template, context, status=400)
        if parent:  # the reply form targets the timeline; put the error back in the form
            response["HX-Retarget"] = f"#reply-{parent}"
        return response
    if not request.htmx:
        return redirect("issues:detail", number=issue.number)
    if parent:  # a reply is shown in its thread: the timeline, re-rendered
        context = {"issue": issue, "timeline": queries.timeline_entries(issue)}
        response = render(request, "issues/_timeline.html", context)
    else:  # the timeline refreshes itself on the event below
        response = render(request, "issues/_comment_form.html", {"issue": issue, "posted": True})
    response["HX-Trigger"] = "issue-changed"
    return response

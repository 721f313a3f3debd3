"""The Watch / Unwatch button in the issue page's side panel."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from issues import services
from issues.views.common import get_issue_or_404
from issues.views.detail import _panel_context


@require_POST
@login_required
def watch(request, number: int):
    """POST `watch=1` to watch, `watch=0` to stop; answers with the panel (htmx) or
    back to the issue page."""
    issue = get_issue_or_404(request, number)
    if request.POST.get("watch") == "0":
        services.unwatch(actor=request.user, issue=issue)
    else:
        services.watch(actor=request.user, issue=issue)
    if not request.htmx:
        return redirect("issues:detail", number=issue.number)
    return render(request, "issues/_panel.html", _panel_context(request, issue, watch_saved=True))

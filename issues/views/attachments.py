"""Uploading and downloading attachments from the issue page."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from issues import services
from issues.api.views import attachment_response
from issues.errors import PayloadTooLarge
from issues.views.common import get_issue_or_404
from tracker.db import one


def _list(request, issue, error: str = "", code: int = 200):
    attachments = issue.attachments.select_related("uploaded_by")
    return render(
        request,
        "issues/_attachments.html",
        {"issue": issue, "attachments": attachments, "attachment_error": error},
        status=code,
    )


@require_http_methods(["GET", "POST"])
@login_required
def attachments(request, number: int):
    """GET: the issue page's list of files, which refreshes live; POST: a new file."""
    issue = get_issue_or_404(request, number)
    if request.method == "GET":
        return _list(request, issue)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": ["Choose a file to upload."]})
        services.add_attachment(actor=request.user, issue=issue, upload=upload)
    except ValidationError as exc:
        return _list(request, issue, " ".join(exc.messages), 400)
    except PayloadTooLarge as exc:
        return _list(request, issue, str(exc), 413)
    except PermissionDenied as exc:
        return _list(request, issue, str(exc), 403)
    if not request.htmx:
        return redirect("issues:detail", number=issue.number)
    response = _list(request, issue)
    response["HX-Trigger"] = "issue-changed"
    return response


@require_GET
@login_required
def download(request, number: int, attachment_id: int):
    issue = get_issue_or_404(request, number)
    attachment = one(issue.attachments.filter(pk=attachment_id))
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment_response(attachment)

"""Reporting a new issue, and the markdown preview the form uses."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import roles
from issues import markdown, queries, services
from issues.errors import PayloadTooLarge
from issues.models import Severity
from issues.views.common import form_errors

MAX_FILES = 10


@require_http_methods(["GET", "POST"])
@login_required
def new_issue(request):
    context = {
        "severities": [(s.name, s.label) for s in Severity],
        "all_labels": queries.every_label(),
        "can_triage": roles.can_triage(request.user),
        "values": {"severity": "MEDIUM"},
        "ticked_labels": set(),
    }
    if request.method == "GET":
        return render(request, "issues/new.html", context)
    values = {
        "title": request.POST.get("title", ""),
        "description": request.POST.get("description", ""),
        "severity": request.POST.get("severity", "MEDIUM"),
        "labels": request.POST.getlist("labels"),
    }
    files = request.FILES.getlist("attachments")
    try:
        if len(files) > MAX_FILES:
            raise ValidationError({"attachments": [f"At most {MAX_FILES} files at once."]})
        # The issue and its files land together or not at all.
        with transaction.atomic():
            fields = {k: v for k, v in values.items() if k != "labels" or v}
            issue = services.create_issue(actor=request.user, **fields)
            for upload in files:
                services.add_attachment(actor=request.user, issue=issue, upload=upload)
    except ValidationError as exc:
        errors = form_errors(exc)
    except PayloadTooLarge as exc:
        errors = {"attachments": [str(exc)]}
    except PermissionDenied as exc:
        errors = {"form": [str(exc)]}
    else:
        return redirect("issues:detail", number=issue.number)
    if "file" in errors:  # the attachment service names its field "file"
        errors["attachments"] = errors.pop("file")
    if files:
        errors.setdefault("attachments", []).append("Please choose the file(s) again.")
    ticked = {name.lower() for name in values["labels"]}
    context.update(values=values, errors=errors, ticked_labels=ticked)
    return render(request, "issues/new.html", context, status=400)


@require_POST
@login_required
def preview(request):
    """The description (or a comment) as it will be shown, for the live preview."""
    text = request.POST.get("description") or request.POST.get("body") or ""
    return render(request, "issues/_preview.html", {"html": markdown.render(text)})

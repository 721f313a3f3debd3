"""The issue page and its in-place edits: the side panel (status, severity,
assignee, labels), title and description, with the version check on every edit.

When someone else changed the issue meanwhile, the edit is not applied: the page
shows who changed what since the version the form was made from, keeps the
user's input, and offers to apply it on top of the current version.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roles
from issues import queries, services, workflow
from issues.errors import FieldPermissionDenied, VersionConflict
from issues.models import IssueEvent, Severity, Status
from issues.views.common import assignee_options, form_errors, get_issue_or_404, posted_version

PANEL_FIELDS = ("status", "severity", "assignee", "labels")
# A long timeline shows its first and last entries (_timeline_context).
TIMELINE_HEAD, TIMELINE_TAIL, TIMELINE_MIN_HIDDEN = 10, 40, 10


def _panel_context(request, issue, all_labels=None, **extra) -> dict:
    """`all_labels` and the issue's `user_watching`, when the caller read them
    already (queries.issue_page), save their queries."""
    watching = getattr(issue, "user_watching", None)
    return {
        "issue": issue,
        "can_triage": roles.can_triage(request.user),
        "can_edit_text": roles.can_edit_text(request.user, issue),
        "selects": _selects(issue),
        "all_labels": queries.every_label() if all_labels is None else all_labels,
        "issue_labels": {label.name.lower() for label in queries.labels_of(issue)},
        "watching": services.is_watching(request.user, issue) if watching is None else watching,
        **extra,
    }


def _selects(issue) -> list[dict]:
    """The panel's drop-downs: only the statuses the workflow allows from here,
    only people who may be assigned."""
    statuses = [(v, label) for v, label in Status.choices if workflow.can_move(issue.status, v)]
    return [
        {"name": "status", "label": "Status", "options": statuses, "current": issue.status},
        {
            "name": "severity",
            "label": "Severity",
            "options": [(s.name, s.label) for s in Severity],
            "current": Severity(issue.severity).name,
        },
        {
            "name": "assignee",
            "label": "Assignee",
            "options": [("", "Nobody"), *assignee_options()],
            "current": str(issue.assignee_id or ""),
        },
    ]


def changes_since(issue, version: int | None) -> list[IssueEvent]:
    """The field and label changes made after `version`: what the user did not see."""
    if version is None:
        return []
    return [
        event
        for event in queries.timeline(issue).filter(field__gt="")
        if (event.data or {}).get("version", 0) > version
    ]


@require_GET
@login_required
def detail(request, number: int):
    issue, all_labels = queries.issue_page(request.user, number)
    if issue is None:
        raise Http404("No such issue.")
    context = {
        **_panel_context(request, issue, all_labels),
        **_timeline_context(request, issue),
        "attachments": issue.attachments.select_related("uploaded_by")
        if issue.has_attachments
        else [],
        "can_delete": roles.can_delete_issue(request.user),
    }
    return render(request, "issues/detail.html", context)


@require_GET
@login_required
def timeline(request, number: int):
    """The timeline alone, for live refresh and for showing its hidden middle."""
    issue = get_issue_or_404(request, number)
    return render(
        request, "issues/_timeline.html", {"issue": issue, **_timeline_context(request, issue)}
    )


def _timeline_context(request, issue) -> dict:
    """The timeline's entries, a long one's middle hidden behind a button (as
    large trackers do): a page renders every comment it shows, and 500 of them
    took 360 ms and 590 KB. The first TIMELINE_HEAD and the last TIMELINE_TAIL
    entries are shown; `?all=1` shows every entry, and once shown the live
    refreshes ask for them all again (the page includes `all` in them). The
    first entry the button reveals is marked (`revealed`), for the keyboard's
    focus to go on from there (tracker.js)."""
    entries = queries.timeline_entries(issue)
    hidden = len(entries) - TIMELINE_HEAD - TIMELINE_TAIL
    cut = hidden >= TIMELINE_MIN_HIDDEN
    if request.GET.get("all") == "1":
        if cut:
            entries[TIMELINE_HEAD] = {**entries[TIMELINE_HEAD], "revealed": True}
        return {"timeline": entries, "timeline_all": True}
    if not cut:
        return {"timeline": entries}
    gap = {"type": "hidden", "count": hidden}
    return {"timeline": [*entries[:TIMELINE_HEAD], gap, *entries[-TIMELINE_TAIL:]]}


@require_http_methods(["GET", "POST"])
@login_required
def panel(request, number: int):
    issue = get_issue_or_404(request, number)
    if request.method == "GET":
        return render(request, "issues/_panel.html", _panel_context(request, issue))
    changes = _panel_changes(request)
    version = posted_version(request)
    try:
        try:
            issue = services.update_issue(
                actor=request.user, issue=issue, version=version, changes=changes
            )
        except VersionConflict as conflict:
            if not _own_other_fields(
                request.user, changes, changes_since(conflict.current, version)
            ):
                raise
            # Quick successive changes of different fields in one panel race each
            # other; only this user changed anything meanwhile, so apply on top.
            issue = services.update_issue(
                actor=request.user,
                issue=conflict.current,
                version=conflict.current.version,
                changes=changes,
            )
    except VersionConflict as conflict:
        context = _panel_context(
            request,
            conflict.current,
            conflict=changes_since(conflict.current, version),
            attempted=_describe(changes),
            attempted_post=request.POST,
        )
        return render(request, "issues/_panel.html", context, status=409)
    except (ValidationError, FieldPermissionDenied, PermissionDenied) as exc:
        error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        context = _panel_context(request, get_issue_or_404(request, number), panel_error=error)
        return render(request, "issues/_panel.html", context, status=400)
    response = render(request, "issues/_panel.html", _panel_context(request, issue, saved=True))
    response["HX-Trigger"] = "issue-changed"
    return response


def _own_other_fields(user, changes: dict, since: list[IssueEvent]) -> bool:
    """True when everything that happened since the form's version was this user's
    own change of other fields: nobody's edit can be overwritten by applying on top."""
    return bool(since) and all(
        event.actor_id == user.pk and event.field not in changes for event in since
    )


def _panel_changes(request) -> dict:
    """Only the fields this form posted (a panel form posts one field at a time)."""
    changes = {}
    for field in PANEL_FIELDS:
        if field == "labels":
            if "labels_present" in request.POST:
                changes["labels"] = request.POST.getlist("labels")
        elif field in request.POST:
            value = request.POST[field]
            changes[field] = (value or None) if field == "assignee" else value
    return changes


def _describe(changes: dict) -> str:
    parts = []
    for field, value in changes.items():
        shown = ", ".join(value) if isinstance(value, list) else (value or "nobody")
        parts.append(f"{field} → {shown}")
    return "; ".join(parts)


@require_http_methods(["GET", "POST"])
@login_required
def edit_text(request, number: int):
    """Title and description, for the reporter and maintainers."""
    issue = get_issue_or_404(request, number)
    if not roles.can_edit_text(request.user, issue):
        raise PermissionDenied("You may not edit this issue.")
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(request, "issues/_header.html", _panel_context(request, issue))
        return render(request, "issues/_edit_text.html", {"issue": issue, "version": issue.version})
    title = request.POST.get("title", "")
    description = request.POST.get("description", "")
    version = posted_version(request)
    context = {"issue": issue, "title": title, "description": description, "version": version}
    try:
        issue = services.update_issue(
            actor=request.user,
            issue=issue,
            version=version,
            changes={"title": title, "description": description},
        )
    except VersionConflict as conflict:
        context.update(
            issue=conflict.current,
            conflict=changes_since(conflict.current, version),
            version=conflict.current.version,
        )
        return render(request, "issues/_edit_text.html", context, status=409)
    except ValidationError as exc:
        context["errors"] = form_errors(exc)
        return render(request, "issues/_edit_text.html", context, status=400)
    if not request.htmx:
        return redirect("issues:detail", number=issue.number)
    response = render(request, "issues/_header.html", _panel_context(request, issue))
    response["HX-Trigger"] = "issue-changed"
    return response


@require_POST
@login_required
def delete(request, number: int):
    issue = get_issue_or_404(request, number)
    services.delete_issue(actor=request.user, issue=issue)
    return redirect("issues:list")

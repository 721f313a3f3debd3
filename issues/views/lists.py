"""The issue list (the home page), its bulk status action, and the board."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from accounts import roles
from issues import queries, services
from issues.errors import VersionConflict
from issues.filters import ORDERINGS, IssueFilter
from issues.models import Severity, Status
from issues.views.common import assignee_options, get_issue_or_404, posted_version
from tracker import paging

PAGE_SIZE = 50
COLUMN_SIZE = 25
MAX_COLUMN_CARDS = 500


def _filter(request) -> IssueFilter:
    """The filter of the visible issues the query string asks for (for its
    errors, values and rows). Bad parameters show as errors, never as a 500.
    The issues come with their label ids: their labels are taken from the
    filter's (queries.give_labels)."""
    return IssueFilter(
        request.GET,
        queryset=queries.listed_issues(request.user),
        request=request,
        labels=queries.every_label(),
    )


def _filter_context(request, issue_filter) -> dict:
    data = issue_filter.form.cleaned_data if issue_filter.is_valid() else {}
    return {
        "filter_errors": issue_filter.errors,
        "statuses": Status.choices,
        "severities": [(s.name, s.label) for s in Severity],
        "labels": issue_filter.labels,
        "assignee_select": {
            "options": [("", "Anyone"), ("me", "Me"), ("none", "Unassigned"), *assignee_options()],
            "current": request.GET.get("assignee", ""),
        },
        "chosen": {
            "status": data.get("status", []),
            "severity": [Severity(v).name for v in data.get("severity", [])],
            "label": [name.lower() for name in data.get("label", [])],
            "assignee": request.GET.get("assignee", ""),
            "q": request.GET.get("q", ""),
            "ordering": request.GET.get("ordering", ""),
        },
        "orderings": ORDERINGS,
        "can_triage": roles.can_triage(request.user),
        "filtered": any(
            request.GET.get(k) for k in ("status", "severity", "label", "assignee", "q")
        ),
    }


def _list_context(request, selected=frozenset(), **extra) -> dict:
    """The list page's context: the requested page of the filtered issues and
    the filter form. `selected`: the rows shown ticked (after a refused bulk change)."""
    issue_filter = _filter(request)
    page = paging.get_page(
        issue_filter.listing(queries.listed_pages), request.GET.get("page"), PAGE_SIZE
    )
    filters = _filter_context(request, issue_filter)
    queries.give_labels(page.object_list, filters["labels"])
    return {
        "page": page,
        "issues": page.object_list,
        "selected": selected,
        **extra,
        **filters,
    }


@require_GET
@login_required
def issue_list(request):
    context = _list_context(request)
    if request.htmx and request.htmx.target == "results":
        return render(request, "issues/_results.html", context)
    return render(request, "issues/list.html", context)


@require_POST
@login_required
def bulk_status(request):
    """All or nothing: on any problem nothing changes and the reason shows above the table."""
    ids, status = request.POST.getlist("ids"), request.POST.get("status", "")
    message, error = "", ""
    try:
        changed = services.bulk_change_status(actor=request.user, ids=ids, status=status)
        message = f"Moved {len(changed)} issue(s) to {Status(status).label}."
    except ValidationError as exc:
        error = " ".join(exc.messages)
    except Http404 as exc:
        error = str(exc)
    except PermissionDenied as exc:
        error = str(exc) or "You may not change the status of issues."
    context = _list_context(
        request,
        selected=set(ids) if error else frozenset(),
        bulk_message=message,
        bulk_error=error,
    )
    template = "issues/_results.html" if request.htmx else "issues/list.html"
    return render(request, template, context, status=400 if error else 200)


@require_GET
@login_required
def board(request):
    """One column per status. The cards of all columns come in one query (two for
    some searches, see queries.first_in_each_status) and their counts in another
    (capped, see tracker.paging), so the board costs the same few queries at any
    size."""
    issue_filter = _filter(request)
    columns = [
        {"status": value, "label": label, "shown": _shown(request, value)}
        for value, label in Status.choices
    ]
    # One card more than shown tells whether the column has more.
    limits = {column["status"]: column["shown"] + 1 for column in columns}
    found = issue_filter.narrowing() if issue_filter.is_valid() else None
    cards: dict[str, list] = {status: [] for status in limits}
    if found is not None:
        narrowing, fixed = found
        cards = queries.first_in_each_status(issue_filter.queryset, narrowing, limits, **fixed)
    counts = paging.capped_counts(
        {s: issue_filter.counted(status=s) for s in limits},
        cap=issue_filter.count_cap(by_status=True),
    )
    for column in columns:
        column_cards = cards[column["status"]]
        column["cards"] = column_cards[: column["shown"]]
        column["more"] = len(column_cards) > column["shown"]
        column["count"] = counts[column["status"]]
    filters = _filter_context(request, issue_filter)
    queries.give_labels((card for column in columns for card in column["cards"]), filters["labels"])
    context = {"columns": columns, **filters}
    if request.htmx and request.htmx.target == "board":
        return render(request, "issues/_board.html", context)
    return render(request, "issues/board.html", context)


def _shown(request, status: str) -> int:
    """How many cards a column shows: COLUMN_SIZE more per "Show more", at most
    MAX_COLUMN_CARDS; anything that is not a count shows the first COLUMN_SIZE."""
    raw = request.GET.get(f"more_{status}", "")
    more = int(raw) if raw.isascii() and raw.isdigit() else 0
    return min(more, MAX_COLUMN_CARDS - COLUMN_SIZE) + COLUMN_SIZE


@require_POST
@login_required
def move_card(request, number: int):
    """A card dropped in another column: a status change with the card's version.
    On refusal the response says why and the page puts the card back."""
    issue = get_issue_or_404(request, number)
    status = request.POST.get("status", "")
    try:
        issue = services.change_status(
            actor=request.user, issue=issue, version=posted_version(request), status=status
        )
    except VersionConflict as conflict:
        return _card(
            request, conflict.current, error=f"{conflict} Reload to see the change.", code=409
        )
    except ValidationError as exc:
        return _card(request, issue, error=" ".join(exc.messages), code=400)
    except PermissionDenied as exc:
        return _card(request, issue, error=str(exc), code=403)
    return _card(request, issue)


def _card(request, issue, error: str = "", code: int = 200) -> HttpResponse:
    issue = queries.issue_detail(request.user, pk=issue.pk)
    response = render(
        request,
        "issues/_card.html",
        {"issue": issue, "card_error": error, "can_triage": roles.can_triage(request.user)},
        status=code,
    )
    if error:
        response["HX-Reswap"] = "none"
        response["X-Card-Error"] = error.replace("\n", " ")[:300]
    return response

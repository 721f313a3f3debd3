"""What the issue pages share: finding the issue a URL names, reading the
version a form was rendered with, and the people an assignee menu offers."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404

from issues import queries
from issues.models import Issue


def get_issue_or_404(request, number: int) -> Issue:
    """404, never 403, for an issue the user may not see."""
    issue = queries.issue_detail(request.user, number=number)
    if issue is None:
        raise Http404("No such issue.")
    return issue


def assignee_options() -> list[tuple[str, str]]:
    """(value, label) of each person who may be assigned, for a drop-down."""
    return [(str(person.pk), person.name) for person in queries.assignable_people()]


def posted_version(request) -> int | None:
    """The version a form was rendered with, from its hidden field."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def form_errors(exc: ValidationError) -> dict[str, list[str]]:
    """A service's ValidationError as {field: messages}; errors about the whole
    form under "form" (templates cannot read Django's "__all__")."""
    if not hasattr(exc, "error_dict"):
        return {"form": exc.messages}
    return {("form" if k == NON_FIELD_ERRORS else k): v for k, v in exc.message_dict.items()}

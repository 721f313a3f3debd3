"""Shared checks for issue fields: every service and form gives the same answer
to the same bad input because they all come through these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

from accounts import roles
from accounts.models import User
from issues import queries
from issues.errors import NotFound
from issues.models import Issue, Label, Severity, Status

TITLE_MAX = Issue._meta.get_field("title").max_length
DESCRIPTION_MAX = 50_000
COMMENT_MAX = 20_000

TEXT_FIELDS = ("title", "description")
TRIAGE_FIELDS = ("status", "severity", "assignee", "labels")
EDITABLE_FIELDS = TEXT_FIELDS + TRIAGE_FIELDS


# PostgreSQL's text cannot hold NUL: refused here, as Django's form fields and
# DRF's do, so that no caller reaches the database with one (it was a 500).
refuse_nul = ProhibitNullCharactersValidator()


def clean_title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("A title is required.")
    refuse_nul(value)
    value = value.strip()
    if len(value) > TITLE_MAX:
        raise ValidationError(f"At most {TITLE_MAX} characters (got {len(value)}).")
    return value


def _clean_description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("Must be text.")
    refuse_nul(value)
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError(f"At most {DESCRIPTION_MAX} characters (got {len(value)}).")
    return value


def clean_status(value: Any) -> str:
    if value not in Status.values:
        raise ValidationError(f"'{value}' is not a status; use one of {', '.join(Status.values)}.")
    return value


def _clean_severity(value: Any) -> int:
    if isinstance(value, str) and value.strip().upper() in Severity.names:
        return Severity.from_name(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in Severity.values:
        return Severity(value)
    raise ValidationError(f"'{value}' is not a severity; use one of {', '.join(Severity.names)}.")


def _clean_assignee(value: Any) -> User | None:
    if value is None:
        return None
    if not isinstance(value, User):
        try:
            found = queries.user_by_id.one(int(value))  # int() as the ORM's lookup would
        except (ValueError, TypeError, OverflowError):
            found = None
        if found is None:
            raise ValidationError(f"No user with id '{value}'.")
        value = found
    if not roles.can_be_assigned(value):
        raise ValidationError(f"{value} cannot be assigned issues (only active maintainers).")
    return value


def _clean_labels(value: Any) -> list[Label]:
    """Label names (any case) or Label objects -> the existing labels, in name order."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("Give a list of label names.")
    names = []
    for item in value:
        name = item.name if isinstance(item, Label) else item
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("Label names must be non-empty text.")
        refuse_nul(name)
        names.append(name.strip())
    wanted = {name.lower() for name in names}
    found = queries.labels_named(sorted(wanted))
    missing = wanted - {label.name.lower() for label in found}
    if missing:
        raise ValidationError(f"Unknown label(s): {', '.join(sorted(missing))}.")
    return sorted(found, key=lambda label: label.name.lower())


_CLEANERS = {
    "title": clean_title,
    "description": _clean_description,
    "status": clean_status,
    "severity": _clean_severity,
    "assignee": _clean_assignee,
    "labels": _clean_labels,
}


def clean_fields(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate every field at once so the caller can show all problems together."""
    cleaned, errors = {}, {}
    for field, value in changes.items():
        try:
            cleaned[field] = _CLEANERS[field](value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def require_visible(actor, issue: Issue) -> None:
    if not roles.can_view_issue(actor, issue):
        raise NotFound("No such issue.")


def user_ref(user: User | None) -> dict | None:
    """How a user appears in the timeline: the id for links, the name as it was."""
    return None if user is None else {"id": user.pk, "name": user.name}


def event_value(field: str, value: Any) -> Any:
    if field == "assignee":
        return user_ref(value)
    if field == "severity":
        return Severity(value).name
    if field == "labels":
        return label_names(value)  # the same order whatever the DB collation
    return value


def label_names(labels: Iterable[Label]) -> list[str]:
    return sorted_names(label.name for label in labels)


def sorted_names(names: Iterable[str]) -> list[str]:
    """Label names in the one order they are shown and recorded in:
    case-insensitive by Python's rules, whatever the database's collation."""
    return sorted(names, key=str.lower)

"""The label catalogue, managed by admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from accounts import roles
from accounts.models import User
from issues.errors import NotFound
from issues.models import Label
from issues.services.validation import refuse_nul


def _clean_label_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned, errors = {}, {}
    if "name" in fields:
        name = fields["name"]
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["A name is required."]
        elif len(name.strip()) > 50:
            errors["name"] = ["At most 50 characters."]
        elif "\x00" in name:
            errors["name"] = [refuse_nul.message]
        else:
            cleaned["name"] = name.strip()
    if "colour" in fields:
        colour = fields["colour"]
        if not isinstance(colour, str) or not _is_hex_colour(colour):
            errors["colour"] = ["Use a colour like #1f883d."]
        else:
            cleaned["colour"] = colour.lower()
    if "description" in fields:
        description = fields["description"] or ""
        if not isinstance(description, str) or len(description) > 200:
            errors["description"] = ["At most 200 characters of text."]
        elif "\x00" in description:
            errors["description"] = [refuse_nul.message]
        else:
            cleaned["description"] = description
    if errors:
        raise ValidationError(errors)
    return cleaned


def _is_hex_colour(value: str) -> bool:
    return (
        len(value) == 7
        and value[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in value[1:])
    )


def _save_label(label: Label, *, adding: bool) -> Label:
    clash = Label.objects.filter(name__iexact=label.name).exclude(pk=label.pk)
    if clash.exists():
        raise ValidationError({"name": [f"A label named '{label.name}' already exists."]})
    try:
        with transaction.atomic():
            # An update must not quietly re-create a label deleted meanwhile.
            label.save(force_insert=adding, force_update=not adding)
    except IntegrityError:  # a concurrent create won the race for the name
        raise ValidationError({"name": [f"A label named '{label.name}' already exists."]}) from None
    except DatabaseError:  # the forced update found no row: deleted meanwhile
        raise NotFound("No such label.") from None
    return label


@transaction.atomic
def create_label(
    *, actor: User, name: str, colour: str = "#6b7280", description: str = ""
) -> Label:
    if not roles.can_manage_labels(actor):
        raise PermissionDenied("Only admins may manage labels.")
    cleaned = _clean_label_fields({"name": name, "colour": colour, "description": description})
    return _save_label(Label(**cleaned), adding=True)


@transaction.atomic
def update_label(*, actor: User, label: Label, changes: Mapping[str, Any]) -> Label:
    if not roles.can_manage_labels(actor):
        raise PermissionDenied("Only admins may manage labels.")
    unknown = set(changes) - {"name", "colour", "description"}
    if unknown:
        raise ValidationError({field: ["Not an editable field."] for field in sorted(unknown)})
    for field, value in _clean_label_fields(changes).items():
        setattr(label, field, value)
    return _save_label(label, adding=False)


@transaction.atomic
def delete_label(*, actor: User, label: Label) -> None:
    """Removing a label takes it off every issue; their timelines keep the name."""
    if not roles.can_manage_labels(actor):
        raise PermissionDenied("Only admins may manage labels.")
    label.delete()

"""Turning one CSV record into the fields of an issue, with the same rules as the
API (issues.services.validation), or into errors naming the line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import User
from issues.importer.reading import Header, Record, restore
from issues.models import Label, Severity, Status
from issues.services.validation import clean_fields

LABEL_SEPARATORS = re.compile(r"[;|]")
CACHE_MAX = 10_000  # distinct people / label sets remembered per import


@dataclass
class Row:
    line: int
    title: str
    description: str
    status: str
    severity: int
    assignee: User | None
    labels: list[Label]
    reporter: User


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass
class RowReader:
    """Validates records for one import. People and label sets are looked up once
    per distinct value, so a file of 100,000 rows costs a handful of queries."""

    actor: User
    header: Header
    _people: dict[str, Any] = field(default_factory=dict)
    _label_sets: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def read(self, record: Record) -> tuple[Row | None, list[RowError]]:
        if record.cells is None:
            return None, [RowError(record.line, "", record.problem)]
        header = self.header
        extra = record.cells[len(header.names) :]
        if any(cell.strip() for cell in extra):
            count = len(header.names)
            return None, [
                RowError(
                    record.line,
                    "",
                    f"This row has {len(record.cells)} cells but the header names {count} "
                    f"column{'s' if count != 1 else ''}.",
                )
            ]
        raw = {name: "" for name in header.fields if name}
        for name, cell in zip(header.fields, record.cells, strict=False):
            if name:
                raw[name] = restore(cell)

        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        simple = {
            "title": raw["title"],
            "description": raw.get("description", ""),
            "status": _status(raw.get("status", "")),
            "severity": _severity(raw.get("severity", "")),
        }
        try:
            values.update(clean_fields(simple))
        except ValidationError as exc:
            errors.update(exc.message_dict)
        for name, resolve in (
            ("assignee", self._assignee),
            ("labels", self._labels),
            ("reporter", self._reporter),
        ):
            try:
                values[name] = resolve(raw.get(name, "").strip())
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            return None, [
                RowError(record.line, header.column(name), " ".join(messages))
                for name, messages in errors.items()
            ]
        return Row(line=record.line, **values), []

    # --- people and labels, cached ------------------------------------------------

    def _cached(self, cache: dict, key, compute):
        if key not in cache:
            if len(cache) >= CACHE_MAX:
                cache.clear()
            try:
                cache[key] = ("ok", compute())
            except ValidationError as exc:
                cache[key] = ("error", exc)
        kind, value = cache[key]
        if kind == "error":
            raise value
        return value

    def _person(self, ref: str) -> User | None:
        def find():
            if "@" in ref:
                return User.objects.filter(email__iexact=ref).first()
            if ref.isascii() and ref.isdigit():
                return User.objects.filter(pk=int(ref)).first()
            raise ValidationError(f"“{ref[:100]}” is neither an email address nor a user id.")

        return self._cached(self._people, ref.lower(), find)

    def _assignee(self, ref: str) -> User | None:
        if not ref:
            return None
        user = self._person(ref)
        if user is None:
            raise ValidationError(f"No user with {'email' if '@' in ref else 'id'} “{ref[:100]}”.")
        # The API's rule (only active maintainers carry work), from the shared cleaner.
        return clean_fields({"assignee": user})["assignee"]

    def _reporter(self, ref: str) -> User:
        if not ref:
            return self.actor
        if "@" not in ref:
            raise ValidationError(f"“{ref[:100]}” is not an email address.")
        user = self._person(ref)
        if user is None or not user.is_active:
            raise ValidationError(f"No active user with email “{ref[:100]}”.")
        return user

    def _labels(self, cell: str) -> list[Label]:
        names = []
        for name in LABEL_SEPARATORS.split(cell):
            name = name.strip()
            if name and name.lower() not in {n.lower() for n in names}:
                names.append(name)
        if not names:
            return []
        key = tuple(sorted(n.lower() for n in names))
        return self._cached(
            self._label_sets, key, lambda: clean_fields({"labels": names})["labels"]
        )


def _status(value: str) -> str:
    """Empty means OPEN; `in progress`, `In-Progress` and `IN_PROGRESS` are the same."""
    value = value.strip()
    if not value:
        return Status.OPEN
    normal = re.sub(r"[\s-]+", "_", value.upper())
    return normal if normal in Status.values else value


def _severity(value: str) -> Any:
    """Empty means MEDIUM; a name in any case, or its rank 1-4."""
    value = value.strip()
    if not value:
        return Severity.MEDIUM
    return int(value) if value.isascii() and value.isdigit() and len(value) < 5 else value

"""Turning one CSV record into the fields of an issue, with the same rules as the
API (issues.services.validation), or into errors naming the line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from accounts.models import User
from issues.importer.reading import Header, Record, restore
from issues.models import Label, Severity, Status
from issues.services.validation import clean_fields
from tracker.db import one

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
    """Validates records for one import. People and labels are looked up once per
    distinct value (labels one by one: a file's rows combine a few labels in
    thousands of ways), a batch of records at a time (`prefetch`), so a file of
    100,000 rows costs a few queries per batch."""

    actor: User
    header: Header
    _people: dict[str, Any] = field(default_factory=dict)
    _label_sets: dict[tuple[str, ...], Any] = field(default_factory=dict)
    _labels_by_name: dict[str, Label | None] = field(default_factory=dict)
    _statuses: dict[str, Any] = field(default_factory=dict)
    _severities: dict[str, Any] = field(default_factory=dict)
    _assignees: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # In the order the API reports a row's errors.
        self._cleaners = (
            ("title", _title),
            ("description", _description),
            ("status", self._status),
            ("severity", self._severity),
            ("assignee", self._assignee),
            ("labels", self._labels),
            ("reporter", self._reporter),
        )

    def prefetch(self, records: list[Record]) -> None:
        """Look up the people and labels these records name that are not known yet,
        in one query each, rather than one query per value as `read` meets them."""
        fields = self.header.fields
        people = {name: fields.index(name) for name in ("assignee", "reporter") if name in fields}
        labels = fields.index("labels") if "labels" in fields else None
        emails, ids, names = set(), {}, set()
        for record in records:
            cells = record.cells or []
            for position in people.values():
                ref = restore(cells[position]).strip().lower() if position < len(cells) else ""
                if not ref or ref in self._people:
                    continue
                if "@" in ref:
                    emails.add(ref)
                elif ref.isascii() and ref.isdigit() and int(ref) < 2**63:
                    ids[ref] = int(ref)
            if labels is not None and labels < len(cells):
                for name in LABEL_SEPARATORS.split(restore(cells[labels])):
                    name = name.strip().lower()
                    if name and name not in self._labels_by_name:
                        names.add(name)
        if emails or ids:
            by_email = {
                user.lemail: user
                for user in User.objects.annotate(lemail=Lower("email")).filter(lemail__in=emails)
            }
            by_id = {user.pk: user for user in User.objects.filter(pk__in=ids.values())}
            found = {email: by_email.get(email) for email in emails}
            found.update({ref: by_id.get(pk) for ref, pk in ids.items()})
            _remember(self._people, found)
        if names:
            by_name = {
                label.lname: label
                for label in Label.objects.annotate(lname=Lower("name")).filter(lname__in=names)
            }
            _remember(self._labels_by_name, {name: by_name.get(name) for name in names})

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
        for name, clean in self._cleaners:
            try:
                values[name] = clean(raw.get(name, ""))
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            return None, [
                RowError(record.line, header.column(name), " ".join(messages))
                for name, messages in errors.items()
            ]
        return Row(line=record.line, **values), []

    # --- values that repeat (statuses, severities, people, labels): cached ----------

    def _status(self, cell: str) -> str:
        return self._cached(
            self._statuses, cell, lambda: clean_fields({"status": _status(cell)})["status"]
        )

    def _severity(self, cell: str) -> int:
        return self._cached(
            self._severities, cell, lambda: clean_fields({"severity": _severity(cell)})["severity"]
        )

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
                return User.objects.annotate(lemail=Lower("email")).filter(lemail=ref).first()
            if ref.isascii() and ref.isdigit():
                return one(User.objects.filter(pk=int(ref)))
            raise ValidationError(f"“{ref[:100]}” is neither an email address nor a user id.")

        ref = ref.lower()
        return self._cached(self._people, ref, find)

    def _assignee(self, cell: str) -> User | None:
        ref = cell.strip()
        if not ref:
            return None

        def find():
            user = self._person(ref)
            if user is None:
                kind = "email" if "@" in ref else "id"
                raise ValidationError(f"No user with {kind} “{ref[:100]}”.")
            # The API's rule (only active maintainers carry work), from the shared cleaner.
            return clean_fields({"assignee": user})["assignee"]

        return self._cached(self._assignees, ref.lower(), find)

    def _reporter(self, cell: str) -> User:
        ref = cell.strip()
        if not ref:
            return self.actor
        if "@" not in ref:
            raise ValidationError(f"“{ref[:100]}” is not an email address.")
        user = self._person(ref)
        if user is None or not user.is_active:
            raise ValidationError(f"No active user with email “{ref[:100]}”.")
        return user

    def _label(self, lower_name: str) -> Label | None:
        """The label with this name in any case (as issues.services.validation matches)."""

        def find():
            return Label.objects.annotate(lname=Lower("name")).filter(lname=lower_name).first()

        return self._cached(self._labels_by_name, lower_name, find)

    def _labels(self, cell: str) -> list[Label]:
        if not cell.strip():
            return []
        names = []
        for name in LABEL_SEPARATORS.split(cell):
            name = name.strip()
            if name and name.lower() not in {n.lower() for n in names}:
                names.append(name)
        if not names:
            return []
        key = tuple(sorted(n.lower() for n in names))
        labels = [self._label(name) for name in key]
        if None in labels:  # the API's answer, message and all
            return self._cached(
                self._label_sets, key, lambda: clean_fields({"labels": names})["labels"]
            )
        return labels  # in name order, as the API's cleaner gives them


def _remember(cache: dict, found: dict) -> None:
    """Put lookups into one of RowReader's caches (kept under CACHE_MAX entries)."""
    if len(cache) + len(found) > CACHE_MAX:
        cache.clear()
    cache.update((key, ("ok", value)) for key, value in found.items())


def _title(cell: str) -> str:
    return clean_fields({"title": cell})["title"]


def _description(cell: str) -> str:
    return clean_fields({"description": cell})["description"]


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

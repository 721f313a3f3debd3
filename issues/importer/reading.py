"""Reading an uploaded CSV file without ever holding it whole.

`store_upload` streams the upload to a file under MEDIA_ROOT/imports/ in chunks,
and on the way computes the import id (SHA-256 of the bytes), counts lines and
refuses what is not UTF-8 text. `read_header` and `records` then parse the stored
file one line at a time with the csv module over a TextIOWrapper.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from issues.errors import PayloadTooLarge

CHUNK = 64 * 1024
DELIMITERS = ",;"

# The columns an import reads, and the ones an export adds that an import
# accepts and ignores (numbers come from the sequence, times from the import).
COLUMNS = ("title", "description", "status", "severity", "assignee", "labels", "reporter")
ALIASES = {"priority": "severity"}
IGNORED = ("number", "created_at", "updated_at", "resolved_at")

# A cell starting with one of these is a formula to a spreadsheet: the export
# puts a ' in front of it and the import takes that ' away again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Export side. Leading quotes are looked through, so that a value which itself
    starts with ' and a formula character also survives the round trip."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_START) else value


def restore(value: str) -> str:
    """Import side: undo `neutralise`."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_START):
        return value[1:]
    return value


def file_error(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


@dataclass
class StoredFile:
    path: Path
    sha256: str
    size: int
    lines: int


def _chunks(upload) -> Iterator[bytes]:
    if hasattr(upload, "chunks"):
        yield from upload.chunks(CHUNK)
        return
    while chunk := upload.read(CHUNK):
        yield chunk


def store_upload(upload, path: Path) -> StoredFile:
    """Copy `upload` (a Django UploadedFile or any binary file object) to `path`,
    checking the size limit, UTF-8 and NULs as the bytes go by. On refusal the
    partial copy is removed and ValidationError (or PayloadTooLarge) is raised."""
    limit = settings.IMPORT_MAX_BYTES
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    size = newlines = 0
    last = b""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("wb") as out:
            for chunk in _chunks(upload):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"The file is over the import limit of {human_size(limit)}; "
                        "split it into smaller files.",
                        limit=limit,
                    )
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    at = max(0, exc.start - pending)
                    line = newlines + chunk.count(b"\n", 0, at) + 1
                    raise _not_utf8(line, chunk[at : at + 1]) from None
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    line = newlines + chunk.count(b"\n", 0, nul) + 1
                    raise file_error(
                        f"Line {line} contains a NUL byte: this is a binary file, not CSV text."
                    )
                digest.update(chunk)
                out.write(chunk)
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise _not_utf8(newlines + 1, b"") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    lines = newlines + (1 if last not in (b"", b"\n") else 0)
    return StoredFile(path=path, sha256=digest.hexdigest(), size=size, lines=lines)


def human_size(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb and size % mb == 0 else f"{size} bytes"


def _not_utf8(line: int, byte: bytes) -> ValidationError:
    which = f" (byte 0x{byte.hex().upper()})" if byte else " (it ends in the middle of a character)"
    return file_error(
        f"Line {line} is not valid UTF-8{which}: this is not a UTF-8 text file. "
        "Save it as “CSV UTF-8” and upload it again."
    )


def _open_text(path: Path) -> io.TextIOWrapper:
    # utf-8-sig drops a byte order mark; newline="" as the csv module requires, so
    # that line breaks inside quoted cells stay part of the cell.
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")


def _delimiter(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters=DELIMITERS).delimiter
    except csv.Error:  # a single column: nothing to tell them apart by
        return ";" if first_line.count(";") > first_line.count(",") else ","


@dataclass
class Header:
    delimiter: str
    names: list[str]  # as written in the file, stripped
    fields: list[str | None]  # what each column is: a COLUMNS name, or None (ignored)

    def column(self, field: str) -> str:
        """The header name the file uses for `field` (e.g. `priority`)."""
        return self.names[self.fields.index(field)]


def _field(name: str) -> str:
    key = re.sub(r"[\s-]+", "_", name.strip().lower())
    return ALIASES.get(key, key)


def parse_header(first_line: str) -> Header:
    if not first_line.strip():
        raise file_error(
            "The first line is empty: it must name the columns, e.g. title,description,severity."
        )
    delimiter = _delimiter(first_line)
    try:
        names = [name.strip() for name in next(csv.reader([first_line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        raise file_error("The first line is not a CSV header.") from None
    problems, fields, seen = [], [], {}
    for position, name in enumerate(names, start=1):
        field = _field(name)
        if not name:
            problems.append(f"Column {position} has no name.")
        elif field not in COLUMNS and field not in IGNORED:
            problems.append(f"Unknown column “{name[:50]}”.")
        elif field in seen:
            problems.append(f"Column “{name}” repeats column “{seen[field]}”.")
        else:
            seen[field] = name
        fields.append(field if field in COLUMNS else None)
    if "title" not in seen:
        problems.append("There is no “title” column, and every issue needs a title.")
    if problems:
        known = ", ".join(COLUMNS)
        if len(problems) > 5 or not seen:
            problems.append(
                f"This does not look like an issue CSV file: the first line must name "
                f"its columns, from {known} (severity may be called priority)."
            )
        raise ValidationError({"file": problems[:10]})
    return Header(delimiter=delimiter, names=names, fields=fields)


def read_header(path: Path) -> Header:
    with _open_text(path) as text:
        return parse_header(text.readline())


@dataclass
class Record:
    line: int  # the physical line the record starts on (the header is line 1)
    last_line: int  # the physical line it ends on
    cells: list[str] | None  # None: the csv module could not read it
    problem: str = ""


def records(path: Path, header: Header) -> Iterator[Record]:
    """Every data record of the file (read with `header`) with its line numbers.
    Blank lines are skipped; a record the csv module refuses (bad quoting) comes
    with `problem` set, and reading goes on at the next line."""
    with _open_text(path) as text:
        text.readline()
        reader = csv.reader(text, delimiter=header.delimiter, strict=True)
        done = 1  # physical lines consumed so far, the header included
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start, done = done + 1, reader.line_num + 1
                yield Record(start, done, None, f"This line is not valid CSV ({exc}).")
                continue
            start, done = done + 1, reader.line_num + 1
            if not cells or all(not cell.strip() for cell in cells):
                continue
            yield Record(start, done, cells)


def count_records(path: Path, header: Header) -> int:
    """The exact number of data records (slower than counting lines: only used
    when the line count alone says the file may be over the row limit)."""
    return sum(1 for _ in records(path, header))

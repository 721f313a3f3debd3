"""Writing one batch of validated rows, set-based, inside the caller's transaction.

The rows go to PostgreSQL in one `COPY` into a temporary table (dropped at
commit), then five statements make everything an imported issue has, however
many rows the batch holds: the issues (numbers from their sequence, their search
words written by its trigger) with a live announcement each, their labels, an
IMPORTED timeline event each (the values, the file and the line), the
ImportedRow that keys each issue to its file and line (so a re-run skips it),
and the watches of the reporter and the assignee, as `create_issue` makes them.

Why it is fast: no per-row round trips or ORM objects, and imported issues get
time-ordered (version 7) UUIDs, so the issue's primary key and every index on
`issue_id` (events, labels, watches, import keys) grow at one end instead of
taking a random page per row. What is left is the issue table's own index
upkeep, as for a raw COPY into it (bench/import_copy.py measures the two).
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from issues import live, notifications
from issues.importer.rows import Row
from issues.models import EventKind, ImportedRow, ImportJob, Severity
from issues.services.validation import label_names, user_ref

# A version 7 UUID (RFC 9562): 48 bits of Unix time in milliseconds, the version
# and variant bits, random bits. (PostgreSQL 18 has uuidv7(); 15 does not.)
UUID7 = """encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"""

STAGING = f"""
CREATE TEMPORARY TABLE import_batch (
    line integer NOT NULL,
    id uuid NOT NULL DEFAULT {UUID7},
    title text NOT NULL,
    description text NOT NULL,
    status text NOT NULL,
    severity smallint NOT NULL,
    reporter_id bigint NOT NULL,
    assignee_id bigint,
    label_ids bigint[] NOT NULL,
    label_names jsonb NOT NULL,
    assignee_ref jsonb,
    reporter_ref jsonb NOT NULL,
    may_notify boolean NOT NULL
) ON COMMIT DROP
"""

COPY = """
COPY import_batch (line, title, description, status, severity, reporter_id, assignee_id,
                   label_ids, label_names, assignee_ref, reporter_ref, may_notify) FROM STDIN
"""

# Numbers are drawn in line order; what comes back is announced live
# (live.announce_many), sent like every pg_notify only on commit.
ISSUES = """
INSERT INTO issues_issue (id, title, description, status, severity, reporter_id,
                          assignee_id, version, created_at, updated_at, resolved_at)
SELECT id, title, description, status, severity, reporter_id, assignee_id, 1,
       %(now)s, %(now)s, CASE WHEN status = 'DONE' THEN %(now)s::timestamptz END
FROM import_batch
ORDER BY line
RETURNING id, number, reporter_id
"""

# What live.announce_many reads of an issue.
Created = namedtuple("Created", "pk number reporter_id")

LABELS = """
INSERT INTO issues_issue_labels (issue_id, label_id)
SELECT id, unnest(label_ids) FROM import_batch
"""

# The event says what the issue was made from: the values, the file and its line.
# Those that may call for mail come back, for notifications.schedule().
EVENTS = """
WITH events AS (
    INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, data, created_at)
    SELECT id, %(actor)s, %(kind)s, '',
           jsonb_build_object(
               'import', %(import_id)s::text, 'job', %(job)s::text, 'file', %(file)s::text,
               'line', line, 'title', title, 'status', status,
               'severity', %(severity_names)s::jsonb ->> severity::text,
               'labels', label_names, 'assignee', assignee_ref, 'reporter', reporter_ref),
           %(now)s
    FROM import_batch
    ORDER BY line
    RETURNING id, issue_id
)
SELECT events.id, events.issue_id, import_batch.line
FROM events JOIN import_batch ON import_batch.id = events.issue_id
WHERE import_batch.may_notify
"""

SEVERITY_NAMES = json.dumps({str(severity.value): severity.name for severity in Severity})

IMPORTED_ROWS = """
INSERT INTO issues_importedrow (import_id, line, issue_id)
SELECT %(import_id)s, line, id FROM import_batch
"""

WATCHES = """
INSERT INTO issues_watch (user_id, issue_id, created_at)
SELECT DISTINCT person, id, %(now)s::timestamptz
FROM import_batch, LATERAL (VALUES (reporter_id), (assignee_id)) AS people (person)
WHERE person IS NOT NULL
"""


def lock_import(job: ImportJob) -> None:
    """Two imports of the same file at once take turns, batch by batch (held until
    the caller's transaction ends), so they never both create the same line.

    The batch's commit does not wait for the disk (synchronous_commit off, for this
    transaction only): should the server crash within the next fraction of a
    second, the batch is lost together with the progress that counts it, which
    the job's failure and a re-run handle like any other interruption."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [job.import_id])
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def already_imported(job: ImportJob, rows: list[Row]) -> set[int]:
    """The lines of `rows` this file has produced before (a range scan of the
    (import_id, line) key: rows come in line order)."""
    if not rows:
        return set()
    lines = ImportedRow.objects.filter(
        import_id=job.import_id, line__gte=rows[0].line, line__lte=rows[-1].line
    ).values_list("line", flat=True)
    return set(lines) & {row.line for row in rows}


def count_new(job: ImportJob, rows: list[Row]) -> tuple[int, int]:
    """A dry run's batch: (rows that would be created, rows imported before)."""
    done = already_imported(job, rows)
    return len(rows) - len(done), len(done)


def write_rows(job: ImportJob, rows: list[Row]) -> tuple[int, int]:
    """The rows of this batch that this file has not produced before become issues
    with everything that comes with them. Returns (created, skipped)."""
    lock_import(job)
    done = already_imported(job, rows)
    rows = [row for row in rows if row.line not in done]
    if not rows:
        return 0, len(done)
    now = timezone.now()
    people, label_sets = {}, {}  # their JSON, made once per batch
    with connection.cursor() as cursor:
        cursor.execute(STAGING)
        with cursor.copy(COPY) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row.line,
                        row.title,
                        row.description,
                        row.status,
                        row.severity,
                        row.reporter.pk,
                        row.assignee.pk if row.assignee else None,
                        [label.pk for label in row.labels],
                        _labels_json(row.labels, label_sets),
                        _person_json(row.assignee, people),
                        _person_json(row.reporter, people),
                        _may_notify(row),
                    )
                )
        cursor.execute(ISSUES, {"now": now})
        live.announce_many("created", [Created(*issue) for issue in cursor.fetchall()])
        cursor.execute(LABELS)
        cursor.execute(
            EVENTS,
            {
                "actor": job.created_by_id,
                "kind": EventKind.IMPORTED,
                "import_id": job.import_id,
                "job": str(job.pk),
                "file": job.file_name,
                "severity_names": SEVERITY_NAMES,
                "now": now,
            },
        )
        may_notify = cursor.fetchall()
        cursor.execute(IMPORTED_ROWS, {"import_id": job.import_id})
        cursor.execute(WATCHES, {"now": now})
        # Dropped now, not only at commit: the batch may be a savepoint of a longer
        # transaction (an import run inside a request, or a test).
        cursor.execute("DROP TABLE import_batch")
    notifications.schedule(_events(may_notify, {row.line: row for row in rows}))
    return len(rows), len(done)


def _person_json(user, cache: dict) -> str | None:
    if user is None:
        return None
    key = (user.pk, user.name)
    if key not in cache:
        cache[key] = json.dumps(user_ref(user))
    return cache[key]


def _labels_json(labels: list, cache: dict) -> str:
    key = tuple((label.pk, label.name) for label in labels)
    if key not in cache:
        cache[key] = json.dumps(label_names(labels))
    return cache[key]


def _may_notify(row: Row) -> bool:
    """Could the new issue's event call for mail (an assignee, or an @mention in the
    description)? Only a pre-filter: notifications.schedule() decides."""
    return row.assignee is not None or "@" in row.description


@dataclass(frozen=True, slots=True)
class _Text:
    description: str


@dataclass(frozen=True, slots=True)
class _WrittenEvent:
    """What notifications.schedule() reads of an IMPORTED event just written (its
    task reads the event again, whole). Model objects for tens of thousands of
    them would cost more than the SQL that wrote them."""

    pk: int
    issue_id: Any
    issue: _Text
    data: dict
    kind: str = EventKind.IMPORTED
    field: str = ""
    new_value: Any = None


def _events(refs: Iterable[tuple], rows: dict[int, Row]) -> list[_WrittenEvent]:
    """The written events (id, issue id, line) that may call for mail."""
    return [
        _WrittenEvent(
            pk=event_id,
            issue_id=issue_id,
            issue=_Text(rows[line].description),
            data={"assignee": user_ref(rows[line].assignee)},
        )
        for event_id, issue_id, line in refs
    ]

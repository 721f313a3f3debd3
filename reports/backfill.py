"""Rebuilding DailyStat for past days from the issues' timelines.

For each day of the range, each issue counts in the status and severity it had
at the end of that day (UTC), as told by its timeline: the state recorded by its
CREATED/IMPORTED event, then every FIELD_CHANGED/BULK_CHANGE of `status` or
`severity`. An issue created after a day does not count on that day; a deleted
issue has no timeline left and counts nowhere.

All of it is one SQL statement, set-based rather than a loop over issues:

1. `initial`: each issue's first state. DISTINCT ON picks its creation event's
   values; without one (rows loaded in bulk, say) the `old_value` of its first
   change; without any event, the issue's current values.
2. `points`: the moments an issue's state may change — its creation, then each
   change event — each carrying the new status and/or severity.
3. `states`: the full state at each point, carrying the field that did not change
   forward (count() and first_value() windows: "last non-null value").
4. `segments`: LEAD() gives when each state ended; a state counts at the end of
   the days from the day it began up to, not including, the day it ended (a
   state replaced the same day never counts).
5. Each segment, clipped to the range, adds +1 on its first day and -1 on the day
   after its last; a running SUM() window over the days of every status x severity
   cell turns those steps into the count of each day.
6. Upsert (INSERT ... ON CONFLICT DO UPDATE), every cell of every day written,
   zeros included, exactly like the aggregation task: re-running gives the same
   rows.
"""

import datetime

from django.db import connection, transaction

from issues.models import EventKind, Severity, Status

_BACKFILL = """
WITH
ev AS (
    SELECT
        e.issue_id,
        e.id AS event_id,
        e.created_at AS at,
        e.kind IN (%(created)s, %(imported)s) AS is_creation,
        CASE WHEN e.kind IN (%(created)s, %(imported)s) THEN e.data ->> 'status'
             WHEN e.field = 'status' THEN e.new_value #>> '{}' END AS new_status,
        CASE WHEN e.kind IN (%(created)s, %(imported)s) THEN e.data ->> 'severity'
             WHEN e.field = 'severity' THEN e.new_value #>> '{}' END AS new_severity,
        CASE WHEN e.field = 'status' THEN e.old_value #>> '{}' END AS old_status,
        CASE WHEN e.field = 'severity' THEN e.old_value #>> '{}' END AS old_severity
    FROM issues_issueevent AS e
    WHERE e.kind IN (%(created)s, %(imported)s)
       OR (e.kind IN (%(changed)s, %(bulk)s) AND e.field IN ('status', 'severity'))
),
-- Severity travels by name in the timeline (HIGH); DailyStat stores its rank (3).
ranked AS (
    SELECT ev.*,
        COALESCE(
            (%(ranks)s::smallint[])[array_position(%(names)s::text[], upper(new_severity))],
            CASE WHEN new_severity ~ '^[0-9]+$' THEN new_severity::smallint END
        ) AS new_rank,
        COALESCE(
            (%(ranks)s::smallint[])[array_position(%(names)s::text[], upper(old_severity))],
            CASE WHEN old_severity ~ '^[0-9]+$' THEN old_severity::smallint END
        ) AS old_rank
    FROM ev
),
first_status AS (
    SELECT DISTINCT ON (issue_id) issue_id,
        CASE WHEN is_creation THEN new_status ELSE old_status END AS status
    FROM ranked
    WHERE (is_creation AND new_status IS NOT NULL) OR (NOT is_creation AND old_status IS NOT NULL)
    ORDER BY issue_id, is_creation DESC, at, event_id
),
first_severity AS (
    SELECT DISTINCT ON (issue_id) issue_id,
        CASE WHEN is_creation THEN new_rank ELSE old_rank END AS severity
    FROM ranked
    WHERE (is_creation AND new_rank IS NOT NULL) OR (NOT is_creation AND old_rank IS NOT NULL)
    ORDER BY issue_id, is_creation DESC, at, event_id
),
issue AS (
    SELECT i.id, i.created_at,
        COALESCE(fs.status, i.status) AS status,
        COALESCE(fv.severity, i.severity) AS severity
    FROM issues_issue AS i
    LEFT JOIN first_status AS fs ON fs.issue_id = i.id
    LEFT JOIN first_severity AS fv ON fv.issue_id = i.id
    WHERE i.created_at < %(end)s
),
points AS (
    SELECT id AS issue_id, created_at AS at, 0 AS seq, 0::bigint AS event_id,
        status, severity
    FROM issue
    UNION ALL
    -- A change stamped before its issue's creation (clock skew) counts from the creation.
    SELECT r.issue_id, GREATEST(r.at, issue.created_at), 1, r.event_id,
        r.new_status, r.new_rank
    FROM ranked AS r JOIN issue ON issue.id = r.issue_id
    WHERE NOT r.is_creation AND (r.new_status IS NOT NULL OR r.new_rank IS NOT NULL)
),
grouped AS (
    SELECT points.*,
        count(status) OVER w AS status_group,
        count(severity) OVER w AS severity_group
    FROM points
    WINDOW w AS (PARTITION BY issue_id ORDER BY at, seq, event_id)
),
states AS (
    SELECT issue_id, at, seq, event_id,
        first_value(status) OVER (
            PARTITION BY issue_id, status_group ORDER BY at, seq, event_id
        ) AS status,
        first_value(severity) OVER (
            PARTITION BY issue_id, severity_group ORDER BY at, seq, event_id
        ) AS severity
    FROM grouped
),
segments AS (
    SELECT status, severity,
        (at AT TIME ZONE 'UTC')::date AS first_day,
        (lead(at) OVER (PARTITION BY issue_id ORDER BY at, seq, event_id) AT TIME ZONE 'UTC')::date
            AS end_day
    FROM states
),
clipped AS (
    SELECT status, severity,
        GREATEST(first_day, %(since)s::date) AS start_day,
        LEAST(COALESCE(end_day, %(after)s::date), %(after)s::date) AS stop_day
    FROM segments
),
steps AS (
    SELECT start_day AS day, status, severity, 1 AS step
    FROM clipped WHERE start_day < stop_day
    UNION ALL
    SELECT stop_day, status, severity, -1
    FROM clipped WHERE start_day < stop_day AND stop_day < %(after)s::date
),
daily_steps AS (
    SELECT day, status, severity, sum(step) AS step FROM steps GROUP BY day, status, severity
),
grid AS (
    SELECT d::date AS day, cell_status.status, cell_severity.severity
    FROM generate_series(%(since)s::date, %(until)s::date, interval '1 day') AS d
    CROSS JOIN unnest(%(statuses)s::text[]) AS cell_status(status)
    CROSS JOIN unnest(%(severities)s::smallint[]) AS cell_severity(severity)
),
counts AS (
    SELECT grid.day, grid.status, grid.severity,
        sum(COALESCE(daily_steps.step, 0)) OVER (
            PARTITION BY grid.status, grid.severity ORDER BY grid.day
        ) AS count
    FROM grid
    LEFT JOIN daily_steps
        ON daily_steps.day = grid.day
       AND daily_steps.status = grid.status
       AND daily_steps.severity = grid.severity
)
INSERT INTO reports_dailystat (date, status, severity, count, computed_at)
SELECT day, status, severity, count, now() FROM counts
ON CONFLICT (date, status, severity)
DO UPDATE SET count = EXCLUDED.count, computed_at = EXCLUDED.computed_at
"""


def backfill_daily_stats(since: datetime.date, until: datetime.date) -> int:
    """Rewrite the DailyStat rows of the days since..until (both included) from the
    timeline. Idempotent. Returns the number of cells written (16 a day)."""
    if since > until:
        raise ValueError("since must not be after until")
    after = until + datetime.timedelta(days=1)
    params = {
        "since": since,
        "until": until,
        "after": after,
        "end": datetime.datetime.combine(after, datetime.time.min, tzinfo=datetime.UTC),
        "statuses": list(Status.values),
        "severities": list(Severity.values),
        "names": list(Severity.names),
        "ranks": list(Severity.values),
        "created": EventKind.CREATED.value,
        "imported": EventKind.IMPORTED.value,
        "changed": EventKind.FIELD_CHANGED.value,
        "bulk": EventKind.BULK_CHANGE.value,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_BACKFILL, params)
        return cursor.rowcount

"""Aggregation of issue counts into DailyStat."""

import datetime

from django.db import connection
from django.utils import timezone

from issues.models import Severity, Status

# Every status x severity cell is written, zeros included, so a cell that empties
# during the day is corrected rather than left at its last non-zero count. The
# issues are grouped first (an index-only scan of the (severity, status) index),
# and only the 16 counts are joined to the cells, not a million rows.
_UPSERT = """
INSERT INTO reports_dailystat (date, status, severity, count, computed_at)
SELECT %(day)s, cell_status.status, cell_severity.severity, COALESCE(counted.n, 0), now()
FROM unnest(%(statuses)s::text[]) AS cell_status(status)
CROSS JOIN unnest(%(severities)s::smallint[]) AS cell_severity(severity)
LEFT JOIN (
    SELECT status, severity, count(*) AS n FROM issues_issue GROUP BY status, severity
) AS counted
       ON counted.status = cell_status.status AND counted.severity = cell_severity.severity
ON CONFLICT (date, status, severity)
DO UPDATE SET count = EXCLUDED.count, computed_at = EXCLUDED.computed_at
"""


def aggregate_daily_stats(day: datetime.date | None = None) -> int:
    """Snapshot today's counts with one GROUP BY and an upsert: idempotent, and
    safe when two workers run it at once. Returns the number of cells written."""
    day = day or timezone.now().date()
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            {"day": day, "statuses": list(Status.values), "severities": list(Severity.values)},
        )
        return cursor.rowcount

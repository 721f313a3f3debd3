"""Reports computed ahead of time for the whole history.

Most reports answer any period live in well under a second at a million issues.
The resolution-time percentiles over the whole history do not: they sort every
resolved issue (850,000 of them), per assignee and overall, about 2 s. So the
Celery beat task `reports.tasks.refresh_report_snapshots` (every
STATS_INTERVAL_MINUTES) computes that report for the whole history and stores
it; a request for the whole history (a period that ends today and starts on or
before the first resolution) is answered from it, with the time it was computed
as its `as_of` — shown on the dashboard and in the API. Every other period is
computed live, as before.
"""

from __future__ import annotations

import datetime

from django.db.models import Min
from django.utils import timezone

from issues.models import Issue
from reports import queries
from reports.models import ReportSnapshot

LATENCY = "resolution-latency"


def whole_history(today: datetime.date | None = None) -> queries.Period:
    """From the first resolution (at most MAX_DAYS back) to today, UTC."""
    today = today or queries.today()
    earliest = today - datetime.timedelta(days=queries.MAX_DAYS - 1)
    first = Issue.objects.filter(resolved_at__isnull=False).aggregate(first=Min("resolved_at"))
    since = first["first"].astimezone(datetime.UTC).date() if first["first"] else today
    return queries.Period(min(max(earliest, since), today), today)


def refresh_latency(today: datetime.date | None = None) -> ReportSnapshot:
    """Compute and store the whole-history resolution latency; idempotent."""
    period = whole_history(today)
    started = timezone.now()
    data = queries.latency_of(Issue.objects.order_by(), period)
    snapshot, _ = ReportSnapshot.objects.update_or_create(
        report=LATENCY,
        defaults={
            "since": period.since,
            "until": period.until,
            "data": data,
            "computed_at": started,
        },
    )
    return snapshot

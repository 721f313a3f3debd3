from celery import shared_task
from django.db import transaction

from issues import live
from reports import stats


# Sent by beat, not by requests; its result (the cells written) is kept for
# operators and tests who wait for a run.
@shared_task(name="reports.tasks.aggregate_daily_stats", ignore_result=False)
def aggregate_daily_stats() -> int:
    """Refresh today's counts; open dashboards hear about it once they commit."""
    with transaction.atomic():
        cells = stats.aggregate_daily_stats()
        live.announce_stats()
    return cells


@shared_task(name="reports.tasks.refresh_report_snapshots")
def refresh_report_snapshots() -> str:
    """Recompute the reports served precomputed (reports.snapshots); returns the
    snapshot's description."""
    from reports import snapshots

    return str(snapshots.refresh_latency())

from celery import shared_task

from reports import stats


@shared_task(name="reports.tasks.aggregate_daily_stats")
def aggregate_daily_stats() -> int:
    return stats.aggregate_daily_stats()

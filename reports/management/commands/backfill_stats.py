"""Rebuild the daily stats of past days from the issues' timelines:

    manage.py backfill_stats --since 2025-01-01 [--until 2025-03-31]

`--until` defaults to today (UTC). Every status x severity cell of every day is
upserted, so running it again, or over a range the stats task already covered,
leaves the same rows. See reports/backfill.py for how the history is read.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError

from reports.backfill import backfill_daily_stats
from reports.queries import EARLIEST, today

MAX_DAYS = 20 * 366


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Reconstruct DailyStat rows for past days from the issue timeline (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today, UTC)")

    def handle(self, *args, since: str, until: str | None, **options):
        first = iso_date(since)
        last = iso_date(until) if until else today()
        if first < EARLIEST:
            raise CommandError(f"--since must be on or after {EARLIEST}.")
        if last > today():
            raise CommandError(f"--until ({last}) is in the future; the last day is today.")
        if first > last:
            raise CommandError(f"--since ({first}) must not be after --until ({last}).")
        days = (last - first).days + 1
        if days > MAX_DAYS:
            raise CommandError(f"At most {MAX_DAYS} days at a time; this is {days}.")
        written = backfill_daily_stats(first, last)
        self.stdout.write(
            f"Backfilled {days} day(s) from {first} to {last}: {written} rows written."
        )

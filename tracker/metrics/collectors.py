"""Gauges computed when Prometheus scrapes, from the database and the broker.

A part that cannot answer (database or Redis down) leaves its gauge out of the
scrape, logs a warning and sets `tracker_metrics_source_up{source=...}` to 0:
an absent series is what Prometheus alerts (`absent()`) and sums handle well,
where a made-up -1 would corrupt every sum.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import GaugeMetricFamily, Metric

from issues.models import Issue, PendingMail, Severity, Status

logger = logging.getLogger(__name__)

REDIS_SCHEMES = {"redis", "rediss", "unix"}
DEFAULT_QUEUE = "celery"


def open_issues_query():
    """(severity, count) of the issues not DONE. Served by the partial index
    `issue_open_severity_idx` (severity WHERE status <> DONE): an index-only
    scan of the open issues alone, ~10 ms with 150,000 open among 1,000,000,
    where any other index or a sequential scan reads all of them (~150 ms)."""
    return (
        Issue.objects.exclude(status=Status.DONE)
        .order_by()
        .values("severity")
        .annotate(n=Count("*"))
        .values_list("severity", "n")
    )


def open_issues_by_severity() -> dict[int, int]:
    return dict(open_issues_query())


def pending_mail() -> tuple[int, float]:
    """How many changes' mail is waiting to be sent (issues.notifications), and
    for how many seconds the oldest has waited (0 when none): mail piling up
    means no worker or beat runs, or the mail server refuses it."""
    found = PendingMail.objects.aggregate(n=Count("*"), oldest=Min("created_at"))
    waited = (timezone.now() - found["oldest"]).total_seconds() if found["oldest"] else 0.0
    return found["n"], max(waited, 0.0)


def celery_queues() -> list[str]:
    """The queues our tasks are sent to: Celery's default one and those the
    settings name (empty settings mean the default queue)."""
    names = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or DEFAULT_QUEUE]
    for name in (settings.NOTIFICATIONS_QUEUE, settings.IMPORT_QUEUE):
        if name and name not in names:
            names.append(name)
    return names


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    """One client (and connection pool) per broker URL, reused across scrapes;
    short timeouts so a Redis that does not answer cannot hold a scrape."""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def queue_lengths(url: str, queues: list[str]) -> dict[str, int]:
    """Messages waiting per queue, as kombu's Redis transport stores them: one
    list per queue and priority step (`<queue>\\x06\\x16<step>` for steps > 0)."""
    steps = [step for step in PRIORITY_STEPS if step]
    with _redis(url).pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue)
            for step in steps:
                pipe.llen(f"{queue}{Channel.sep}{step}")
        lengths = pipe.execute()
    per_queue = len(steps) + 1
    return {
        queue: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


class ScrapeTimeCollector:
    """A prometheus_client collector (anything with `collect()`): asked on every
    scrape, never registered globally, so tests and multiprocess mode can put
    it beside whichever registry they export."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tracker_metrics_source_up",
            "1 if the source of the scrape-time gauges answered this scrape, else 0.",
            labels=["source"],
        )
        yield from self._database(up)
        yield from self._queues(up)
        yield up

    def _database(self, up: GaugeMetricFamily) -> Iterator[Metric]:
        try:
            counts = open_issues_by_severity()
            waiting, waited = pending_mail()
        except Exception as exc:  # a scrape must not fail because the database did
            logger.warning("metrics: open issues not counted: %s: %s", type(exc).__name__, exc)
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        family = GaugeMetricFamily(
            "tracker_open_issues", "Issues not DONE, by severity.", labels=["severity"]
        )
        for severity in Severity:
            family.add_metric([severity.name], counts.get(severity.value, 0))
        yield family
        yield GaugeMetricFamily(
            "tracker_pending_mail", "Changes whose notification mail is not sent yet.", waiting
        )
        yield GaugeMetricFamily(
            "tracker_pending_mail_age_seconds",
            "How long the oldest pending notification mail has waited (0 when none).",
            waited,
        )

    def _queues(self, up: GaugeMetricFamily) -> Iterator[Metric]:
        url = settings.CELERY_BROKER_URL
        if urlsplit(url).scheme not in REDIS_SCHEMES:
            return  # another broker: its own exporter knows its queues
        queues = celery_queues()
        try:
            lengths = queue_lengths(url, queues)
        except redis.RedisError as exc:
            logger.warning("metrics: Celery queues not measured: %s: %s", type(exc).__name__, exc)
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        family = GaugeMetricFamily(
            "tracker_celery_queue_length",
            "Tasks waiting in the Celery queue (Redis broker).",
            labels=["queue"],
        )
        for queue in queues:
            family.add_metric([queue], lengths[queue])
        yield family

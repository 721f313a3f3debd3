"""GET /metrics: the Prometheus text format, for scrapers only (see access.py).

Refused requests get the same 404 as any unknown URL, so the endpoint does not
advertise itself; the reason is logged (warning) for whoever sets up the scraper.
"""

from __future__ import annotations

import logging
import os

from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from tracker.metrics import access
from tracker.metrics.collectors import ScrapeTimeCollector

logger = logging.getLogger(__name__)


def _process_metrics() -> bytes:
    """This process's counters and histograms, or, when the ASGI server runs
    several worker processes with PROMETHEUS_MULTIPROC_DIR set, the sum over all
    of them (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@require_GET
@never_cache
def metrics(request):
    reason = access.refusal(request)
    if reason:
        logger.warning("metrics: refused: %s", reason)
        raise Http404
    body = _process_metrics() + generate_latest(ScrapeTimeCollector())
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)

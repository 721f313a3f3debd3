"""Per-request metrics: the series README "Metrics and logs" documents, and no
others.

These were django-prometheus' two middlewares, whose names, help texts and
buckets they keep. Those update some fifteen series a request (totals before
and after the middleware, by method, by transport, by charset, request and
response body sizes, streaming, AJAX...), each a locked write to a
memory-mapped file when several processes share the metrics, and nothing read
most of them: they were 11 % of the instructions of an API issue detail
(callgrind, in process: 4.13 M a request with them, 3.66 M without). Here a
request updates two counters and two latency histograms, besides the
statements-per-request histogram it always had.

Method labels outside the HTTP methods read "<invalid method>", and paths that
resolve to no view "<unnamed view>", so a scanner cannot grow the number of
series. The queries-per-request histogram is observed here too, by the
middleware that times the whole stack (see db_queries).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from tracker.either_mode import EitherModeMiddleware
from tracker.metrics import db_queries
from tracker.request_log import view_name

# django-prometheus' default buckets, so that dashboards built on them still work.
# fmt: off
LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, float("inf"),
)
# fmt: on
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"}
)
INVALID_METHOD = "<invalid method>"

LATENCY_INCLUDING_MIDDLEWARES = Histogram(
    "django_http_requests_latency_including_middlewares_seconds",
    "Histogram of requests processing time (including middleware processing time).",
    buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter(
    "django_http_requests_total_by_view_transport_method",
    "Count of requests by view, transport, method.",
    ["view", "transport", "method"],
)
RESPONSES = Counter(
    "django_http_responses_total_by_status_view_method",
    "Count of responses by status, view, method.",
    ["status", "view", "method"],
)
LATENCY = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Histogram of request processing time labelled by view.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)
EXCEPTIONS_BY_TYPE = Counter(
    "django_http_exceptions_total_by_type", "Count of exceptions by object type.", ["type"]
)
EXCEPTIONS_BY_VIEW = Counter(
    "django_http_exceptions_total_by_view", "Count of exceptions by view.", ["view"]
)


def method_label(request) -> str:
    return request.method if request.method in HTTP_METHODS else INVALID_METHOD


class RequestMetricsMiddleware(EitherModeMiddleware):
    """Near the top of MIDDLEWARE: the time through (nearly) all middleware, and
    the SQL statements the request ran until its response was returned."""

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        with db_queries.tally() as statements:
            response = self.get_response(request)
        self._observe(request, started, statements.count)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        with db_queries.tally() as statements:
            response = await self.get_response(request)
        self._observe(request, started, statements.count)
        return response

    def _observe(self, request, started: float, statements: int) -> None:
        db_queries.REQUEST_QUERIES.labels(view_name(request)).observe(statements)
        LATENCY_INCLUDING_MIDDLEWARES.observe(time.perf_counter() - started)


class ViewMetricsMiddleware(EitherModeMiddleware):
    """Last in MIDDLEWARE: requests and responses per view, and the view's own
    time (from after the other middleware's request phase until the response is
    returned: a streamed body is not included)."""

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._observe(request, response, started)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        self._observe(request, response, started)
        return response

    def _observe(self, request, response, started: float) -> None:
        seconds = time.perf_counter() - started
        view, method = view_name(request), method_label(request)
        REQUESTS.labels(view, request.scheme, method).inc()
        RESPONSES.labels(str(response.status_code), view, method).inc()
        LATENCY.labels(view, method).observe(seconds)

    def process_exception(self, request, exception):
        EXCEPTIONS_BY_TYPE.labels(type(exception).__name__).inc()
        EXCEPTIONS_BY_VIEW.labels(view_name(request)).inc()

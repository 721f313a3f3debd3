"""django-prometheus' request middleware, with two faults of 2.5.0 mended.

A Content-Length that is not a number (`int()` in its process_request) raised
ValueError, a 500 instead of Django's 400: the request is still counted and
timed, only its body size is not observed.

It also labels `django_http_requests_latency_seconds_by_view_method` with the raw
request method, so a client sending made-up methods would create a new time
series per method (unbounded memory, in Prometheus too); its other metrics use
`_method()`, which folds unknown methods into "<invalid method>". This does the
same for every metric.
"""

from django_prometheus import middleware
from django_prometheus.utils import Time


class PrometheusAfterMiddleware(middleware.PrometheusAfterMiddleware):
    def process_request(self, request):
        try:
            super().process_request(request)
        except ValueError:  # the body size, from a Content-Length that is no number
            request.prometheus_after_middleware_event = Time()

    def label_metric(self, metric, request, response=None, **labels):
        if "method" in labels:
            labels["method"] = self._method(request)
        return super().label_metric(metric, request, response, **labels)

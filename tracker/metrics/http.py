"""django-prometheus' request middleware, with one label fixed.

2.5.0 labels `django_http_requests_latency_seconds_by_view_method` with the raw
request method, so a client sending made-up methods would create a new time
series per method (unbounded memory, in Prometheus too); its other metrics use
`_method()`, which folds unknown methods into "<invalid method>". This does the
same for every metric.
"""

from django_prometheus import middleware


class PrometheusAfterMiddleware(middleware.PrometheusAfterMiddleware):
    def label_metric(self, metric, request, response=None, **labels):
        if "method" in labels:
            labels["method"] = self._method(request)
        return super().label_metric(metric, request, response, **labels)

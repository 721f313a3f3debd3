"""Prometheus metrics at /metrics: requests, responses and latency per view
(http), SQL statements counted by an execute wrapper, and gauges computed when
Prometheus scrapes (open issues, Celery queue lengths). See README "Metrics and
logs"."""

"""Prometheus metrics at /metrics: what django-prometheus counts per request and
view, SQL statements counted by an execute wrapper, and gauges computed when
Prometheus scrapes (open issues, Celery queue lengths). See README "Metrics and
logs"."""

"""Celery tasks of the issues app (found by autodiscovery). Each task lives with
the code it runs; this module only makes sure the worker imports them."""

from issues.importer.tasks import import_csv, reap_abandoned_imports  # noqa: F401
from issues.notifications import send_notifications, send_pending_mail  # noqa: F401

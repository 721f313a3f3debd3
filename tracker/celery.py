"""The Celery application: broker and schedule come from Django settings (CELERY_*).

Workers and beat log like the web process (settings.LOGGING: JSON or text by
LOG_FORMAT) instead of through Celery's own handlers, and task log lines carry
the request id that queued them (tracker.task_context)."""

import os

from celery import Celery, signals

from tracker import task_context  # noqa: F401  (connects the signal handlers)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """A receiver here stops Celery from installing its handlers and format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)

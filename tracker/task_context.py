"""The request id travels with the Celery tasks a request queues.

Publishing (web process): `before_task_publish` copies the request id bound in
the context (tracker.log_context) into the message headers. Tasks are queued
from `transaction.on_commit` hooks, which run in the request's own context.
Running (worker): `task_prerun` binds that id, the task name and the task id,
so every log line of the task carries them; `task_postrun` unbinds. A task
queued by a task inherits the id the same way.
"""

from __future__ import annotations

from celery import signals

from tracker import log_context

HEADER = "tracker_request_id"


@signals.before_task_publish.connect(dispatch_uid="tracker.request_id_header")
def add_request_id(headers=None, **kwargs) -> None:
    request_id = log_context.current_request_id()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


@signals.task_prerun.connect(dispatch_uid="tracker.bind_task_context")
def bind_task_context(task_id=None, task=None, **kwargs) -> None:
    request_id = log_context.sane_request_id(getattr(task.request, HEADER, None))
    log_context.request_id_var.set(request_id)
    log_context.task_var.set((task.name, task_id))


@signals.task_postrun.connect(dispatch_uid="tracker.unbind_task_context")
def unbind_task_context(**kwargs) -> None:
    # Set rather than reset: prerun and postrun may not share a context object
    # (pools differ), and a worker runs one task at a time per context anyway.
    log_context.request_id_var.set(None)
    log_context.task_var.set(None)

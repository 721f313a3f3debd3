"""Where a log line comes from: the request id of the HTTP request (or of the
request that queued the Celery task) and, inside a task, its name and id.

Held in context variables rather than thread-locals: under the ASGI server an
async view runs on the event loop and sync code runs in threads that
`sync_to_async` hands the caller's context to, so a context variable is the one
kind of "current request" that all of them see.

`ContextFilter` (on the log handler) copies the values onto every record;
`TextFormatter` shows them in development, the JSON formatter
(python-json-logger) emits them as fields.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# (task name, task id) while a Celery task runs in this context.
task_var: ContextVar[tuple[str, str] | None] = ContextVar("task", default=None)

# An incoming X-Request-ID is trusted only if it is short and made of characters
# that cannot break a log line or a header: letters, digits and . _ : + = / @ -
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/@-]{0,127}", re.ASCII)

CONTEXT_FIELDS = ("request_id", "task_name", "task_id")


def sane_request_id(value: object) -> str | None:
    """`value` if it is acceptable as a request id, else None."""
    if isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[None]:
    """Log lines inside the block carry `request_id` (when sane): work done
    later on behalf of a request, such as the mail of its change."""
    token = request_id_var.set(sane_request_id(request_id))
    try:
        yield
    finally:
        request_id_var.reset(token)


class ContextFilter(logging.Filter):
    """Adds request_id, task_name and task_id to a record when they are known
    (and the record does not carry its own), so that JSON lines only hold the
    fields that mean something."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        task = task_var.get()
        if task and not hasattr(record, "task_name"):
            record.task_name, record.task_id = task
        return True


class TextFormatter(logging.Formatter):
    """Development format: one readable line, prefixed by the context in
    brackets when there is one (`%(context)s` in the format string)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"{name}={value}" for name in CONTEXT_FIELDS if (value := getattr(record, name, None))
        ]
        record.context = f"[{' '.join(parts)}] " if parts else ""
        return super().format(record)

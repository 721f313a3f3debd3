"""The request id travels from a request to the Celery tasks it queues: in the
message headers on the real broker, and into every log line of the task in a
real worker process."""

import json
import time
import uuid

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts import services as account_services
from issues import notifications
from issues.tests.factories import IssueFactory
from tracker import log_context
from tracker.task_context import HEADER
from tracker.tasks import ping
from tracker.tests.support import CeleryWorker


@pytest.fixture
def queue():
    """A queue of this test's own on the real broker, emptied afterwards."""
    name = f"test-task-context-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield name, client
    client.delete(name)
    client.close()


def waiting_headers(client, name) -> list[dict]:
    """Headers of the messages waiting in the queue, oldest first (kombu LPUSHes)."""
    return [json.loads(raw)["headers"] for raw in reversed(client.lrange(name, 0, -1))]


def test_a_task_queued_with_a_request_id_bound_carries_it_in_its_headers(queue):
    name, client = queue
    token = log_context.request_id_var.set("req-publish-1")
    try:
        ping.apply_async(queue=name)
    finally:
        log_context.request_id_var.reset(token)
    ping.apply_async(queue=name)  # outside any request

    inside, outside = waiting_headers(client, name)
    assert inside[HEADER] == "req-publish-1"
    assert inside["task"] == "tracker.ping"
    assert HEADER not in outside


def test_an_explicit_header_is_not_overwritten(queue):
    name, client = queue
    token = log_context.request_id_var.set("req-bound")
    try:
        ping.apply_async(queue=name, headers={HEADER: "req-explicit"})
    finally:
        log_context.request_id_var.reset(token)

    [headers] = waiting_headers(client, name)
    assert headers[HEADER] == "req-explicit"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_for_line(worker: CeleryWorker, predicate, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.process.poll() is None, worker.output()
        for line in json_lines(worker.log.read_text(errors="replace")):
            if predicate(line):
                return line
        time.sleep(0.3)
    raise AssertionError(f"no such line in the worker's log:\n{worker.output()}")


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_with_a_request_id_and_the_mail_of_a_request_log_it_in_a_real_worker(
    tmp_path, settings, reporter, maintainer
):
    worker = CeleryWorker(
        tmp_path / "worker.log",
        prefix="test-task-context",
        LOG_FORMAT="json",
        EMAIL_URL="dummymail://",
    )
    settings.NOTIFICATIONS_QUEUE = worker.queue  # this process sends there; only it reads
    try:
        issue = IssueFactory(reporter=reporter)
        _, key = account_services.create_token(actor=maintainer)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        worker.wait_ready()

        # A task queued while a request id is bound logs it in every line.
        with log_context.bound_request_id("req-ping-7"):
            queued = ping.apply_async(queue=worker.queue)
        assert queued.get(timeout=60) == "pong"
        done = wait_for_line(
            worker, lambda line: queued.id in line["message"] and "succeeded" in line["message"]
        )
        assert (done["request_id"], done["task_id"]) == ("req-ping-7", queued.id)

        # A comment notifies the reporter: its mail, sent later by the task beat
        # runs, logs the id of the request that made the comment.
        response = api.post(
            f"/api/issues/{issue.pk}/comments/",
            {"body": "Looking into it."},
            format="json",
            HTTP_X_REQUEST_ID="req-comment-42",
        )
        assert response.status_code == 201, response.content
        assert response["X-Request-ID"] == "req-comment-42"
        notifications.send_pending_mail.apply_async(queue=worker.queue)

        # The mail's own line (issues.notifications), inside the task.
        own = wait_for_line(worker, lambda line: line["message"].startswith("notifications:"))
        assert own["request_id"] == "req-comment-42"
        assert own["task_name"] == "issues.send_pending_mail"
        assert own["logger"] == "issues.notifications"
        # The task's own lines carry no request id: beat queued it, not a request.
        sent = wait_for_line(
            worker,
            lambda line: own["task_id"] in line["message"] and "succeeded" in line["message"],
        )
        assert "request_id" not in sent

        # A header that is not a sane request id is not trusted by the worker.
        bad = ping.apply_async(queue=worker.queue, headers={HEADER: "bad id\nforged"})
        assert bad.get(timeout=60) == "pong"
        line = wait_for_line(
            worker, lambda line: bad.id in line["message"] and "succeeded" in line["message"]
        )
        assert line["task_id"] == bad.id
        assert "request_id" not in line

        # Lines outside any task carry no task context (nor a stale request id).
        ready = wait_for_line(worker, lambda line: line["message"].endswith(" ready."))
        assert "request_id" not in ready and "task_id" not in ready
    finally:
        worker.stop()

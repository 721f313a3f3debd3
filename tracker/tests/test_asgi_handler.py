"""The ASGI handler the server runs: Django's, with a request's synchronous work
(request_started, the middleware chain and the view, and closing a response in
memory) run in one thread hop instead of one per middleware; answers and errors
the same as Django's own handler."""

import asyncio
import json
from functools import partial

import pytest
from asgiref import sync
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.urls import reverse

from accounts import services as account_services
from tracker.asgi import application
from tracker.asgi_handler import OneHopASGIHandler
from tracker.tests.support import asgi_scope, run_async

pytestmark = pytest.mark.django_db(transaction=True)


async def call(app, path: str, headers: dict[str, str], sent=None) -> tuple[int, bytes]:
    scope = asgi_scope(path, headers)
    sent = [] if sent is None else sent
    requested = False
    done = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.fixture
def token_headers(maintainer):
    _, key = account_services.create_token(actor=maintainer, name="asgi")
    return {"Authorization": f"Token {key}"}


@pytest.fixture
def hops(monkeypatch):
    """Counts the crossings from the event loop into a thread."""
    counted = []
    original = sync.SyncToAsync.__call__

    def counting(self, *args, **kwargs):
        counted.append(getattr(self.func, "__qualname__", repr(self.func)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting)
    return counted


def test_the_server_runs_this_handler():
    assert isinstance(application, OneHopASGIHandler)


def test_an_api_request_crosses_into_a_thread_once(issue, token_headers, hops):
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    status, body = run_async(partial(call, application, path, token_headers))

    assert status == 200
    assert json.loads(body)["id"] == str(issue.pk)
    # request_started's receivers, the middleware and view, response.close().
    assert hops == ["OneHopASGIHandler.serve"]


@pytest.fixture
def signalled():
    """The request signals, in the order they fire."""
    fired = []

    def started(**kwargs):
        fired.append("started")

    def finished(**kwargs):
        fired.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield fired
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_a_request_is_started_and_finished_once(issue, token_headers, signalled):
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    status, _ = run_async(partial(call, application, path, token_headers))

    assert status == 200
    assert signalled == ["started", "finished"]


def test_a_streaming_response_is_finished_after_its_last_byte(client, reporter, issue):
    """The CSV export streams: its request ends (and its database connection goes
    back to the pool) only once the whole file is sent."""
    client.force_login(reporter)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    sent = []
    sent_when_finished = []

    def finished(**kwargs):
        sent_when_finished.append(len(sent))

    signals.request_finished.connect(finished)
    try:
        status, body = run_async(
            partial(call, application, reverse("issues:export"), {"Cookie": cookie}, sent)
        )
    finally:
        signals.request_finished.disconnect(finished)

    assert status == 200
    assert issue.title.encode() in body
    assert sent[-1] == {"type": "http.response.body"}  # the stream's closing message
    assert sent_when_finished == [len(sent)]


def test_django_s_own_handler_crosses_many_times(issue, token_headers, hops):
    """What the handler is for: the same request through Django's async chain."""
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    status, _ = run_async(partial(call, ASGIHandler(), path, token_headers))

    assert status == 200
    assert len(hops) > 10, hops


def test_errors_are_answered_as_by_django_s_handler(token_headers):
    missing = reverse(
        "api:issue-detail", kwargs={"issue_id": "00000000-0000-0000-0000-000000000000"}
    )

    ours = run_async(partial(call, application, missing, token_headers))
    django_s = run_async(partial(call, ASGIHandler(), missing, token_headers))

    assert ours == django_s
    assert ours[0] == 404
    assert json.loads(ours[1])["detail"] == "No such issue."


def test_a_page_with_a_session_renders(client, reporter, issue):
    client.force_login(reporter)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    path = reverse("issues:detail", kwargs={"number": issue.number})

    status, body = run_async(partial(call, application, path, {"Cookie": cookie}))

    assert status == 200
    assert issue.title.encode() in body

"""The ASGI handler the server runs: Django's, with a request's synchronous work
(request_started, the middleware chain and the view, and closing a response in
memory) run in one thread hop instead of one per middleware; answers and errors
the same as Django's own handler."""

import asyncio
import json
import threading
from functools import partial

import pytest
from asgiref import sync
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.urls import reverse

from accounts import services as account_services
from tracker.asgi import application
from tracker.asgi_handler import OneHopASGIHandler
from tracker.tests.support import asgi_get, asgi_scope, run_async

pytestmark = pytest.mark.django_db(transaction=True)


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
    assert isinstance(application.app, OneHopASGIHandler)


def test_an_api_request_crosses_into_a_thread_once(issue, token_headers, hops):
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    status, body = run_async(partial(asgi_get, application, path, token_headers))

    assert status == 200
    assert json.loads(body)["id"] == str(issue.pk)
    # request_started's receivers, the middleware and view, response.close().
    assert hops == ["OneHopASGIHandler.serve"]


@pytest.fixture
def signalled():
    """(signal, thread) for each request signal, in the order they fire."""
    fired = []

    def started(**kwargs):
        fired.append(("started", threading.get_ident()))

    def finished(**kwargs):
        fired.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield fired
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


def test_a_request_is_started_and_finished_once(issue, token_headers, signalled):
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    status, _ = run_async(partial(asgi_get, application, path, token_headers))

    assert status == 200
    assert [signal for signal, _ in signalled] == ["started", "finished"]


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
            partial(asgi_get, application, reverse("issues:export"), {"Cookie": cookie}, sent)
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

    status, _ = run_async(partial(asgi_get, ASGIHandler(), path, token_headers))

    assert status == 200
    # The signals, Django's own middleware in turn (process_request, process_view,
    # process_response each a hop), the view, rendering, close().
    assert len(hops) >= 8, hops


def test_errors_are_answered_as_by_django_s_handler(token_headers):
    missing = reverse(
        "api:issue-detail", kwargs={"issue_id": "00000000-0000-0000-0000-000000000000"}
    )

    ours = run_async(partial(asgi_get, application, missing, token_headers))
    django_s = run_async(partial(asgi_get, ASGIHandler(), missing, token_headers))

    assert ours == django_s
    assert ours[0] == 404
    assert json.loads(ours[1])["detail"] == "No such issue."


def test_a_page_with_a_session_renders(client, reporter, issue):
    client.force_login(reporter)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    path = reverse("issues:detail", kwargs={"number": issue.number})

    status, body = run_async(partial(asgi_get, application, path, {"Cookie": cookie}))

    assert status == 200
    assert issue.title.encode() in body


def test_a_finished_request_s_thread_serves_the_next_request(issue, token_headers, signalled):
    handler = OneHopASGIHandler()
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    first = run_async(partial(asgi_get, handler, path, token_headers))
    second = run_async(partial(asgi_get, handler, path, token_headers))

    assert first[0] == second[0] == 200
    assert [signal for signal, _ in signalled] == ["started", "finished"] * 2
    assert len({thread for _, thread in signalled}) == 1
    assert len(handler._idle_threads) == 1


def test_requests_in_flight_together_have_a_thread_each(issue, token_headers, signalled):
    handler = OneHopASGIHandler()
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    async def together():
        return await asyncio.gather(*(asgi_get(handler, path, token_headers) for _ in range(3)))

    answers = run_async(together)

    assert [status for status, _ in answers] == [200] * 3
    started = [thread for signal, thread in signalled if signal == "started"]
    finished = [thread for signal, thread in signalled if signal == "finished"]
    assert sorted(started) == sorted(finished)
    # Each request's thread is busy until it ends, so none is shared.
    assert len(set(started)) == 3
    assert len(handler._idle_threads) == 3


def test_threads_beyond_the_idle_limit_are_stopped(issue, token_headers):
    handler = OneHopASGIHandler()
    handler.max_idle_threads = 2
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})

    async def together():
        return await asyncio.gather(*(asgi_get(handler, path, token_headers) for _ in range(4)))

    answers = run_async(together)

    assert [status for status, _ in answers] == [200] * 4
    assert len(handler._idle_threads) == 2
    assert not any(thread._shutdown for thread in handler._idle_threads)


def test_a_streaming_request_starts_and_finishes_in_one_thread(client, reporter, issue, signalled):
    """The export reads its rows while it is sent, on the connection its view
    opened: the whole request stays in its thread."""
    client.force_login(reporter)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    handler = OneHopASGIHandler()

    status, body = run_async(
        partial(asgi_get, handler, reverse("issues:export"), {"Cookie": cookie})
    )

    assert status == 200
    assert issue.title.encode() in body
    assert [signal for signal, _ in signalled] == ["started", "finished"]
    assert signalled[0][1] == signalled[1][1]


def test_a_response_in_memory_does_not_listen_for_the_client_leaving(issue, token_headers):
    """The request's body is the only message asked for: Django's handler also
    listens for the client's going away in a task of its own, to cancel a view
    that cannot be cancelled (a synchronous one, in its thread)."""
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})
    received, sent = [], []

    async def receive():
        received.append("receive")
        if len(received) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays: never answers

    async def send(message):
        sent.append(message)

    async def request():
        await application(asgi_scope(path, token_headers), receive, send)

    run_async(request)

    assert received == ["receive"]
    assert sent[0]["status"] == 200
    assert json.loads(sent[-1]["body"])["id"] == str(issue.pk)


def test_a_client_gone_before_the_answer_costs_no_error(issue, token_headers, signalled):
    """ASGI 2.4 lets a server refuse to send to a client that has gone (an
    OSError): the answer is not delivered, the request still ends as usual."""
    path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})
    handler = OneHopASGIHandler()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        raise OSError("the client has gone")

    async def request():
        await handler(asgi_scope(path, token_headers), receive, send)

    run_async(request)

    assert [signal for signal, _ in signalled] == ["started", "finished"]
    assert len(handler._idle_threads) == 1


def test_a_stream_whose_client_leaves_is_closed(client, reporter, issue, signalled):
    """The client leaves once the export's headers are sent: the stream is
    stopped and closed, which ends the request (its connection goes back to the
    pool)."""
    client.force_login(reporter)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    def headers_sent(message) -> bool:
        return message["type"] == "http.response.start"

    status, _ = run_async(
        partial(
            asgi_get, application, reverse("issues:export"), {"Cookie": cookie}, until=headers_sent
        )
    )

    assert status == 200
    assert [signal for signal, _ in signalled] == ["started", "finished"]

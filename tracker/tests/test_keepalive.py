"""Keep-alive connections are closed after about N requests (tracker.keepalive)."""

import random
from functools import partial

from tracker.asgi import application
from tracker.asgi_handler import OneHopASGIHandler
from tracker.keepalive import RecycledConnections
from tracker.tests.support import asgi_get, run_async


async def answer(scope, receive, send):
    """A tiny ASGI app: 200, with a header of its own and maybe a Connection one."""
    headers = [(b"content-type", b"text/plain")]
    if scope["path"] == "/keep":
        headers.append((b"Connection", b"keep-alive"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def headers_of(app, path="/") -> list[tuple[bytes, bytes]]:
    sent = []
    assert run_async(partial(asgi_get, app, path, sent=sent)) == (200, b"ok")
    return sent[0]["headers"]


def test_every_response_closes_its_connection_when_n_is_1():
    assert headers_of(RecycledConnections(answer, every=1)) == [
        (b"content-type", b"text/plain"),
        (b"connection", b"close"),
    ]


def test_an_application_s_own_connection_header_gives_way_to_close():
    headers = headers_of(RecycledConnections(answer, every=1), "/keep")

    assert headers == [(b"content-type", b"text/plain"), (b"connection", b"close")]


def test_no_response_closes_its_connection_when_n_is_0():
    app = RecycledConnections(answer, every=0)

    assert all((b"connection", b"close") not in headers_of(app) for _ in range(50))


def test_about_one_response_in_n_closes_its_connection(monkeypatch):
    draws = iter([0.5, 0.2, 0.05, 0.9, 0.0999, 0.1])
    monkeypatch.setattr(random, "random", lambda: next(draws))
    app = RecycledConnections(answer, every=10)

    closed = [(b"connection", b"close") in headers_of(app) for _ in range(6)]

    assert closed == [False, False, True, False, True, False]


def test_other_scopes_pass_through_untouched():
    seen = []

    async def lifespan_app(scope, receive, send):
        seen.append(scope["type"])

    app = RecycledConnections(lifespan_app, every=1)

    async def call():
        await app({"type": "lifespan"}, None, None)

    run_async(call)

    assert seen == ["lifespan"]


def test_the_server_recycles_connections_as_configured(settings):
    assert isinstance(application, RecycledConnections)
    assert isinstance(application.app, OneHopASGIHandler)
    assert settings.KEEPALIVE_REQUESTS == 100  # the default, as Apache's
    assert application.chance == 1 / 100

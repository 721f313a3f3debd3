"""A lean HTTP/1.1 client for the closed loop: one keep-alive connection per
simulated client, requests written as bytes, answers parsed by httptools (the
C parser uvicorn itself uses).

Why not aiohttp here: the load generator shares the benchmark's two cores
with the server, so what it spends on a request is taken from the server.
aiohttp spent 0.23-0.27 ms of CPU on an API request (its request and response
objects, header multidicts, cookie jar, timeouts), this client 0.11-0.15 ms,
and 0.08-0.10 ms on uvloop (2026-12-07, API issue detail and floor at 1M
issues; the server's workers spent 1.7-2.5 ms). It does what a closed-loop
load tool needs and no more, like wrk or hey: send, read the whole answer.
The logins, the bulk changes and the export still go through aiohttp.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Protocol(asyncio.Protocol):
    """One connection; at most one request in flight on it."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"bad answer from the server: {error}"))
            self.transport.close()

    @property
    def closed(self) -> bool:
        return self.transport.is_closing()  # set before create_connection returns

    def connection_lost(self, exc):
        self._fail(ConnectionError("the server closed the connection before answering"))

    # httptools callbacks
    def on_message_begin(self):
        self.headers = {}
        self.body = []

    def on_header(self, name: bytes, value: bytes):
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes):
        self.body.append(body)

    def on_message_complete(self):
        answer = Answer(self.parser.get_status_code(), self.headers, b"".join(self.body))
        if not self.parser.should_keep_alive():
            self.transport.close()
        if self.waiter and not self.waiter.done():
            self.waiter.set_result(answer)

    def _fail(self, error: Exception):
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(error)


class Client:
    """Requests to one server over one keep-alive connection, opened when first
    needed and again after the server closes it (`Connection: close`, which
    Tracker sends on about one answer in a hundred: tracker/keepalive.py)."""

    def __init__(self, base_url: str, headers: dict[str, str]):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        fixed = {"Host": parts.netloc, "Accept": "*/*", **headers}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._protocol: _Protocol | None = None

    async def request(
        self, method: str, path: str, *, json_body=None, headers: dict | None = None
    ) -> Answer:
        loop = asyncio.get_running_loop()
        if self._protocol is None or self._protocol.closed:
            _, self._protocol = await loop.create_connection(_Protocol, self.host, self.port)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed}"
        if headers:
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if json_body is not None:
            head += "Content-Type: application/json\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body)}\r\n"
        protocol = self._protocol
        protocol.waiter = loop.create_future()
        protocol.transport.write(head.encode("latin-1") + b"\r\n" + body)
        return await protocol.waiter

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.transport.close()  # a no-op once closed

"""The benchmark's closed-loop HTTP client (bench/http11.py) against a small
HTTP server written here, whose answers each test picks: keep-alive, a
`Connection: close` answer, a chunked body, a connection dropped unanswered."""

import asyncio
import json

import pytest

from bench.http11 import Client
from tracker.tests.support import run_async


class Server:
    """Answers each request with the next of `answers` (raw bytes, or None to
    drop the connection unanswered) and records what it received."""

    def __init__(self, answers: list[bytes | None]):
        self.answers = list(answers)
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request)
        self.connections = 0

    async def _serve(self, reader, writer):
        self.connections += 1
        number = self.connections
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            self.requests.append((number, head + await reader.readexactly(length)))
            answer = self.answers.pop(0)
            if answer is None:
                writer.close()
                return
            writer.write(answer)
            await writer.drain()
            if b"Connection: close" in answer:
                writer.close()
                return

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()


def ok(body: bytes, *extra: str) -> bytes:
    headers = "".join(f"{line}\r\n" for line in extra)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


def test_requests_share_one_keep_alive_connection_and_carry_their_headers():
    async def scenario():
        async with Server([ok(b'{"status": "OPEN"}', 'ETag: "7"'), ok(b"second")]) as server:
            client = Client(server.url, {"Authorization": "Token abc"})
            first = await client.request(
                "PATCH", "/api/issues/1/", json_body={"status": "OPEN"}, headers={"If-Match": '"6"'}
            )
            second = await client.request("GET", "/api/users/me/")
            client.close()
            return server, first, second

    server, first, second = run_async(scenario)

    assert server.connections == 1
    assert (first.status, first.headers["etag"], first.json()) == (200, '"7"', {"status": "OPEN"})
    assert second.body == b"second"
    patch = server.requests[0][1]
    assert patch.startswith(b"PATCH /api/issues/1/ HTTP/1.1\r\n")
    for line in (b"Authorization: Token abc", b'If-Match: "6"', b"Content-Type: application/json"):
        assert line in patch
    head, _, body = patch.partition(b"\r\n\r\n")
    assert json.loads(body) == {"status": "OPEN"}
    assert f"Content-Length: {len(body)}".encode() in head
    get = server.requests[1][1]
    assert get.startswith(b"GET /api/users/me/ HTTP/1.1\r\n") and b"Content-" not in get


def test_a_connection_the_server_closes_is_opened_again_for_the_next_request():
    async def scenario():
        answers = [ok(b"one", "Connection: close"), ok(b"two"), ok(b"three")]
        async with Server(answers) as server:
            client = Client(server.url, {})
            bodies = [(await client.request("GET", "/")).body for _ in range(3)]
            client.close()
            return server, bodies

    server, bodies = run_async(scenario)

    assert bodies == [b"one", b"two", b"three"]
    assert [number for number, _ in server.requests] == [1, 2, 2]


def test_a_chunked_answer_is_read_whole():
    chunked = (
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )

    async def scenario():
        async with Server([chunked, ok(b"after")]) as server:
            client = Client(server.url, {})
            answers = [await client.request("GET", "/x"), await client.request("GET", "/y")]
            client.close()
            return answers

    first, second = run_async(scenario)

    assert (first.status, first.body) == (404, b"hello world")
    assert (second.status, second.body) == (200, b"after")


def test_a_connection_dropped_before_the_answer_is_an_error_not_a_hang():
    async def scenario():
        async with Server([None]) as server:
            client = Client(server.url, {})
            return await asyncio.wait_for(client.request("GET", "/"), timeout=5)

    with pytest.raises(ConnectionError, match="closed the connection before answering"):
        run_async(scenario)

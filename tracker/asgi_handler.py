"""Django's ASGI handler, with a request's synchronous work done in one thread hop.

Every view here but the live stream is synchronous, and so is most middleware
(WhiteNoise's, the metrics'; Django's own runs `process_request` and
`process_response` through `sync_to_async` in async mode). Django's handler
builds the chain for async, so a request crossed between the event loop and a
thread a dozen times, each crossing a wait for the GIL (profiled under load:
about a fifth of a worker's time). This handler builds the chain as WSGI does
and runs it in the request's thread in one call, together with the
`request_started` signal before it and, for a response already in memory, its
`close()` (the `request_finished` signal, which hands the database connection
back to the pool) after it: Django's handler crosses into a thread for each of
those too. The event loop still reads the request and sends the response; a
streaming response (the live stream, the CSV export) is sent as before and
closed after its last byte, or when its client goes away (stream()). Async
views still work: Django's sync path runs them with `async_to_sync`.

Django's handler also starts a thread for every request (a new single-thread
executor per `ThreadSensitiveContext`) and stops it afterwards: about a sixth
of what a small API request costs a worker (profiled: 2.15 -> 1.80 ms of CPU a
request). This handler keeps the threads of finished requests and gives each
new request an idle one. A request still has its thread to itself from start to
end (its database connection, the rows a streaming response reads), as before.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix


class OneHopASGIHandler(ASGIHandler):
    # Threads kept for the next requests; beyond this many idle ones (after a
    # burst of concurrent requests, or of live streams ending) they are stopped.
    max_idle_threads = 16

    def __init__(self):
        super().__init__()
        self._idle_threads: list[ThreadPoolExecutor] = []
        # Built once, not per request: asgiref's wrapper inspects the function
        # it wraps each time it is built. thread_sensitive: in the request's own
        # thread (ThreadSensitiveContext), the one its database connection
        # belongs to.
        self._serve_in_thread = sync_to_async(self.serve, thread_sensitive=True)

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        """Django's ASGIHandler.__call__, with a request's thread taken from the
        idle ones (the event loop is the only one touching the list)."""
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = (
            self._idle_threads.pop()
            if self._idle_threads
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        )
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            # Idle by now: handle() returns once the request's work in the thread
            # has ended (unless it was cancelled, when the server shuts down).
            if len(self._idle_threads) < self.max_idle_threads:
                self._idle_threads.append(thread)
            else:
                thread.shutdown(wait=False)

    def serve(self, request, scope):
        """Everything a request does in a thread: run in one crossing."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the ASGI server chunks it
        if not response.streaming:
            response.close()
        return response

    async def handle(self, scope, receive, send):
        """Django 5.2's ASGIHandler.handle, but for where the request's
        synchronous work runs (serve) and the response is closed, and for when
        the client's going away is listened for: only while a stream is sent."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return
            response = await self._serve_in_thread(request, scope)
            if response.streaming:
                await self.stream(response, receive, send)
            else:
                # A server may refuse to send to a client that has gone (ASGI 2.4:
                # an OSError); the answer is then simply not delivered.
                with contextlib.suppress(OSError):
                    await self.send_response(response, send)
        finally:
            body_file.close()

    async def stream(self, response, receive, send):
        """Send a streaming response until its end or until the client goes away,
        whichever comes first, then close it (request_finished).

        Django's handler listens for the client's going away while every request
        runs, in a task of its own, to cancel the request's task. A synchronous
        view cannot be cancelled (its thread runs on), so for a response in
        memory that listener only cost time: a task, a wait and a cancellation
        per request (with the wrapper built once, 60-90 µs of a small API
        request's ~2 ms of CPU here, 2026-12-06). A stream can run for hours
        (the live updates): it is stopped when its client leaves."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        pending = {sending, listening}
        try:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                with contextlib.suppress(RequestAborted, OSError):  # the client went away
                    task.result()
        finally:
            for task in pending:
                task.cancel()  # the stream may handle its cancellation
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await task
            await sync_to_async(response.close)()

"""Django's ASGI handler, with the middleware and the view run in one thread hop.

Every view here but the live stream is synchronous, and so is most middleware
(WhiteNoise's, django-prometheus'; Django's own runs `process_request` and
`process_response` through `sync_to_async` in async mode). Django's handler
builds the chain for async, so a request crossed between the event loop and a
thread a dozen times, each crossing a wait for the GIL (profiled under load:
about a fifth of a worker's time). This handler builds the chain as WSGI does
and runs it in the request's thread in one call; the event loop still reads the
request and streams the response (the live stream and the CSV export are async
iterators and are sent as before), and async views still work: Django's sync
path runs them with `async_to_sync`.
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        # thread_sensitive: the request's own thread (ThreadSensitiveContext), the
        # one its database connection belongs to and response.close() runs in.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

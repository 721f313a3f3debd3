"""A base for middleware that runs in the mode of the chain around it."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class EitherModeMiddleware:
    """Synchronous in a synchronous chain (tracker.asgi_handler builds one, as
    WSGI and the test client do), asynchronous under Django's own ASGI handler,
    without a thread hop of its own either way. A subclass's `__call__` returns
    `self._acall(request)` when `is_async`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

"""Django's message middleware, with a request's storage built when something
first adds or reads a message rather than for every request.

The storage (cookie, then session) builds a cookie signer and two backends when
it is made, and most requests never touch it: every API request, every htmx
fragment. That was 3 % of the instructions of an API issue detail (callgrind, in
process: 3.78 M a request with Django's middleware, 3.67 M without it). A
storage nobody touched has nothing to save, so its response is left alone.
"""

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        storage = getattr(request, "_messages", None)
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:
            return response
        return super().process_response(request, response)

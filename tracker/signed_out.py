"""htmx requests of someone no longer signed in.

Signed out in another tab, or with the session expired, a person's next htmx
request (a comment sent, a live refresh) was answered like a page's: a redirect
to the login page, which the browser followed and htmx swapped into the region
that asked. A comment form, the issue's panel and timeline became login forms,
and what was being written could go with them. Such a request now gets 401: the
page keeps what it shows and what was typed, and says how to sign in again
(static/js/tracker.js, the #signed-out notice of base.html). Other requests are
redirected as before.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url

MESSAGE = "You are signed out: nothing was saved. Log in again, then send it again."


class SignedOutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.login_path = None

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 302 and request.htmx:  # django-htmx's HtmxMiddleware
            if self.login_path is None:  # resolved once the URLconf is loaded
                self.login_path = resolve_url(settings.LOGIN_URL)
            if urlsplit(response["Location"]).path == self.login_path:
                return HttpResponse(MESSAGE, status=401, content_type="text/plain; charset=utf-8")
        return response

"""The message middleware builds a request's storage only when it is used, and
messages still go from one request to the next, once."""

import pytest
from django.contrib import messages
from django.contrib.sessions.backends.cache import SessionStore
from django.http import HttpResponse
from django.urls import reverse
from django.utils.functional import empty

from tracker.lazy_messages import LazyMessageMiddleware

PROFILE = reverse("accounts:profile")


def _through(request, view):
    request.session = SessionStore()
    return LazyMessageMiddleware(view)(request)


def test_a_request_that_touches_no_message_builds_no_storage(rf):
    request = rf.get("/api/users/me/")

    response = _through(request, lambda request: HttpResponse("ok"))

    assert request._messages._wrapped is empty
    assert response.cookies == {}


def test_a_message_added_is_stored_and_read_on_the_next_request(rf):
    def view(request):
        messages.success(request, "Saved.")
        return HttpResponse("ok")

    def next_view(request):
        read.extend(str(message) for message in messages.get_messages(request))
        return HttpResponse("ok")

    read = []
    response = _through(rf.post("/somewhere/"), view)
    following = rf.get("/elsewhere/")
    following.COOKIES["messages"] = response.cookies["messages"].value
    _through(following, next_view)

    assert read == ["Saved."]


@pytest.mark.django_db
def test_a_message_is_shown_on_the_next_page_and_only_once(client, reporter):
    client.force_login(reporter)

    client.post(PROFILE, {"display_name": "Rita"})

    assert b"Profile saved." in client.get(PROFILE).content
    assert b"Profile saved." not in client.get(PROFILE).content

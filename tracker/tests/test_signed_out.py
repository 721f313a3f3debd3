"""htmx requests of someone no longer signed in get 401, not the login page
(tracker.signed_out); other requests are still sent to log in."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from issues.tests.factories import IssueFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def issue(db):
    return IssueFactory(reporter=UserFactory(role="MAINTAINER"))


def test_an_htmx_request_of_someone_signed_out_is_a_401_that_saves_nothing(issue):
    comment = reverse("issues:comment", kwargs={"number": issue.number})

    response = Client().post(comment, {"body": "Kept in the page"}, **HTMX)

    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert "signed out" in response.content.decode()
    assert not issue.comments.exists()


@pytest.mark.parametrize("name", ["issues:panel", "issues:timeline", "issues:attachments"])
def test_a_live_refresh_of_someone_signed_out_is_a_401(issue, name):
    response = Client().get(reverse(name, kwargs={"number": issue.number}), **HTMX)
    assert response.status_code == 401


def test_a_page_of_someone_signed_out_still_goes_to_the_login_page(issue):
    response = Client().post(reverse("issues:comment", kwargs={"number": issue.number}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_other_redirects_of_htmx_requests_are_left_alone(issue):
    admin = UserFactory(role="ADMIN")
    client = Client()
    client.force_login(admin)

    response = client.post(reverse("issues:delete", kwargs={"number": issue.number}), **HTMX)

    assert response.status_code == 302
    assert response["Location"] == reverse("issues:list")

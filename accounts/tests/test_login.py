"""The login page and the home page it leads to."""

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, UserFactory
from issues.tests.factories import IssueFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
HOME = reverse("issues:list")


def test_the_login_page_shows_the_form(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    assert b'name="username" type="email"' in response.content
    assert b'name="password" type="password"' in response.content


def test_a_wrong_password_reshows_the_form_with_an_error(client, reporter):
    response = client.post(LOGIN, {"username": reporter.email, "password": "not-the-password"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Please enter a correct email and password. Note that both fields may be case-sensitive."
    ]
    assert b'role="alert"' in response.content
    assert reporter.email.encode() in response.content  # the email is kept in the form
    assert "_auth_user_id" not in client.session


def test_the_right_password_logs_in_and_redirects_home(client, reporter):
    response = client.post(LOGIN, {"username": reporter.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert client.session["_auth_user_id"] == str(reporter.pk)
    assert client.get(HOME).status_code == 200


def test_the_email_may_be_typed_in_another_case(client, reporter):
    response = client.post(LOGIN, {"username": reporter.email.upper(), "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(reporter.pk)


def test_login_follows_a_safe_next_url(client, reporter):
    response = client.post(
        f"{LOGIN}?next=/admin/",
        {"username": reporter.email, "password": PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_login_ignores_a_next_url_on_another_site(client, reporter):
    response = client.post(
        LOGIN,
        {"username": reporter.email, "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == HOME


def test_an_inactive_user_cannot_log_in(client):
    user = UserFactory(is_active=False)

    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_logging_out_ends_the_session(client, reporter):
    client.force_login(reporter)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


# --- home page ---------------------------------------------------------------------


def test_the_home_page_sends_anonymous_visitors_to_log_in(client):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={HOME}"


def test_a_reporter_sees_their_own_issues_and_not_other_reporters(client, reporter, other_reporter):
    mine = IssueFactory(reporter=reporter, title="Mine: the login button is grey")
    theirs = IssueFactory(reporter=other_reporter, title="Theirs: search is slow")
    client.force_login(reporter)

    response = client.get(HOME)

    assert response.status_code == 200
    assert [issue.pk for issue in response.context["issues"]] == [mine.pk]
    assert mine.title.encode() in response.content
    assert theirs.title.encode() not in response.content


def test_a_reporter_without_issues_sees_none(client, reporter, other_reporter):
    IssueFactory(reporter=other_reporter, title="Theirs: search is slow")
    client.force_login(reporter)

    response = client.get(HOME)

    assert response.status_code == 200
    assert list(response.context["issues"]) == []
    assert b"Theirs: search is slow" not in response.content


def test_a_maintainer_sees_everyones_issues(client, maintainer, reporter, other_reporter):
    mine = IssueFactory(reporter=reporter, title="Mine: the login button is grey")
    theirs = IssueFactory(reporter=other_reporter, title="Theirs: search is slow")
    client.force_login(maintainer)

    response = client.get(HOME)

    assert response.status_code == 200
    assert {issue.pk for issue in response.context["issues"]} == {mine.pk, theirs.pk}
    assert mine.title.encode() in response.content
    assert theirs.title.encode() in response.content

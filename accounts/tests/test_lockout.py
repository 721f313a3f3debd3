"""Login lockout (django-axes): repeated wrong passwords for one email from one
address lock that pair out — on the login page, the admin's login and the API's
token endpoint, which share one count — until the cool-off ends, a password
reset by mail, or an administrator's `axes_reset_username`."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.core import mail
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
TOKEN = reverse("api:token")
HOME = reverse("issues:list")
WRONG = "not-the-password"


@pytest.fixture
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    return 3


def log_in(client, email, password=PASSWORD, url=LOGIN):
    return client.post(url, {"username": email, "password": password})


def fail(client, email, times: int, url=LOGIN) -> list:
    return [log_in(client, email, WRONG, url).status_code for _ in range(times)]


def obtain(email, password=PASSWORD, address="127.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN, {"email": email, "password": password}, format="json"
    )


def assert_lockout_page(response):
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    text = response.content.decode()
    assert "Login locked for now" in text
    assert "Too many failed logins for this email address from your network." in text
    assert "Try again in 15 minutes" in text
    assert reverse("accounts:password_reset") in text
    assert "Content-Security-Policy" in response  # a page like any other


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the login page ------------------------------------------------------------------


def test_the_limit_th_wrong_password_locks_out_with_a_clear_page(client, reporter, limit):
    assert fail(client, reporter.email, limit - 1) == [200] * (limit - 1)

    response = log_in(client, reporter.email, WRONG)

    assert_lockout_page(response)
    assert "registration/locked_out.html" in [template.name for template in response.templates]
    assert AccessAttempt.objects.get().failures_since_start == limit


def test_a_locked_out_email_is_refused_even_with_the_right_password(client, reporter, limit):
    fail(client, reporter.email, limit)

    response = log_in(client, reporter.email)

    assert_lockout_page(response)
    assert not logged_in(client)


def test_retrying_during_the_lockout_does_not_prolong_it(client, reporter, limit):
    fail(client, reporter.email, limit)
    first = AccessAttempt.objects.get()

    for _ in range(3):
        assert_lockout_page(log_in(client, reporter.email, WRONG))

    again = AccessAttempt.objects.get()
    assert (again.failures_since_start, again.attempt_time) == (limit, first.attempt_time)


def test_a_success_before_the_limit_starts_the_count_afresh(client, reporter, limit):
    fail(client, reporter.email, limit - 1)
    assert log_in(client, reporter.email).status_code == 302
    assert not AccessAttempt.objects.exists()
    client.post(reverse("accounts:logout"))

    assert fail(client, reporter.email, limit - 1) == [200] * (limit - 1)
    response = log_in(client, reporter.email)

    assert response.status_code == 302
    assert logged_in(client)


def test_the_lockout_ends_after_the_cool_off(client, reporter, limit, settings):
    fail(client, reporter.email, limit)
    assert log_in(client, reporter.email).status_code == 429

    # Travel: the failures happened one cool-off (and a second) ago.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response = log_in(client, reporter.email)

    assert response.status_code == 302
    assert logged_in(client)
    assert not AccessAttempt.objects.exists()  # expired and then reset by the success


def test_just_before_the_end_of_the_cool_off_it_is_still_locked(client, reporter, limit, settings):
    fail(client, reporter.email, limit)
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME + timedelta(seconds=30)
    )

    response = log_in(client, reporter.email)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 30
    assert "Try again in a minute" in response.content.decode()


def test_the_email_counts_whatever_its_case(client, reporter, limit):
    variants = [reporter.email.upper(), f"  {reporter.email.title()} ", reporter.email]

    codes = [log_in(client, email, WRONG).status_code for email in variants]

    assert codes == [200, 200, 429]
    assert AccessAttempt.objects.get().username == reporter.email.lower()


def test_the_lockout_is_per_email_and_address(reporter, other_reporter, limit):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    fail(attacker, reporter.email, limit)

    # The owner, from their own address, is not locked out by a stranger's guesses...
    owner = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(owner, reporter.email).status_code == 302
    # ...and the attacker's address may still log in as someone else.
    assert log_in(attacker, other_reporter.email).status_code == 302


def test_an_unknown_email_is_counted_and_locked_out_too(client, limit):
    codes = fail(client, "nobody@example.com", limit)

    assert codes == [200] * (limit - 1) + [429]


def test_the_admin_login_is_covered_and_shares_the_count(client, admin_user, limit):
    assert fail(client, admin_user.email, limit - 1, url=ADMIN_LOGIN) == [200] * (limit - 1)

    assert_lockout_page(log_in(client, admin_user.email, WRONG, url=LOGIN))
    assert_lockout_page(log_in(client, admin_user.email, url=ADMIN_LOGIN))
    assert client.get(reverse("admin:index")).status_code == 302  # not logged in


def test_authentication_without_a_request_is_refused():
    """Every login comes through a request (page, admin, API); one without cannot be
    counted, so it is not allowed at all."""
    user = UserFactory()

    with pytest.raises(ValueError, match="request"):
        authenticate(username=user.email, password=PASSWORD)


# --- unlocking -----------------------------------------------------------------------


def test_an_admin_unlocks_an_email_with_axes_reset_username(client, reporter, limit, capsys):
    fail(client, reporter.email, limit)

    call_command("axes_reset_username", reporter.email)

    assert "1 attempts removed." in capsys.readouterr().out
    assert log_in(client, reporter.email).status_code == 302


def test_an_admin_sees_and_deletes_lockouts_in_the_admin(client, reporter, admin_user, limit):
    fail(Client(), reporter.email, limit)
    client.force_login(admin_user)

    changelist = client.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes")
    attempt = AccessAttempt.objects.get()
    assert changelist.status_code == 200
    assert reporter.email in changelist.content.decode()
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302

    assert log_in(Client(), reporter.email).status_code == 302


def test_resetting_the_password_by_mail_unlocks(client, reporter, limit):
    fail(client, reporter.email, limit)
    client.post(reverse("accounts:password_reset"), {"email": reporter.email})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    form = client.get(link.strip(), follow=True)
    new = "a-brand-new-passphrase-42"

    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})

    assert done.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert log_in(client, reporter.email, new).status_code == 302


# --- the API's token endpoint ---------------------------------------------------------


def test_the_token_endpoint_locks_out_with_a_429_in_our_error_shape(reporter, limit):
    codes = [obtain(reporter.email, WRONG).status_code for _ in range(limit - 1)]
    assert codes == [400] * (limit - 1)

    response = obtain(reporter.email, WRONG)

    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["errors"] == {}
    assert body["detail"].startswith("Too many failed logins for this email address")
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_a_locked_out_token_request_gets_no_token_even_with_the_right_password(reporter, limit):
    for _ in range(limit):
        obtain(reporter.email, WRONG)

    response = obtain(reporter.email)

    assert response.status_code == 429
    assert not ApiToken.objects.exists()
    # Another address is not affected.
    assert obtain(reporter.email, address="198.51.100.7").status_code == 201


def test_the_page_and_the_api_share_one_count(client, reporter, limit):
    fail(client, reporter.email, limit - 1)

    assert obtain(reporter.email, WRONG).status_code == 429
    assert_lockout_page(log_in(client, reporter.email))


def test_a_token_success_before_the_limit_starts_the_count_afresh(reporter, limit):
    for _ in range(limit - 1):
        obtain(reporter.email, WRONG)
    assert obtain(reporter.email).status_code == 201

    codes = [obtain(reporter.email, WRONG).status_code for _ in range(limit - 1)]

    assert codes == [400] * (limit - 1)


def test_an_overlong_email_is_bad_input_not_a_server_error(limit):
    response = obtain("x" * 300 + "@example.com", WRONG)

    assert response.status_code == 400
    assert "email" in response.json()["errors"]

"""Account pages: who may open which page, sign-up, CSRF, password change and reset."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, Role, User
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
PROFILE = reverse("accounts:profile")
PASSWORD_CHANGE = reverse("accounts:password_change")
PASSWORD_RESET = reverse("accounts:password_reset")
RESET_DONE = reverse("accounts:password_reset_done")
RESET_COMPLETE = reverse("accounts:password_reset_complete")
NEW_PASSWORD = "a-much-longer-new-passphrase-42"


def _home():
    """Where sign-up and login land (LOGIN_REDIRECT_URL)."""
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _as(client, who, request):
    """Log the client in as the fixture named `who` (None: stay anonymous)."""
    user = request.getfixturevalue(who) if who else None
    if user:
        client.force_login(user)
    return user


# --- every page, for anonymous, reporter and admin ------------------------------------

PAGES = [
    "accounts:signup",
    "accounts:profile",
    "accounts:password_change",
    "accounts:password_change_done",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_complete",
]
NEEDS_LOGIN = {"accounts:profile", "accounts:password_change", "accounts:password_change_done"}


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_see_public_pages_and_are_sent_to_log_in_for_the_rest(client, name):
    url = reverse(name)

    response = client.get(url)

    if name in NEEDS_LOGIN:
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={url}"
    else:
        assert response.status_code == 200
        assert b'href="/accounts/login/">Log in</a>' in response.content
        assert b'href="/accounts/signup/">Sign up</a>' in response.content
        assert b">Profile</a>" not in response.content


@pytest.mark.parametrize("who", ["reporter", "admin_user"])
@pytest.mark.parametrize("name", [page for page in PAGES if page != "accounts:signup"])
def test_signed_in_people_see_every_page(client, request, who, name):
    _as(client, who, request)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert f'href="{PROFILE}">Profile</a>'.encode() in response.content
    assert b">Sign up</a>" not in response.content
    # The Admin link follows the role on these pages as on the home page.
    assert (b'href="/admin/">Admin</a>' in response.content) == (who == "admin_user")


@pytest.mark.parametrize("who", ["reporter", "admin_user"])
def test_signed_in_people_are_sent_home_from_signup(client, request, who):
    _as(client, who, request)

    assert client.get(SIGNUP)["Location"] == _home()
    response = client.post(SIGNUP, _signup_data(email="someone-new@example.com"))
    assert response.status_code == 302
    assert response["Location"] == _home()
    assert not User.objects.filter(email="someone-new@example.com").exists()


def test_an_invalid_reset_link_says_so(client):
    url = reverse("accounts:password_reset_confirm", args=["MTIzNDU2", "not-a-token"])

    response = client.get(url)

    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert b'role="alert"' in response.content
    assert b"Ask for a new link" in response.content


def test_the_login_page_links_to_signup_and_password_reset(client):
    content = client.get(LOGIN).content.decode()

    assert f'<a href="{SIGNUP}">Create an account</a>' in content
    assert f'<a href="{PASSWORD_RESET}">Forgot your password?</a>' in content
    # What the browser tests rely on stays as it was.
    assert '<label for="id_username">Email</label>' in content
    assert '<label for="id_password">Password</label>' in content
    assert '<button type="submit">Log in</button>' in content


def test_the_forms_label_every_control(client, reporter):
    for url in (SIGNUP, PASSWORD_RESET):
        content = client.get(url).content.decode()
        for control_id in re.findall(r'<input[^>]* id="([^"]+)"', content):
            assert re.search(rf'<label [^>]*for="{control_id}"', content), (url, control_id)
    client.force_login(reporter)
    for url in (PROFILE, PASSWORD_CHANGE):
        content = client.get(url).content.decode()
        for control_id in re.findall(r'<input[^>]* id="([^"]+)"', content):
            assert re.search(rf'<label [^>]*for="{control_id}"', content), (url, control_id)


# --- sign-up ---------------------------------------------------------------------------


def _signup_data(**overrides):
    return {
        "email": "new.person@example.com",
        "display_name": "New Person",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }


def _assert_passwords_not_echoed(content):
    for name in ("password1", "password2"):
        control = re.search(rf'<input[^>]*name="{name}"[^>]*>', content).group(0)
        assert "value=" not in control, control


def test_signup_creates_a_reporter_logs_them_in_and_goes_home(client):
    response = client.post(SIGNUP, _signup_data())

    assert response.status_code == 302
    assert response["Location"] == _home()
    user = User.objects.get(email="new.person@example.com")
    assert user.role == Role.REPORTER
    assert user.display_name == "New Person"
    assert user.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    home = client.get(_home())
    assert home.status_code == 200
    assert b"New Person \xc2\xb7 Reporter" in home.content


def test_signup_cannot_choose_a_role(client):
    client.post(SIGNUP, _signup_data(role="ADMIN"))

    assert User.objects.get(email="new.person@example.com").role == Role.REPORTER


def test_signup_trims_the_name_and_allows_none(client):
    client.post(SIGNUP, _signup_data(display_name="   "))

    user = User.objects.get(email="new.person@example.com")
    assert user.display_name == ""
    assert user.name == "new.person"


def test_signup_with_a_taken_email_in_another_case_reshows_the_form(client, reporter):
    taken = reporter.email.upper()

    response = client.post(SIGNUP, _signup_data(email=taken, display_name="Twin"))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this email already exists."
    ]
    content = response.content.decode()
    assert 'role="alert"' in content
    assert f'value="{taken}"' in content
    assert 'value="Twin"' in content
    assert User.objects.filter(email__iexact=reporter.email).count() == 1
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83749261530", "This password is entirely numeric."),
        ("new.person@example", "The password is too similar to the email."),
    ],
)
def test_signup_with_a_weak_password_reshows_the_form(client, password, message):
    response = client.post(SIGNUP, _signup_data(password1=password, password2=password))

    assert response.status_code == 200
    assert message in response.context["form"].errors["password1"]
    content = response.content.decode()
    assert 'id="id_password1_error"' in content
    assert 'value="new.person@example.com"' in content
    assert 'value="New Person"' in content
    _assert_passwords_not_echoed(content)
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert "_auth_user_id" not in client.session


def test_signup_with_mismatched_passwords_reshows_the_form(client):
    response = client.post(SIGNUP, _signup_data(password2=NEW_PASSWORD + "x"))

    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == ["The two passwords differ."]
    content = response.content.decode()
    assert 'role="alert"' in content
    assert 'value="new.person@example.com"' in content
    assert 'value="New Person"' in content
    assert NEW_PASSWORD not in content
    _assert_passwords_not_echoed(content)
    assert not User.objects.exists()


def test_signup_with_a_bad_email_or_missing_fields_reshows_the_form(client):
    response = client.post(SIGNUP, {"email": "not-an-email", "display_name": "Nobody"})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["email"] == ["Enter a valid email address."]
    assert errors["password1"] == ["This field is required."]
    assert 'value="Nobody"' in response.content.decode()
    assert not User.objects.exists()


def test_signup_with_an_overlong_name_reshows_the_form(client):
    response = client.post(SIGNUP, _signup_data(display_name="n" * 151))

    assert response.status_code == 200
    assert response.context["form"].errors["display_name"] == [
        "At most 150 characters (this has 151)."
    ]
    assert not User.objects.exists()


def test_the_new_account_can_log_in_with_its_password(client):
    client.post(SIGNUP, _signup_data())
    client.post(reverse("accounts:logout"))

    response = client.post(LOGIN, {"username": "New.Person@example.com", "password": NEW_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == _home()


# --- CSRF ------------------------------------------------------------------------------


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def test_signup_refuses_a_post_without_csrf_token(csrf_client):
    response = csrf_client.post(SIGNUP, _signup_data())

    assert response.status_code == 403
    assert not User.objects.exists()


def test_signup_accepts_a_post_with_the_pages_csrf_token(csrf_client):
    csrf_client.get(SIGNUP)
    token = csrf_client.cookies["csrftoken"].value

    response = csrf_client.post(SIGNUP, _signup_data(csrfmiddlewaretoken=token))

    assert response.status_code == 302
    assert User.objects.filter(email="new.person@example.com").exists()


def test_profile_refuses_a_post_without_csrf_token(csrf_client, reporter):
    csrf_client.force_login(reporter)

    response = csrf_client.post(PROFILE, {"display_name": "Forged"})

    assert response.status_code == 403
    reporter.refresh_from_db()
    assert reporter.display_name == "Rita Reporter"


def test_token_creation_refuses_a_post_without_csrf_token(csrf_client, reporter):
    csrf_client.force_login(reporter)

    response = csrf_client.post(reverse("accounts:token_create"), {"name": "forged"})

    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_token_revocation_refuses_a_post_without_csrf_token(csrf_client, reporter):
    from accounts import services

    token, _ = services.create_token(actor=reporter, name="ci")
    csrf_client.force_login(reporter)

    response = csrf_client.post(reverse("accounts:token_revoke", args=[token.pk]))

    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_password_change_refuses_a_post_without_csrf_token(csrf_client, reporter):
    csrf_client.force_login(reporter)

    response = csrf_client.post(
        PASSWORD_CHANGE,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 403
    reporter.refresh_from_db()
    assert reporter.check_password(PASSWORD)


# --- password change -------------------------------------------------------------------


def test_a_user_changes_their_password_and_stays_logged_in(client, reporter):
    client.force_login(reporter)

    response = client.post(
        PASSWORD_CHANGE,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    reporter.refresh_from_db()
    assert reporter.check_password(NEW_PASSWORD)
    assert client.get(PROFILE).status_code == 200


def test_a_wrong_old_password_or_weak_new_one_reshows_the_form(client, reporter):
    client.force_login(reporter)

    response = client.post(
        PASSWORD_CHANGE,
        {"old_password": "wrong", "new_password1": "123", "new_password2": "123"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "old_password" in errors
    assert "new_password2" in errors
    assert b'role="alert"' in response.content
    reporter.refresh_from_db()
    assert reporter.check_password(PASSWORD)


# --- password reset --------------------------------------------------------------------


def _reset_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_reset_mails_an_existing_address_exactly_once(client, reporter):
    response = client.post(PASSWORD_RESET, {"email": reporter.email})

    assert response.status_code == 302
    assert response["Location"] == RESET_DONE
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [reporter.email]
    assert message.subject == "Reset your Tracker password"
    assert message.alternatives == []  # plain text only
    assert "expires in 3 days" in message.body
    assert reporter.email in message.body


def test_reset_finds_the_address_in_any_case(client, reporter):
    client.post(PASSWORD_RESET, {"email": reporter.email.upper()})

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [reporter.email]


def test_reset_does_not_reveal_whether_an_address_has_an_account(client, reporter):
    known = client.post(PASSWORD_RESET, {"email": reporter.email})
    unknown = client.post(PASSWORD_RESET, {"email": "nobody@example.com"})

    assert len(mail.outbox) == 1
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    done = client.get(RESET_DONE)
    assert b"If an account uses that address" in done.content


def test_reset_sends_nothing_to_inactive_accounts(client):
    user = UserFactory(is_active=False)

    response = client.post(PASSWORD_RESET, {"email": user.email})

    assert response["Location"] == RESET_DONE
    assert mail.outbox == []


def test_the_reset_mail_is_plain_text_and_not_html_escaped(client):
    user = UserFactory(display_name="Miles O'Brien & Co")

    client.post(PASSWORD_RESET, {"email": user.email})

    body = mail.outbox[0].body
    assert "Hello Miles O'Brien & Co," in body
    assert "&amp;" not in body
    assert "&#x27;" not in body


def test_the_reset_link_from_the_mail_works_end_to_end(client, reporter):
    client.post(PASSWORD_RESET, {"email": reporter.email})
    link = _reset_link(mail.outbox[0])

    # Django swaps the token in the URL for one kept in the session.
    response = client.get(link)
    assert response.status_code == 302
    form_url = response["Location"]
    assert form_url.endswith("/set-password/")
    page = client.get(form_url)
    assert page.status_code == 200
    assert page.context["validlink"] is True
    assert b'<label for="id_new_password1">' in page.content

    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == RESET_COMPLETE
    assert client.get(RESET_COMPLETE).status_code == 200

    # The new password logs in, the old one does not, and the link is spent.
    fresh = Client()
    assert fresh.post(LOGIN, {"username": reporter.email, "password": PASSWORD}).status_code == 200
    response = fresh.post(LOGIN, {"username": reporter.email, "password": NEW_PASSWORD})
    assert response.status_code == 302
    spent = Client().get(link, follow=True)
    assert spent.context["validlink"] is False


def test_the_reset_form_rejects_mismatched_passwords(client, reporter):
    client.post(PASSWORD_RESET, {"email": reporter.email})
    form_url = client.get(_reset_link(mail.outbox[0]))["Location"]

    response = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"}
    )

    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    reporter.refresh_from_db()
    assert reporter.check_password(PASSWORD)


def test_reset_refuses_a_post_without_csrf_token(reporter):
    response = Client(enforce_csrf_checks=True).post(PASSWORD_RESET, {"email": reporter.email})

    assert response.status_code == 403
    assert mail.outbox == []

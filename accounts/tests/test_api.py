"""Signing in to the API: tokens (obtained with email and password, shown once,
listed without keys, revoked), sessions with CSRF, and /api/users/me/."""

import hashlib

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tests.factories import PASSWORD, UserFactory
from issues.models import Issue


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def assert_error(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    for field in fields:
        assert body["errors"][field], body
    return body


def obtain(email, password=PASSWORD, **extra):
    return APIClient().post(
        "/api/auth/token/", {"email": email, "password": password, **extra}, format="json"
    )


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
def test_email_and_password_give_a_token_shown_once(reporter):
    response = obtain(reporter.email, name="deploy script")

    assert response.status_code == 201
    body = response.json()
    token = ApiToken.objects.get()
    assert set(body) == {"token", "id", "name", "prefix", "created_at", "last_used_at"}
    assert body["token"].startswith("trk_") and len(body["token"]) > 40
    assert (body["id"], body["name"], body["prefix"]) == (token.pk, "deploy script", token.prefix)
    assert body["prefix"] == body["token"][:8]
    assert body["last_used_at"] is None
    # Only a digest is kept: the key cannot be read back from the database.
    assert token.digest == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in {getattr(token, f.attname) for f in ApiToken._meta.fields}
    assert token.user == reporter


@pytest.mark.django_db
def test_a_token_gets_a_default_name(reporter):
    assert obtain(reporter.email).json()["name"] == "API token"


@pytest.mark.django_db
def test_the_email_is_matched_whatever_its_case(reporter):
    assert obtain(reporter.email.upper()).status_code == 201


@pytest.mark.django_db
def test_a_wrong_password_is_a_400_and_no_token(reporter):
    response = obtain(reporter.email, "wrong password")

    body = assert_error(response, 400, "non_field_errors")
    assert body["errors"]["non_field_errors"] == ["Wrong email or password."]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_an_unknown_email_answers_exactly_like_a_wrong_password(reporter):
    unknown = obtain("nobody@example.com")
    wrong = obtain(reporter.email, "wrong password")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()


@pytest.mark.django_db
def test_a_deactivated_user_gets_no_token(db):
    user = UserFactory(is_active=False)

    assert_error(obtain(user.email), 400)
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_the_key_authenticates_requests(reporter):
    key = obtain(reporter.email).json()["token"]

    response = with_token(key).get("/api/users/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": reporter.pk,
        "email": reporter.email,
        "display_name": "Rita Reporter",
        "name": "Rita Reporter",
        "role": "REPORTER",
    }
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_a_token_acts_with_its_users_role(reporter, maintainer):
    reporters = with_token(obtain(reporter.email).json()["token"])
    maintainers = with_token(obtain(maintainer.email).json()["token"])

    assert_error(reporters.get("/api/users/"), 403)
    assert maintainers.get("/api/users/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Token trk_not-a-real-key",
        "Token ",
        "Token",
        "Token two words",
        "Bearer {key}",
        "{key}",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_a_bad_or_missing_key_is_a_401_with_a_challenge(reporter, header):
    key = obtain(reporter.email).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(key=key))

    response = client.get("/api/users/me/")

    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_no_credentials_at_all_is_a_401_with_a_challenge(db):
    response = APIClient().get("/api/issues/")

    body = assert_error(response, 401)
    assert body["errors"] == {}
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_the_token_of_a_deactivated_user_stops_working(reporter):
    key = obtain(reporter.email).json()["token"]
    reporter.is_active = False
    reporter.save()

    assert_error(with_token(key).get("/api/users/me/"), 401)


@pytest.mark.django_db
def test_the_token_list_shows_ones_own_tokens_without_keys(reporter, other_reporter):
    first = obtain(reporter.email, name="laptop").json()
    second = obtain(reporter.email, name="ci").json()
    obtain(other_reporter.email, name="someone else's")

    response = with_token(first["token"]).get("/api/auth/tokens/")

    assert response.status_code == 200
    rows = response.json()
    assert sorted(row["name"] for row in rows) == ["ci", "laptop"]
    for row in rows:
        assert set(row) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert first["token"] not in response.content.decode()
    assert second["token"] not in response.content.decode()


@pytest.mark.django_db
def test_revoking_a_token_makes_its_key_fail(reporter):
    doomed = obtain(reporter.email, name="old").json()
    keeper = obtain(reporter.email, name="new").json()
    client = with_token(keeper["token"])

    response = client.delete(f"/api/auth/tokens/{doomed['id']}/")

    assert response.status_code == 204
    assert not ApiToken.objects.filter(pk=doomed["id"]).exists()
    assert_error(with_token(doomed["token"]).get("/api/users/me/"), 401)
    assert client.get("/api/users/me/").status_code == 200


@pytest.mark.django_db
def test_a_token_can_revoke_itself(reporter):
    token = obtain(reporter.email).json()
    client = with_token(token["token"])

    assert client.delete(f"/api/auth/tokens/{token['id']}/").status_code == 204
    assert_error(client.get("/api/users/me/"), 401)


@pytest.mark.django_db
def test_nobody_revokes_someone_elses_token_through_the_api(reporter, admin_user):
    theirs = obtain(reporter.email).json()
    admins = with_token(obtain(admin_user.email).json()["token"])

    response = admins.delete(f"/api/auth/tokens/{theirs['id']}/")

    assert_error(response, 404)
    assert with_token(theirs["token"]).get("/api/users/me/").status_code == 200


# --- Sessions ----------------------------------------------------------------


@pytest.fixture
def browser(reporter):
    """A signed-in browser: a session cookie, and CSRF checked as in production."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reporter)
    return client


@pytest.mark.django_db
def test_a_session_authenticates_reads(browser, reporter):
    response = browser.get("/api/users/me/")

    assert response.status_code == 200
    assert response.json()["id"] == reporter.pk


@pytest.mark.django_db
def test_a_session_write_without_the_csrf_token_is_a_403(browser):
    response = browser.post("/api/issues/", {"title": "Forged"}, format="json")

    body = assert_error(response, 403)
    assert "CSRF" in body["detail"]
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_a_session_write_with_the_csrf_token_goes_through(browser):
    secret = "k" * 32
    browser.cookies["csrftoken"] = secret

    response = browser.post(
        "/api/issues/", {"title": "Legit"}, format="json", HTTP_X_CSRFTOKEN=secret
    )

    assert response.status_code == 201
    assert response.json()["title"] == "Legit"


@pytest.mark.django_db
def test_a_token_request_needs_no_csrf_token(reporter):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {obtain(reporter.email).json()['token']}")

    response = client.post("/api/issues/", {"title": "From a script"}, format="json")

    assert response.status_code == 201


@pytest.mark.django_db
def test_a_logged_out_session_is_anonymous(browser):
    browser.logout()

    assert_error(browser.get("/api/users/me/"), 401)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["REPORTER", "MAINTAINER", "ADMIN"])
def test_me_tells_each_user_their_role(role):
    user = UserFactory(role=role, display_name="")
    client = APIClient()
    client.force_authenticate(user)

    body = client.get("/api/users/me/").json()

    assert body["role"] == role
    assert body["name"] == user.email.split("@")[0]
    assert body["display_name"] == ""

import pytest
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, UserFactory
from tracker import settings as project_settings

INSERT_USER = """
INSERT INTO accounts_user (email, display_name, role, is_active, date_joined, password)
VALUES (%s, '', %s, true, %s, '')
"""


def raw_insert(email: str, role: str = Role.REPORTER) -> None:
    """Straight to the table, past every check Django could make."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_USER, [email, role, timezone.now()])


@pytest.mark.django_db
def test_the_database_refuses_an_email_that_differs_only_in_case():
    UserFactory(email="case@example.com")

    with pytest.raises(IntegrityError, match="user_email_ci_unique"), transaction.atomic():
        raw_insert("CASE@Example.com")

    assert User.objects.filter(email__iexact="case@example.com").count() == 1


@pytest.mark.django_db
def test_the_database_accepts_a_genuinely_different_email():
    UserFactory(email="case@example.com")

    raw_insert("case2@example.com")

    assert User.objects.filter(email__istartswith="case").count() == 2


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_role():
    with pytest.raises(IntegrityError, match="user_role_valid"), transaction.atomic():
        raw_insert("role@example.com", role="SUPERUSER")

    assert not User.objects.filter(email="role@example.com").exists()


def test_get_by_natural_key_ignores_case(reporter):
    found = User.objects.get_by_natural_key(reporter.email.upper())

    assert found.pk == reporter.pk


@pytest.mark.django_db
def test_get_by_natural_key_raises_for_an_unknown_email():
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("nobody@example.com")


def web_login(client, **credentials) -> bool:
    """client.login as a login from the web: the lockout backend (axes) refuses an
    authentication without the request it came with."""
    return client.login(request=RequestFactory().post("/"), **credentials)


def test_login_with_email_and_password_works(client, reporter):
    assert web_login(client, username=reporter.email, password=PASSWORD) is True
    assert client.session["_auth_user_id"] == str(reporter.pk)


def test_login_with_the_email_in_another_case_works(client, reporter):
    assert web_login(client, username=reporter.email.upper(), password=PASSWORD) is True
    assert client.session["_auth_user_id"] == str(reporter.pk)


def test_login_with_a_wrong_password_fails(client, reporter):
    assert web_login(client, username=reporter.email, password=PASSWORD + "x") is False
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_of_an_inactive_user_fails(client):
    user = UserFactory(is_active=False)

    assert web_login(client, username=user.email, password=PASSWORD) is False


@pytest.mark.django_db
def test_new_users_are_reporters_and_the_email_domain_is_normalised():
    user = User.objects.create_user("Someone@EXAMPLE.com", PASSWORD)

    assert user.role == Role.REPORTER
    assert user.email == "Someone@example.com"
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", PASSWORD)


@pytest.mark.django_db
def test_create_superuser_makes_an_admin():
    user = User.objects.create_superuser("root@example.com", PASSWORD)

    user.refresh_from_db()
    assert user.role == Role.ADMIN
    assert user.is_staff is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "is_active", "expected"),
    [
        (Role.ADMIN, True, True),
        (Role.ADMIN, False, False),
        (Role.MAINTAINER, True, False),
        (Role.REPORTER, True, False),
    ],
)
def test_admin_flags_and_permissions_follow_the_role(role, is_active, expected):
    user = UserFactory(role=role, is_active=is_active)

    assert user.is_staff is expected
    assert user.is_superuser is expected
    assert user.has_perm("issues.delete_issue") is expected
    assert user.has_perms(["issues.change_issue", "accounts.change_user"]) is expected
    assert user.has_module_perms("issues") is expected


def test_is_staff_cannot_be_set_by_hand(maintainer):
    with pytest.raises(AttributeError):
        maintainer.is_staff = True
    with pytest.raises(AttributeError):
        maintainer.is_superuser = True

    assert maintainer.is_staff is False


@pytest.mark.django_db
def test_name_and_str_fall_back_to_the_email():
    named = UserFactory(email="ada@example.com", display_name="Ada Admin")
    unnamed = UserFactory(email="bob.smith@example.com", display_name="")

    assert (str(named), named.name) == ("Ada Admin", "Ada Admin")
    assert (str(unnamed), unnamed.name) == ("bob.smith@example.com", "bob.smith")


def test_passwords_are_stored_with_argon2(settings):
    # The suite swaps in a fast hasher; put the project's own list back.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert make_password("correct horse battery staple").startswith("argon2$")

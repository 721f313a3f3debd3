import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, UserFactory

# --- register_user -------------------------------------------------------------


@pytest.mark.django_db
def test_register_user_creates_an_active_reporter_who_can_log_in_with_the_password():
    user = services.register_user(
        email="  new.person@Example.COM ", password=PASSWORD, display_name=" New Person "
    )

    user.refresh_from_db()
    assert user.email == "new.person@example.com"  # domain normalised, spaces gone
    assert user.display_name == "New Person"
    assert user.role == Role.REPORTER
    assert user.is_active is True
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_register_user_refuses_an_email_that_exists_in_another_case():
    UserFactory(email="taken@example.com")

    with pytest.raises(ValidationError) as caught:
        services.register_user(email="TAKEN@example.com", password=PASSWORD)

    assert list(caught.value.message_dict) == ["email"]
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


@pytest.mark.django_db
def test_register_user_refuses_a_missing_email():
    with pytest.raises(ValidationError) as caught:
        services.register_user(email="   ", password=PASSWORD)

    assert list(caught.value.message_dict) == ["email"]
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password",
    ["short", "12345678901234", "password123", "weak.person@example.com"],
    ids=["too-short", "all-numeric", "common", "same-as-email"],
)
def test_register_user_refuses_a_weak_password_on_the_password_field(password):
    with pytest.raises(ValidationError) as caught:
        services.register_user(email="weak.person@example.com", password=password)

    assert list(caught.value.message_dict) == ["password"]
    assert caught.value.message_dict["password"]  # says why
    assert not User.objects.filter(email="weak.person@example.com").exists()


# --- set_role / check_role_change ------------------------------------------------


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.ADMIN, Role.REPORTER])
def test_admin_sets_another_users_role_and_it_is_saved(admin_user, reporter, role):
    returned = services.set_role(actor=admin_user, user=reporter, role=role)

    assert returned.role == role
    reporter.refresh_from_db()
    assert reporter.role == role


def test_admin_may_demote_another_admin(admin_user):
    other_admin = UserFactory(role=Role.ADMIN)

    services.set_role(actor=admin_user, user=other_admin, role=Role.REPORTER)

    other_admin.refresh_from_db()
    assert other_admin.role == Role.REPORTER


@pytest.mark.parametrize("actor_role", [Role.REPORTER, Role.MAINTAINER])
def test_non_admins_may_not_change_roles(actor_role, other_reporter):
    actor = UserFactory(role=actor_role)

    with pytest.raises(PermissionDenied):
        services.set_role(actor=actor, user=other_reporter, role=Role.MAINTAINER)
    with pytest.raises(PermissionDenied):
        services.check_role_change(actor=actor, user=other_reporter, role=Role.MAINTAINER)

    other_reporter.refresh_from_db()
    assert other_reporter.role == Role.REPORTER


def test_non_admins_may_not_promote_themselves(maintainer):
    with pytest.raises(PermissionDenied):
        services.set_role(actor=maintainer, user=maintainer, role=Role.ADMIN)

    maintainer.refresh_from_db()
    assert maintainer.role == Role.MAINTAINER


def test_an_inactive_admin_may_not_change_roles(other_reporter):
    inactive_admin = UserFactory(role=Role.ADMIN, is_active=False)

    with pytest.raises(PermissionDenied):
        services.set_role(actor=inactive_admin, user=other_reporter, role=Role.ADMIN)

    other_reporter.refresh_from_db()
    assert other_reporter.role == Role.REPORTER


@pytest.mark.parametrize("bad_role", ["SUPERUSER", "admin", ""])
def test_an_unknown_role_is_refused_on_the_role_field(admin_user, reporter, bad_role):
    with pytest.raises(ValidationError) as caught:
        services.set_role(actor=admin_user, user=reporter, role=bad_role)

    assert list(caught.value.message_dict) == ["role"]
    reporter.refresh_from_db()
    assert reporter.role == Role.REPORTER


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.REPORTER])
def test_an_admin_cannot_demote_themselves(admin_user, role):
    with pytest.raises(ValidationError) as caught:
        services.set_role(actor=admin_user, user=admin_user, role=role)

    assert caught.value.message_dict == {"role": ["You cannot remove your own admin role."]}
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_an_admin_keeping_their_own_admin_role_is_allowed(admin_user):
    services.check_role_change(actor=admin_user, user=admin_user, role=Role.ADMIN)
    services.set_role(actor=admin_user, user=admin_user, role=Role.ADMIN)

    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_check_role_change_writes_nothing(admin_user, reporter):
    services.check_role_change(actor=admin_user, user=reporter, role=Role.MAINTAINER)

    reporter.refresh_from_db()
    assert reporter.role == Role.REPORTER

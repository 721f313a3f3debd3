"""The Django admin: who gets in (ADMIN role only, decided afresh on every
request) and the users admin, whose role changes go through accounts.services."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, UserFactory
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory
from reports.stats import aggregate_daily_stats
from tracker.admin_site import TrackerAdminSite

pytestmark = pytest.mark.django_db

ADMIN_INDEX = reverse("admin:index")
ADMIN_LOGIN = reverse("admin:login")


def refused_to_login(response, path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{ADMIN_LOGIN}?next={path}"


def user_change_url(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def user_form(user: User, **overrides) -> dict:
    data = {
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
        "_save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


# --- who gets in -----------------------------------------------------------------


def test_the_project_uses_the_role_checking_admin_site():
    assert isinstance(admin.site, TrackerAdminSite)


def test_an_admin_gets_the_admin_index(client, admin_user):
    client.force_login(admin_user)

    response = client.get(ADMIN_INDEX)

    assert response.status_code == 200
    assert b"Tracker administration" in response.content


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client):
    assert refused_to_login(client.get(ADMIN_INDEX), ADMIN_INDEX)


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.REPORTER])
def test_maintainers_and_reporters_are_sent_to_the_admin_login(client, role):
    client.force_login(UserFactory(role=role))
    changelist = reverse("admin:issues_issue_changelist")

    assert refused_to_login(client.get(ADMIN_INDEX), ADMIN_INDEX)
    assert refused_to_login(client.get(changelist), changelist)
    login_page = client.get(ADMIN_LOGIN)
    assert login_page.status_code == 200
    assert b"but are not authorized to access this page" in login_page.content


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.REPORTER])
def test_maintainers_and_reporters_cannot_log_in_to_the_admin(client, role):
    user = UserFactory(role=role)

    response = client.post(ADMIN_LOGIN, {"username": user.email, "password": PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].errors["__all__"] == [
        "Please enter the correct email and password for a staff account. "
        "Note that both fields may be case-sensitive."
    ]
    assert "_auth_user_id" not in client.session


def test_an_admin_logs_in_to_the_admin_with_email_and_password(client, admin_user):
    response = client.post(
        f"{ADMIN_LOGIN}?next={ADMIN_INDEX}",
        {"username": admin_user.email, "password": PASSWORD, "next": ADMIN_INDEX},
    )

    assert response.status_code == 302
    assert response["Location"] == ADMIN_INDEX
    assert client.get(ADMIN_INDEX).status_code == 200


def test_an_inactive_admin_is_refused(client):
    inactive_admin = UserFactory(role=Role.ADMIN, is_active=False)

    client.force_login(inactive_admin)
    assert refused_to_login(client.get(ADMIN_INDEX), ADMIN_INDEX)

    client.logout()
    response = client.post(ADMIN_LOGIN, {"username": inactive_admin.email, "password": PASSWORD})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_demoting_an_admin_removes_access_on_the_next_request(client, admin_user):
    other_admin = UserFactory(role=Role.ADMIN)
    client.force_login(admin_user)
    assert client.get(ADMIN_INDEX).status_code == 200

    services.set_role(actor=other_admin, user=admin_user, role=Role.MAINTAINER)

    assert refused_to_login(client.get(ADMIN_INDEX), ADMIN_INDEX)


def test_deactivating_an_admin_removes_access_on_the_next_request(client, admin_user):
    client.force_login(admin_user)
    assert client.get(ADMIN_INDEX).status_code == 200

    User.objects.filter(pk=admin_user.pk).update(is_active=False)

    assert refused_to_login(client.get(ADMIN_INDEX), ADMIN_INDEX)


def test_a_maintainer_cannot_write_through_admin_urls(client, maintainer, reporter):
    client.force_login(maintainer)

    response = client.post(user_change_url(reporter), user_form(reporter, role=Role.ADMIN))

    assert refused_to_login(response, user_change_url(reporter))
    reporter.refresh_from_db()
    assert reporter.role == Role.REPORTER


# --- every registered model ------------------------------------------------------

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.fixture
def some_of_everything(admin_user, issue):
    Client().post(reverse("accounts:login"), {"username": issue.reporter.email, "password": "no"})
    LabelFactory(name="bug")
    CommentFactory(issue=issue)
    aggregate_daily_stats()
    services.create_token(actor=admin_user)


def test_every_model_the_design_names_is_registered():
    labels = {model._meta.label for model in REGISTERED}
    assert {
        "accounts.User",
        "issues.Issue",
        "issues.Label",
        "issues.Comment",
        "issues.IssueEvent",
        "reports.DailyStat",
    } <= labels
    assert "auth.Group" not in labels  # roles replace groups


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_changelist_renders_for_an_admin(client, admin_user, some_of_everything, model):
    client.force_login(admin_user)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    response = client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_every_changelist_is_refused_to_a_maintainer(client, maintainer, model):
    client.force_login(maintainer)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert refused_to_login(client.get(url), url)


# --- users admin -----------------------------------------------------------------


def test_the_user_change_page_renders_with_the_role_field(client, admin_user, reporter):
    client.force_login(admin_user)

    response = client.get(user_change_url(reporter))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.initial["role"] == Role.REPORTER
    assert "is_staff" not in form.fields


def test_an_admin_changes_a_role_through_the_service(client, admin_user, reporter, monkeypatch):
    calls = []
    real_set_role = services.set_role

    def spy(**kwargs):
        calls.append(kwargs)
        return real_set_role(**kwargs)

    monkeypatch.setattr(services, "set_role", spy)
    client.force_login(admin_user)

    response = client.post(user_change_url(reporter), user_form(reporter, role=Role.MAINTAINER))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_user_changelist")
    assert calls == [{"actor": admin_user, "user": reporter, "role": Role.MAINTAINER}]
    reporter.refresh_from_db()
    assert reporter.role == Role.MAINTAINER


def test_an_admin_changes_other_fields_and_the_role_at_once(client, admin_user, reporter):
    client.force_login(admin_user)

    response = client.post(
        user_change_url(reporter),
        user_form(reporter, display_name="Rita Renamed", role=Role.ADMIN),
    )

    assert response.status_code == 302
    reporter.refresh_from_db()
    assert (reporter.display_name, reporter.role) == ("Rita Renamed", Role.ADMIN)


def test_editing_without_changing_the_role_does_not_call_set_role(
    client, admin_user, reporter, monkeypatch
):
    calls = []
    monkeypatch.setattr(services, "set_role", lambda **kwargs: calls.append(kwargs))
    client.force_login(admin_user)

    response = client.post(user_change_url(reporter), user_form(reporter, display_name="Rita R."))

    assert response.status_code == 302
    assert calls == []
    reporter.refresh_from_db()
    assert (reporter.display_name, reporter.role) == ("Rita R.", Role.REPORTER)


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.REPORTER])
def test_an_admin_cannot_demote_themselves_in_the_admin(client, admin_user, role):
    client.force_login(admin_user)

    response = client.post(user_change_url(admin_user), user_form(admin_user, role=role))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["role"] == [
        "You cannot remove your own admin role."
    ]
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN
    assert client.get(ADMIN_INDEX).status_code == 200


def test_an_unknown_role_is_refused_by_the_user_form(client, admin_user, reporter):
    client.force_login(admin_user)

    response = client.post(user_change_url(reporter), user_form(reporter, role="SUPERUSER"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["role"]
    reporter.refresh_from_db()
    assert reporter.role == Role.REPORTER


def test_an_email_taken_in_another_case_is_refused_by_the_user_form(
    client, admin_user, reporter, other_reporter
):
    client.force_login(admin_user)

    response = client.post(
        user_change_url(reporter), user_form(reporter, email=other_reporter.email.upper())
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An account with this email already exists."]
    }
    reporter.refresh_from_db()
    assert reporter.email != other_reporter.email.upper()


def test_changing_only_the_case_of_ones_own_email_is_allowed(client, admin_user, reporter):
    client.force_login(admin_user)
    new_email = reporter.email.replace("user", "User")
    assert new_email != reporter.email

    response = client.post(user_change_url(reporter), user_form(reporter, email=new_email))

    assert response.status_code == 302
    reporter.refresh_from_db()
    assert reporter.email == new_email


def test_an_admin_adds_a_user_with_a_role_and_password(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "added@example.com",
            "display_name": "Added Person",
            "role": Role.MAINTAINER,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    added = User.objects.get(email="added@example.com")
    assert (added.display_name, added.role, added.is_active) == (
        "Added Person",
        Role.MAINTAINER,
        True,
    )
    assert added.check_password(PASSWORD)


def test_adding_a_user_whose_email_exists_in_another_case_is_refused(client, admin_user, reporter):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": reporter.email.upper(),
            "display_name": "",
            "role": Role.REPORTER,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["An account with this email already exists."]
    }
    assert User.objects.filter(email__iexact=reporter.email).count() == 1


def test_the_delete_page_names_the_comments_that_keep_a_user_in_the_same_few_queries(
    client, admin_user, reporter
):
    """A user's comments keep them (PROTECT); the page's list of what protects
    them names each comment by its own columns, without a query per comment."""
    author = UserFactory(role=Role.MAINTAINER)
    client.force_login(admin_user)
    client.get(ADMIN_INDEX)  # the session is warm
    url = reverse("admin:accounts_user_delete", args=[author.pk])

    def page_after(comments):
        for n in range(comments):
            CommentFactory(issue=IssueFactory(reporter=reporter), author=author, body=f"c{n}")
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), "".join(response.context["protected"])

    few, _ = page_after(1)
    many, protected = page_after(20)

    assert many == few
    for comment in author.comments.all():
        assert str(comment) in protected

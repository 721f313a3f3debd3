import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_admin_logs_in_and_reaches_the_admin(as_user):
    admin = UserFactory(role="ADMIN", display_name="Ada Admin")
    page = as_user(admin)
    expect(page.get_by_text("Ada Admin · Admin")).to_be_visible()
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    expect(page.get_by_role("link", name="Issue events")).to_be_visible()


def test_maintainer_is_refused_by_the_admin(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    page = as_user(maintainer)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto("/admin/")
    expect(page.get_by_text("not authorized to access this page")).to_be_visible()


def test_wrong_password_shows_an_error_and_keeps_the_email(server, page, transactional_db):
    user = UserFactory()
    page.goto(f"{server}/accounts/login/")
    log_in(page, user, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("enter a correct")
    expect(page.get_by_label("Email")).to_have_value(user.email)

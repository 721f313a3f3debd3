"""The dashboard in a browser: charts with their tables, refreshed live."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from e2e.conftest import screenshot
from issues import services
from issues.models import Severity
from issues.tests.factories import IssueFactory

pytestmark = pytest.mark.e2e


def test_the_dashboard_shows_reports_and_follows_changes(as_user):
    maintainer = UserFactory(role="MAINTAINER", display_name="Max Maintainer")
    for severity in (Severity.LOW, Severity.HIGH, Severity.HIGH):
        issue = IssueFactory(reporter=maintainer, severity=severity)
    services.assign(actor=maintainer, issue=issue, version=1, assignee=maintainer)
    page = as_user(maintainer)

    page.get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    expect(page.locator("svg[role=img]").first).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV").first).to_be_visible()
    screenshot(page, "dashboard")

    # A new critical issue appears in the open-by-severity table without a reload.
    before = page.locator("#dashboard").inner_text()
    IssueFactory(reporter=maintainer, severity=Severity.CRITICAL, title="Fresh fire")
    expect(page.locator("#dashboard")).not_to_have_text(before, timeout=5_000)


def test_reporters_have_no_dashboard(as_user):
    page = as_user(UserFactory(role="REPORTER"))

    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    response = page.goto("/dashboard/")
    assert response.status == 403

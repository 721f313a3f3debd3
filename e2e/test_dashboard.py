"""The dashboard in a browser: charts with their tables, refreshed live."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from e2e.conftest import on_htmx_get, screenshot
from issues import services
from issues.models import Severity, Status
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


def test_the_dashboard_reads_again_for_what_its_reports_count_not_for_comments(as_user):
    """Its reports count issues (by status, severity, assignee, day): a comment
    or a file changes none of them, and reading all six again was about a third
    of a second of the database at a million issues."""
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer)
    page = as_user(maintainer)
    reads = []
    on_htmx_get(page, lambda request: reads.append(request.url))
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    # Each notice its own refresh (the pace between them is test_live's), and
    # whatever the stream's first connection sends (a resync) has come and gone.
    page.evaluate("document.querySelector('[data-live-every]').dataset.liveEvery = '0'")
    page.wait_for_timeout(4_000)
    reads.clear()

    services.add_comment(actor=maintainer, issue=issue, body="Only talk.")
    page.wait_for_timeout(3_000)  # past the 2 s delay: a refresh for it would be sent
    with page.expect_request(lambda request: "/dashboard/" in request.url, timeout=5_000):
        services.update_issue(
            actor=maintainer, issue=issue, version=1, changes={"status": Status.TRIAGED}
        )
    page.wait_for_timeout(500)

    # The stream is ordered: the comment's notice came before the edit's.
    assert len(reads) == 1


def test_reporters_have_no_dashboard(as_user):
    page = as_user(UserFactory(role="REPORTER"))

    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    response = page.goto("/dashboard/")
    assert response.status == 403

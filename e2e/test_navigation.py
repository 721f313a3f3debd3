"""Keyboard and small screens."""

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.e2e


def test_slash_focuses_search_and_c_opens_a_new_issue(as_user):
    page = as_user(UserFactory(role="REPORTER"))

    page.keyboard.press("/")
    expect(page.get_by_label("Search issues")).to_be_focused()
    page.keyboard.type("typed c stays text")
    expect(page.get_by_label("Search issues")).to_have_value("typed c stays text")

    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("c")
    expect(page).to_have_url(f"{page.url.split('/issues/')[0]}/issues/new/")
    expect(page.get_by_label("Title")).to_be_focused()


def test_the_list_and_an_issue_work_on_a_phone(as_user, browser, server):
    reporter = UserFactory(role="REPORTER")
    IssueFactory(reporter=reporter, title="Small screen issue")
    page = as_user(reporter)
    expect(page.locator("details.filters")).to_have_attribute("open", "")  # a wide screen
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto("/issues/")
    # The filters start folded, so the issues are on the first screen.
    expect(page.locator("details.filters")).not_to_have_attribute("open", "")
    expect(page.get_by_role("link", name="Small screen issue")).to_be_in_viewport()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"

    page.locator("details.filters summary").click()
    page.locator("#filters").get_by_label("Open").check()
    expect(page).to_have_url(re.compile(r"status=OPEN"))
    page.reload()  # a chosen filter shows open
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    expect(page.locator("#filters").get_by_label("Open")).to_be_checked()

    page.get_by_role("link", name="Small screen issue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Small screen issue")
    expect(page.get_by_label("Add a comment (Markdown)")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


def test_long_unbroken_text_stays_within_a_phone_s_width(as_user):
    """A long word, URL, line of code or wide table in an issue, a long name or
    label wraps, scrolls in its own box or is cut short: before, each widened
    the page (by 2,800 px for this issue), and so did a file input."""
    maintainer = UserFactory(role="MAINTAINER", display_name="D" * 150)
    LabelFactory(name="L" * 50)
    issue = IssueFactory(
        reporter=maintainer,
        labels=["L" * 50],
        title="Crash at https://example.com/" + "x" * 150,
        description=(
            "y" * 300
            + "\n\n```\n"
            + "z" * 300
            + "\n```\n\n| a | b | c | d |\n|---|---|---|---|\n| "
            + " | ".join(["a wide cell of a table"] * 4)
            + " |\n"
        ),
    )
    page = as_user(maintainer)
    page.set_viewport_size({"width": 360, "height": 740})

    for path in (f"/issues/{issue.number}/", "/issues/new/", "/issues/"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px"
    page.goto(f"/issues/{issue.number}/")
    expect(page.locator(".markdown pre")).to_be_visible()

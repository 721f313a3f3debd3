"""The Content-Security-Policy in a real browser: every main page, the admin and
the API docs work under it without a single violation (no inline script, no
inline style, nothing from another origin), and label colours, set through the
CSSOM instead of style attributes, still show. Then XSS payloads in every field
a person can fill in: nothing runs, nothing is even attempted."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from e2e.conftest import log_in
from issues import services
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.e2e

# Recorded from before the first script of every page: CSP violations as the
# browser reports them, and any dialog an injected script might open.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ` +
    `${event.sourceFile || document.location.pathname}:${event.lineNumber} ` +
    `(${(event.sample || "").slice(0, 60)})`
  );
});
"""


class Watched:
    """A page whose CSP violations and console complaints are collected."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        self.dialogs: list[str] = []
        page.context.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, path: str, ready) -> list[str]:
        response = self.page.goto(path)
        assert response.ok, f"{path} answered {response.status}"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        expect(ready(self.page)).to_be_visible()
        self.page.wait_for_timeout(400)  # deferred scripts, htmx `load` triggers
        found = self.page.evaluate("window.__violations") + self.console
        self.console = []
        return [f"{path}: {line}" for line in found]


@pytest.fixture
def world():
    admin = UserFactory(role="ADMIN", display_name="Ada Admin")
    bug = LabelFactory(name="bug", colour="#d73a4a")
    LabelFactory(name="ui", colour="#1d76db")
    issue = IssueFactory(
        reporter=admin,
        title="Checkout fails",
        description="It **fails** on #1.\n\n```\ntrace\n```",
        labels=[bug.name],
    )
    first = services.add_comment(actor=admin, issue=issue, body="First")
    services.add_comment(actor=admin, issue=issue, body="A reply", parent=first)
    return admin, issue


def test_the_main_pages_admin_and_api_docs_have_no_csp_violation(as_user, world):
    admin, issue = world
    watched = Watched(as_user(admin))
    heading = lambda name: lambda page: page.get_by_role("heading", name=name).first  # noqa: E731

    violations = []
    for path, ready in [
        ("/issues/", lambda page: page.get_by_role("link", name="Checkout fails")),
        (f"/issues/{issue.number}/", heading("Checkout fails")),
        ("/issues/new/", heading("Report an issue")),
        ("/issues/board/", lambda page: page.locator("#board")),
        ("/dashboard/", heading("Dashboard")),
        ("/accounts/profile/", heading("Profile")),
        ("/admin/", heading("Administration")),
        ("/admin/issues/issue/", heading("Select issue to change")),
        (f"/admin/issues/issue/{issue.pk}/change/", heading("Change issue")),
        ("/admin/accounts/user/add/", heading("Add user")),
        ("/api/docs/", lambda page: page.get_by_role("heading", name="Tracker API")),
        # DRF's browsable API: inline styles allowed there (tracker.api.BrowsableAPIRenderer).
        ("/api/issues/", lambda page: page.get_by_role("heading", name="Issue List")),
    ]:
        violations += watched.visit(path, ready)

    assert violations == []
    assert watched.dialogs == []


def test_htmx_swaps_and_label_colours_work_under_the_policy(as_user, world):
    admin, issue = world
    watched = Watched(as_user(admin))
    page = watched.page
    watched.visit(f"/issues/{issue.number}/", lambda page: page.locator("#panel"))

    # The label's colour reaches the page through the CSSOM (data-colour).
    label = page.locator("#panel .label", has_text="bug").first
    expect(label).to_have_attribute("data-colour", "#d73a4a")
    assert label.evaluate("e => e.style.getPropertyValue('--label')") == "#d73a4a"
    assert "rgb(215, 58, 74)" in label.evaluate("e => getComputedStyle(e).borderColor")

    # A change through htmx (morphing the panel) keeps the colours painted.
    page.locator("#panel").get_by_label("ui").check()
    expect(page.locator("#panel").get_by_text("Saved.")).to_be_visible()
    ui = page.locator("#panel .label", has_text="ui").first
    expect(ui).to_be_visible()
    page.wait_for_timeout(200)
    assert ui.evaluate("e => e.style.getPropertyValue('--label')") == "#1d76db"

    # Replies are indented by class, not inline style.
    reply = page.locator(".comment", has_text="A reply")
    expect(reply).to_have_class("comment depth-1")
    assert reply.evaluate("e => getComputedStyle(e).marginLeft") == "24px"

    found = page.evaluate("window.__violations") + watched.console
    assert found == []


PAYLOADS = [
    "<script>alert('title')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "'><iframe src=javascript:alert(1)>",
]


def test_xss_payloads_in_every_field_neither_run_nor_try_to(as_user, world):
    admin, _ = world
    admin.display_name = "<img src=x onerror=alert('name')>"
    admin.save()
    label = LabelFactory(name='"><svg onload=alert(1)>', colour="#123456")
    issue = IssueFactory(
        reporter=admin,
        title=PAYLOADS[0],
        description="\n\n".join(
            PAYLOADS
            + [
                "[link](javascript:alert(1))",
                "<javascript:alert(1)>",
                '<a href="data:text/html,<script>alert(1)</script>">x</a>',
                '<div style="background:url(javascript:alert(1))">s</div>',
            ]
        ),
        labels=[label.name],
    )
    services.assign(actor=admin, issue=issue, version=issue.version, assignee=admin)
    services.add_comment(actor=admin, issue=issue, body=PAYLOADS[1] + PAYLOADS[2])
    watched = Watched(as_user(admin))

    violations = []
    for path, ready in [
        ("/issues/", lambda page: page.locator("#results")),
        (f"/issues/{issue.number}/", lambda page: page.locator("#panel")),
        ("/issues/board/", lambda page: page.locator("#board")),
        ("/dashboard/", lambda page: page.get_by_role("heading", name="Dashboard")),
    ]:
        violations += watched.visit(path, ready)
        assert watched.page.evaluate("document.querySelectorAll('iframe, svg[onload]').length") == 0

    assert violations == []
    assert watched.dialogs == []
    page = watched.page
    page.goto(f"/issues/{issue.number}/")
    # Shown as the text it is.
    expect(page.get_by_role("heading", level=1)).to_contain_text(PAYLOADS[0])
    expect(page.locator("#panel .label", has_text="svg onload").first).to_have_text(label.name)


def test_repeated_wrong_passwords_lock_out_with_a_clear_page(server, page, transactional_db):
    """Through the real ASGI server (axes' middleware runs async there): the fifth
    wrong password (LOGIN_FAILURE_LIMIT) shows the lockout page; so does the right one."""
    user = UserFactory()

    def attempt(password):
        page.goto(f"{server}/accounts/login/")
        log_in(page, user, password)

    for _ in range(4):
        attempt("not-the-password")
        expect(page.get_by_role("alert")).to_contain_text("enter a correct")
    attempt("not-the-password")
    expect(page.get_by_role("heading", name="Login locked for now")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Try again in 15 minutes")

    attempt(PASSWORD)
    expect(page.get_by_role("heading", name="Login locked for now")).to_be_visible()
    assert page.url.endswith("/accounts/login/")

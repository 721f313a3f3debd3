"""The workflow in real browsers: several people, each in their own browser
context, watching each other's changes arrive live."""

import re
import struct
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from e2e.conftest import log_in, screenshot, sign_out_elsewhere
from issues import services
from issues.models import Issue, Severity, Status
from issues.tests.factories import IssueFactory, LabelFactory

pytestmark = pytest.mark.e2e
LIVE = 3_000  # ms: the budget is 1 s; allow for a loaded CI machine


def png_bytes() -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def test_report_triage_and_watch_it_live(server, browser, as_user, tmp_path):
    LabelFactory(name="bug", colour="#d73a4a")
    maintainer = UserFactory(role="MAINTAINER", display_name="Max Maintainer")

    # A newcomer signs up and becomes a reporter.
    reporter_ctx = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    reporter = reporter_ctx.new_page()
    reporter.goto("/accounts/signup/")
    reporter.get_by_label("Email").fill("newcomer@example.com")
    reporter.get_by_label("Display name").fill("Nina Newcomer")
    reporter.locator("input[type=password]").nth(0).fill("a-long-enough-passphrase")
    reporter.locator("input[type=password]").nth(1).fill("a-long-enough-passphrase")
    reporter.locator("form").get_by_role("button").click()
    expect(reporter).to_have_url(re.compile(r"/issues/$"))

    # The maintainer watches the list.
    watcher = as_user(maintainer)
    expect(watcher.get_by_text("No issues yet")).to_be_visible()

    # The reporter files an issue with markdown and a screenshot.
    picture = tmp_path / "screen.png"
    picture.write_bytes(png_bytes())
    reporter.get_by_role("link", name="New issue").first.click()
    reporter.get_by_label("Title").fill("Save button does nothing")
    reporter.get_by_label("Description (Markdown)").fill("Steps:\n\n1. Click **Save**\n2. Nothing")
    expect(reporter.locator("#description-preview strong")).to_have_text("Save")
    reporter.get_by_label("Severity").select_option("HIGH")
    reporter.get_by_label("Attachments").set_input_files(str(picture))
    reporter.get_by_role("button", name="Report issue").click()
    expect(reporter.get_by_role("heading", level=1)).to_contain_text("Save button does nothing")
    expect(reporter.get_by_role("link", name="screen.png")).to_be_visible()
    issue = Issue.objects.get(title="Save button does nothing")

    # It appears in the maintainer's list without a reload.
    expect(watcher.get_by_role("link", name="Save button does nothing")).to_be_visible(timeout=LIVE)
    screenshot(watcher, "list")

    # The maintainer triages it on the issue page...
    watcher.get_by_role("link", name="Save button does nothing").click()
    # Each change is made once the panel shows the one before it saved (its
    # version), as a person would: sent any sooner, it is refused as a conflict.
    timeline, panel = watcher.locator("#timeline"), watcher.locator("#panel")
    watcher.get_by_label("Status").select_option("TRIAGED")
    expect(timeline).to_contain_text("changed status from Open to Triaged")
    expect(panel).to_have_attribute("data-version", "2")
    watcher.get_by_label("Severity").select_option("CRITICAL")
    expect(timeline).to_contain_text("changed severity from High to Critical")
    expect(panel).to_have_attribute("data-version", "3")
    watcher.get_by_label("Assignee").select_option(label="Max Maintainer")
    expect(timeline).to_contain_text("changed assignee from nobody to Max Maintainer")
    expect(panel).to_have_attribute("data-version", "4")
    panel.get_by_label("bug").check()
    expect(timeline).to_contain_text("added bug")
    # Every region settles on the final state (the page's own live refresh included).
    expect(watcher.locator("#issue-header")).to_contain_text("version 5", timeout=LIVE)
    expect(watcher.get_by_label("Assignee")).to_have_value(str(maintainer.pk))
    expect(watcher.locator("#panel").get_by_label("bug")).to_be_checked()
    screenshot(watcher, "issue")

    # ...and the reporter's open page follows, live.
    expect(reporter.locator("#panel")).to_contain_text("Triaged", timeout=LIVE)
    expect(reporter.locator("#panel")).to_contain_text("Critical", timeout=LIVE)
    expect(reporter.locator("#panel")).to_contain_text("Max Maintainer", timeout=LIVE)
    expect(reporter.locator("#timeline")).to_contain_text("changed status from Open to Triaged")
    issue.refresh_from_db()
    assert (issue.status, issue.assignee_id, issue.version) == (Status.TRIAGED, maintainer.pk, 5)
    reporter_ctx.close()


def test_bulk_status_from_the_list(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issues = [IssueFactory(reporter=maintainer, title=f"Bulk {n}") for n in range(3)]
    page = as_user(maintainer)

    for issue in issues[:2]:
        page.get_by_label(f"Select #{issue.number}").check()
    page.get_by_label("Set the status of the selected issues to").select_option("DONE")
    page.get_by_role("button", name="Apply to selected").click()

    expect(page.get_by_role("status")).to_contain_text("Moved 2 issue(s) to Done.")
    # The table refreshes itself on the change it just made; the notice stays.
    page.wait_for_timeout(1500)
    expect(page.get_by_role("status")).to_contain_text("Moved 2 issue(s) to Done.")
    statuses = {i.title: i.status for i in Issue.objects.all()}
    assert statuses == {"Bulk 0": Status.DONE, "Bulk 1": Status.DONE, "Bulk 2": Status.OPEN}


def is_board_refresh(response) -> bool:
    request = response.request
    return (
        request.method == "GET"
        and "/issues/board/" in request.url
        and request.headers.get("hx-request") == "true"
    )


def test_drag_a_card_to_another_column(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Drag me")
    page = as_user(maintainer)
    page.goto("/issues/board/")

    # The move is announced live, and the board refreshes itself half a second
    # later: wait for that, so the next drag does not race it.
    with page.expect_response(is_board_refresh):
        page.locator(f"#card-{issue.number}").drag_to(page.locator("ol.cards[data-status=TRIAGED]"))

    expect(page.locator(f"ol.cards[data-status=TRIAGED] #card-{issue.number}")).to_be_visible()
    expect(page.locator(f"#card-{issue.number}")).to_have_attribute("data-version", "2")
    issue.refresh_from_db()
    assert issue.status == Status.TRIAGED
    screenshot(page, "board")

    # From Triaged, Done is one more drag away.
    page.locator(f"#card-{issue.number}").drag_to(page.locator("ol.cards[data-status=DONE]"))
    expect(page.locator(f"ol.cards[data-status=DONE] #card-{issue.number}")).to_be_visible()
    expect(page.locator(f"#card-{issue.number}")).to_have_attribute("data-version", "3")
    issue.refresh_from_db()
    assert issue.status == Status.DONE


def test_a_refused_drag_puts_the_card_back(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Skip triage?")
    page = as_user(maintainer)
    page.goto("/issues/board/")

    page.locator(f"#card-{issue.number}").drag_to(page.locator("ol.cards[data-status=IN_PROGRESS]"))

    expect(page.locator("#board-message")).to_contain_text("Cannot move from Open to In progress")
    expect(page.locator(f"ol.cards[data-status=OPEN] #card-{issue.number}")).to_be_visible()
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


def test_two_people_edit_at_once_and_nothing_is_lost(as_user):
    maintainer = UserFactory(role="MAINTAINER", display_name="Max Maintainer")
    other = UserFactory(role="MAINTAINER", display_name="Olga Other")
    issue = IssueFactory(reporter=maintainer, title="Original title")
    first, second = as_user(maintainer), as_user(other)
    for page in (first, second):
        page.goto(f"/issues/{issue.number}/")
        page.get_by_role("button", name="Edit title and description").click()
        # Both editors hold version 1 before anyone saves: a click does not wait
        # for its editor, which on a loaded machine came after Max's save.
        expect(page.get_by_label("Title")).to_have_value("Original title")

    first.get_by_label("Title").fill("Max's title")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_role("heading", level=1)).to_contain_text("Max's title")

    second.get_by_label("Title").fill("Olga's title")
    second.get_by_role("button", name="Save").click()
    expect(second.get_by_role("alert")).to_contain_text("Someone changed this issue")
    expect(second.get_by_role("alert")).to_contain_text("Max Maintainer changed title")
    expect(second.get_by_label("Title")).to_have_value("Olga's title")
    issue.refresh_from_db()
    assert issue.title == "Max's title"

    # Re-applying on the current version is a deliberate second click.
    second.get_by_role("button", name="Save").click()
    expect(second.get_by_role("heading", level=1)).to_contain_text("Olga's title")
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("Olga's title", 3)


def test_a_reporter_cannot_open_another_reporters_issue(as_user):
    owner = UserFactory(role="REPORTER")
    outsider = UserFactory(role="REPORTER")
    issue = IssueFactory(reporter=owner, title="Private matter")
    page = as_user(outsider)

    response = page.goto(f"/issues/{issue.number}/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto("/issues/")
    expect(page.get_by_text("Private matter")).to_have_count(0)


def test_script_in_markdown_does_not_run(as_user):
    reporter = UserFactory(role="REPORTER")
    issue = IssueFactory(
        reporter=reporter,
        title="XSS attempt",
        description='<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
        "\n\n[click](javascript:window.pwned=3)",
    )
    services.add_comment(actor=reporter, issue=issue, body="<script>window.pwned = 4</script>")
    page = as_user(reporter)

    page.goto(f"/issues/{issue.number}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("XSS attempt")

    assert page.evaluate("window.pwned") is None
    assert page.locator("script:not([src])").count() == 0


def test_a_live_refresh_keeps_the_filters_chosen_on_the_page(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    IssueFactory(reporter=maintainer, title="Critical one", severity=Severity.CRITICAL)
    page = as_user(maintainer)

    page.locator("#filters").get_by_label("Critical").check()
    expect(page).to_have_url(re.compile(r"severity=CRITICAL"))
    IssueFactory(reporter=maintainer, title="Low one", severity=Severity.LOW)
    IssueFactory(reporter=maintainer, title="Another critical", severity=Severity.CRITICAL)

    expect(page.get_by_role("link", name="Another critical")).to_be_visible(timeout=LIVE)
    expect(page.get_by_role("link", name="Low one")).to_have_count(0)
    expect(page.locator("#export-link")).to_have_attribute("href", re.compile(r"export\.csv"))


def test_a_refresh_answered_after_a_change_does_not_put_the_older_version_back(as_user):
    """A live refresh of the panel rendered before the person's next change but
    answered after it (a slow network, a loaded server) must not show the older
    version again, even for the moment until the next refresh: an edit made
    then would be sent with it and refused as a conflict."""
    maintainer = UserFactory(role="MAINTAINER", display_name="Max Maintainer")
    issue = IssueFactory(reporter=maintainer, title="Slow refresh", severity=Severity.HIGH)
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    panel = page.locator("#panel")
    expect(panel).to_have_attribute("data-version", "1")
    # Every version the panel shows, as it shows it.
    page.evaluate(
        """() => {
            window.versionsShown = [];
            new MutationObserver(() => {
                const shown = document.getElementById("panel");
                if (shown) window.versionsShown.push(shown.dataset.version);
            }).observe(document.querySelector(".issue-side"),
                       {subtree: true, childList: true, attributes: true});
        }"""
    )
    held = []

    def hold_the_first_refresh(route):
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))  # rendered now, at the version of now
        else:
            route.continue_()

    page.route(f"**/issues/{issue.number}/panel/", hold_the_first_refresh)
    # The person's own change is announced too: its live refresh is held.
    page.get_by_label("Severity").select_option("CRITICAL")
    expect(panel).to_have_attribute("data-version", "2")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the change's live refresh of the panel never came"

    page.get_by_label("Status").select_option("TRIAGED")
    expect(panel).to_have_attribute("data-version", "3")
    route, rendered_before = held[0]
    route.fulfill(response=rendered_before)  # the refresh at version 2 arrives after 3
    page.wait_for_timeout(1_000)  # and the later change's own refresh after it

    shown = page.evaluate("window.versionsShown")
    assert "2" not in shown[shown.index("3") :], shown
    page.get_by_label("Severity").select_option("LOW")
    expect(page.locator("#timeline")).to_contain_text("changed severity from Critical to Low")
    issue.refresh_from_db()
    assert (issue.status, issue.severity, issue.version) == (Status.TRIAGED, Severity.LOW, 4)


def _long_discussion(reporter, commenter) -> tuple:
    """An issue with 70 comments, so 71 timeline entries: its page hides the 21
    between the first 10 and the last 40 (issues.views.detail)."""
    issue = IssueFactory(reporter=reporter, title="A long discussion")
    comments = [
        services.add_comment(actor=commenter, issue=issue, body=f"Point number {n}.")
        for n in range(70)
    ]
    return issue, comments


def test_a_link_to_a_comment_the_cut_timeline_hides_shows_it(as_user):
    """As a mail's link arrives (#comment-N), and as a link within the page does."""
    maintainer = UserFactory(role="MAINTAINER")
    issue, comments = _long_discussion(maintainer, maintainer)
    page = as_user(maintainer)

    page.goto(f"/issues/{issue.number}/#comment-{comments[20].pk}")
    linked = page.locator(f"#comment-{comments[20].pk}")
    expect(linked).to_contain_text("Point number 20.")
    expect(linked).to_be_in_viewport()
    expect(linked).to_be_focused()
    assert page.evaluate("document.querySelector(':target').id") == f"comment-{comments[20].pk}"
    expect(page.get_by_role("button", name=re.compile("hidden item"))).to_have_count(0)

    page.goto(f"/issues/{issue.number}/")
    expect(page.get_by_role("button", name="Show 21 hidden items")).to_be_visible()
    page.evaluate(f"window.location.hash = '#comment-{comments[25].pk}'")
    expect(page.locator(f"#comment-{comments[25].pk}")).to_be_in_viewport()
    # A comment's time is its link.
    page.locator(f"#comment-{comments[69].pk} a.permalink").click()
    assert page.url.endswith(f"#comment-{comments[69].pk}")


def test_a_long_timeline_s_hidden_middle_stays_shown_through_live_refreshes(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    other = UserFactory(role="MAINTAINER")
    issue, _ = _long_discussion(maintainer, other)
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    middle = page.get_by_text("Point number 20.")
    expect(middle).to_have_count(0)

    page.get_by_role("button", name="Show 21 hidden items").click()
    expect(middle).to_be_visible()
    # The keyboard goes on from the first entry shown (the creation, then points 0-8 before).
    expect(page.locator("#timeline-revealed")).to_be_focused()
    expect(page.locator("#timeline-revealed")).to_contain_text("Point number 9.")
    services.add_comment(actor=other, issue=issue, body="One more point.")

    expect(page.get_by_text("One more point.")).to_be_visible(timeout=LIVE)
    expect(middle).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("hidden item"))).to_have_count(0)


def test_a_comment_sent_after_signing_out_elsewhere_is_kept(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Long thoughts")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    page.get_by_label("Add a comment (Markdown)").fill("A long answer I must not lose")

    sign_out_elsewhere(page).close()

    page.get_by_role("button", name="Comment").click()

    expect(page.get_by_role("alert")).to_contain_text("signed out")
    expect(page.get_by_label("Add a comment (Markdown)")).to_have_value(
        "A long answer I must not lose"
    )
    assert not issue.comments.exists()

    # Logged in again in another tab, the same page sends it.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Log in again in a new tab").click()
    login = opened.value
    log_in(login, maintainer)
    expect(login.get_by_role("heading", level=1)).to_contain_text("Long thoughts")  # ?next=
    login.close()
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#timeline")).to_contain_text("A long answer I must not lose")
    expect(page.locator("#signed-out")).to_be_hidden()
    assert issue.comments.get().body == "A long answer I must not lose"


def test_a_comment_the_server_fails_to_save_is_kept_and_said(as_user):
    """An error answer is not swapped in, so before this the page did nothing
    at all: the person could not tell their comment was not saved."""
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Flaky server")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    comments = f"**/issues/{issue.number}/comments/"
    box = page.get_by_label("Add a comment (Markdown)")
    box.fill("Worth keeping")

    page.route(comments, lambda route: route.fulfill(status=502, body="Bad Gateway"))
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#request-failed")).to_contain_text("The server failed (502)")
    expect(box).to_have_value("Worth keeping")

    page.unroute(comments)
    page.route(comments, lambda route: route.abort())
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#request-failed")).to_contain_text("could not be reached")
    expect(box).to_have_value("Worth keeping")
    assert not issue.comments.exists()

    page.unroute(comments)
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#timeline")).to_contain_text("Worth keeping")
    expect(page.locator("#request-failed")).to_be_hidden()


def test_a_drag_after_signing_out_elsewhere_says_so_and_works_once_back(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Move me later")
    page = as_user(maintainer)
    page.goto("/issues/board/")
    card, triaged = page.locator(f"#card-{issue.number}"), "ol.cards[data-status=TRIAGED]"

    other_tab = sign_out_elsewhere(page)
    card.drag_to(page.locator(triaged))

    expect(page.locator("#board-message")).to_contain_text("You are signed out")
    expect(page.locator(f"ol.cards[data-status=OPEN] #card-{issue.number}")).to_be_visible()

    other_tab.goto("/accounts/login/")  # a new CSRF token comes with the new session
    log_in(other_tab, maintainer)
    other_tab.wait_for_url("**/issues/")
    with page.expect_response(lambda response: "/move/" in response.url) as moved:
        card.drag_to(page.locator(triaged))

    assert moved.value.status == 200, moved.value.text()
    expect(page.locator(f"{triaged} #card-{issue.number}")).to_be_visible()
    issue.refresh_from_db()
    assert issue.status == Status.TRIAGED


def test_times_say_how_long_ago_in_the_reader_s_browser(as_user):
    """The server writes the moment; <relative-time> (static/vendor) tells how
    long ago it was, and gives the exact moment in its tooltip."""
    reporter = UserFactory(role="REPORTER")
    issue = IssueFactory(reporter=reporter, title="Three days old")
    now = timezone.now()
    Issue.objects.filter(pk=issue.pk).update(
        created_at=now - timedelta(days=3, hours=1), updated_at=now - timedelta(hours=2)
    )
    page = as_user(reporter)

    page.goto("/issues/")
    row = page.locator(f"#issue-{issue.number}")
    created, updated = row.locator("relative-time").all()
    # What is shown and read out (its shadow root; the moment stays in the page).
    expect(created).to_match_aria_snapshot("- text: 3 days ago")
    expect(updated).to_match_aria_snapshot("- text: 2 hours ago")
    expect(created).to_have_attribute("title", re.compile(r"\d{4}"))

    row.get_by_role("link", name="Three days old").click()
    opened = page.locator("#issue-header .meta relative-time")
    expect(opened).to_match_aria_snapshot("- text: 3 days ago")

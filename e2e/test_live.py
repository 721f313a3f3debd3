"""Live refreshes in a browser: paced (a steady stream of changes still shows
within a second, without a refresh per change; a tab in the background reads
nothing until it comes back), complete (a change made while the page loads, or
held back during a drag, still shows; so does a file attached elsewhere), and
keeping what the person changed on the page but has not sent."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from e2e.conftest import on_htmx_get
from issues import services
from issues.models import Status
from issues.tests.factories import IssueFactory

pytestmark = pytest.mark.e2e
LIVE = 3_000  # ms: the budget is 1 s; allow for a loaded CI machine


def _list_refreshes(page) -> list[float]:
    """When each live refresh of the issue list was sent (htmx's GETs of it)."""
    sent = []
    on_htmx_get(
        page,
        lambda request: (
            sent.append(time.monotonic())
            if request.url.split("?")[0].endswith("/issues/")
            else None
        ),
    )
    return sent


def test_a_steady_stream_of_changes_shows_while_it_lasts_in_few_refreshes(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    page = as_user(maintainer)
    sent = _list_refreshes(page)

    # A change every ~150 ms for ~4 s: faster than the list's wait after a notice.
    # htmx's own `delay:` waited for a pause in the notices, so it showed none of
    # them until the stream stopped.
    started, shown_at = time.monotonic(), None
    for i in range(25):
        IssueFactory(reporter=maintainer, title=f"Streamed {i}")
        page.wait_for_timeout(150)
        if shown_at is None and page.get_by_role("link", name="Streamed 0").count():
            shown_at = time.monotonic()
    streamed_for = time.monotonic() - started

    assert shown_at is not None, "no change showed while the stream lasted"
    assert shown_at - started < LIVE / 1000
    # One refresh per 800 ms at most (data-live-every), not one per change.
    during = [t for t in sent if t <= started + streamed_for]
    assert 1 <= len(during) <= streamed_for / 0.8 + 1, (len(during), streamed_for)
    # The last change shows too, once the stream has stopped.
    expect(page.get_by_role("link", name="Streamed 24")).to_be_visible(timeout=LIVE)


def _set_hidden(page, hidden: bool) -> None:
    """What the browser reports when its tab goes to the background and back."""
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
            Object.defineProperty(document, "visibilityState",
                                  {value: hidden ? "hidden" : "visible", configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_a_tab_in_the_background_refreshes_once_it_comes_back(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    IssueFactory(reporter=maintainer, title="Already there")
    page = as_user(maintainer)
    sent = _list_refreshes(page)

    _set_hidden(page, True)
    for i in range(3):
        IssueFactory(reporter=maintainer, title=f"Made while away {i}")
    page.wait_for_timeout(1_500)  # more than a refresh's wait and pace

    assert sent == []
    expect(page.get_by_role("link", name="Made while away 0")).to_have_count(0)

    _set_hidden(page, False)
    expect(page.get_by_role("link", name="Made while away 2")).to_be_visible(timeout=LIVE)
    expect(page.get_by_role("link", name="Made while away 0")).to_be_visible()
    assert len(sent) == 1


def test_the_issue_page_follows_changes_in_quick_succession(as_user):
    """Two changes closer together than the page's pace: the second shows too,
    in the refresh the pace allows after the first."""
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Busy one")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    other = UserFactory(role="MAINTAINER")

    services.add_comment(actor=other, issue=issue, body="First remark.")
    expect(page.locator("#timeline")).to_contain_text("First remark.", timeout=LIVE)
    services.add_comment(actor=other, issue=issue, body="Second remark.")
    expect(page.locator("#timeline")).to_contain_text("Second remark.", timeout=LIVE)


def test_a_live_refresh_keeps_the_issues_ticked_for_a_bulk_change(as_user):
    """The morph gave every control the state the server rendered: a change
    anywhere cleared the ticks, and the status picked for them, within a second."""
    maintainer = UserFactory(role="MAINTAINER")
    issues = [IssueFactory(reporter=maintainer, title=f"Tick {n}") for n in range(3)]
    page = as_user(maintainer)
    page.get_by_label(f"Select #{issues[0].number}").check()
    page.get_by_label(f"Select #{issues[2].number}").check()
    page.get_by_label("Set the status of the selected issues to").select_option("DONE")

    IssueFactory(reporter=UserFactory(role="MAINTAINER"), title="Someone else's")
    expect(page.get_by_role("link", name="Someone else's")).to_be_visible(timeout=LIVE)

    expect(page.get_by_label(f"Select #{issues[0].number}")).to_be_checked()
    expect(page.get_by_label(f"Select #{issues[1].number}")).not_to_be_checked()
    expect(page.get_by_label(f"Select #{issues[2].number}")).to_be_checked()
    expect(page.get_by_label("Set the status of the selected issues to")).to_have_value("DONE")


def test_a_change_made_while_the_page_loads_still_shows(as_user):
    """Between the moment a page is read and the moment its browser connects
    to the live stream, a change was announced to no one: the page showed it
    only at the next change, however long that took."""
    maintainer = UserFactory(role="MAINTAINER")
    page = as_user(maintainer)
    made = []

    def change_then_connect(route):
        if not made:  # the first stream of the page below, not of the one before
            made.append(IssueFactory(reporter=maintainer, title="Made while loading"))
            page.wait_for_timeout(300)  # announced before the stream connects
        route.continue_()

    page.route("**/live/**", change_then_connect)
    page.goto("/issues/")
    expect(page.get_by_role("link", name="Made while loading")).to_be_visible(timeout=LIVE)


def test_a_reply_being_written_stays_through_a_live_refresh(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    other = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Talk")
    first = services.add_comment(actor=other, issue=issue, body="First point.")
    second = services.add_comment(actor=other, issue=issue, body="Second point.")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")

    page.locator(f"#comment-{second.pk} summary").click()
    reply = page.locator(f"#reply-body-{second.pk}")
    reply.fill("Half of my answer")
    services.add_comment(actor=other, issue=issue, body="Third point.")

    expect(page.get_by_text("Third point.")).to_be_visible(timeout=LIVE)
    expect(reply).to_be_visible()
    expect(reply).to_have_value("Half of my answer")
    expect(reply).to_be_focused()
    expect(page.locator(f"#reply-body-{first.pk}")).to_have_value("")


def test_a_change_held_back_during_a_drag_shows_once_it_ends(as_user):
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Held card")
    page = as_user(maintainer)
    page.goto("/issues/board/")
    card = page.locator(f"#card-{issue.number}").bounding_box()
    x, y = card["x"] + card["width"] / 2, card["y"] + card["height"] / 2

    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 30, steps=5)  # dragging
    IssueFactory(reporter=UserFactory(role="MAINTAINER"), title="Made during the drag")
    page.wait_for_timeout(1_500)  # more than a refresh's wait and pace
    expect(page.get_by_text("Made during the drag")).to_have_count(0)  # held back

    page.mouse.move(x, y, steps=5)
    page.mouse.up()  # dropped where it was: no move, so no notice of its own
    expect(page.get_by_text("Made during the drag")).to_be_visible(timeout=LIVE)
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


def test_a_file_attached_elsewhere_shows_in_the_list_of_files(as_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # this process writes the file; the server lists it
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Needs a log")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    expect(page.locator("#attachments")).to_contain_text("No files yet.")
    chosen = {"name": "mine.txt", "mimeType": "text/plain", "buffer": b"not sent yet"}
    page.get_by_label("Attach a file").set_input_files(chosen)

    upload = SimpleUploadedFile("server.log", b"boom\n", content_type="text/plain")
    services.add_attachment(actor=UserFactory(role="MAINTAINER"), issue=issue, upload=upload)

    expect(page.locator("#attachments").get_by_role("link", name="server.log")).to_be_visible(
        timeout=LIVE
    )
    # The file chosen but not sent yet is still chosen.
    assert page.get_by_label("Attach a file").evaluate("input => input.files[0].name") == "mine.txt"


def test_the_issue_page_reads_again_only_the_parts_a_change_touches(as_user, settings, tmp_path):
    """A comment refreshes the timeline alone; an edit the header, timeline and
    panel; a file the timeline and the files: each open page made four reads
    for every change before."""
    settings.MEDIA_ROOT = tmp_path
    maintainer = UserFactory(role="MAINTAINER")
    issue = IssueFactory(reporter=maintainer, title="Watched closely")
    page = as_user(maintainer)
    page.goto(f"/issues/{issue.number}/")
    read = []  # the last part of each path read: "timeline", "panel", ...
    on_htmx_get(
        page, lambda request: read.append(request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
    )
    other = UserFactory(role="MAINTAINER")

    def reads_after(change, shows: str) -> list[str]:
        read.clear()
        change()
        expect(page.locator("#timeline")).to_contain_text(shows, timeout=LIVE)
        page.wait_for_timeout(1_200)  # past the pace: any other refresh would be sent
        return sorted(read)

    assert reads_after(
        lambda: services.add_comment(actor=other, issue=issue, body="Seen it."), "Seen it."
    ) == ["timeline"]
    assert reads_after(
        lambda: services.update_issue(
            actor=other, issue=issue, version=1, changes={"title": "Renamed closely"}
        ),
        "Renamed closely",
    ) == ["edit", "panel", "timeline"]
    expect(page.locator("#issue-header")).to_contain_text("Renamed closely")
    upload = SimpleUploadedFile("trace.txt", b"trace\n", content_type="text/plain")
    assert reads_after(
        lambda: services.add_attachment(actor=other, issue=issue, upload=upload), "trace.txt"
    ) == ["attachments", "timeline"]
    expect(page.locator("#attachments").get_by_role("link", name="trace.txt")).to_be_visible()

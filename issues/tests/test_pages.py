"""The HTML pages: who sees what, what each form does, and what happens on bad
input or a stale version. Every page answers 404, not 403, for an issue the
user may not see."""

import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import UserFactory
from issues import services
from issues.models import EventKind, Issue, Severity, Status
from issues.tests.factories import CommentFactory, IssueFactory, LabelFactory

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name, issue=None, **kwargs):
    if issue is not None:
        kwargs["number"] = issue.number
    return reverse(f"issues:{name}", kwargs=kwargs)


# --- who sees what -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["detail", "panel", "timeline", "edit", "move", "comment", "attachments", "delete"]
)
def test_another_reporters_issue_is_a_404_on_every_page(name, issue, other_reporter):
    client = logged_in(other_reporter)
    response = (
        client.post(url(name, issue))
        if name in {"move", "comment", "attachments", "delete"}
        else client.get(url(name, issue))
    )
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["detail", "panel", "timeline", "edit"])
@pytest.mark.parametrize("number", ["0", "9" * 18, "9" * 19, "9" * 30])
def test_a_number_no_issue_has_is_a_404(name, number, maintainer):
    """Past 18 digits a number is more than PostgreSQL's bigint holds: the issue
    page's read refused it (a 500) before its URL stopped at 18 digits."""
    path = url("list") + f"{number}/" + ("" if name == "detail" else f"{name}/")

    assert logged_in(maintainer).get(path).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, issue):
    for target in [url("list"), url("board"), url("new"), url("detail", issue)]:
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_list_shows_a_reporter_only_their_own_issues(reporter, other_reporter):
    mine = IssueFactory(reporter=reporter, title="Mine to see")
    IssueFactory(reporter=other_reporter, title="Not for Rita")

    page = logged_in(reporter).get(url("list")).content.decode()

    assert "Mine to see" in page
    assert "Not for Rita" not in page
    assert f"#{mine.number}" in page
    assert 'name="ids"' not in page  # no bulk checkboxes for reporters


def test_the_list_shows_maintainers_everything_with_bulk_controls(maintainer, reporter):
    IssueFactory(reporter=reporter, title="Reported by Rita")

    page = logged_in(maintainer).get(url("list")).content.decode()

    assert "Reported by Rita" in page
    assert 'name="ids"' in page
    assert "Set the status of the selected issues" in page


def test_the_list_filters_sorts_and_counts(maintainer, reporter):
    bug = LabelFactory(name="bug")
    critical = IssueFactory(reporter=maintainer, title="Critical bug", severity=Severity.CRITICAL)
    services.replace_labels(actor=maintainer, issue=critical, labels=[bug.name])
    IssueFactory(reporter=reporter, title="Low thing", severity=Severity.LOW)

    page = logged_in(maintainer).get(url("list"), {"label": "bug", "severity": "CRITICAL,HIGH"})

    text = page.content.decode()
    assert "Critical bug" in text and "Low thing" not in text
    assert "1 issue matches these filters" in text
    ordered = logged_in(maintainer).get(url("list"), {"ordering": "severity"}).content.decode()
    assert ordered.index("Low thing") < ordered.index("Critical bug")


def test_a_page_number_beyond_what_the_database_counts_shows_the_last_page(maintainer):
    """A hand-edited link: PostgreSQL refuses an OFFSET past a bigint (it was a 500)."""
    IssueFactory(reporter=maintainer, title="The only issue")

    response = logged_in(maintainer).get(url("list"), {"page": "9" * 20})

    assert response.status_code == 200
    assert "The only issue" in response.content.decode()


def test_the_filter_form_shows_what_was_chosen(maintainer):
    LabelFactory(name="UI"), LabelFactory(name="bug")
    other = UserFactory(role="MAINTAINER", display_name="Olga Other")

    page = logged_in(maintainer).get(
        url("list"), {"label": "ui", "assignee": str(other.pk), "status": "OPEN"}
    )

    text = page.content.decode()
    assert '<input type="checkbox" name="label" value="UI" checked>' in text
    assert '<input type="checkbox" name="label" value="bug">' in text
    assert f'<option value="{other.pk}" selected>Olga Other</option>' in text
    assert '<option value="me">Me</option>' in text
    assert re.search(r'name="status" value="OPEN"\s+checked', text)


def test_bad_filter_values_show_an_error_instead_of_failing(maintainer):
    response = logged_in(maintainer).get(url("list"), {"status": "NOPE", "assignee": "x"})

    assert response.status_code == 200
    text = response.content.decode()
    assert "Unknown value(s) NOPE" in text
    assert "Use a user id" in text


def test_an_htmx_filter_request_gets_only_the_results(maintainer, issue):
    response = logged_in(maintainer).get(url("list"), HTTP_HX_TARGET="results", **HTMX)

    text = response.content.decode()
    assert text.lstrip().startswith('<div id="results"')
    assert "<html" not in text


def test_the_list_empty_state_says_what_to_do(reporter):
    text = logged_in(reporter).get(url("list")).content.decode()
    assert "No issues yet" in text
    assert reverse("issues:new") in text


def test_the_list_runs_the_same_number_of_queries_for_few_and_many_issues(maintainer):
    label = LabelFactory(name="ui")
    for n in range(3):
        created = IssueFactory(reporter=maintainer, title=f"few {n}")
        services.replace_labels(actor=maintainer, issue=created, labels=[label.name])
    client = logged_in(maintainer)

    with CaptureQueriesContext(connection) as few:
        client.get(url("list"))
    for n in range(30):
        created = IssueFactory(reporter=maintainer, title=f"many {n}", assignee=maintainer)
        services.replace_labels(actor=maintainer, issue=created, labels=[label.name])
    with CaptureQueriesContext(connection) as many:
        client.get(url("list"))

    assert len(many) == len(few)
    assert len(many) <= 7


def test_each_row_and_card_shows_its_own_labels(maintainer, reporter):
    """The list and the board read each issue's label ids and take its labels from
    the filter's list of every label: each issue shows its own, in name order."""
    for name in ("ui", "api", "db"):
        LabelFactory(name=name)
    wanted = {"alpha issue": ["api", "ui"], "beta issue": ["db"], "gamma issue": []}
    for title, names in wanted.items():
        issue = IssueFactory(reporter=reporter, title=title)
        services.replace_labels(actor=maintainer, issue=issue, labels=names)
    client = logged_in(maintainer)

    for page, item in ((url("list"), "<tr"), (url("board"), '<li class="card-item"')):
        chunks = client.get(page).content.decode().split(item)[1:]
        shown = {
            title: re.findall(r'<span class="label"[^>]*>([^<]+)</span>', chunk)
            for chunk in chunks
            for title in wanted
            if title in chunk
        }
        assert shown == wanted, page


def _busy_issue(maintainer, reporter, labels):
    """An issue with labels, 30 comments (some replies), field changes and an attachment."""
    issue = IssueFactory(reporter=maintainer, assignee=maintainer)
    services.replace_labels(actor=maintainer, issue=issue, labels=[label.name for label in labels])
    for n in range(30):
        parent = CommentFactory(issue=issue, author=maintainer, body=f"comment {n}")
        CommentFactory(issue=issue, author=maintainer, body=f"reply {n}", parent=parent)
    for severity in ("HIGH", "LOW", "CRITICAL"):
        current = Issue.objects.get(pk=issue.pk)
        services.update_issue(
            actor=maintainer, issue=current, version=current.version, changes={"severity": severity}
        )
    return issue


def test_the_issue_page_costs_at_most_8_queries_however_busy(
    maintainer, reporter, django_assert_max_num_queries
):
    labels = [LabelFactory(name=f"area-{n}") for n in range(5)]
    quiet = IssueFactory(reporter=reporter)
    busy = _busy_issue(maintainer, reporter, labels)
    client = logged_in(maintainer)
    client.get(url("detail", quiet))  # the session is warm

    with CaptureQueriesContext(connection) as few:
        quiet_page = client.get(url("detail", quiet))
    with django_assert_max_num_queries(8):
        busy_page = client.get(url("detail", busy))

    assert quiet_page.status_code == busy_page.status_code == 200
    text = busy_page.content.decode()
    assert "reply 29" in text and "area-4" in text
    assert len(few) <= 8


def test_people_mentioned_across_the_page_are_read_in_one_query(
    maintainer, reporter, django_assert_max_num_queries
):
    """However many comments name however many people: the names are looked up
    together, not once per comment (nor once per name)."""
    people = [UserFactory(email=f"person{n}@example.com") for n in range(12)]
    issue = IssueFactory(reporter=reporter, description="For @person0 and @nobody.")
    for n in range(len(people)):
        parent = CommentFactory(issue=issue, author=maintainer, body=f"@person{n} have a look")
        CommentFactory(
            issue=issue, author=maintainer, body=f"@person{(n + 1) % 12} too", parent=parent
        )
    client = logged_in(maintainer)
    client.get(url("detail", IssueFactory(reporter=reporter)))  # the session is warm

    with django_assert_max_num_queries(8):
        page = client.get(url("detail", issue))
    with django_assert_max_num_queries(7):
        timeline = client.get(url("timeline", issue))

    for text in (page.content.decode(), timeline.content.decode()):
        named = set(re.findall(r'title="Issues assigned to ([^"]+)"', unescape(text)))
        assert named == {person.name for person in people}
    assert "@nobody" in page.content.decode()


def test_the_board_costs_the_same_few_queries_for_few_and_many_issues(
    maintainer, reporter, django_assert_max_num_queries
):
    label = LabelFactory(name="ui")
    client = logged_in(maintainer)
    IssueFactory(reporter=reporter)
    with CaptureQueriesContext(connection) as few:
        client.get(url("board"))
    for n in range(40):
        created = IssueFactory(reporter=maintainer, title=f"card {n}", assignee=maintainer)
        services.replace_labels(actor=maintainer, issue=created, labels=[label.name])
        if n % 4 == 0:
            services.change_status(
                actor=maintainer, issue=created, version=created.version + 1, status="TRIAGED"
            )
    with django_assert_max_num_queries(8):
        text = client.get(url("board")).content.decode()

    assert "card 39" in text and "Show more" in text
    assert len(few) <= 8


def test_a_board_column_shows_more_cards_on_request_and_ignores_nonsense(maintainer, reporter):
    for n in range(30):
        IssueFactory(reporter=reporter, title=f"open card {n}")
    client = logged_in(maintainer)

    default = client.get(url("board")).content.decode()
    more = client.get(url("board") + "?more_OPEN=25").content.decode()
    nonsense = client.get(url("board") + "?more_OPEN=lots")

    assert default.count('id="card-') == 25
    assert more.count('id="card-') == 30
    assert nonsense.status_code == 200


def test_a_board_with_a_bad_filter_shows_why_and_empty_columns(maintainer, reporter):
    IssueFactory(reporter=reporter, title="open card")

    response = logged_in(maintainer).get(url("board") + "?severity=NOPE")

    assert response.status_code == 200
    text = response.content.decode()
    assert "Unknown value(s) NOPE" in text
    assert 'id="card-' not in text


# --- bulk status ------------------------------------------------------------------


def test_bulk_status_moves_every_selected_issue(maintainer, reporter):
    issues = [IssueFactory(reporter=reporter) for _ in range(3)]

    response = logged_in(maintainer).post(
        url("bulk-status"), {"ids": [str(i.pk) for i in issues], "status": "TRIAGED"}, **HTMX
    )

    assert response.status_code == 200
    assert "Moved 3 issue(s) to Triaged." in response.content.decode()
    assert set(Issue.objects.values_list("status", flat=True)) == {Status.TRIAGED}


def test_bulk_status_changes_nothing_when_one_issue_cannot_move(maintainer, reporter):
    movable = IssueFactory(reporter=reporter)
    stuck = IssueFactory(reporter=reporter)
    services.change_status(actor=maintainer, issue=stuck, version=1, status=Status.TRIAGED)

    # OPEN -> IN_PROGRESS skips triage: refused, so TRIAGED -> IN_PROGRESS must not happen either.
    response = logged_in(maintainer).post(
        url("bulk-status"),
        {"ids": [str(movable.pk), str(stuck.pk)], "status": "IN_PROGRESS"},
        **HTMX,
    )
    assert response.status_code == 400
    assert "Nothing was changed" in response.content.decode()
    movable.refresh_from_db()
    stuck.refresh_from_db()
    assert (movable.status, movable.version) == (Status.OPEN, 1)
    assert stuck.status == Status.TRIAGED


def test_bulk_status_without_javascript_renders_the_whole_page(maintainer, reporter):
    issue = IssueFactory(reporter=reporter)

    response = logged_in(maintainer).post(
        url("bulk-status"), {"ids": [str(issue.pk)], "status": "DONE"}
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "<html" in text and "Moved 1 issue(s) to Done." in text
    assert text.count('id="bulk-notice"') == 1


def test_reporters_cannot_bulk_change(reporter):
    mine = IssueFactory(reporter=reporter)

    response = logged_in(reporter).post(
        url("bulk-status"), {"ids": [str(mine.pk)], "status": "DONE"}, **HTMX
    )

    assert response.status_code == 400
    mine.refresh_from_db()
    assert mine.status == Status.OPEN


# --- new issue -----------------------------------------------------------------------


def test_reporting_an_issue_with_an_attachment(reporter, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("shot.png", PNG, content_type="image/png")

    response = logged_in(reporter).post(
        url("new"),
        {
            "title": "Broken button",
            "description": "**bold**",
            "severity": "HIGH",
            "attachments": [upload],
        },
    )

    issue = Issue.objects.get(title="Broken button")
    assert response.status_code == 302
    assert response["Location"] == url("detail", issue)
    assert issue.severity == Severity.HIGH
    assert issue.attachments.get().original_name == "shot.png"


def test_a_bad_new_issue_is_reshown_with_the_input_kept(reporter):
    response = logged_in(reporter).post(
        url("new"), {"title": "   ", "description": "My long text", "severity": "HIGH"}
    )

    text = response.content.decode()
    assert response.status_code == 400
    assert "A title is required." in text
    assert "My long text" in text
    assert Issue.objects.count() == 0


def test_a_maintainers_bad_new_issue_keeps_the_labels_ticked(maintainer):
    for name in ("UI", "bug", "docs"):
        LabelFactory(name=name)

    response = logged_in(maintainer).post(
        url("new"), {"title": "", "severity": "LOW", "labels": ["UI", "bug"]}
    )

    text = response.content.decode()
    assert response.status_code == 400
    assert '<input type="checkbox" name="labels" value="UI" checked>' in text
    assert '<input type="checkbox" name="labels" value="bug" checked>' in text
    assert '<input type="checkbox" name="labels" value="docs">' in text


def test_a_label_that_does_not_exist_is_explained_when_there_are_none_to_pick(maintainer):
    """With no labels at all the picker is not shown; the reason for refusing a
    posted label must still be."""
    response = logged_in(maintainer).post(
        url("new"), {"title": "Ghostly", "severity": "LOW", "labels": ["ghost"]}
    )

    assert response.status_code == 400
    assert 'class="label-picker"' not in response.content.decode()
    assert "ghost" in response.content.decode().split("<form", 1)[1]
    assert not Issue.objects.filter(title="Ghostly").exists()


def test_a_refused_attachment_creates_no_issue(reporter, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    script = SimpleUploadedFile("x.png", b"\x7fELF\x02\x01\x01" + b"\0" * 64)

    response = logged_in(reporter).post(
        url("new"), {"title": "With junk", "severity": "LOW", "attachments": [script]}
    )

    assert response.status_code == 400
    assert "not accepted" in response.content.decode()
    assert not Issue.objects.filter(title="With junk").exists()


def test_reporters_cannot_label_new_issues(reporter):
    LabelFactory(name="bug")

    response = logged_in(reporter).post(
        url("new"), {"title": "Sneaky", "severity": "LOW", "labels": ["bug"]}
    )

    assert response.status_code == 400
    assert "labels" in response.content.decode()
    assert not Issue.objects.filter(title="Sneaky").exists()


def test_the_preview_renders_sanitised_markdown(reporter):
    response = logged_in(reporter).post(
        url("preview"),
        {"description": "<script>alert(1)</script>**bold** #7 [x](javascript:alert(1))"},
    )

    html = response.content.decode()
    assert "<script" not in html
    assert "javascript:" not in html
    assert "<strong>bold</strong>" in html
    assert 'href="/issues/7/"' in html


# --- the issue page ------------------------------------------------------------------


def test_the_issue_page_shows_markdown_timeline_and_threads(maintainer, reporter):
    issue = IssueFactory(reporter=reporter, description="See #1 and [docs](https://example.com)")
    first = CommentFactory(issue=issue, author=maintainer, body="First!")
    CommentFactory(issue=issue, author=reporter, body="A reply", parent=first)

    text = logged_in(reporter).get(url("detail", issue)).content.decode()

    assert 'rel="nofollow noopener noreferrer"' in text
    assert 'href="/issues/1/"' in text
    assert "opened this issue" in text
    assert text.index("First!") < text.index("A reply")
    assert "comment depth-1" in text
    # A reporter sees values, not the triage controls.
    assert 'id="panel-status"' not in text


def _long_timeline(issue, author, comments: int) -> None:
    for n in range(comments):
        CommentFactory(issue=issue, author=author, body=f"Comment number {n}.")


def test_a_long_timeline_shows_its_start_and_end_and_hides_the_middle(
    maintainer, reporter, django_assert_max_num_queries
):
    """The 1 creation event and 79 comments: the first 10 entries and the last
    40 are shown, the 30 between behind a button that fetches every entry."""
    issue = IssueFactory(reporter=reporter)
    _long_timeline(issue, maintainer, 79)
    client = logged_in(maintainer)

    with django_assert_max_num_queries(8):
        page = client.get(url("detail", issue)).content.decode()
    refreshed = client.get(url("timeline", issue), **HTMX).content.decode()

    for text in (page, refreshed):
        assert "opened this issue" in text and "Comment number 8." in text
        assert "Comment number 9." not in text and "Comment number 38." not in text
        assert "Comment number 39." in text and "Comment number 78." in text
        assert "Show 30 hidden items" in text
        assert f'hx-get="{url("timeline", issue)}?all=1"' in text
        assert 'id="timeline-all"' not in text


def test_the_whole_of_a_long_timeline_on_request_and_in_its_refreshes(maintainer, reporter):
    issue = IssueFactory(reporter=reporter)
    _long_timeline(issue, maintainer, 79)
    client = logged_in(maintainer)

    everything = client.get(url("timeline", issue) + "?all=1", **HTMX).content.decode()
    page = client.get(url("detail", issue) + "?all=1").content.decode()

    for text in (everything, page):
        assert all(f"Comment number {n}." in text for n in range(79))
        assert "hidden item" not in text
        # The first entry the button revealed (after the creation and comments 0-8).
        revealed = text.split('id="timeline-revealed" tabindex="-1"', 1)[1]
        assert text.count('id="timeline-revealed"') == 1
        assert revealed.index("Comment number 9.") < revealed.index("Comment number 10.")
        assert "Comment number 8." not in revealed
        # Once shown, the live refreshes of the page ask for every entry again.
        assert '<input type="hidden" id="timeline-all" name="all" value="1">' in text
    assert 'hx-include="#timeline-all"' in page


def test_each_comment_s_time_links_to_the_comment(maintainer, reporter):
    issue = IssueFactory(reporter=reporter)
    comment = CommentFactory(issue=issue, author=maintainer, body="Linked to.")

    text = logged_in(maintainer).get(url("detail", issue)).content.decode()

    assert f'id="comment-{comment.pk}"' in text
    permalink = rf'<a class="permalink" href="#comment-{comment.pk}"><relative-time [^>]*>'
    link = re.search(permalink, text)
    assert link, "the comment's time is not a link to it"


@pytest.mark.parametrize(("comments", "hidden"), [(58, False), (59, True)])
def test_a_timeline_is_cut_only_when_enough_would_be_hidden(maintainer, reporter, comments, hidden):
    """59 entries (the creation and 58 comments) would hide 9: shown whole."""
    issue = IssueFactory(reporter=reporter)
    _long_timeline(issue, maintainer, comments)

    text = logged_in(maintainer).get(url("detail", issue)).content.decode()

    assert ("hidden items" in text) is hidden
    assert ("Comment number 9." in text) is not hidden


def test_a_script_in_markdown_is_not_rendered(reporter):
    issue = IssueFactory(
        reporter=reporter, description="<script>alert('x')</script><img src=x onerror=alert(1)>"
    )

    text = logged_in(reporter).get(url("detail", issue)).content.decode()

    assert "<script>alert" not in text
    assert "onerror" not in text


def test_a_maintainer_changes_a_field_in_place(maintainer, issue):
    response = logged_in(maintainer).post(
        url("panel", issue), {"version": 1, "status": "TRIAGED"}, **HTMX
    )

    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    assert response["HX-Trigger"] == "issue-changed"
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (Status.TRIAGED, 2)


def test_a_stale_panel_edit_shows_who_changed_what_and_offers_to_reapply(maintainer, issue):
    other = UserFactory(role="MAINTAINER", display_name="Mia Meanwhile")
    services.change_status(actor=other, issue=issue, version=1, status=Status.TRIAGED)

    response = logged_in(maintainer).post(
        url("panel", issue), {"version": 1, "severity": "CRITICAL"}, **HTMX
    )

    text = response.content.decode()
    assert response.status_code == 409
    assert "Mia Meanwhile changed status from Open to Triaged" in text
    assert "Apply my change on top" in text
    assert re.search(r'name="version" value="2"', text)
    issue.refresh_from_db()
    assert issue.severity == Severity.MEDIUM

    reapplied = logged_in(maintainer).post(
        url("panel", issue), {"version": 2, "severity": "CRITICAL"}, **HTMX
    )
    assert reapplied.status_code == 200
    issue.refresh_from_db()
    assert (issue.severity, issue.status) == (Severity.CRITICAL, Status.TRIAGED)


def test_a_refused_transition_is_explained_in_the_panel(maintainer, issue):
    response = logged_in(maintainer).post(
        url("panel", issue), {"version": 1, "status": "IN_PROGRESS"}, **HTMX
    )

    assert response.status_code == 400
    assert "Cannot move from Open to In progress" in response.content.decode()


def test_reporters_cannot_change_triage_fields_from_the_page(reporter, issue):
    response = logged_in(reporter).post(
        url("panel", issue), {"version": 1, "status": "DONE"}, **HTMX
    )

    assert response.status_code == 400
    assert "You may not change &#x27;status&#x27;" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


def test_labels_are_replaced_from_the_panel(maintainer, issue):
    LabelFactory(name="bug")
    LabelFactory(name="ui")

    logged_in(maintainer).post(
        url("panel", issue), {"version": 1, "labels_present": "1", "labels": ["bug", "ui"]}, **HTMX
    )

    assert sorted(issue.labels.values_list("name", flat=True)) == ["bug", "ui"]
    assert issue.events.filter(kind=EventKind.LABELS_CHANGED).count() == 1


def test_the_reporter_edits_title_and_description(reporter, issue):
    response = logged_in(reporter).post(
        url("edit", issue), {"version": 1, "title": "Better title", "description": "More"}, **HTMX
    )

    assert response.status_code == 200
    issue.refresh_from_db()
    assert (issue.title, issue.description, issue.version) == ("Better title", "More", 2)


def test_a_stale_text_edit_keeps_the_users_text(reporter, maintainer, issue):
    services.update_issue(actor=maintainer, issue=issue, version=1, changes={"title": "Theirs"})

    response = logged_in(reporter).post(
        url("edit", issue), {"version": 1, "title": "Mine", "description": "My words"}, **HTMX
    )

    text = response.content.decode()
    assert response.status_code == 409
    assert "Someone changed this issue while you were editing" in text
    assert 'value="Mine"' in text and "My words" in text
    assert 'name="version" value="2"' in text
    issue.refresh_from_db()
    assert issue.title == "Theirs"


def test_an_empty_title_is_refused_in_place(reporter, issue):
    response = logged_in(reporter).post(url("edit", issue), {"version": 1, "title": ""}, **HTMX)

    assert response.status_code == 400
    assert "A title is required." in response.content.decode()


def test_another_reporter_cannot_open_the_edit_form(other_reporter, issue):
    assert logged_in(other_reporter).get(url("edit", issue)).status_code == 404


def test_commenting_and_replying(reporter, issue):
    client = logged_in(reporter)

    first = client.post(url("comment", issue), {"body": "Top level"}, **HTMX)
    assert first.status_code == 200
    parent = issue.comments.get()
    reply = client.post(url("comment", issue), {"body": "Nested", "parent": parent.pk}, **HTMX)

    assert reply.status_code == 200
    assert "Nested" in reply.content.decode()
    assert issue.comments.get(body="Nested").parent == parent


def test_an_empty_reply_is_shown_in_its_form(reporter, issue):
    parent = CommentFactory(issue=issue, author=reporter)

    response = logged_in(reporter).post(
        url("comment", issue), {"body": " ", "parent": parent.pk}, **HTMX
    )

    assert response.status_code == 400
    assert response["HX-Retarget"] == f"#reply-{parent.pk}"
    assert "A comment cannot be empty." in response.content.decode()


def test_text_postgresql_cannot_store_is_shown_in_the_form(maintainer, issue):
    """A NUL character (which PostgreSQL's text cannot hold) in a comment or in a
    new issue's labels was a 500; the form comes back with the reason."""
    LabelFactory(name="bug")
    client = logged_in(maintainer)

    comment = client.post(url("comment", issue), {"body": "a\x00b"}, **HTMX)
    new = client.post(url("new"), {"title": "Kept", "severity": "LOW", "labels": "bug\x00"})

    assert comment.status_code == 400
    assert "Null characters are not allowed." in comment.content.decode()
    assert new.status_code == 400
    assert "Null characters are not allowed." in new.content.decode()
    assert 'value="Kept"' in new.content.decode()  # the rest of the input is kept
    assert not issue.comments.exists() and not Issue.objects.filter(title="Kept").exists()


def test_upload_and_download_an_attachment(reporter, issue, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = logged_in(reporter)

    response = client.post(
        url("attachments", issue), {"file": SimpleUploadedFile("a.png", PNG)}, **HTMX
    )
    assert response.status_code == 200
    attachment = issue.attachments.get()
    download = client.get(url("download", issue, attachment_id=attachment.pk))

    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PNG


def test_the_list_of_files_is_read_again_for_live_refreshes(
    reporter, other_reporter, issue, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = logged_in(reporter)
    client.post(url("attachments", issue), {"file": SimpleUploadedFile("a.png", PNG)}, **HTMX)

    response = client.get(url("attachments", issue), **HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith("<section") and 'id="attachments"' in page
    assert "a.png" in page
    assert logged_in(other_reporter).get(url("attachments", issue)).status_code == 404


def test_an_oversized_upload_says_so(reporter, issue, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 10

    response = logged_in(reporter).post(
        url("attachments", issue), {"file": SimpleUploadedFile("a.png", PNG)}, **HTMX
    )

    assert response.status_code == 413
    assert "the limit is 10 bytes" in response.content.decode()


def test_only_admins_delete(maintainer, admin_user, issue):
    assert logged_in(maintainer).post(url("delete", issue)).status_code == 403
    assert Issue.objects.filter(pk=issue.pk).exists()

    response = logged_in(admin_user).post(url("delete", issue))

    assert response.status_code == 302
    assert not Issue.objects.filter(number=issue.number).exists()


# --- board -----------------------------------------------------------------------------


def test_the_board_has_a_column_per_status(maintainer, reporter):
    IssueFactory(reporter=reporter, title="On the board")

    text = logged_in(maintainer).get(url("board")).content.decode()

    for label in ("Open", "Triaged", "In progress", "Done"):
        assert f">{label} <span" in text
    assert "On the board" in text
    assert 'data-can-move="true"' in text


def test_moving_a_card_changes_the_status_with_its_version(maintainer, issue):
    response = logged_in(maintainer).post(url("move", issue), {"version": 1, "status": "TRIAGED"})

    assert response.status_code == 200
    assert 'data-version="2"' in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Status.TRIAGED


def test_a_stale_card_move_is_refused_with_the_reason(maintainer, issue):
    services.update_issue(actor=maintainer, issue=issue, version=1, changes={"title": "Changed"})

    response = logged_in(maintainer).post(url("move", issue), {"version": 1, "status": "TRIAGED"})

    assert response.status_code == 409
    assert "changed meanwhile" in response["X-Card-Error"]
    issue.refresh_from_db()
    assert issue.status == Status.OPEN


def test_reporters_cannot_move_cards(reporter, issue):
    response = logged_in(reporter).post(url("move", issue), {"version": 1, "status": "DONE"})

    assert response.status_code == 403
    assert 'data-can-move="false"' in logged_in(reporter).get(url("board")).content.decode()


# --- CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["panel", "edit", "comment", "attachments", "move", "delete"])
def test_posts_without_a_csrf_token_are_rejected(name, admin_user, issue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(url(name, issue), {"version": 1, "status": "TRIAGED", "body": "x"})

    assert response.status_code == 403
    issue.refresh_from_db()
    assert issue.version == 1


def test_new_issue_and_bulk_without_a_csrf_token_are_rejected(maintainer, issue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(maintainer)

    assert client.post(url("new"), {"title": "x"}).status_code == 403
    assert (
        client.post(url("bulk-status"), {"ids": [str(issue.pk)], "status": "DONE"}).status_code
        == 403
    )
    assert Issue.objects.count() == 1


def test_the_list_finds_a_filtered_label_among_the_labels_its_filter_shows(
    maintainer, reporter, django_assert_max_num_queries
):
    """The page reads every label for its filter anyway; the names asked for are
    looked up among them (any case), not by a query of their own."""
    LabelFactory(name="Bug")
    LabelFactory(name="ui")
    IssueFactory(reporter=maintainer, title="tagged one", labels=["Bug"])
    IssueFactory(reporter=reporter, title="plain one")
    client = logged_in(maintainer)
    client.get(url("list"))  # the session is warm

    with CaptureQueriesContext(connection) as unfiltered:
        client.get(url("list"))
    with django_assert_max_num_queries(len(unfiltered)):
        text = client.get(url("list") + "?label=bug").content.decode()
    unknown = client.get(url("list") + "?label=bug,nope").content.decode()

    assert "tagged one" in text and "plain one" not in text
    assert "tagged one" not in unknown and "plain one" not in unknown


def test_a_reporter_sees_the_issue_s_labels_as_badges_or_none(
    maintainer, reporter, django_assert_max_num_queries
):
    LabelFactory(name="ui")
    labelled = IssueFactory(reporter=reporter)
    services.replace_labels(actor=maintainer, issue=labelled, labels=["ui"])
    bare = IssueFactory(reporter=reporter)
    client = logged_in(reporter)

    with django_assert_max_num_queries(8):
        labelled_page = unescape(client.get(url("detail", labelled)).content.decode())
    bare_page = unescape(client.get(url("detail", bare)).content.decode())

    labels_of = re.compile(r"<dt>Labels</dt>\s*<dd>(.*?)</dd>", re.S)
    assert 'data-colour="#1d76db">ui</span>' in labels_of.search(labelled_page).group(1)
    assert labels_of.search(bare_page).group(1).strip() == '<span class="muted">None</span>'

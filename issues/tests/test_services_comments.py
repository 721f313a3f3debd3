"""add_comment and edit_comment: threads, limits, who may, and the timeline."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues import services
from issues.errors import NotFound
from issues.models import Comment, EventKind, Issue, IssueEvent
from issues.services.validation import COMMENT_MAX
from issues.tests.factories import IssueFactory


def issue_row(issue) -> Issue:
    return Issue.objects.get(pk=issue.pk)


def nothing_written(issue, before_updated_at) -> bool:
    return (
        not Comment.objects.exists()
        and not IssueEvent.objects.filter(issue_id=issue.pk, kind=EventKind.COMMENT_ADDED).exists()
        and issue_row(issue).updated_at == before_updated_at
    )


# --- add_comment -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["reporter", "maintainer", "admin_user"])
def test_reporter_maintainer_and_admin_can_comment(request, issue, who):
    actor = request.getfixturevalue(who)
    before = timezone.now()

    comment = services.add_comment(actor=actor, issue=issue, body="Seen it too.")

    comment.refresh_from_db()
    assert (comment.issue_id, comment.author, comment.body) == (issue.pk, actor, "Seen it too.")
    assert comment.parent is None
    assert comment.edited_at is None
    assert before <= comment.created_at <= timezone.now()
    event = issue.events.get(kind=EventKind.COMMENT_ADDED)
    assert event.actor == actor
    assert event.data == {"comment": comment.pk, "parent": None}
    assert (event.field, event.old_value, event.new_value) == ("", None, None)


def test_a_comment_bumps_updated_at_but_not_the_version(issue, reporter):
    before = issue_row(issue)

    services.add_comment(actor=reporter, issue=issue, body="Any news?")

    after = issue_row(issue)
    assert after.version == before.version == 1
    assert after.updated_at > before.updated_at


def test_a_comment_does_not_make_an_edit_from_the_same_version_conflict(issue, reporter):
    services.add_comment(actor=reporter, issue=issue, body="Noting something.")

    updated = services.update_issue(
        actor=reporter, issue=issue, version=1, changes={"title": "Still version 1"}
    )

    assert updated.version == 2


def test_body_is_kept_as_written_markdown_and_all(issue, reporter):
    body = "  # Heading\n\n* item with `code`\n"

    comment = services.add_comment(actor=reporter, issue=issue, body=body)

    assert Comment.objects.get(pk=comment.pk).body == body


def test_replies_thread_under_their_parent(issue, reporter, maintainer):
    question = services.add_comment(actor=reporter, issue=issue, body="Is this known?")

    answer = services.add_comment(actor=maintainer, issue=issue, body="Yes.", parent=question)
    thanks = services.add_comment(actor=reporter, issue=issue, body="Thanks!", parent=answer.pk)

    assert answer.parent == question
    assert Comment.objects.get(pk=thanks.pk).parent_id == answer.pk
    assert list(question.replies.all()) == [answer]
    events = list(
        issue.events.filter(kind=EventKind.COMMENT_ADDED)
        .order_by("id")
        .values_list("actor_id", "data")
    )
    assert events == [
        (reporter.pk, {"comment": question.pk, "parent": None}),
        (maintainer.pk, {"comment": answer.pk, "parent": question.pk}),
        (reporter.pk, {"comment": thanks.pk, "parent": answer.pk}),
    ]


@pytest.mark.parametrize("as_id", [False, True])
def test_a_parent_from_another_issue_is_refused(issue, reporter, as_id):
    elsewhere = IssueFactory(reporter=reporter)
    foreign = services.add_comment(actor=reporter, issue=elsewhere, body="On the other issue.")
    before = issue_row(issue).updated_at

    with pytest.raises(ValidationError) as excinfo:
        services.add_comment(
            actor=reporter,
            issue=issue,
            body="Reply",
            parent=foreign.pk if as_id else foreign,
        )

    assert set(excinfo.value.message_dict) == {"parent"}
    assert list(Comment.objects.values_list("pk", flat=True)) == [foreign.pk]
    assert issue_row(issue).updated_at == before
    assert not issue.events.filter(kind=EventKind.COMMENT_ADDED).exists()


@pytest.mark.parametrize("parent", [999_999, "999999", "abc", [1], {"id": 1}])
def test_a_parent_that_is_not_a_comment_id_is_refused(issue, reporter, parent):
    before = issue_row(issue).updated_at

    with pytest.raises(ValidationError) as excinfo:
        services.add_comment(actor=reporter, issue=issue, body="Reply", parent=parent)

    assert set(excinfo.value.message_dict) == {"parent"}
    assert nothing_written(issue, before)


@pytest.mark.parametrize("body", ["", "   ", "\n\t\n", None, 42, ["text"], "a\x00b"])
def test_an_empty_or_non_text_body_is_refused(issue, reporter, body):
    before = issue_row(issue).updated_at

    with pytest.raises(ValidationError) as excinfo:
        services.add_comment(actor=reporter, issue=issue, body=body)

    assert set(excinfo.value.message_dict) == {"body"}
    assert nothing_written(issue, before)


def test_a_body_over_the_limit_is_refused(issue, reporter):
    before = issue_row(issue).updated_at

    with pytest.raises(ValidationError) as excinfo:
        services.add_comment(actor=reporter, issue=issue, body="x" * (COMMENT_MAX + 1))

    assert set(excinfo.value.message_dict) == {"body"}
    assert str(COMMENT_MAX) in excinfo.value.message_dict["body"][0]
    assert nothing_written(issue, before)


def test_a_body_of_exactly_the_limit_is_accepted(issue, reporter):
    comment = services.add_comment(actor=reporter, issue=issue, body="x" * COMMENT_MAX)

    assert len(Comment.objects.get(pk=comment.pk).body) == COMMENT_MAX


def test_reporter_cannot_comment_on_another_reporters_issue(issue, other_reporter):
    before = issue_row(issue).updated_at

    with pytest.raises(NotFound):
        services.add_comment(actor=other_reporter, issue=issue, body="Let me in")

    assert nothing_written(issue, before)


def test_inactive_reporter_cannot_comment_on_their_own_issue(issue, reporter):
    reporter.is_active = False
    reporter.save(update_fields=["is_active"])
    before = issue_row(issue).updated_at

    with pytest.raises(NotFound):
        services.add_comment(actor=reporter, issue=issue, body="Still here?")

    assert nothing_written(issue, before)


def test_inactive_maintainer_cannot_comment(issue):
    gone = UserFactory(role="MAINTAINER", is_active=False)

    with pytest.raises(NotFound):
        services.add_comment(actor=gone, issue=issue, body="Ghost")

    assert not Comment.objects.exists()


def test_anonymous_user_cannot_comment(issue):
    with pytest.raises(NotFound):
        services.add_comment(actor=AnonymousUser(), issue=issue, body="Hi")

    assert not Comment.objects.exists()


# --- edit_comment ------------------------------------------------------------------


@pytest.fixture
def comment(issue, reporter):
    return services.add_comment(actor=reporter, issue=issue, body="Original words")


def test_author_edits_their_comment_and_edited_at_is_set(comment, reporter, issue):
    events_before = issue.events.count()
    before = timezone.now()

    edited = services.edit_comment(actor=reporter, comment=comment, body="Better words")

    row = Comment.objects.get(pk=comment.pk)
    assert edited.pk == comment.pk
    assert row.body == "Better words"
    assert before <= row.edited_at <= timezone.now()
    assert row.created_at < row.edited_at
    assert issue.events.count() == events_before
    assert issue_row(issue).version == 1


def test_maintainer_edits_their_own_comment_on_someone_elses_issue(issue, maintainer):
    mine = services.add_comment(actor=maintainer, issue=issue, body="Triage note")

    services.edit_comment(actor=maintainer, comment=mine, body="Triage note, revised")

    assert Comment.objects.get(pk=mine.pk).body == "Triage note, revised"


def test_editing_twice_moves_edited_at_forward(comment, reporter):
    services.edit_comment(actor=reporter, comment=comment, body="Second")
    first = Comment.objects.get(pk=comment.pk).edited_at

    services.edit_comment(actor=reporter, comment=comment, body="Third")

    assert Comment.objects.get(pk=comment.pk).edited_at > first


def test_maintainer_cannot_edit_someone_elses_comment(comment, maintainer):
    with pytest.raises(PermissionDenied):
        services.edit_comment(actor=maintainer, comment=comment, body="Put words in mouth")

    row = Comment.objects.get(pk=comment.pk)
    assert (row.body, row.edited_at) == ("Original words", None)


def test_reporter_cannot_edit_a_maintainers_comment_on_their_own_issue(issue, reporter, maintainer):
    theirs = services.add_comment(actor=maintainer, issue=issue, body="Won't fix")

    with pytest.raises(PermissionDenied):
        services.edit_comment(actor=reporter, comment=theirs, body="Will fix")

    assert Comment.objects.get(pk=theirs.pk).body == "Won't fix"


def test_other_reporter_editing_a_comment_on_an_issue_they_cannot_see_gets_not_found(
    comment, other_reporter
):
    with pytest.raises(NotFound):
        services.edit_comment(actor=other_reporter, comment=comment, body="Hijack")

    assert Comment.objects.get(pk=comment.pk).body == "Original words"


def test_admin_may_edit_any_comment_as_moderator(comment, admin_user):
    # roles.can_edit_comment lets admins moderate; the author rule binds everyone else.
    services.edit_comment(actor=admin_user, comment=comment, body="[removed]")

    assert Comment.objects.get(pk=comment.pk).body == "[removed]"


def test_deactivated_author_cannot_edit(comment, reporter):
    reporter.is_active = False
    reporter.save(update_fields=["is_active"])

    with pytest.raises(NotFound):
        services.edit_comment(actor=reporter, comment=comment, body="Late edit")

    assert Comment.objects.get(pk=comment.pk).body == "Original words"


@pytest.mark.parametrize("body", ["", "  ", None, "x" * (COMMENT_MAX + 1), "\x00"])
def test_editing_to_a_bad_body_is_refused_and_nothing_changes(comment, reporter, body):
    with pytest.raises(ValidationError) as excinfo:
        services.edit_comment(actor=reporter, comment=comment, body=body)

    assert set(excinfo.value.message_dict) == {"body"}
    row = Comment.objects.get(pk=comment.pk)
    assert (row.body, row.edited_at) == ("Original words", None)

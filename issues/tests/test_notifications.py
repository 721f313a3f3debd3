"""Mail notifications: who gets mail for each trigger (assigned, status change and
comment on a watched issue, @mention), never the actor, never someone who opted
out, is inactive or cannot see the issue; one mail per person for a bulk change;
and one run through a real Celery worker and the real Redis broker.

The services write a PendingMail row in their transaction; here `committed()`
runs the block, then the send_pending_mail task in this process (as beat has a
worker run it), so the mail lands in django.core.mail.outbox."""

import re
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from issues import markdown, mentions, notifications, services
from issues.errors import VersionConflict
from issues.models import Comment, IssueEvent, PendingMail, Status, Watch
from issues.services import issues as issue_services
from issues.tests.factories import IssueFactory
from tracker import log_context
from tracker.tests.support import CeleryWorker
from tracker.tests.test_deploy import run_manage

pytestmark = pytest.mark.django_db


def handle(user) -> str:
    return "@" + user.email.split("@")[0]


def page_of(issue) -> str:
    return settings.SITE_URL + reverse("issues:detail", args=[issue.number])


@pytest.fixture
def pending():
    """The refs of each PendingMail row that `committed()` found, before it sent
    them (what `with committed() as queued` names)."""
    return []


@pytest.fixture
def committed(django_capture_on_commit_callbacks, pending):
    """`with committed():` runs the block, then sends the mail it left pending
    (the mail of changes made before the block, the tests' setup, is dropped)."""

    @contextmanager
    def run():
        PendingMail.objects.all().delete()
        with django_capture_on_commit_callbacks(execute=True):
            yield pending
        pending.extend(PendingMail.objects.order_by("pk").values_list("refs", flat=True))
        notifications.send_pending_mail()

    return run


@pytest.fixture
def maintainer2(db):
    return UserFactory(role=Role.MAINTAINER, display_name="Mia Maintainer")


def mails_to(user) -> list:
    return [message for message in mail.outbox if message.to == [user.email]]


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- assigned ------------------------------------------------------------------------


def test_the_new_assignee_gets_mail_and_nobody_else(committed, issue, maintainer, maintainer2):
    with committed():
        services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=maintainer2)

    assert recipients() == [maintainer2.email]  # not the actor, not the reporter (a watcher)
    message = mail.outbox[0]
    assert message.subject == f"[Tracker] #{issue.number} {issue.title}"
    assert "Max Maintainer assigned this issue to you." in message.body
    assert f"http://localhost:8000/issues/{issue.number}/" in message.body
    assert "#comment-" not in message.body  # only a comment's item links to a comment
    assert message.from_email == "tracker@localhost"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_an_issue_created_with_an_assignee_mails_the_assignee(committed, maintainer, maintainer2):
    with committed():
        issue = services.create_issue(actor=maintainer, title="Disk full", assignee=maintainer2)

    assert recipients() == [maintainer2.email]
    assert "Max Maintainer reported this issue and assigned it to you." in mail.outbox[0].body
    assert f"#{issue.number} Disk full" in mail.outbox[0].body


def test_assigning_oneself_sends_nothing(committed, issue, maintainer):
    with committed():
        services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=maintainer)

    assert mail.outbox == []


def test_unassigning_sends_nothing(committed, issue, maintainer, maintainer2):
    issue = services.assign(
        actor=maintainer, issue=issue, version=issue.version, assignee=maintainer2
    )
    with committed() as queued:
        services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=None)

    assert queued == []  # nothing to tell anyone: no mail pending at all
    assert mail.outbox == []


# --- status changes of watched issues -------------------------------------------------


def test_watchers_hear_of_a_status_change_but_not_the_actor(
    committed, issue, reporter, maintainer, maintainer2, admin_user
):
    services.watch(actor=maintainer2, issue=issue)
    services.watch(actor=maintainer, issue=issue)  # the actor watches too

    with committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.DONE
        )

    # The reporter watches automatically; the admin does not watch; the actor is skipped.
    assert recipients() == sorted([reporter.email, maintainer2.email])
    body = mails_to(reporter)[0].body
    assert "Hello Rita Reporter," in body
    assert "Max Maintainer changed the status from Open to Done." in body


def test_an_assignee_watches_from_then_on(committed, issue, maintainer, maintainer2, reporter):
    issue = services.assign(
        actor=maintainer, issue=issue, version=issue.version, assignee=maintainer2
    )
    with committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert recipients() == sorted([reporter.email, maintainer2.email])


def test_someone_who_unwatched_hears_nothing(committed, issue, reporter, maintainer):
    services.unwatch(actor=reporter, issue=issue)
    with committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert mail.outbox == []


def test_changes_that_are_not_status_comments_assignments_or_mentions_send_nothing(
    committed, issue, maintainer
):
    with committed() as queued:
        services.update_issue(
            actor=maintainer,
            issue=issue,
            version=issue.version,
            changes={"title": "Renamed", "severity": "HIGH", "description": "No one named."},
        )

    assert queued == []
    assert mail.outbox == []


def test_a_change_that_fails_schedules_nothing(committed, issue, maintainer):
    with committed() as queued, pytest.raises(VersionConflict):
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version + 5, status=Status.DONE
        )

    assert queued == []
    assert mail.outbox == []


# --- comments on watched issues -------------------------------------------------------


def test_watchers_get_the_comment_but_not_its_author(
    committed, issue, reporter, maintainer, maintainer2
):
    services.watch(actor=maintainer2, issue=issue)
    with committed():
        services.add_comment(actor=maintainer, issue=issue, body="Reproduced on **staging**.")

    assert recipients() == sorted([reporter.email, maintainer2.email])
    body = mails_to(maintainer2)[0].body
    assert "Max Maintainer commented:\n  > Reproduced on staging." in body
    # The mail leads to the comment itself (the page shows it even where a long
    # timeline hides its middle: e2e).
    comment = Comment.objects.get(issue=issue)
    link = f"{page_of(issue)}#comment-{comment.pk}"
    assert f"  > Reproduced on staging.\n  {link}\n" in body


def test_the_reporter_commenting_on_their_own_issue_mails_the_other_watchers(
    committed, issue, reporter, maintainer
):
    services.watch(actor=maintainer, issue=issue)
    with committed():
        services.add_comment(actor=reporter, issue=issue, body="Any news?")

    assert recipients() == [maintainer.email]


# --- @mentions ------------------------------------------------------------------------


def test_a_mention_in_a_comment_mails_the_person_named(committed, issue, reporter, maintainer2):
    with committed():
        services.add_comment(
            actor=reporter, issue=issue, body=f"{handle(maintainer2)} can you look?"
        )

    assert recipients() == [maintainer2.email]  # the reporter wrote it: no mail to them
    body = mail.outbox[0].body
    assert "Rita Reporter mentioned you in a comment:" in body
    assert f"> {handle(maintainer2)} can you look?" in body
    assert f"{page_of(issue)}#comment-{Comment.objects.get(issue=issue).pk}" in body


def test_a_watcher_who_is_also_mentioned_gets_one_mail_saying_so(
    committed, issue, maintainer, maintainer2
):
    services.watch(actor=maintainer2, issue=issue)
    with committed():
        services.add_comment(actor=maintainer, issue=issue, body=f"{handle(maintainer2)} yours?")

    assert len(mails_to(maintainer2)) == 1
    assert "mentioned you in a comment" in mails_to(maintainer2)[0].body
    assert "commented:" not in mails_to(maintainer2)[0].body


def test_a_mention_in_a_new_issue_and_new_mentions_in_an_edited_description(
    committed, reporter, maintainer, maintainer2
):
    with committed():
        issue = services.create_issue(
            actor=reporter, title="Crash", description=f"cc {handle(maintainer)}"
        )
    assert recipients() == [maintainer.email]
    assert "Rita Reporter mentioned you in the description." in mail.outbox[0].body

    mail.outbox.clear()
    with committed():
        services.update_issue(
            actor=reporter,
            issue=issue,
            version=issue.version,
            changes={"description": f"cc {handle(maintainer)} and {handle(maintainer2)}"},
        )

    assert recipients() == [maintainer2.email]  # maintainer was named already


def test_a_mention_names_nobody_in_code_in_an_address_or_when_unknown(
    committed, issue, reporter, maintainer
):
    body = (
        f"`{handle(maintainer)}` and\n\n    {handle(maintainer)}\n\n"
        f"write to x{maintainer.email} or @nobody-here"
    )
    with committed():
        services.add_comment(actor=reporter, issue=issue, body=body)

    assert mail.outbox == []


def test_a_reporter_mentioned_on_an_issue_they_cannot_see_gets_nothing(
    committed, issue, maintainer, other_reporter
):
    with committed():
        services.add_comment(actor=maintainer, issue=issue, body=f"like {handle(other_reporter)}'s")

    assert recipients() == [issue.reporter.email]  # the watcher, not Otto


# --- who never gets mail --------------------------------------------------------------


def test_people_who_opted_out_get_nothing(committed, issue, reporter, maintainer, maintainer2):
    services.watch(actor=maintainer2, issue=issue)
    reporter.email_notifications = False
    reporter.save(update_fields=["email_notifications"])

    with committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert recipients() == [maintainer2.email]


def test_inactive_users_get_nothing(committed, issue, reporter, maintainer):
    reporter.is_active = False
    reporter.save(update_fields=["is_active"])

    with committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert mail.outbox == []


def test_a_watcher_who_lost_sight_of_the_issue_gets_nothing(
    committed, issue, maintainer, maintainer2
):
    services.watch(actor=maintainer2, issue=issue)
    maintainer2.role = Role.REPORTER  # demoted: now sees only their own issues
    maintainer2.save(update_fields=["role"])

    with committed():
        services.add_comment(actor=maintainer, issue=issue, body="Fixed?")
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.DONE
        )

    assert set(recipients()) == {issue.reporter.email}  # one mail per change


# --- batching -------------------------------------------------------------------------


def test_a_bulk_change_of_500_issues_sends_each_watcher_one_mail(
    committed, pending, reporter, other_reporter, maintainer, maintainer2
):
    issues = [
        services.create_issue(actor=reporter if n % 2 else other_reporter, title=f"Bug {n}")
        for n in range(500)
    ]
    Watch.objects.bulk_create(Watch(user=maintainer2, issue=issue) for issue in issues)

    with committed():
        changed = services.bulk_change_status(
            actor=maintainer, ids=[issue.pk for issue in issues], status=Status.DONE
        )

    assert len(changed) == 500
    assert len(pending) == 1  # one row for the whole change
    assert len(pending[0]) == 500
    assert recipients() == sorted([reporter.email, other_reporter.email, maintainer2.email])
    everything = mails_to(maintainer2)[0]
    assert everything.subject == "[Tracker] Updates on 500 issues"
    for issue in issues:
        assert f"#{issue.number} {issue.title} (Done)\n" in everything.body
    assert everything.body.count("changed the status from Open to Done.") == 500
    own = mails_to(reporter)[0]
    assert own.subject == "[Tracker] Updates on 250 issues"
    assert own.body.count("changed the status") == 250
    assert all(f"#{i.number} " in own.body for i in issues if i.reporter_id == reporter.pk)


def test_collected_gathers_many_service_calls_into_one_row(
    committed, pending, reporter, maintainer
):
    first, second = IssueFactory(reporter=reporter), IssueFactory(reporter=reporter)

    with committed(), notifications.collected():
        services.add_comment(actor=maintainer, issue=first, body="One")
        services.add_comment(actor=maintainer, issue=second, body="Two")

    assert len(pending) == 1
    assert recipients() == [reporter.email]
    assert "Updates on 2 issues" in mail.outbox[0].subject


def test_collected_gathers_new_issues_with_the_ids_their_events_got(
    committed, pending, maintainer, maintainer2
):
    """A create writes its event and its mail in one statement, the event's id
    known only to the database there: gathered, the row is written after, with
    the ids the events got."""
    with committed(), notifications.collected():
        first = services.create_issue(actor=maintainer, title="One", assignee=maintainer2)
        second = services.create_issue(actor=maintainer, title="Two", assignee=maintainer2)

    events = [IssueEvent.objects.get(issue=issue) for issue in (first, second)]
    assert pending == [[[event.pk, str(event.issue_id)] for event in events]]
    assert len(mail.outbox) == 1
    assert "Updates on 2 issues" in mail.outbox[0].subject


def test_collected_leaves_out_an_edit_that_lost_its_compare_and_set(
    committed, pending, issue, maintainer, reporter
):
    """An edit refused as stale, and caught, inside the block wrote no events:
    the row names only the events of the edit that was written."""
    with committed(), notifications.collected():
        current, diffs = issue_services._prepare_update(
            maintainer, issue, issue.version, {"status": Status.TRIAGED}
        )
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.DONE
        )
        with pytest.raises(VersionConflict):
            issue_services._apply_changes(maintainer, current, issue.version, diffs)

    (written,) = IssueEvent.objects.filter(issue=issue, field="status")
    assert written.new_value == Status.DONE
    assert pending == [[[written.pk, str(issue.pk)]]]


def test_the_task_takes_ids_and_skips_events_that_are_gone_or_do_not_match(
    issue, maintainer, reporter
):
    issue = services.change_status(
        actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
    )
    event = IssueEvent.objects.get(issue=issue, field="status")

    assert notifications.send_notifications([[event.pk, str(uuid.uuid4())]]) == 0
    assert notifications.send_notifications([[event.pk + 1000, str(issue.pk)], ["x", 1]]) == 0
    assert mail.outbox == []

    assert notifications.send_notifications([[event.pk, str(issue.pk)]]) == 1
    assert recipients() == [reporter.email]


def test_beat_sends_pending_mail_on_the_queue_the_settings_name():
    shown = (
        "from django.conf import settings;"
        " print(settings.CELERY_BEAT_SCHEDULE['send-pending-mail'])"
    )
    default = run_manage("shell", "-c", shown, DEBUG="1")
    chosen = run_manage(
        "shell", "-c", shown, DEBUG="1", NOTIFICATIONS_QUEUE="mail-only",
        NOTIFICATIONS_INTERVAL_SECONDS="2.5",
    )  # fmt: skip

    assert default.returncode == 0, default.stderr
    assert "'task': 'issues.send_pending_mail', 'schedule': 5.0, 'options': {}" in default.stdout
    assert chosen.returncode == 0, chosen.stderr
    assert "'schedule': 2.5, 'options': {'queue': 'mail-only'}" in chosen.stdout


def test_a_change_writes_its_mail_in_its_own_transaction_and_never_touches_the_queue(
    django_capture_on_commit_callbacks, monkeypatch, issue, maintainer, reporter
):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(notifications.send_notifications, "apply_async", broken)
    monkeypatch.setattr(notifications.send_pending_mail, "apply_async", broken)
    with (
        django_capture_on_commit_callbacks(execute=True) as hooks,
        log_context.bound_request_id("req-7"),
    ):
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert hooks == []
    event = IssueEvent.objects.get(issue=issue, field="status")
    [row] = PendingMail.objects.all()
    assert (row.refs, row.request_id) == ([[event.pk, str(issue.pk)]], "req-7")

    assert notifications.send_pending_mail() == 1
    assert recipients() == [reporter.email]
    assert not PendingMail.objects.exists()


def test_a_change_that_rolls_back_leaves_no_mail(issue, maintainer):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.add_comment(actor=maintainer, issue=issue, body="Never mind")
        assert PendingMail.objects.count() == 1
        raise RuntimeError("the surrounding work failed")

    assert not PendingMail.objects.exists()


def test_pending_mail_is_sent_oldest_first_each_change_in_its_own_mail(
    committed, issue, reporter, maintainer
):
    with committed():
        services.add_comment(actor=maintainer, issue=issue, body="First")
        services.add_comment(actor=maintainer, issue=issue, body="Second")

    assert [m.body.count("commented:") for m in mails_to(reporter)] == [1, 1]
    assert "First" in mails_to(reporter)[0].body
    assert "Second" in mails_to(reporter)[1].body


def test_mail_that_fails_stays_pending_and_the_run_gives_up_after_a_few(
    monkeypatch, caplog, issue, reporter, maintainer
):
    for n in range(5):
        services.add_comment(actor=maintainer, issue=issue, body=f"Comment {n}")
    attempts = []

    def smtp_down(refs):
        attempts.append(refs)
        raise OSError("mail server away")

    monkeypatch.setattr(notifications, "deliver", smtp_down)
    assert notifications.send_pending_mail() == 0

    assert len(attempts) == notifications.MAX_FAILURES  # then it stopped trying
    assert PendingMail.objects.count() == 5  # nothing lost
    failures = [r for r in caplog.records if r.name == "issues.notifications"]
    assert len(failures) == notifications.MAX_FAILURES
    assert all(r.levelname == "ERROR" and "kept" in r.getMessage() for r in failures)
    failed = PendingMail.objects.filter(attempts=1)
    assert failed.count() == notifications.MAX_FAILURES
    assert all(row.send_after > timezone.now() for row in failed)  # tried again later

    monkeypatch.undo()
    assert notifications.send_pending_mail() == 2  # the mail server is back: the others go
    PendingMail.objects.update(send_after=timezone.now())  # ... and later the failed ones
    assert notifications.send_pending_mail() == 3
    assert not PendingMail.objects.exists()
    assert len(mails_to(reporter)) == 5


def test_mail_that_keeps_failing_does_not_hold_up_the_rest(
    monkeypatch, issue, reporter, maintainer
):
    for body in ("Bad 1", "Bad 2", "Bad 3", "Good"):
        services.add_comment(actor=maintainer, issue=issue, body=body)
    bad = set(PendingMail.objects.order_by("pk").values_list("pk", flat=True)[:3])
    real_deliver = notifications.deliver

    def deliver(refs):
        comment_ids = {IssueEvent.objects.get(pk=ref[0]).data["comment"] for ref in refs}
        if Comment.objects.filter(pk__in=comment_ids, body__startswith="Bad").exists():
            raise ValueError("cannot render this one")
        return real_deliver(refs)

    monkeypatch.setattr(notifications, "deliver", deliver)

    assert notifications.send_pending_mail() == 0  # the three oldest failed: the run stopped
    assert notifications.send_pending_mail() == 1  # the next run skips them for now
    assert "Good" in mails_to(reporter)[0].body
    assert set(PendingMail.objects.values_list("pk", flat=True)) == bad


@pytest.mark.parametrize(
    ("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (30, 60)]
)
def test_failed_mail_waits_twice_as_long_each_time_up_to_an_hour(attempts, minutes):
    assert notifications.retry_delay(attempts) == timedelta(minutes=minutes)


def test_a_run_sends_at_most_its_share_and_leaves_the_rest_to_the_next(
    monkeypatch, issue, reporter, maintainer
):
    monkeypatch.setattr(notifications, "PER_RUN", 2)
    for n in range(3):
        services.add_comment(actor=maintainer, issue=issue, body=f"Comment {n}")

    assert notifications.send_pending_mail() == 2
    assert PendingMail.objects.count() == 1
    assert notifications.send_pending_mail() == 1
    assert len(mails_to(reporter)) == 3


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_share_the_pending_mail_out(issue, reporter, maintainer):
    """A row being sent is locked; another run skips it instead of sending it twice."""
    for body in ("One", "Two"):
        services.add_comment(actor=maintainer, issue=issue, body=body)
    first = PendingMail.objects.order_by("pk").first()

    other_run = connection.copy()  # holds the first row, as while sending it
    try:
        other_run.set_autocommit(False)
        with other_run.cursor() as cursor:
            cursor.execute("SELECT id FROM issues_pendingmail WHERE id = %s FOR UPDATE", [first.pk])
            assert notifications.send_pending_mail() == 1  # the second row only
        other_run.rollback()
    finally:
        other_run.close()

    assert list(PendingMail.objects.values_list("pk", flat=True)) == [first.pk]
    assert "Two" in mails_to(reporter)[0].body


# --- mentions in markdown -------------------------------------------------------------


def test_a_mention_renders_as_a_link_to_the_persons_issues(maintainer):
    html = markdown.render(f"Ask {handle(maintainer).upper()}, please.")

    link = re.search(r"<a [^>]*>([^<]*)</a>", html)
    assert link.group(1) == handle(maintainer).upper()
    assert f'href="/issues/?assignee={maintainer.pk}"' in link.group(0)
    assert 'class="mention"' in link.group(0)
    assert 'title="Issues assigned to Max Maintainer"' in link.group(0)
    assert 'rel="nofollow noopener noreferrer"' in link.group(0)
    assert html.endswith("</a>, please.</p>")


def test_what_is_not_a_mention_stays_text(maintainer):
    local = maintainer.email.split("@")[0]
    UserFactory(email="twin@a.example")
    UserFactory(email="twin@b.example")
    html = markdown.render(
        f"`@{local}` mail {maintainer.email} @twin @ghost [see @{local}](https://x.example/)"
    )

    assert "mention" not in html  # code, an address, ambiguous, unknown, inside a link
    assert f"<code>@{local}</code>" in html
    assert "@twin @ghost" in html


def test_mentions_stay_sanitised(maintainer):
    html = markdown.render(
        f'{handle(maintainer)}<script>alert(1)</script><a href="javascript:x">y</a>'
    )

    assert "<script" not in html
    assert "javascript:" not in html
    assert f"?assignee={maintainer.pk}" in html


def test_inactive_users_cannot_be_mentioned(maintainer):
    maintainer.is_active = False
    maintainer.save(update_fields=["is_active"])

    assert markdown.mentioned_users(f"hi {handle(maintainer)}") == []


def test_a_page_looks_each_name_up_once(client, issue, reporter, maintainer):
    for n in range(5):
        services.add_comment(actor=reporter, issue=issue, body=f"{n}: {handle(maintainer)}")
    client.force_login(reporter)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/issues/{issue.number}/")

    assert response.content.decode().count('class="mention"') == 5
    lookups = [q["sql"] for q in captured.captured_queries if " LIKE UPPER(" in q["sql"]]
    assert len(lookups) == 1


def test_mention_lookups_are_bounded_and_case_insensitive(maintainer):
    local = maintainer.email.split("@")[0]

    assert mentions.resolve({local.upper()}) == {local: maintainer}
    assert len(mentions.resolve({f"name{n}" for n in range(200)})) == mentions.MAX_HANDLES


# --- through a real worker and the real broker ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_mail_after_the_commit(tmp_path, settings, reporter, maintainer):
    outbox = tmp_path / "mail"
    outbox.mkdir()
    log = tmp_path / "worker.log"
    worker = CeleryWorker(
        log,
        prefix="test-notifications",
        EMAIL_URL=f"filemail:///{outbox}",  # four slashes: an absolute path
    )
    settings.NOTIFICATIONS_QUEUE = worker.queue  # this process sends there; only it reads
    try:
        issue = services.create_issue(actor=reporter, title="Printer on fire")
        services.add_comment(actor=maintainer, issue=issue, body="On my way with water.")
        notifications.send_pending_mail.apply_async(queue=worker.queue)  # as beat does

        deadline = time.monotonic() + 90
        written = ""
        while time.monotonic() < deadline and reporter.email not in written:
            time.sleep(0.5)
            written = "".join(p.read_text(errors="replace") for p in outbox.iterdir())
            assert worker.process.poll() is None, worker.output()
        assert reporter.email in written, worker.output()
    finally:
        worker.stop()

    assert f"Subject: [Tracker] #{issue.number} Printer on fire" in written
    assert "Max Maintainer commented:" in written
    assert "On my way with water." in written
    assert written.count("Subject:") == 1  # the reporter's; the actor got none
    assert f"To: {reporter.email}" in written
    assert "issues.send_pending_mail" in log.read_text()

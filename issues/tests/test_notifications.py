"""Mail notifications: who gets mail for each trigger (assigned, status change and
comment on a watched issue, @mention), never the actor, never someone who opted
out, is inactive or cannot see the issue; one mail per person for a bulk change;
and one run through a real Celery worker and the real Redis broker.

The services schedule the task with transaction.on_commit; here the captured
callbacks are executed and the task runs in this process (its apply_async is
replaced by a direct call), so the mail lands in django.core.mail.outbox."""

import logging
import re
import time
import uuid
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.tests.factories import UserFactory
from issues import markdown, mentions, notifications, services
from issues.errors import VersionConflict
from issues.models import Issue, IssueEvent, Status, Watch
from issues.tests.factories import IssueFactory
from tracker.tests.support import CeleryWorker

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def handle(user) -> str:
    return "@" + user.email.split("@")[0]


@pytest.fixture
def tasks(monkeypatch):
    """Run the mail task in this process when a commit hook enqueues it; returns
    the list of (refs, options) each enqueue was given."""
    sent = []

    def apply_async(args, **options):
        sent.append((args[0], options))
        return notifications.send_notifications(*args)  # the task function, run here

    monkeypatch.setattr(notifications.send_notifications, "apply_async", apply_async)
    return sent


@pytest.fixture
def committed(django_capture_on_commit_callbacks, tasks):
    """`with committed():` runs the block, then its commit hooks (as a commit would)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


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
    with committed() as callbacks:
        services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=None)

    assert callbacks == []  # nothing to tell anyone: no task at all
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
    with committed() as callbacks:
        services.update_issue(
            actor=maintainer,
            issue=issue,
            version=issue.version,
            changes={"title": "Renamed", "severity": "HIGH", "description": "No one named."},
        )

    assert callbacks == []
    assert mail.outbox == []


def test_a_change_that_fails_schedules_nothing(committed, issue, maintainer):
    with committed() as callbacks, pytest.raises(VersionConflict):
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version + 5, status=Status.DONE
        )

    assert callbacks == []
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
    committed, tasks, reporter, other_reporter, maintainer, maintainer2
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
    assert len(tasks) == 1  # one task for the whole change
    assert len(tasks[0][0]) == 500
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


def test_collected_gathers_many_service_calls_into_one_task(committed, tasks, reporter, maintainer):
    first, second = IssueFactory(reporter=reporter), IssueFactory(reporter=reporter)

    with committed(), notifications.collected():
        services.add_comment(actor=maintainer, issue=first, body="One")
        services.add_comment(actor=maintainer, issue=second, body="Two")

    assert len(tasks) == 1
    assert recipients() == [reporter.email]
    assert "Updates on 2 issues" in mail.outbox[0].subject


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


def test_the_task_goes_to_the_queue_the_settings_name(committed, tasks, issue, maintainer):
    with override_settings(NOTIFICATIONS_QUEUE="mail-only"), committed():
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )
    with override_settings(NOTIFICATIONS_QUEUE=""), committed():
        services.add_comment(actor=maintainer, issue=issue, body="again")

    assert [options for _, options in tasks] == [{"queue": "mail-only"}, {}]


def test_a_broker_failure_after_commit_does_not_undo_or_break_the_change(
    django_capture_on_commit_callbacks, monkeypatch, caplog, issue, maintainer
):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(notifications.send_notifications, "apply_async", broken)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(
            actor=maintainer, issue=issue, version=issue.version, status=Status.TRIAGED
        )

    assert Issue.objects.get(pk=issue.pk).status == Status.TRIAGED
    # A warning naming the lost events, from us; not an error with a traceback.
    event = IssueEvent.objects.get(issue=issue, field="status")
    [record] = [r for r in caplog.records if r.name == "issues.notifications"]
    assert record.levelname == "WARNING"
    assert "ConnectionError: broker down" in record.getMessage()
    assert record.getMessage().endswith(f"no mail for event(s) {event.pk}")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


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
    assert "issues.send_notifications" in log.read_text()

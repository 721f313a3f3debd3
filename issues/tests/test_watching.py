"""Watching issues: who watches automatically, who may watch and unwatch, through
the services, the API and the Watch / Unwatch button of the issue page."""

from importlib import import_module

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Role
from accounts.tests.factories import UserFactory
from issues import services
from issues.errors import NotFound
from issues.models import Watch
from issues.tests.api import assert_error, client_for
from issues.tests.factories import IssueFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def watchers(issue) -> set:
    return set(Watch.objects.filter(issue=issue).values_list("user__email", flat=True))


@pytest.fixture
def maintainer2(db):
    return UserFactory(role=Role.MAINTAINER, display_name="Mia Maintainer")


# --- automatic watching --------------------------------------------------------------


def test_the_reporter_watches_a_new_issue(issue, reporter):
    assert watchers(issue) == {reporter.email}


def test_an_assignee_given_at_creation_watches_too(maintainer, maintainer2):
    issue = services.create_issue(actor=maintainer, title="Disk full", assignee=maintainer2)

    assert watchers(issue) == {maintainer.email, maintainer2.email}


def test_being_assigned_makes_one_watch_and_unassigning_keeps_it(
    issue, reporter, maintainer, maintainer2
):
    issue = services.assign(
        actor=maintainer, issue=issue, version=issue.version, assignee=maintainer2
    )
    assert watchers(issue) == {reporter.email, maintainer2.email}

    services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=None)
    assert watchers(issue) == {reporter.email, maintainer2.email}


def test_reassigning_to_someone_who_already_watches_is_fine(issue, reporter, maintainer):
    services.watch(actor=maintainer, issue=issue)
    services.assign(actor=maintainer, issue=issue, version=issue.version, assignee=maintainer)

    assert Watch.objects.filter(issue=issue, user=maintainer).count() == 1


# --- the services --------------------------------------------------------------------


def test_anyone_who_sees_an_issue_may_watch_and_unwatch_it(issue, reporter, maintainer):
    services.watch(actor=maintainer, issue=issue)
    services.watch(actor=maintainer, issue=issue)  # twice: still one row

    assert watchers(issue) == {reporter.email, maintainer.email}
    assert services.is_watching(maintainer, issue)

    services.unwatch(actor=maintainer, issue=issue)
    services.unwatch(actor=reporter, issue=issue)  # the reporter may stop too
    services.unwatch(actor=reporter, issue=issue)

    assert watchers(issue) == set()
    assert not services.is_watching(reporter, issue)


def test_an_issue_one_cannot_see_cannot_be_watched(issue, other_reporter):
    with pytest.raises(NotFound):
        services.watch(actor=other_reporter, issue=issue)
    with pytest.raises(NotFound):
        services.unwatch(actor=other_reporter, issue=issue)

    assert not Watch.objects.filter(user=other_reporter).exists()


def test_inactive_users_cannot_watch(issue, maintainer):
    maintainer.is_active = False
    maintainer.save(update_fields=["is_active"])

    with pytest.raises(NotFound):
        services.watch(actor=maintainer, issue=issue)


def test_watches_go_with_the_issue(issue, admin_user):
    services.watch(actor=admin_user, issue=issue)
    services.delete_issue(actor=admin_user, issue=issue)

    assert not Watch.objects.exists()


# --- the API -------------------------------------------------------------------------


def watch_url(issue) -> str:
    return f"/api/issues/{issue.pk}/watch/"


def test_watch_and_unwatch_through_the_api(issue, maintainer):
    api = client_for(maintainer)

    assert api.get(watch_url(issue)).json() == {"watching": False}
    response = api.post(watch_url(issue))
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(watch_url(issue)).json() == {"watching": True}
    assert api.post(watch_url(issue)).status_code == 204  # idempotent

    assert api.delete(watch_url(issue)).status_code == 204
    assert api.get(watch_url(issue)).json() == {"watching": False}
    assert api.delete(watch_url(issue)).status_code == 204


def test_the_api_answers_404_for_an_issue_one_cannot_see(issue, other_reporter):
    api = client_for(other_reporter)

    for method in ("get", "post", "delete"):
        body = assert_error(getattr(api, method)(watch_url(issue)), 404)
        assert body["detail"] == "No such issue."
    assert_error(api.post("/api/issues/not-a-uuid/watch/"), 404)
    assert not Watch.objects.filter(user=other_reporter).exists()


def test_the_api_wants_a_signed_in_user(issue):
    assert client_for().post(watch_url(issue)).status_code == 401


def test_a_token_user_watches_as_themselves(issue, maintainer):
    _, key = account_services.create_token(actor=maintainer)
    api = client_for()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.post(watch_url(issue)).status_code == 204
    assert services.is_watching(maintainer, issue)


# --- the issue page ------------------------------------------------------------------


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def page_watch_url(issue) -> str:
    return reverse("issues:watch", kwargs={"number": issue.number})


def test_the_side_panel_offers_watch_or_unwatch(issue, reporter, maintainer):
    page = signed_in(maintainer).get(reverse("issues:detail", args=[issue.number]))
    content = page.content.decode()
    panel = content.split('id="panel"', 1)[1]
    assert f'hx-post="{page_watch_url(issue)}"' in panel
    assert '<input type="hidden" name="watch" value="1">' in panel
    assert ">Watch</button>" in panel

    own = signed_in(reporter).get(reverse("issues:detail", args=[issue.number]))
    assert ">Unwatch</button>" in own.content.decode()  # the reporter watches already


def test_the_button_watches_and_unwatches_and_answers_with_the_panel(issue, maintainer):
    client = signed_in(maintainer)

    response = client.post(page_watch_url(issue), {"watch": "1"}, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "issues/_panel.html"
    content = response.content.decode()
    assert "You are now watching this issue." in content
    assert ">Unwatch</button>" in content
    assert services.is_watching(maintainer, issue)

    response = client.post(page_watch_url(issue), {"watch": "0"}, **HTMX)
    assert "You no longer watch this issue." in response.content.decode()
    assert ">Watch</button>" in response.content.decode()
    assert not services.is_watching(maintainer, issue)


def test_without_htmx_the_button_returns_to_the_issue(issue, maintainer):
    response = signed_in(maintainer).post(page_watch_url(issue), {"watch": "1"})

    assert response.status_code == 302
    assert response["Location"] == reverse("issues:detail", args=[issue.number])
    assert services.is_watching(maintainer, issue)


def test_the_button_needs_post_csrf_sight_and_a_login(issue, maintainer, other_reporter):
    assert signed_in(maintainer).get(page_watch_url(issue)).status_code == 405
    guarded = signed_in(maintainer, enforce_csrf_checks=True)
    assert guarded.post(page_watch_url(issue), {"watch": "1"}).status_code == 403
    assert signed_in(other_reporter).post(page_watch_url(issue), {"watch": "1"}).status_code == 404
    anonymous = Client().post(page_watch_url(issue), {"watch": "1"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    assert watchers(issue) == {issue.reporter.email}


def test_the_button_works_with_the_csrf_token_of_the_page(issue, maintainer):
    client = signed_in(maintainer, enforce_csrf_checks=True)
    page = client.get(reverse("issues:detail", args=[issue.number])).content.decode()
    panel = page.split('id="panel"', 1)[1]
    token = panel.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

    response = client.post(page_watch_url(issue), {"watch": "1", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert services.is_watching(maintainer, issue)


def test_existing_issues_get_their_reporters_and_assignees_as_watchers_by_migration(
    maintainer, reporter
):
    """The watchers migration backfills watches for issues that existed before it."""
    issue = IssueFactory(reporter=reporter)
    issue = services.assign(
        actor=maintainer, issue=issue, version=issue.version, assignee=maintainer
    )
    Watch.objects.all().delete()
    migration = import_module("issues.migrations.0002_watchers").Migration
    backfill = migration.operations[-1]
    with connection.cursor() as cursor:
        cursor.execute(backfill.sql)

    assert watchers(issue) == {reporter.email, maintainer.email}

"""Fixtures shared by every app's tests: the cast of people every authorisation
test talks about (two reporters, a maintainer, an admin) and an issue they share;
and a wall clock held still, for tests that compare days."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from issues.tests.factories import IssueFactory


@pytest.fixture
def reporter(db):
    return UserFactory(role="REPORTER", display_name="Rita Reporter")


@pytest.fixture
def other_reporter(db):
    return UserFactory(role="REPORTER", display_name="Otto Other")


@pytest.fixture
def maintainer(db):
    return UserFactory(role="MAINTAINER", display_name="Max Maintainer")


@pytest.fixture
def admin_user(db):
    return UserFactory(role="ADMIN", display_name="Ada Admin")


@pytest.fixture
def issue(reporter):
    """An OPEN issue reported by `reporter`, created through the service layer."""
    return IssueFactory(reporter=reporter)


@pytest.fixture(autouse=True)
def _test_transport(settings):
    """Tests run with production settings (DEBUG off) but talk plain HTTP to the
    test client (the HTTPS redirect is checked by the deploy-check test), and
    serve static files from the source tree rather than a collectstatic manifest."""
    settings.SECURE_SSL_REDIRECT = False
    # The real hasher costs ~0.3 s per password; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _unthrottled_api(settings):
    """The suite makes far more API requests per minute than any rate allows a
    person; the rate limits are tested on their own (tracker/tests/test_throttling.py)
    with rates they set. No rate: DRF does not even consult the throttle cache."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None},
    }


@pytest.fixture
def held_now(monkeypatch):
    """The wall clock (django.utils.timezone.now) held still at the moment the test
    starts; returns that moment. For a test that works out "today" (or "now") itself
    and compares it with what the code computes on its own: with the clock running,
    the two can fall either side of midnight UTC and name different days. The
    database's now() and monotonic time are not held."""
    held = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: held)
    return held

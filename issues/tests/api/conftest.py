"""API clients for the cast of the root conftest, each authenticated as its user."""

import pytest
from rest_framework.test import APIClient

from issues.tests.api import client_for


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def reporter_api(reporter):
    return client_for(reporter)


@pytest.fixture
def other_api(other_reporter):
    return client_for(other_reporter)


@pytest.fixture
def maintainer_api(maintainer):
    return client_for(maintainer)


@pytest.fixture
def admin_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files go to a directory of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every test here makes several users; a deliberately slow hash is not what
    these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Schemathesis drives every operation of our own OpenAPI schema with generated
input, authenticated as a MAINTAINER: no input may produce a 5xx, and every
documented response must match the schema."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from accounts import services as account_services
from accounts.tests.factories import UserFactory
from issues.tests.factories import IssueFactory, LabelFactory

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

# Loaded at collection from the app itself (the schema view needs no database).
with override_settings(ALLOWED_HOSTS=["*"]):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def token(db, settings):
    settings.ALLOWED_HOSTS = ["*"]
    maintainer = UserFactory(role="MAINTAINER")
    LabelFactory(name="bug")
    IssueFactory(reporter=maintainer, labels=["bug"])
    _, key = account_services.create_token(actor=maintainer, name="fuzz")
    # As Django's test client does: the app runs inside the test's transaction, so
    # the end of each request must not close the shared connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield key
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_breaks_the_api(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)

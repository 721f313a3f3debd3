"""One log line per request with its request id, in the formats LOGGING
configures (JSON for production, text for development)."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from logging.config import DictConfigurator

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from tracker.tests.support import ROOT

HEALTH = reverse("health")
GENERATED = re.compile(r"[0-9a-f]{32}")


def _handler(fmt: str) -> tuple[logging.Handler, io.StringIO]:
    """A handler built from settings.LOGGING's own formatter and filter."""
    configurator = DictConfigurator({"version": 1})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        configurator.configure_formatter(dict(settings.LOGGING["formatters"][fmt]))
    )
    handler.addFilter(configurator.configure_filter(dict(settings.LOGGING["filters"]["context"])))
    return handler, stream


@pytest.fixture
def log_lines():
    """Every line the root logger writes during the test, as LOG_FORMAT=json
    would: a function returning the parsed JSON objects so far."""
    handler, stream = _handler("json")
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "tracker.request"]


@pytest.mark.django_db
def test_a_request_writes_one_json_line_with_its_fields(client, log_lines):
    response = client.get(HEALTH)

    [line] = request_lines(log_lines())
    request_id = response["X-Request-ID"]
    assert GENERATED.fullmatch(request_id)
    assert line["request_id"] == request_id
    assert line["method"] == "GET"
    assert line["path"] == "/health/"
    assert line["view"] == "health"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["level"] == "INFO"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["time"])
    assert line["message"].startswith("GET /health/ 200 ")


@pytest.mark.django_db
def test_each_request_gets_its_own_id(client):
    ids = {client.get(HEALTH)["X-Request-ID"] for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.django_db
def test_the_user_is_the_one_the_request_authenticated_as(client, maintainer, log_lines):
    client.force_login(maintainer)
    client.get(reverse("issues:list"))
    _, key = account_services.create_token(actor=maintainer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.get("/api/users/me/")
    APIClient().get("/api/users/me/")  # anonymous: 401

    page, token, anonymous = request_lines(log_lines())
    assert (page["view"], page["status"], page["user_id"]) == ("issues:list", 200, maintainer.pk)
    assert (token["status"], token["user_id"]) == (200, maintainer.pk)
    assert (anonymous["status"], anonymous["user_id"]) == (401, None)


@pytest.mark.django_db
def test_every_line_written_during_the_request_carries_its_id(client, log_lines):
    """A refused scrape logs a warning from inside the view."""
    response = client.get(reverse("metrics"), REMOTE_ADDR="10.0.0.5")

    lines = [line for line in log_lines() if line.get("request_id") == response["X-Request-ID"]]
    assert [line["logger"] for line in lines] == ["tracker.metrics.views", "tracker.request"]
    assert lines[1]["status"] == 404
    assert lines[1]["view"] == "metrics"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming", ["3f2a9c0e-6b1d-4b7e-9a44-0f6c1d2e3a4b", "abc", "Root=1-5e1b4151"]
)
def test_a_sane_incoming_request_id_is_kept_and_echoed(client, log_lines, incoming):
    response = client.get(HEALTH, HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"] == incoming
    assert request_lines(log_lines())[0]["request_id"] == incoming


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "x" * 129,
        "has space",
        "line\nbreak",
        'quote"s',
        "<script>",
        "-starts-with-dash",
        "caf\u00e9",
        "semi;colon",
    ],
)
def test_an_unfit_incoming_request_id_is_replaced(client, log_lines, incoming):
    response = client.get(HEALTH, HTTP_X_REQUEST_ID=incoming)

    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert request_lines(log_lines())[0]["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_the_longest_accepted_request_id(client):
    incoming = "a" * 128

    assert client.get(HEALTH, HTTP_X_REQUEST_ID=incoming)["X-Request-ID"] == incoming


@pytest.mark.django_db
def test_async_requests_are_logged_too(log_lines):
    """Under the ASGI handler the middleware runs async: the live stream view."""
    get = async_to_sync(AsyncClient().get)
    response = get(reverse("live-stream"), headers={"X-Request-ID": "abc-1"})

    assert response.status_code == 403  # anonymous
    assert response["X-Request-ID"] == "abc-1"
    [line] = request_lines(log_lines())
    assert (line["request_id"], line["view"], line["status"]) == ("abc-1", "live-stream", 403)


def test_the_text_format_shows_the_context_in_brackets():
    handler, stream = _handler("text")
    logger = logging.getLogger("tracker.tests.text")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        from tracker import log_context

        token = log_context.request_id_var.set("req-7")
        try:
            logger.warning("inside")
        finally:
            log_context.request_id_var.reset(token)
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith(" WARNING tracker.tests.text [request_id=req-7] inside")
    assert outside.endswith(" WARNING tracker.tests.text outside")


def _settings_value(env: dict, expression: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_defaults_to_json_in_production_and_text_in_development():
    production = _settings_value({"DEBUG": "0", "LOG_FORMAT": ""}, "settings.LOG_FORMAT")
    development = _settings_value({"DEBUG": "1"}, "settings.LOG_FORMAT")
    chosen = _settings_value({"DEBUG": "1", "LOG_FORMAT": "json"}, "settings.LOG_FORMAT")

    assert production.stdout.strip() == "json", production.stderr
    assert development.stdout.strip() == "text", development.stderr
    assert chosen.stdout.strip() == "json", chosen.stderr


def test_an_unknown_log_format_is_refused_at_start():
    result = _settings_value({"LOG_FORMAT": "xml"}, "settings.LOG_FORMAT")

    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'xml'" in result.stderr

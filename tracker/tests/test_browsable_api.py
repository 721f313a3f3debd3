"""DRF's browsable API (the HTML view of every endpoint, for people exploring the
API in a browser) renders for every GET endpoint, never a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from issues.tests.factories import CommentFactory, LabelFactory

pytestmark = pytest.mark.django_db


def test_every_get_endpoint_renders_as_html(admin_user, issue):
    LabelFactory(name="bug")
    CommentFactory(issue=issue)
    client = Client()
    client.force_login(admin_user)
    paths = [
        reverse("api:token-list"),
        reverse("api:me"),
        reverse("api:user-list"),
        reverse("api:issue-list"),
        reverse("api:issue-by-number", args=[issue.number]),
        reverse("api:issue-detail", args=[issue.pk]),
        reverse("api:issue-events", args=[issue.pk]),
        reverse("api:issue-comments", args=[issue.pk]),
        reverse("api:issue-attachments", args=[issue.pk]),
        reverse("api:label-list"),
        reverse("api:report-open-by-severity"),
        reverse("api:report-by-status"),
        reverse("api:report-top-assignees"),
        reverse("api:report-resolution-latency"),
        reverse("api:report-throughput"),
        reverse("api:report-open-age"),
    ]

    for path in paths:
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, (path, response.status_code)
        assert response["Content-Type"].startswith("text/html"), path

"""API tests. Helpers every API test uses live here (fixtures in conftest.py):
the one error shape, an issue's state, a real PNG."""

import base64

from rest_framework.test import APIClient

from issues.models import Issue, IssueEvent

# A complete 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def client_for(user=None, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    if user is not None:
        client.force_authenticate(user)
    return client


def assert_error(response, status: int, *fields: str) -> dict:
    """The one error shape: `detail` a non-empty string and `errors` a dict naming
    at least `fields`, each with a non-empty list of reasons. Returns the body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("errors"), dict), body
    for field in fields:
        assert field in body["errors"], (field, body)
        reasons = body["errors"][field]
        assert isinstance(reasons, list) and reasons, body
    return body


def issue_state(issue) -> tuple:
    """Everything a refused request must leave untouched."""
    row = Issue.objects.get(pk=issue.pk)
    return (
        row.title,
        row.description,
        row.status,
        row.severity,
        row.assignee_id,
        row.version,
        row.updated_at,
        sorted(row.labels.values_list("name", flat=True)),
        IssueEvent.objects.filter(issue_id=issue.pk).count(),
    )


def detail_url(issue) -> str:
    return f"/api/issues/{issue.pk}/"

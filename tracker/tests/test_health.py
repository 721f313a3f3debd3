import pytest
from django.urls import reverse

from tracker import health

HEALTH = reverse("health")
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_health_is_ok_when_database_and_redis_answer(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_answers_plain_http_even_when_https_is_enforced(client, settings):
    """Load balancers and the container healthcheck probe over plain HTTP."""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(HEALTH).status_code == 200
    other = client.get(reverse("home"))
    assert other.status_code == 301
    assert other["Location"].startswith("https://")


@pytest.mark.django_db
def test_health_needs_no_login(client):
    assert client.get(HEALTH).status_code == 200


@pytest.mark.django_db
def test_health_is_503_naming_redis_when_redis_is_down(client, settings):
    settings.REDIS_URL = CLOSED_PORT_REDIS

    response = client.get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"database", "redis"}
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ConnectionError")


@pytest.mark.django_db
def test_health_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    def broken():
        raise RuntimeError("database unreachable")

    monkeypatch.setitem(health.CHECKS, "database", broken)

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert response.json() == {
        "database": "error: RuntimeError: database unreachable",
        "redis": "ok",
    }


@pytest.mark.django_db
def test_health_answers_get_only(client):
    assert client.post(HEALTH).status_code == 405

"""API rate limits: per user when signed in, per client address otherwise; over
the rate a 429 with Retry-After in our error shape; and when the throttle cache
(Redis) is unreachable, requests go through with a logged warning, never a 500."""

import logging
import time
import uuid

import pytest
from django.core.cache import caches
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as account_services
from tracker import throttling
from tracker.tests.support import free_port

pytestmark = pytest.mark.django_db

ME = reverse("api:me")
TOKEN = reverse("api:token")


def anonymous(client: APIClient):
    """An anonymous API request (the token endpoint, with nothing to check)."""
    return client.post(TOKEN, {}, format="json")


class Clock:
    """The throttle's clock with the wall time held still (and movable), so a test
    never straddles the edge of a fixed window; monotonic time is the real one."""

    monotonic = staticmethod(time.monotonic)

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """Held a second into an hour, so every window in these tests has just begun."""
    held = Clock(time.time() // 3600 * 3600 + 1)
    monkeypatch.setattr(throttling, "time", held)
    return held


@pytest.fixture
def rates(settings, clock):
    """Sets the rates, with counters of this test's own (a fresh key prefix in the
    shared test Redis), and forgets any outage an earlier test provoked."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {**settings.CACHES["throttle"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }
    throttling._Outage.until = 0.0

    def _set(anon="1000/minute", user="1000/minute"):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user},
        }

    yield _set
    throttling._Outage.until = 0.0


def as_user(user, address="127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.force_authenticate(user)
    return client


def assert_throttled(response, at_most: int):
    assert response.status_code == 429, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["errors"] == {}
    assert body["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= at_most


def test_a_user_over_the_rate_gets_429_with_retry_after(rates, reporter):
    rates(user="3/minute")
    client = as_user(reporter)

    codes = [client.get(ME).status_code for _ in range(3)]
    response = client.get(ME)

    assert codes == [200, 200, 200]
    assert_throttled(response, at_most=60)


def test_the_count_starts_again_in_the_next_window(rates, reporter, clock):
    rates(user="2/minute")
    client = as_user(reporter)
    assert [client.get(ME).status_code for _ in range(3)] == [200, 200, 429]

    clock.now += 58
    assert_throttled(client.get(ME), at_most=1)

    clock.now += 1
    assert [client.get(ME).status_code for _ in range(3)] == [200, 200, 429]


def test_a_window_s_counter_expires_with_it_and_later_requests_keep_its_expiry(
    rates, reporter, settings
):
    rates(user="5/minute")
    client = as_user(reporter)
    client.get(ME)
    cache = caches["throttle"]
    redis = cache._cache.get_client(write=True)
    (key,) = redis.keys(f"{settings.CACHES['throttle']['KEY_PREFIX']}:*")
    first = redis.ttl(key)

    client.get(ME)

    assert 0 < first <= 61
    assert 0 < redis.ttl(key) <= first
    assert int(redis.get(key)) == 2


def test_the_rate_is_per_user_not_per_address(rates, reporter, maintainer):
    rates(user="2/minute")
    for _ in range(2):
        as_user(reporter).get(ME)
    assert as_user(reporter).get(ME).status_code == 429

    # Someone else from the same address has an allowance of their own.
    assert as_user(maintainer).get(ME).status_code == 200
    # And the first user is throttled from anywhere.
    assert as_user(reporter, address="198.51.100.7").get(ME).status_code == 429


def test_a_token_user_is_throttled_the_same_way(rates, reporter):
    rates(user="1/minute")
    _, key = account_services.create_token(actor=reporter, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(ME).status_code == 200
    assert_throttled(client.get(ME), at_most=60)


def test_anonymous_requests_are_limited_per_address(rates):
    rates(anon="2/minute")
    here = APIClient(REMOTE_ADDR="203.0.113.9")

    codes = [anonymous(here).status_code for _ in range(2)]

    assert codes == [400, 400]
    assert_throttled(anonymous(here), at_most=60)
    assert anonymous(APIClient(REMOTE_ADDR="198.51.100.7")).status_code == 400


def test_a_forged_forwarded_for_header_does_not_reset_the_count(rates):
    rates(anon="1/minute")
    anonymous(APIClient(REMOTE_ADDR="203.0.113.9"))

    forged = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.1")

    assert anonymous(forged).status_code == 429


def test_the_token_endpoint_is_rate_limited_per_address_across_emails(rates, reporter):
    """Guessing one password for many emails (which the per-email lockout does not
    see) meets the anonymous rate."""
    rates(anon="3/minute")
    client = APIClient(REMOTE_ADDR="203.0.113.9")

    codes = [
        client.post(TOKEN, {"email": f"u{n}@example.com", "password": "x"}, format="json")
        for n in range(3)
    ]
    response = client.post(TOKEN, {"email": reporter.email, "password": "x"}, format="json")

    assert [r.status_code for r in codes] == [400, 400, 400]
    assert_throttled(response, at_most=60)


def test_without_a_rate_nothing_is_throttled(rates, reporter):
    rates(anon=None, user=None)
    client = as_user(reporter)

    assert {client.get(ME).status_code for _ in range(20)} == {200}


# --- the throttle cache unreachable ---------------------------------------------------


@pytest.fixture
def redis_down(settings, rates):
    """The throttle cache pointed at a port where nothing listens."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            **settings.CACHES["throttle"],
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    return rates


def test_an_unreachable_throttle_cache_lets_requests_through_with_a_warning(
    redis_down, reporter, caplog
):
    redis_down(user="1/minute", anon="1/minute")
    client = as_user(reporter)

    with caplog.at_level(logging.WARNING, logger="tracker.throttling"):
        codes = [client.get(ME).status_code for _ in range(3)]
        anonymous_codes = [anonymous(APIClient()).status_code for _ in range(2)]

    assert codes == [200, 200, 200]
    assert anonymous_codes == [400, 400]
    warnings = [r for r in caplog.records if r.name == "tracker.throttling"]
    # One warning for the outage, not one per request: the cache is left alone a while.
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "throttle cache is unreachable" in warnings[0].getMessage()


def test_throttling_resumes_when_the_cache_is_back(redis_down, reporter, settings, monkeypatch):
    redis_down(user="1/minute")
    monkeypatch.setattr(throttling.FailOpenThrottle, "retry_seconds", 0.0)
    client = as_user(reporter)
    assert [client.get(ME).status_code for _ in range(2)] == [200, 200]

    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            **settings.CACHES["throttle"],
            "LOCATION": settings.REDIS_URL,
        },
    }

    assert client.get(ME).status_code == 200
    assert client.get(ME).status_code == 429

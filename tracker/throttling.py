"""API rate limits (DRF throttling) that never turn a Redis outage into a 500.

The counters live in the `throttle` cache (Redis, shared by every web process),
one per client and window: a fixed-window count (COUNT_SCRIPT: INCR, and the
window's expiry when that creates the counter, in one round trip) instead of
DRF's list of every request's time, which costs two round trips and a pickle of
up to `rate` floats per request. At a window's edge a client may get up to twice its rate in a short
burst, the usual price of fixed windows.

When that cache cannot be reached the request is let through and a warning is
logged; the cache is then left alone for RETRY_SECONDS, so an outage costs
neither a connection timeout per request nor a warning per request. Over the
rate, DRF answers 429 with Retry-After in our error shape (tracker.api).
"""

import functools
import logging
import time

import redis
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.exceptions import RedisError
from rest_framework import throttling
from rest_framework.settings import api_settings

log = logging.getLogger(__name__)

CACHE_ALIAS = "throttle"
RETRY_SECONDS = 10.0
UNREACHABLE = (RedisError, OSError)

# INCR, and the expiry when it creates the key: one command, so one round trip
# and atomic, where a pipeline of SET NX and INCR cost redis-py half as much
# again in Python.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class _Outage:
    """Until when (time.monotonic) the throttle cache is known to be down; shared
    by every throttle of this process."""

    until = 0.0


class FailOpenThrottle(throttling.SimpleRateThrottle):
    retry_seconds = RETRY_SECONDS

    def get_rate(self):
        # DRF reads the rates once, at import; reading them per request lets a
        # settings change (or a test's override) take effect.
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            message = f"No throttle rate set for the '{self.scope}' scope."
            raise ImproperlyConfigured(message) from None

    def allow_request(self, request, view):
        if self.rate is None or time.monotonic() < _Outage.until:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            return self._count(self.key)
        except UNREACHABLE as exc:
            _Outage.until = time.monotonic() + self.retry_seconds
            log.warning(
                "API rate limits are off for %.0f s: the throttle cache is unreachable (%s)",
                self.retry_seconds,
                exc,
            )
            return True

    def _count(self, ident: str) -> bool:
        window = int(time.time() // self.duration)
        make_key, count_script = _counter()
        count = count_script(keys=[make_key(f"{ident}:{window}")], args=[self.duration + 1])
        return count <= self.num_requests

    def wait(self):
        """Seconds until the current window ends and the count starts again."""
        return self.duration - time.time() % self.duration


@functools.cache
def _counter():
    """The throttle cache's key maker and COUNT_SCRIPT on a client of its
    connection pool (which tracker.redis_pool shares across the process), made
    once per process. Django's API has no atomic "increment or create", so this
    reaches into its Redis client. Under ASGI Django builds the cache backend
    anew for each request: that, its client and pool lookup, and the key's
    validation (a warning for keys memcached would refuse; ours are fixed in
    form) were 0.15 M instructions of an API detail's 4.1 M (callgrind)."""
    cache = caches[CACHE_ALIAS]
    pool = cache._cache._get_connection_pool(write=True)
    return cache.make_key, redis.Redis(connection_pool=pool).register_script(COUNT_SCRIPT)


@receiver(setting_changed)
def _forget_counter(*, setting, **kwargs):
    if setting == "CACHES":  # a test pointing the throttle at another Redis
        _counter.cache_clear()


class AnonRateThrottle(FailOpenThrottle, throttling.AnonRateThrottle):
    """Anonymous requests, per client address (scope `anon`)."""


class UserRateThrottle(FailOpenThrottle, throttling.UserRateThrottle):
    """Per signed-in user (scope `user`); anonymous requests count per address."""

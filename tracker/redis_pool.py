"""One Redis connection pool per server and options, for the whole process.

Django makes a cache backend per thread (under ASGI: per request), and each
backend its own connection pool, so the throttle's counters cost a TCP connect
per API request. Handing every backend the same pool keeps the connections
open and reused; redis-py's pool itself resets after a fork.
"""

import threading

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    _pools: dict[tuple, ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            if key not in cls._pools:
                cls._pools[key] = super().from_url(url, **kwargs)
            return cls._pools[key]

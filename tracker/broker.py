"""Celery's Redis transport (kombu's), with one Redis client per channel.

kombu's Redis channel builds a new `redis.Redis` client for every message it
publishes, and redis-py fills each new client's table of ~170 response
callbacks: 0.16 of the 0.5 ms a task's publishing took here (cProfile, 300
tasks, 2026-12-06), paid by every request that sends mail after its commit (an
API create or a status change). A client is only a handle on the channel's
connection pool and is safe to share, so the channel keeps one per pool.
"""

from kombu.transport import redis


class Channel(redis.Channel):
    _client_pool = None

    def _create_client(self, asynchronous=False):
        if asynchronous:  # a consumer's: kombu makes those rarely
            return super()._create_client(asynchronous=True)
        pool = self.pool  # a new one after a fork or a disconnect
        if self._client_pool is not pool:
            self._shared_client = super()._create_client()
            self._client_pool = pool
        return self._shared_client


class Transport(redis.Transport):
    Channel = Channel

"""Celery's Redis transport with one client per channel (tracker.broker)."""

import pytest
import redis
from django.conf import settings
from kombu import Connection

from tracker.broker import Transport
from tracker.celery import app


@pytest.fixture
def channel():
    with Connection(settings.CELERY_BROKER_URL, transport=Transport) as connection:
        channel = connection.channel()
        yield channel
        channel.client.delete("tracker-broker-test")
        channel.close()


def test_celery_publishes_through_this_transport():
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)


def test_messages_go_through_one_client_per_channel(channel, monkeypatch):
    made = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        made.append(kwargs.get("connection_pool"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)

    for n in range(3):
        channel._put("tracker-broker-test", {"body": n})

    assert made == [channel.pool]
    assert channel.client.llen("tracker-broker-test") == 3


def test_a_new_pool_gets_a_new_client(channel):
    channel._put("tracker-broker-test", {"body": 1})
    first = channel._create_client()

    channel._disconnect_pools()  # as after a fork
    channel._put("tracker-broker-test", {"body": 2})

    assert channel._create_client() is not first
    assert channel._create_client().connection_pool is channel.pool
    assert channel.client.llen("tracker-broker-test") == 2

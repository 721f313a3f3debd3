"""Connections are reused across requests under ASGI: Django's psycopg pool for
the database (turned on by the ASGI entry point) and one Redis pool per process
for the throttle's cache, although Django builds both per request there."""

import os
import subprocess
import sys
import threading

import pytest
from django.core.cache import caches
from django.db import connection

from tracker.tests.support import ROOT


def throttle_pool():
    return caches["throttle"]._cache._get_connection_pool(write=True)


def test_every_thread_s_throttle_cache_uses_the_same_redis_pool():
    pools = []
    thread = threading.Thread(target=lambda: pools.append(throttle_pool()))
    thread.start()
    thread.join()

    assert pools == [throttle_pool()]


def test_another_redis_server_gets_a_pool_of_its_own(settings):
    here = throttle_pool()
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {**settings.CACHES["throttle"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    assert throttle_pool() is not here


def settings_in_a_fresh_process(env: dict) -> str:
    code = (
        "import tracker.asgi; from django.conf import settings; "
        "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['OPTIONS'].get('pool'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_asgi_server_shares_a_pool_of_database_connections():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_POOL")}
    env["CONN_MAX_AGE"] = "60"
    assert settings_in_a_fresh_process(env) == (
        "0 {'min_size': 2, 'max_size': 10, 'timeout': 10.0}"
    )
    env["DATABASE_POOL"] = "false"
    assert settings_in_a_fresh_process(env) == "60 None"


@pytest.mark.django_db
def test_the_test_suite_itself_runs_without_the_pool():
    assert connection.pool is None

"""Connections are reused across requests under ASGI: Django's psycopg pool for
the database (turned on by the ASGI entry point) and one Redis pool per process
for the throttle's cache, although Django builds both per request there. A
pooled connection the server has ended is replaced before a request uses it
(tracker.postgresql), without a round trip for the live ones."""

import copy
import os
import subprocess
import sys
import threading
import time

import pytest
from django.core.cache import caches
from django.db import OperationalError, connection
from django.db.backends.postgresql import base as django_backend

from tracker.postgresql import base as tracker_backend
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
        "d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['OPTIONS'].get('pool'), d['CONN_HEALTH_CHECKS'])"
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
        "0 {'min_size': 2, 'max_size': 10, 'timeout': 10.0} False"
    )
    env["DATABASE_POOL"] = "false"
    assert settings_in_a_fresh_process(env) == "60 None True"


def test_the_asgi_server_leaves_what_it_loaded_at_startup_out_of_collections():
    """gc.freeze() at the end of tracker.asgi: Django's and the apps' objects
    (about 85,000) are not walked again by every full collection."""
    result = subprocess.run(
        [sys.executable, "-c", "import gc, tracker.asgi; print(gc.get_freeze_count())"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(result.stdout) > 20_000


@pytest.mark.django_db
def test_the_test_suite_itself_runs_without_the_pool():
    assert connection.pool is None


# --- Pooled connections the server ended ---------------------------------------


def pooled(backend, max_size: int):
    """A second connection handler on the test database, pooled as under ASGI
    (checks by the pool off, as settings turn them off there). Its alias is the
    default's, which django.contrib.postgres looks up on connecting; the pool is
    this handler's alone, as the default has none in tests."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": max_size, "timeout": 10}
    settings_dict.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
    return backend.DatabaseWrapper(settings_dict)


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(*pids: int) -> None:
    """pg_terminate_backend, then wait until the backends are gone (they have
    sent their farewell and closed their sockets)."""
    pids = list(pids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [pids])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # A transaction sees pg_stat_activity as it first read it, unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.01)
    raise AssertionError(f"backends {pids} still running")


@pytest.mark.django_db
def test_a_live_idle_connection_has_nothing_to_read_and_an_ended_one_has():
    wrapper = pooled(tracker_backend, max_size=1)
    try:
        pid = backend_pid(wrapper)
        raw = wrapper.connection
        assert not tracker_backend.ended_by_server(raw)
        terminate(pid)
        assert tracker_backend.ended_by_server(raw)
    finally:
        wrapper.close()
        wrapper.close_pool()


@pytest.mark.django_db
def test_pooled_connections_the_server_ended_are_replaced_before_a_query_fails():
    first, second = pooled(tracker_backend, max_size=2), pooled(tracker_backend, max_size=2)
    try:
        pids = {backend_pid(first), backend_pid(second)}  # two connections, both busy
        assert len(pids) == 2
        first.close()
        second.close()  # both idle in the pool now
        assert backend_pid(first) in pids  # a live one is handed out again
        first.close()

        terminate(*pids)  # as a restart would: every idle connection ended

        assert backend_pid(first) not in pids  # no error: a new connection
        assert backend_pid(second) not in pids
    finally:
        first.close()
        second.close()
        first.close_pool()


@pytest.mark.django_db
def test_without_the_check_a_pooled_connection_the_server_ended_fails_its_query():
    """What the check is for: Django's own backend, its pool check off."""
    wrapper = pooled(django_backend, max_size=1)
    try:
        pid = backend_pid(wrapper)
        wrapper.close()
        terminate(pid)
        with pytest.raises(OperationalError):
            backend_pid(wrapper)
    finally:
        wrapper.close()
        wrapper.close_pool()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [
        "2026-12-07 22:55:43.61325+00",
        "2026-12-07 22:55:43+00",
        "2026-01-01 10:00:00.000001+05:30",
        "1901-12-13 20:45:52-04:56:02",
        "0099-02-28 23:59:59.999999+00",
        "9999-12-31 23:59:59+00",
    ],
)
def test_timestamps_read_as_django_s_own_loader_reads_them(value):
    """IsoTzLoader parses with datetime.fromisoformat: the same instant, in the
    same zone object, as Django's loader over psycopg's parser."""
    with connection.cursor() as cursor:
        assert connection.connection.adapters.get_loader(1184, 0).__mro__[1] is (
            tracker_backend.IsoTzLoader
        )
        cursor.execute("SELECT %s::timestamptz", [value])
        ours = cursor.fetchone()[0]
        django_backend.register_tzloader(connection.timezone, cursor)
        cursor.execute("SELECT %s::timestamptz", [value])
        django_s = cursor.fetchone()[0]
    assert ours == django_s
    assert ours.tzinfo is django_s.tzinfo is connection.timezone
    assert ours.utcoffset() == django_s.utcoffset()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["2000-01-01 00:00:00+00 BC", "infinity", "-infinity"])
def test_timestamps_fromisoformat_cannot_read_get_django_s_answer(value):
    """BC and infinite timestamps: the value or the error Django's loader gives."""

    def read(register):
        with connection.cursor() as cursor:
            if register:
                django_backend.register_tzloader(connection.timezone, cursor)
            try:
                cursor.execute("SELECT %s::timestamptz", [value])
                return cursor.fetchone()[0]
            except Exception as exc:  # noqa: BLE001 - compared as a value
                return type(exc), str(exc)

    assert read(register=False) == read(register=True)

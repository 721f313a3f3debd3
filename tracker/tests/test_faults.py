"""Faults survived, with the real servers: Redis stopped under a running web server,
PostgreSQL restarted under it, a Celery worker killed in the middle of the stats
task. Each test stops only servers of its own (tracker.tests.support), so the
tests running beside it under xdist are not disturbed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from celery.exceptions import WorkerLostError
from django.conf import settings
from django.db import OperationalError, connection
from django.test import RequestFactory

from accounts import services as accounts
from issues import live_listener, services
from issues.models import Comment, Issue, IssueEvent, PendingMail, Severity, Status
from reports import stats, tasks
from reports.models import DailyStat
from tracker import views
from tracker.tests.support import (
    CeleryWorker,
    PostgresServer,
    RedisServer,
    WebServer,
    manage,
    session_cookie,
    today_clear_of_midnight,
)

pytestmark = pytest.mark.slow

# A request that takes longer than this has hung, as far as a person is concerned.
PATIENCE = 5.0


def broker_env(url: str) -> dict[str, str]:
    return {"REDIS_URL": url, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}


def timed(client: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    started = time.monotonic()
    response = client.request(method, url, **kwargs)
    took = time.monotonic() - started
    assert took < PATIENCE, f"{method} {url} took {took:.1f} s"
    return response


def log_records(text: str) -> list[dict]:
    """The JSON lines of a server log (production format); uvicorn's parent writes plain ones."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_until(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-4000:] if log else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


# --- The error page when the database is away (in process) ---------------------------


@pytest.mark.parametrize(
    ("path", "exc", "status"),
    [
        ("/api/issues/", OperationalError("connection refused"), 503),
        ("/issues/", OperationalError("the database system is shutting down"), 503),
        ("/api/issues/", ValueError("a bug"), 500),
        ("/issues/", ValueError("a bug"), 500),
    ],
)
def test_the_error_page_says_503_and_when_to_retry_only_for_an_unreachable_database(
    path, exc, status
):
    request = RequestFactory().get(path)
    try:
        raise exc
    except Exception:
        response = views.server_error(request)  # as Django calls it: inside the except

    assert response.status_code == status
    assert ("Retry-After" in response) == (status == 503)
    if status == 503:
        assert response["Retry-After"] == str(views.RETRY_AFTER_SECONDS)
    if path.startswith("/api/"):
        body = json.loads(response.content)
        assert body["errors"] == {}
        assert ("unavailable" in body["detail"]) == (status == 503)
    else:
        assert b"Something went wrong" in response.content


# --- Redis stopped -------------------------------------------------------------------


@pytest.fixture
def redis_stack(transactional_db, tmp_path):
    """A private Redis, a Celery worker with beat (which sends the pending mail to
    the worker's queue every second) and a web server on it, all on the test database."""
    redis = RedisServer(tmp_path / "redis").start()
    worker = CeleryWorker(
        tmp_path / "worker.log", prefix="faults-redis", EMAIL_URL="consolemail://",
        beat=True, **broker_env(redis.url),
    )  # fmt: skip
    web = WebServer(
        tmp_path / "web.log",
        NOTIFICATIONS_QUEUE=worker.queue,
        IMPORT_QUEUE=worker.queue,
        **broker_env(redis.url),
    )
    try:
        web.start()  # while the worker starts
        worker.wait_ready()
        yield redis, worker, web
    finally:
        web.kill()
        worker.stop()
        redis.stop()


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_pages_api_and_live_updates_work_and_mail_resumes_after(
    redis_stack, reporter, maintainer
):
    redis, worker, web = redis_stack
    issue = services.create_issue(actor=reporter, title="Printer on fire")  # reporter watches
    _, key = accounts.create_token(actor=maintainer)
    api = httpx.Client(base_url=web.base, headers={"Authorization": f"Token {key}"}, timeout=30)
    pages = httpx.Client(
        base_url=web.base, cookies={"sessionid": session_cookie(maintainer)}, timeout=30
    )
    stream = web.open(maintainer)
    pid = web.proc.pid

    def comment(body: str) -> httpx.Response:
        return timed(api, "POST", f"/api/issues/{issue.pk}/comments/", json={"body": body})

    # Redis up: a comment's mail to the watching reporter goes through the worker.
    before = f"before-{uuid.uuid4().hex[:8]}"
    assert comment(before).status_code == 201
    assert stream.wait_for(f"issue-{issue.number}", timeout=10)[0]["kind"] == "commented"
    wait_until(lambda: before in worker.log.read_text(), 60, "the first mail", worker.log)

    redis.stop()
    assert not redis.running()

    # Pages and API answer as usual.
    assert timed(pages, "GET", "/issues/").status_code == 200
    page = timed(pages, "GET", f"/issues/{issue.number}/")
    assert page.status_code == 200
    assert "Printer on fire" in page.text
    listed = timed(api, "GET", "/api/issues/")
    assert listed.status_code == 200
    assert str(issue.pk) in {row["id"] for row in listed.json()["results"]}
    handle = reporter.email.split("@")[0]
    created = timed(
        api, "POST", "/api/issues/", json={"title": "Filed during the outage",
                                           "description": f"cc @{handle}"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    patched = timed(
        api, "PATCH", f"/api/issues/{issue.pk}/", json={"status": "TRIAGED", "version": 1}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    during = f"during-{uuid.uuid4().hex[:8]}"
    assert comment(during).status_code == 201

    # Everything was written, with its timeline.
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (Status.TRIAGED, 2)
    assert Issue.objects.filter(title="Filed during the outage").exists()
    assert Comment.objects.filter(issue=issue, body=during).exists()
    assert IssueEvent.objects.filter(issue=issue, field="status", new_value="TRIAGED").exists()

    # Live updates do not need Redis (pg_notify): the open page heard of both changes.
    heard = [stream.wait_for(f"issue-{issue.number}", timeout=10)[0]["kind"] for _ in range(2)]
    assert heard == ["updated", "commented"]

    # /health/ tells the load balancer and the operator what is missing.
    health = timed(api, "GET", "/health/")
    assert health.status_code == 503
    assert health.json()["database"] == "ok"
    assert health.json()["redis"].startswith("error")

    # Their mail waits in the database: the new issue (mention), the status change, the comment.
    waiting = [ref for row in PendingMail.objects.all() for ref in row.refs]
    assert len(waiting) == 3
    log = web.log.read_text()
    records = log_records(log)
    # API rate limits fail open while their Redis is away, and say so.
    assert any(r["logger"] == "tracker.throttling" for r in records if r["level"] == "WARNING")
    assert "Traceback" not in log
    # (/health/ answering 503 is logged as an error by Django, as every 5xx is.)
    errors = [r["message"] for r in records if r["level"] == "ERROR"]
    assert errors == [m for m in errors if "Service Unavailable: /health/" in m], log
    assert during not in worker.log.read_text()

    # Redis comes back: the mail of the outage goes out, and so does the next;
    # nothing was lost and nothing was restarted.
    redis.start()
    after = f"after-{uuid.uuid4().hex[:8]}"
    assert comment(after).status_code == 201
    wait_until(lambda: after in worker.log.read_text(), 90, "mail after Redis returned", worker.log)
    wait_until(lambda: during in worker.log.read_text(), 30, "the outage's mail", worker.log)
    wait_until(lambda: not PendingMail.objects.exists(), 30, "no mail left pending", worker.log)
    assert timed(api, "GET", "/health/").status_code == 200
    assert web.proc.pid == pid
    assert web.proc.poll() is None
    assert worker.process.poll() is None
    # The web process never queued mail: nothing it did for mail needed Redis.
    assert not [
        r for r in log_records(web.log.read_text()) if r["logger"] == "issues.notifications"
    ]


# --- PostgreSQL restarted -------------------------------------------------------------

# Run by `manage.py shell` on the private database: someone to act, and an issue.
SETUP = """
import json
from django.test import Client
from accounts import services as accounts
from accounts.models import User
from issues import services
user = User.objects.create_user(
    email="ops@example.com", password="not-used-here-1", role="MAINTAINER", display_name="Ops"
)
_, key = accounts.create_token(actor=user)
client = Client()
client.force_login(user)
issue = services.create_issue(actor=user, title="Survives restarts")
print(json.dumps({"token": key, "session": client.cookies["sessionid"].value,
                  "id": str(issue.pk), "number": issue.number}))
"""


class Steady:
    """A client in a thread of its own, asking for one issue again and again until
    stopped; keeps (status, body, Retry-After) of each answer, and fails any that
    takes longer than PATIENCE."""

    def __init__(self, base: str, path: str, token: str):
        self.answers: list[tuple[int, str, str | None]] = []
        self.slow: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        headers = {"Authorization": f"Token {token}"}
        self._client = httpx.Client(base_url=base, headers=headers, timeout=30)
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = self._client.get(path)
            except httpx.HTTPError as exc:  # no answer at all: not a clean failure
                self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if time.monotonic() - started > PATIENCE:
                self.slow.append(time.monotonic() - started)
            self.answers.append(
                (response.status_code, response.text, response.headers.get("Retry-After"))
            )
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(PATIENCE * 2)
        self._client.close()
        assert not self._thread.is_alive(), "a request hung"
        assert not self.slow, f"requests took {self.slow} s"
        assert not self.errors, self.errors


@pytest.fixture
def private_postgres(tmp_path):
    server = PostgresServer(tmp_path / "pg")
    try:
        server.start()
        server.migrate()
        yield server
    finally:
        server.destroy()


def test_postgres_restart_costs_at_most_one_request_and_live_updates_come_back(
    private_postgres, tmp_path
):
    pg = private_postgres
    data = json.loads(manage("shell", "-c", SETUP, DATABASE_URL=pg.url).strip().splitlines()[-1])
    web = WebServer(
        tmp_path / "web.log",
        DATABASE_URL=pg.url,
        NOTIFICATIONS_QUEUE=f"faults-unconsumed-{uuid.uuid4().hex[:8]}",
    )
    api = httpx.Client(
        base_url=web.base, headers={"Authorization": f"Token {data['token']}"}, timeout=30
    )
    pages = httpx.Client(base_url=web.base, cookies={"sessionid": data["session"]}, timeout=30)
    detail = f"/api/issues/{data['id']}/"
    version = 1

    def patch(severity: str) -> httpx.Response:
        nonlocal version
        response = timed(api, "PATCH", detail, json={"severity": severity, "version": version})
        if response.status_code == 200:
            version = response.json()["version"]
        return response

    def round_of_requests(severity: str) -> list[httpx.Response]:
        return [
            timed(pages, "GET", "/issues/"),
            timed(pages, "GET", f"/issues/{data['number']}/"),
            timed(api, "GET", "/api/issues/"),
            patch(severity),
        ]

    try:
        web.start()
        pid = web.proc.pid
        stream = web.open(sessionid=data["session"])
        assert [r.status_code for r in round_of_requests("HIGH")] == [200, 200, 200, 200]
        assert stream.wait_for(f"issue-{data['number']}", timeout=10)[0]["kind"] == "updated"

        # A client keeps asking while PostgreSQL goes down and comes back: whatever
        # it gets must come quickly, and be a success or a clean "try again".
        during = Steady(web.base, detail, data["token"])
        took = pg.restart()
        during.stop()
        assert during.answers, "no request was made during the restart"
        for code, body, retry_after in during.answers:
            assert code in (200, 503), (code, body)
            if code == 503:
                assert json.loads(body) == {
                    "detail": "The database is unavailable; try again in a moment.",
                    "errors": {},
                }
                assert retry_after == str(views.RETRY_AFTER_SECONDS)

        after = []
        for severity in ("LOW", "CRITICAL", "MEDIUM"):
            after += round_of_requests(severity)
        codes = [r.status_code for r in after]
        failed = [r for r in after if r.status_code >= 400]
        assert len(failed) <= 1, codes
        if failed:  # only the very first, and cleanly: "try again", not a crash
            assert after[0] is failed[0], codes
            assert failed[0].status_code == 503
            assert failed[0].headers["Retry-After"]
        assert all(code == 200 for code in codes[1:]), codes

        # The live-update listener lost its connection too, and reconnected by itself:
        # the open page is told to re-fetch, then hears of the next change.
        assert stream.wait_for("resync", timeout=30)[0] == {"kind": "resync"}
        assert patch("CRITICAL").status_code == 200
        data_seen, _ = stream.wait_for(f"issue-{data['number']}", timeout=10)
        assert data_seen == {"kind": "updated", "issue": data["id"], "number": data["number"]}
        assert not stream.ended.is_set()

        assert web.proc.pid == pid and web.proc.poll() is None  # no restart needed
        assert "LISTEN connection failed" in web.log.read_text()
        assert took < 30
        log = pg.log.read_text()
        assert "received fast shutdown request" in log
        assert log.count("database system is ready to accept connections") >= 2
    finally:
        web.kill()


# --- A worker killed in the middle of the stats task ---------------------------------


def pool_children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def stat_rows(day) -> dict[tuple[str, int], tuple[int, object]]:
    return {
        (row.status, row.severity): (row.count, row.computed_at)
        for row in DailyStat.objects.filter(date=day)
    }


def direct_counts() -> dict[tuple[str, int], int]:
    return {
        (status, severity): Issue.objects.filter(status=status, severity=severity).count()
        for status in Status.values
        for severity in Severity.values
    }


def waiting_upserts() -> list[int]:
    """Backends of this test database blocked on a lock while writing DailyStat."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO reports_dailystat%%'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_stats_run_leaves_nothing_half_done_and_the_next_run_is_right(
    tmp_path, maintainer
):
    for status, severity in [
        (Status.OPEN, Severity.LOW),
        (Status.OPEN, Severity.CRITICAL),
        (Status.TRIAGED, Severity.HIGH),
        (Status.DONE, Severity.MEDIUM),
    ]:
        services.create_issue(actor=maintainer, title="Counted", status=status, severity=severity)
    today = today_clear_of_midnight()  # the day the worker's own clock will name
    # Prefork, as in production: the task runs in a pool process, which is what the
    # kernel's OOM killer (or an operator's kill -9) takes away.
    worker = CeleryWorker(
        tmp_path / "worker.log", prefix="faults-stats", pool="prefork",
        **broker_env(settings.REDIS_URL),
    )  # fmt: skip
    try:
        worker.wait_ready()
        assert tasks.aggregate_daily_stats.apply_async(queue=worker.queue).get(timeout=60) == 16
        first = stat_rows(today)
        assert {cell: count for cell, (count, _) in first.items()} == direct_counts()

        # The day goes on: the stored counts are now out of date.
        moving = Issue.objects.get(status=Status.OPEN, severity=Severity.CRITICAL)
        services.change_status(actor=maintainer, issue=moving, version=1, status=Status.DONE)
        services.create_issue(actor=maintainer, title="Late", severity=Severity.HIGH)
        expected = direct_counts()
        assert {cell: count for cell, (count, _) in first.items()} != expected

        # Hold today's rows, so the next run stops inside its upsert; kill it there.
        with psycopg.connect(live_listener.conninfo(), autocommit=False) as holder:
            holder.execute("SELECT 1 FROM reports_dailystat WHERE date = %s FOR UPDATE", [today])
            killed = tasks.aggregate_daily_stats.apply_async(queue=worker.queue)
            wait_until(lambda: waiting_upserts(), 30, "the upsert to wait", worker.log)
            [backend] = waiting_upserts()
            [child] = pool_children(worker.process.pid)
            os.kill(child, signal.SIGKILL)
            # The worker notices, marks the task failed, and carries on with a new child.
            with pytest.raises(WorkerLostError):
                killed.get(timeout=30)
            holder.rollback()

        # Its transaction never committed: once PostgreSQL has seen the client gone,
        # the rows are exactly those of the previous run, not half of a new one.
        wait_until(lambda: not backend_alive(backend), 30, "the orphaned backend to end")
        assert stat_rows(today) == first

        # The next run (beat sends it every STATS_INTERVAL_MINUTES; here, at once):
        assert tasks.aggregate_daily_stats.apply_async(queue=worker.queue).get(timeout=60) == 16
        repaired = stat_rows(today)
        assert {cell: count for cell, (count, _) in repaired.items()} == expected
        assert all(repaired[cell][1] > first[cell][1] for cell in first)

        # ... exactly what a clean run over the same data writes.
        assert stats.aggregate_daily_stats() == 16
        clean = stat_rows(today)
        assert {cell: count for cell, (count, _) in clean.items()} == {
            cell: count for cell, (count, _) in repaired.items()
        }
        assert worker.process.poll() is None
        log = worker.log.read_text()
        assert "WorkerLostError" in log
        # Not redelivered behind our back (task_reject_on_worker_lost is off).
        assert log.count(f"[{killed.id}] received") == 1
    finally:
        worker.stop()


def test_celery_ack_settings_are_the_documented_ones():
    """What "Faults survived" in the README promises; changing one means
    re-deciding (and re-documenting) what a lost worker does to a task."""
    from tracker.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is False
    assert app.conf.broker_transport_options["visibility_timeout"] >= 3600
    assert app.conf.task_ignore_result is True
    assert tasks.aggregate_daily_stats.ignore_result is False
    assert app.conf.task_publish_retry_policy["max_retries"] <= 3
    assert app.conf.broker_transport_options["socket_timeout"] <= 10

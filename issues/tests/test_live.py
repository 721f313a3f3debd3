"""Live updates: pg_notify on commit, the per-process listener's fan-out and
permission filter, and the server-sent events stream served by a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from functools import partial

import psycopg
import pytest
from django.db import connection, transaction
from django.test import AsyncClient, Client
from django.urls import reverse

from accounts import roles
from accounts.models import Role
from issues import live, live_listener, live_views, services
from issues.live_listener import RESYNC, Hub, Subscription, messages_for
from reports.tasks import aggregate_daily_stats
from tracker.tests.support import (
    WebServer,
    asgi_get,
    parse_sse,
    run_async,
    run_sync,
    session_cookie,
)

# How long a test waits for a message that must arrive: the wait ends as soon as
# it does, so this is only a bound, wide enough for a loaded machine.
ARRIVES = 5

# --- Helpers -----------------------------------------------------------------


def public(issue, kind: str) -> dict:
    return {"kind": kind, "issue": str(issue.pk), "number": issue.number}


# --- (a) pg_notify is transactional --------------------------------------------


@pytest.fixture
def pg_listener(transactional_db):
    """A plain psycopg connection listening on the channel, like the server's."""
    assert f"dbname={connection.settings_dict['NAME']}" in live_listener.conninfo()
    with psycopg.connect(live_listener.conninfo(), autocommit=True) as conn:
        conn.execute(f"LISTEN {live.CHANNEL}")
        yield conn


def notices(conn, timeout: float, stop_after: int | None = None) -> list[dict]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=timeout, stop_after=stop_after)]


@pytest.mark.django_db(transaction=True)
def test_announce_is_delivered_after_commit_and_never_after_rollback(pg_listener, issue):
    notices(pg_listener, timeout=0.2)  # the issue's own "created"
    expected = {**public(issue, "updated"), "reporter": issue.reporter_id}

    with transaction.atomic():
        live.announce("updated", issue)
        assert notices(pg_listener, timeout=0.3) == [], "delivered before commit"
    assert notices(pg_listener, timeout=2, stop_after=1) == [expected]

    with pytest.raises(RuntimeError), transaction.atomic():
        live.announce("updated", issue)
        raise RuntimeError("roll back")
    assert notices(pg_listener, timeout=0.5) == []


@pytest.mark.django_db(transaction=True)
def test_services_announce_their_changes(pg_listener, issue, maintainer):
    notices(pg_listener, timeout=0.2)
    services.add_comment(actor=maintainer, issue=issue, body="On it.")
    assert notices(pg_listener, timeout=2, stop_after=1) == [
        {**public(issue, "commented"), "reporter": issue.reporter_id}
    ]


# --- (b) Fan-out and the permission filter -------------------------------------


def drain(sub: Subscription) -> list[dict]:
    text = ""
    while not sub.queue.empty():
        text += sub.queue.get_nowait()
    return parse_sse(text)


def test_messages_for_sends_the_list_s_the_page_s_and_the_kind_s_events_with_ids_only():
    payload = {"kind": "updated", "issue": "abc", "number": 42, "reporter": 7, "title": "x"}
    blocks = parse_sse(messages_for(payload))
    assert [b["event"] for b in blocks] == [
        "issue",
        "issue-updated",
        "issue-42",
        "issue-42-updated",
    ]
    for block in blocks:
        assert json.loads(block["data"]) == {"kind": "updated", "issue": "abc", "number": 42}


def test_a_kind_it_does_not_know_gets_no_event_of_its_own():
    payload = {"kind": "x\nevent: resync", "issue": "abc", "number": 42, "reporter": 7}
    assert [b["event"] for b in parse_sse(messages_for(payload))] == ["issue", "issue-42"]


def test_fan_out_sends_each_user_only_what_they_may_see(
    reporter, other_reporter, maintainer, admin_user
):
    hub = Hub()
    subs = {
        user.email: hub.attach(Subscription(user.pk, roles.sees_all_issues(user)))
        for user in (reporter, other_reporter, maintainer, admin_user)
    }
    payload = {"kind": "created", "issue": "u-1", "number": 5, "reporter": reporter.pk}
    hub.dispatch(json.dumps(payload))

    sent = {email: drain(sub) for email, sub in subs.items()}
    assert sent[other_reporter.email] == []
    for email in (reporter.email, maintainer.email, admin_user.email):
        assert [b["event"] for b in sent[email]] == [
            "issue",
            "issue-created",
            "issue-5",
            "issue-5-created",
        ]
        for block in sent[email]:
            data = json.loads(block["data"])
            assert "reporter" not in data
            assert data == {"kind": "created", "issue": "u-1", "number": 5}

    hub.unsubscribe(subs[reporter.email])
    hub.dispatch(json.dumps(payload))
    assert drain(subs[reporter.email]) == []
    assert len(drain(subs[maintainer.email])) == 4


def test_new_stats_reach_only_those_who_see_every_issue(reporter, maintainer):
    hub = Hub()
    rita = hub.attach(Subscription(reporter.pk, roles.sees_all_issues(reporter)))
    max_ = hub.attach(Subscription(maintainer.pk, roles.sees_all_issues(maintainer)))

    hub.dispatch(json.dumps({"kind": live.STATS}))

    assert drain(rita) == []
    assert [(b["event"], json.loads(b["data"])) for b in drain(max_)] == [
        ("stats", {"kind": "stats"})
    ]


@pytest.mark.django_db(transaction=True)
def test_the_stats_task_announces_after_its_commit(pg_listener):
    assert aggregate_daily_stats() == 16
    assert notices(pg_listener, timeout=2, stop_after=1) == [{"kind": "stats"}]


def test_malformed_notice_is_ignored(caplog):
    hub = Hub()
    sub = hub.attach(Subscription(1, sees_all=True))
    hub.dispatch("not json")
    hub.dispatch(json.dumps({"kind": "created"}))
    assert drain(sub) == []
    assert "malformed notice" in caplog.text


def test_slow_client_drops_messages_and_is_told_to_resync():
    sub = Subscription(1, sees_all=True, maxsize=3)
    for number in range(10):
        sub.offer(messages_for({"kind": "updated", "issue": "u", "number": number}))
    assert sub.queue.qsize() <= 3
    assert sub.dropped > 0
    text = ""
    while not sub.queue.empty():
        text += sub.queue.get_nowait()
    # The page re-fetches when the resync arrives, which covers all it replaced.
    assert text.startswith(RESYNC)
    sub.offer(messages_for({"kind": "updated", "issue": "u", "number": 10}))
    assert "issue-10" in sub.queue.get_nowait()  # once drained, messages flow again


def test_an_ended_subscription_takes_nothing_more():
    sub = Subscription(1, sees_all=True, maxsize=2)
    sub.offer(messages_for({"kind": "updated", "issue": "u", "number": 1}))
    sub.end()  # the server is shutting down
    for number in range(5):
        sub.offer(messages_for({"kind": "updated", "issue": "u", "number": number}))
    assert sub.queue.get_nowait() == live_listener.END
    assert sub.queue.empty()


# --- What a page missed before its stream connected -----------------------------


def notice(number: int, reporter: int) -> str:
    return json.dumps(
        {"kind": "updated", "issue": f"u-{number}", "number": number, "reporter": reporter}
    )


def events_of_notices(*numbers: int) -> list[str]:
    """The SSE events `notice(number, …)` comes as, for each number in turn."""
    return [
        name
        for n in numbers
        for name in ("issue", "issue-updated", f"issue-{n}", f"issue-{n}-updated")
    ]


def events(text: str) -> list[str]:
    return [block["event"] for block in parse_sse(text)]


@pytest.fixture
def exact_clock(monkeypatch):
    """No allowance for clock skew: "before" and "after" a page's time are exact."""
    monkeypatch.setattr(live_listener, "CLOCK_SKEW", 0.0)


@pytest.fixture
def listening(exact_clock):
    """A hub listening since now."""
    hub = Hub()
    hub._started_listening()
    time.sleep(0.01)
    return hub


def test_a_stream_first_gets_what_changed_since_its_page_was_read(listening, reporter):
    hub = listening
    hub.dispatch(notice(1, reporter.pk))  # before the page: already in it
    time.sleep(0.01)
    page_read = time.time()
    hub.dispatch(notice(2, reporter.pk))
    hub.dispatch(notice(3, reporter.pk + 1))  # another reporter's issue
    hub.dispatch(json.dumps({"kind": live.STATS}))
    time.sleep(0.01)

    mine = Subscription(reporter.pk, sees_all=False)
    assert events(hub.missed(mine, page_read)) == events_of_notices(2)
    everyone = Subscription(99, sees_all=True)
    assert events(hub.missed(everyone, page_read)) == [*events_of_notices(2, 3), "stats"]
    assert hub.missed(everyone, time.time()) == ""  # nothing since


def test_a_page_read_before_the_process_listened_is_told_to_resync(exact_clock, reporter):
    hub = Hub()
    page_read = time.time()
    sub = Subscription(reporter.pk, sees_all=False)
    assert hub.missed(sub, page_read) == RESYNC  # not listening: it cannot tell
    time.sleep(0.01)
    hub._started_listening()
    assert hub.missed(sub, page_read) == RESYNC  # notices before LISTEN never came
    assert hub.missed(sub, time.time() + 0.01) == ""


def test_a_page_older_than_the_backlog_is_told_to_resync(listening, reporter, monkeypatch):
    monkeypatch.setattr(live_listener, "BACKLOG_SECONDS", 0.05)
    hub, sub = listening, Subscription(reporter.pk, sees_all=True)
    page_read = time.time()
    hub.dispatch(notice(1, reporter.pk))
    assert events(hub.missed(sub, page_read)) == events_of_notices(1)
    time.sleep(0.1)
    assert hub.missed(sub, page_read) == RESYNC


def test_the_backlog_keeps_only_the_latest_notices(listening, reporter, monkeypatch):
    monkeypatch.setattr(live_listener, "BACKLOG_SIZE", 2)
    hub, sub = listening, Subscription(reporter.pk, sees_all=True)
    page_read = time.time()
    for number in (1, 2, 3):
        time.sleep(0.005)
        hub.dispatch(notice(number, reporter.pk))
    assert hub.missed(sub, page_read) == RESYNC  # the first was forgotten
    assert events(hub.missed(sub, hub._backlog[0][0])) == events_of_notices(2, 3)


def test_a_lost_listen_connection_forgets_what_came_before(listening, reporter):
    hub, sub = listening, Subscription(reporter.pk, sees_all=True)
    page_read = time.time()
    hub.dispatch(notice(1, reporter.pk))
    hub._started_listening()  # back after an outage: notices meanwhile are lost
    assert hub.missed(sub, page_read) == RESYNC


# --- The view in-process ---------------------------------------------------------


# The test client runs this async view through async_to_sync, which refuses a
# thread where an event loop is running (some plugins leave one in the main
# thread), so each request goes from a thread of its own and the data it needs
# is committed.


def request_in_thread(user, method="get"):
    def call():
        client = Client()
        if user is not None:
            client.force_login(user)
        return getattr(client, method)(reverse("live-stream"))

    return run_sync(call)


@pytest.mark.django_db(transaction=True)
def test_anonymous_is_refused_without_a_stream():
    response = request_in_thread(None)
    assert response.status_code in (401, 403)
    assert not response.streaming


@pytest.mark.django_db(transaction=True)
def test_inactive_user_is_refused(reporter):
    reporter.is_active = False
    reporter.save()
    assert request_in_thread(reporter).status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_under_wsgi_the_browser_is_told_not_to_retry(reporter):
    response = request_in_thread(reporter)
    assert response.status_code == 204
    assert not response.streaming


@pytest.mark.django_db(transaction=True)
def test_only_get(reporter):
    assert request_in_thread(reporter, "post").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_stream_pings_and_ends_once_the_session_is_gone(reporter, monkeypatch):
    monkeypatch.setattr(live_views, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(live_views, "RECHECK_SECONDS", 0.2)
    sessionid = session_cookie(reporter)

    async def scenario():
        client = AsyncClient()
        client.cookies["sessionid"] = sessionid
        response = await client.get(reverse("live-stream"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        assert response["X-Accel-Buffering"] == "no"
        chunks = aiter(response.streaming_content)
        assert (await anext(chunks)).decode() == "retry: 2000\nid: live\n\n"
        assert (await anext(chunks)).decode() == ": ping\n\n"
        assert len(live_listener.hub.subscriptions) == 1

        from django.contrib.sessions.models import Session

        await Session.objects.filter(session_key=sessionid).adelete()
        received = [chunk async for chunk in chunks]  # ends by itself
        assert set(received) <= {b": ping\n\n"}
        assert live_listener.hub.subscriptions == frozenset()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_browser_disconnect_removes_its_queue(reporter):
    """Through Django's ASGI handler, as uvicorn drives it: the browser goes away
    (http.disconnect), Django cancels the response, the queue is dropped."""
    from tracker.asgi import application

    sessionid = session_cookie(reporter)

    def stream_opened(message) -> bool:  # the browser leaves once it is subscribed
        if b"retry: 2000" not in message.get("body", b""):
            return False
        assert len(live_listener.hub.subscriptions) == 1
        return True

    async def scenario():
        status, _ = await asyncio.wait_for(
            asgi_get(
                application, "/live/", {"Cookie": f"sessionid={sessionid}"}, until=stream_opened
            ),
            timeout=10,
        )
        assert status == 200
        assert live_listener.hub.subscriptions == frozenset()

    run_async(scenario)


@pytest.mark.django_db(transaction=True)
def test_recheck_follows_role_changes(reporter):
    sessionid = session_cookie(reporter)
    assert run_async(partial(live_views.current_user, sessionid)) == reporter

    reporter.role = Role.MAINTAINER
    reporter.save()
    current = run_async(partial(live_views.current_user, sessionid))
    assert current.role == Role.MAINTAINER

    reporter.is_active = False
    reporter.save()
    assert run_async(partial(live_views.current_user, sessionid)) is None


# --- (c), (d) A real uvicorn -------------------------------------------------------


@pytest.fixture
def server(transactional_db, tmp_path):
    # Without the connection pool, so that a connection held per stream shows up
    # as one (a pool keeps idle connections open by design).
    srv = WebServer(tmp_path / "uvicorn.log", DATABASE_POOL="false").start()
    yield srv
    srv.kill()


def server_connections() -> dict[str, int]:
    """Connections to the test database but this one, by application_name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " GROUP BY application_name"
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_streams_deliver_each_change_to_who_may_see_it(
    server, reporter, other_reporter, maintainer
):
    before = server_connections()  # other servers' (a session-wide one for browser tests)
    m = server.open(maintainer)
    assert m.headers["content-type"] == "text/event-stream"
    assert m.headers["cache-control"] == "no-cache"
    assert m.headers["x-accel-buffering"] == "no"
    r1, r2 = server.open(reporter), server.open(other_reporter)

    # One LISTEN connection for the process, and no connection held per stream.
    def opened():
        now = server_connections()
        return {k: n - before.get(k, 0) for k, n in now.items() if n > before.get(k, 0)}

    deadline = time.monotonic() + 5
    while opened() != {"tracker-live": 1} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened() == {"tracker-live": 1}

    issue = services.create_issue(actor=reporter, title="Printer on fire")
    for stream in (m, r1):
        data, _ = stream.wait_for("issue", timeout=ARRIVES)
        assert data == public(issue, "created")
        # The dashboard listens for this one (it counts issues, not comments).
        assert stream.wait_for("issue-created", timeout=ARRIVES) == (data, [])
        assert stream.wait_for(f"issue-{issue.number}", timeout=ARRIVES) == (data, [])
        assert stream.wait_for(f"issue-{issue.number}-created", timeout=ARRIVES) == (data, [])

    services.add_comment(actor=maintainer, issue=issue, body="Fetching the extinguisher.")
    for stream in (m, r1):
        assert stream.wait_for("issue-commented", timeout=ARRIVES)[0]["kind"] == "commented"
        assert stream.wait_for(f"issue-{issue.number}", timeout=ARRIVES)[1] == []
        # Only the timeline listens for this one (not the header, panel, files).
        assert stream.wait_for(f"issue-{issue.number}-commented", timeout=ARRIVES)[1] == []

    # The other reporter hears of their own issue, and of nothing before it:
    # notices are delivered in order, so the earlier two were filtered out.
    own = services.create_issue(actor=other_reporter, title="Mine")
    data, before = r2.wait_for("issue", timeout=ARRIVES)
    assert data == public(own, "created")
    assert before == []
    assert r2.wait_for("issue-created", timeout=ARRIVES) == (public(own, "created"), [])
    assert r2.wait_for(f"issue-{own.number}", timeout=ARRIVES) == (public(own, "created"), [])
    assert r2.wait_for(f"issue-{own.number}-created", timeout=ARRIVES)[1] == []
    assert m.wait_for(f"issue-{own.number}", timeout=ARRIVES)[0] == public(own, "created")
    time.sleep(0.3)
    assert r1.pending() == []  # not the other reporter's issue
    assert r2.pending() == []


@pytest.mark.django_db(transaction=True)
def test_anonymous_stream_is_refused_by_the_server(server):
    stream = server.stream()
    assert stream.status in (401, 403)
    assert stream.ended.wait(5)
    assert stream.pending() == []


@pytest.mark.django_db(transaction=True)
def test_a_change_made_before_the_stream_connected_still_reaches_its_page(
    server, reporter, other_reporter
):
    server.open(reporter)  # the server listens from now on
    time.sleep(live_listener.CLOCK_SKEW + 0.1)  # a page read well after that
    page_read = time.time()
    issue = services.create_issue(actor=reporter, title="Made while the page loaded")
    services.create_issue(actor=other_reporter, title="Not for this page")
    time.sleep(0.3)  # the notices reach the server before the page's stream does

    stream = server.open(reporter, since=page_read)
    assert stream.wait_for(f"issue-{issue.number}", timeout=ARRIVES)[0] == public(issue, "created")
    assert stream.wait_for(f"issue-{issue.number}-created", timeout=ARRIVES)[1] == []
    time.sleep(0.3)
    assert stream.pending() == []  # nothing of the other reporter's
    # A page read after those changes has nothing to catch up on.
    time.sleep(live_listener.CLOCK_SKEW)
    later = server.open(reporter, since=time.time())
    time.sleep(0.3)
    assert later.pending() == []


@pytest.mark.django_db(transaction=True)
def test_listener_reconnects_and_streams_stay_open(server, maintainer):
    stream = server.open(maintainer)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [live_listener.APPLICATION_NAME],
        )
    # Back within the backoff; the browser is told it may have missed something.
    data, _ = stream.wait_for("resync", timeout=5)
    assert data == {"kind": "resync"}
    issue = services.create_issue(actor=maintainer, title="After the outage")
    assert stream.wait_for(f"issue-{issue.number}", timeout=ARRIVES)[0] == public(issue, "created")
    assert not stream.ended.is_set()
    assert "LISTEN connection failed" in server.log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_restarted_server_takes_new_streams(server, maintainer):
    stream = server.open(maintainer)  # asserts the `retry: 2000` browsers reconnect by

    # SIGTERM (a deploy, Ctrl-C): open streams end, so the server does not hang.
    assert server.stop(signal.SIGTERM) < 5
    assert stream.ended.wait(5)

    server.start()
    # What a browser's EventSource does by itself: reconnect with Last-Event-ID.
    again = server.stream(maintainer, **{"Last-Event-ID": "live"})
    assert again.status == 200
    assert again.next()["retry"] == "2000"
    assert again.wait_for("resync", timeout=ARRIVES)[0] == {"kind": "resync"}
    issue = services.create_issue(actor=maintainer, title="After the restart")
    assert again.wait_for(f"issue-{issue.number}", timeout=ARRIVES)[0] == public(issue, "created")

    # Killed outright: the next server on the same port serves new streams too.
    server.stop(signal.SIGKILL)
    assert again.ended.wait(5)
    server.start()
    fresh = server.open(maintainer)
    issue = services.create_issue(actor=maintainer, title="After the crash")
    assert fresh.wait_for(f"issue-{issue.number}", timeout=ARRIVES)[0] == public(issue, "created")


def test_the_listener_connects_with_the_libpq_options_only(settings, monkeypatch):
    """OPTIONS also holds Django's and psycopg's own settings (the pool, the
    prepare threshold, ...), which libpq would refuse."""
    options = settings.DATABASES["default"]["OPTIONS"]
    # setitem: the settings fixture would not restore a change inside DATABASES.
    monkeypatch.setitem(
        settings.DATABASES["default"],
        "OPTIONS",
        {
            **options,
            "pool": {"max_size": 3},
            "prepare_threshold": 5,
            "isolation_level": 1,
            "sslmode": "disable",
        },
    )

    info = psycopg.conninfo.conninfo_to_dict(live_listener.conninfo())

    assert info["sslmode"] == "disable"
    assert info["options"] == options["options"]  # the app's session settings
    assert not {"pool", "prepare_threshold", "isolation_level"} & info.keys()

"""Concurrency soak: 50 clients for SOAK_SECONDS (30 by default) editing, commenting
on and bulk-changing the same 20 issues through a real server (uvicorn with the two
worker processes the image runs, WEB_CONCURRENCY=2).

What must hold afterwards: no 5xx and no request that hangs; no lost update (every
successful write has its timeline event, no two successful writes claim the same
version of an issue, and each issue's version is 1 + the successful writes that
changed it); no deadlock (PostgreSQL counted none for this database, and its log
shows none). Conflicts (409) and refused transitions (400) are the expected price
of editing the same issues at once, and are counted, not failed."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.db import connection

from accounts import services as accounts
from accounts.models import Role
from accounts.tests.factories import UserFactory
from issues import services, workflow
from issues.models import Comment, EventKind, Issue, IssueEvent, Severity, Status
from tracker.tests.support import RedisServer, WebServer

pytestmark = pytest.mark.slow

CLIENTS = 50
ISSUES = 20
SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
WEB_WORKERS = 2  # WEB_CONCURRENCY in the Dockerfile
REQUEST_TIMEOUT = 30.0  # an answer slower than this counts as a hang

SEVERITIES = [Severity(value).name for value in Severity.values]


@dataclass
class Tally:
    """What the clients saw; the test checks it against the database."""

    codes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # 5xx, unexpected codes, hangs
    # issue id -> [(version written, how)] for every successful write that changed it
    writes: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    comments: list[tuple[str, int]] = field(default_factory=list)  # (issue id, comment id)
    requests: int = 0


async def one_client(http: httpx.AsyncClient, token: str, ids: list[str], tally: Tally, seed):
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}"}
    deadline = time.monotonic() + SECONDS

    async def call(
        method: str, url: str, expected: set[int], *, if_match: str = "", **kwargs
    ) -> httpx.Response | None:
        tally.requests += 1
        sent = {**headers, "If-Match": if_match} if if_match else headers
        try:
            response = await http.request(method, url, headers=sent, **kwargs)
        except httpx.HTTPError as exc:  # a timeout, a dropped connection
            tally.failures.append(f"{method} {url}: {type(exc).__name__}: {exc}")
            return None
        tally.codes[response.status_code] += 1
        if response.status_code not in expected:
            tally.failures.append(f"{method} {url}: {response.status_code} {response.text[:300]}")
            return None
        return response

    while time.monotonic() < deadline:
        action = rng.choices(("patch", "comment", "bulk"), weights=(5, 3, 2))[0]
        issue_id = rng.choice(ids)
        if action == "patch":
            read = await call("GET", f"/api/issues/{issue_id}/", {200})
            if read is None:
                continue
            issue = read.json()
            choice = rng.choice(("severity", "title", "status"))
            if choice == "severity":
                change = {"severity": rng.choice([s for s in SEVERITIES if s != issue["severity"]])}
            elif choice == "title":
                change = {"title": f"Soaked {uuid.uuid4().hex[:10]}"}
            else:
                change = {"status": rng.choice(sorted(workflow.TRANSITIONS[issue["status"]]))}
            # The version the client saw, in the body or as the ETag in If-Match.
            if rng.random() < 0.5:
                url, body, etag = (
                    f"/api/issues/{issue_id}/",
                    {**change, "version": issue["version"]},
                    "",
                )
            else:
                url, body, etag = f"/api/issues/{issue_id}/", change, read.headers["ETag"]
            response = await call("PATCH", url, {200, 409}, json=body, if_match=etag)
            if response is not None and response.status_code == 200:
                version = response.json()["version"]
                if version != issue["version"] + 1:
                    tally.failures.append(f"PATCH from {issue['version']} answered {version}")
                tally.writes[issue_id].append((version, "patch"))
        elif action == "comment":
            body = {"body": f"Soak comment {uuid.uuid4().hex[:12]}"}
            response = await call("POST", f"/api/issues/{issue_id}/comments/", {201}, json=body)
            if response is not None:
                tally.comments.append((issue_id, response.json()["id"]))
        else:
            chosen = rng.sample(ids, rng.randint(2, 4))
            status = rng.choice(Status.values)
            response = await call(
                "POST",
                "/api/issues/bulk-status/",
                {200, 400},
                json={"ids": chosen, "status": status},
            )
            if response is not None and response.status_code == 200:
                for row in response.json()["issues"]:
                    tally.writes[row["id"]].append((row["version"], "bulk"))


async def soak(base: str, tokens: list[str], ids: list[str]) -> Tally:
    tally = Tally()
    # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes
    # them: with both at 5 s, a request sent on a connection the server is closing
    # that instant fails with ReadError, a race of the client's, not the server's.
    limits = httpx.Limits(
        max_connections=CLIENTS, max_keepalive_connections=CLIENTS, keepalive_expiry=2
    )
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT, limits=limits) as http:
        await asyncio.gather(
            *(one_client(http, token, ids, tally, seed) for seed, token in enumerate(tokens))
        )
    return tally


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def server_log() -> Path | None:
    """The test cluster's log (devstack.sh starts it with -l <data dir>/server.log)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        path = Path(cursor.fetchone()[0]) / "server.log"
    return path if path.exists() else None


@pytest.fixture
def soak_server(transactional_db, tmp_path):
    """The server, on a Redis of its own: the mail tasks it enqueues (to nobody)
    stay out of the shared test Redis."""
    redis = RedisServer(tmp_path / "redis").start()
    url = redis.url
    web = WebServer(
        tmp_path / "web.log",
        workers=WEB_WORKERS,
        REDIS_URL=url,
        CELERY_BROKER_URL=url,
        CELERY_RESULT_BACKEND=url,
        LOG_LEVEL="WARNING",
    )
    try:
        web.start()
        yield web
    finally:
        web.kill()
        redis.stop()


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_editing_the_same_twenty_issues_lose_nothing_and_never_deadlock(
    soak_server,
):
    people = [UserFactory(role=Role.MAINTAINER) for _ in range(CLIENTS)]
    tokens = [accounts.create_token(actor=person)[1] for person in people]
    issues = [services.create_issue(actor=people[n], title=f"Contended {n}") for n in range(ISSUES)]
    ids = [str(issue.pk) for issue in issues]
    deadlocks_before = deadlocks()
    log = server_log()
    log_offset = log.stat().st_size if log else 0

    started = time.monotonic()
    tally = asyncio.run(soak(soak_server.base, tokens, ids))
    elapsed = time.monotonic() - started
    soak_server.stop()  # its database sessions end, and report their statistics

    print(
        f"\nsoak: {CLIENTS} clients, {elapsed:.1f} s, {tally.requests} requests "
        f"({tally.requests / elapsed:.0f}/s), codes {dict(sorted(tally.codes.items()))}, "
        f"{sum(len(w) for w in tally.writes.values())} writes, {len(tally.comments)} comments"
    )
    assert not tally.failures, tally.failures[:20]
    assert not [code for code in tally.codes if code >= 500]
    assert tally.codes[200] > 0 and tally.codes[201] > 0

    # No lost update: one successful write per version, each with its event.
    for issue in Issue.objects.filter(pk__in=ids):
        written = sorted(version for version, _ in tally.writes[str(issue.pk)])
        assert written == list(range(2, issue.version + 1)), (issue.number, written)
        events = IssueEvent.objects.filter(
            issue=issue, kind__in=[EventKind.FIELD_CHANGED, EventKind.BULK_CHANGE]
        )
        versions = {event.data["version"] for event in events}
        assert versions == set(written), (issue.number, sorted(versions), written)
        for version, how in tally.writes[str(issue.pk)]:
            kind = EventKind.BULK_CHANGE if how == "bulk" else EventKind.FIELD_CHANGED
            assert events.filter(kind=kind, data__version=version).exists(), (issue.number, version)
    assert sum(len(w) for w in tally.writes.values()) > ISSUES  # the soak did write

    # Every comment answered 201 is there, with its event; and no others.
    assert Comment.objects.filter(issue_id__in=ids).count() == len(tally.comments)
    commented = IssueEvent.objects.filter(issue_id__in=ids, kind=EventKind.COMMENT_ADDED)
    assert sorted(e.data["comment"] for e in commented) == sorted(c for _, c in tally.comments)

    # No deadlock: PostgreSQL's own count for this database, and its log.
    time.sleep(1)  # the server's sessions report their statistics as they end
    assert deadlocks() == deadlocks_before
    if log:
        with log.open("rb") as handle:
            handle.seek(log_offset)
            assert b"deadlock detected" not in handle.read()
    assert "deadlock" not in soak_server.output().lower()

"""What tests that start real processes share: the address of this test session's
database (per xdist worker), a Celery worker consuming a queue of its own, the web
server (uvicorn) on a free port, a browser's event stream, and private PostgreSQL
and Redis servers (started by scripts/devstack.sh) that a test may stop and restart
without disturbing the tests running beside it."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
from asgiref.sync import async_to_sync
from django.db import connection, connections
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
# Every template file, for checks that read them all (ids: their paths in templates/).
TEMPLATE_FILES = sorted(TEMPLATES.rglob("*.html"))
BIN = Path(sys.executable).parent
DEVSTACK = ROOT / "scripts" / "devstack.sh"
# What test.sh exports for the shared test servers; a private server must not inherit it.
_SHARED_SERVER_ENV = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def run_sync(fn):
    """Call `fn` in a thread of its own and return (or raise) what it did."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "still running after 60 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def run_async(fn):
    """Run the coroutine function `fn` from a thread of its own: the browser tests
    can leave an event loop running in this one, where async_to_sync refuses."""
    return run_sync(async_to_sync(fn))


def asgi_scope(path: str, headers: dict[str, str] | None = None) -> dict:
    """The scope uvicorn hands an ASGI app for `GET path` with these headers."""
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *extra],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def _last_byte(message: dict) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body")


async def asgi_get(
    app, path: str, headers: dict[str, str] | None = None, sent=None, until=_last_byte
):
    """`GET path` through an ASGI app as uvicorn drives it (the client goes away
    once `until(message)` holds for a message the app sent, by default the
    answer's last byte): (status, body). `sent` gathers every message the app sent."""
    sent = [] if sent is None else sent
    requested = False
    done = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if until(message):
            done.set()

    await app(asgi_scope(path, headers), receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def free_port() -> int:
    """A TCP port nothing listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database as a DATABASE_URL for a subprocess (server, worker, tool)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


class CeleryWorker:
    """`celery -A tracker worker --pool=solo -Q <queue>` on the test database,
    consuming only its own queue, so tests running at the same time (or other
    workers on the same broker) never take each other's tasks. Extra keyword
    arguments become environment variables of the worker."""

    def __init__(
        self,
        log: Path,
        *,
        prefix: str = "test",
        pool: str = "solo",
        database: str = "",
        beat: bool = False,
        **env: str,
    ):
        """`pool="prefork"` runs tasks in one child process (as in production) instead
        of the worker's own; `database` is a DATABASE_URL (default: the test database);
        `beat` runs Celery beat inside the worker, sending the pending mail every
        second to this worker's queue."""
        self.queue = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.log = log
        environment = {
            **os.environ,
            "DATABASE_URL": database or database_url(),
            "CONN_MAX_AGE": "0",
            **(
                {"NOTIFICATIONS_QUEUE": self.queue, "NOTIFICATIONS_INTERVAL_SECONDS": "1"}
                if beat
                else {}
            ),
            **env,
        }
        with_beat = ["--beat", f"--schedule={log.parent / (self.queue + '-beat')}"] if beat else []
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "tracker",
                    "worker",
                    f"--pool={pool}",
                    "--concurrency=1",
                    "-Q",
                    self.queue,
                    "-n",
                    f"{self.queue}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    *with_beat,
                ],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"the Celery worker did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), killed if it takes more than 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def today_clear_of_midnight(margin: float = 120) -> datetime.date:
    """Today's date (UTC, as the stats task names it) once at least `margin` seconds
    of it are left: for a test that names the day a worker process stamps its rows
    with. No fixture can hold that process's clock, so near midnight this waits for
    the next day to begin rather than straddle it (at most `margin` seconds)."""
    now = datetime.datetime.now(datetime.UTC)
    midnight = datetime.datetime.combine(
        now.date() + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.UTC
    )
    left = (midnight - now).total_seconds()
    if left < margin:
        time.sleep(left + 1)
    return datetime.datetime.now(datetime.UTC).date()


# --- The web server ------------------------------------------------------------------


class WebServer:
    """`uvicorn tracker.asgi:application` (the ASGI server of production) on a free
    port, with production settings over plain HTTP, on the test database unless
    DATABASE_URL is given. Extra keyword arguments become environment variables;
    `workers` > 1 runs that many server processes, as WEB_CONCURRENCY does."""

    def __init__(self, log: Path, *, workers: int = 1, port: int | None = None, **env: str):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.streams: list[EventStream] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": env.pop("DATABASE_URL", None) or database_url(),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "STATIC_MANIFEST": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
        # The browser tests allow sync database calls from async code; the server must not.
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def start(self, timeout: float = 60) -> WebServer:
        """Start it and wait until it accepts connections (not a request: that could
        leave a database connection behind)."""
        command = [str(BIN / "uvicorn"), "tracker.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-access-log"]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"uvicorn exited:\n{self.output()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"uvicorn did not start within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self, sig=signal.SIGTERM, timeout: float = 10) -> float:
        """Send `sig` and wait for the process to go; how long it took."""
        started = time.monotonic()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"uvicorn ignored {sig!r} for {timeout} s:\n{self.output()}"
                ) from None
        return time.monotonic() - started

    def kill(self) -> None:
        """For teardown: gone at once, and the streams it served closed."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in self.streams:
            stream.ended.wait(5)

    def stream(self, user=None, **headers) -> EventStream:
        stream = EventStream(self.base, session_cookie(user) if user else None, headers)
        self.streams.append(stream)
        return stream

    def open(
        self, user=None, *, sessionid: str | None = None, since: float | None = None
    ) -> EventStream:
        """A stream of `user` (or of the session `sessionid`), once the server
        listens for notices on its behalf; `since`: when its page was read."""
        params = {} if since is None else {"since": f"{since:.3f}"}
        stream = EventStream(self.base, sessionid or session_cookie(user), {}, params)
        self.streams.append(stream)
        assert stream.status == 200, stream.status
        assert stream.next(10)["retry"] == "2000"
        return stream


def session_cookie(user) -> str:
    """A signed-in session of `user`, as the value of the `sessionid` cookie (sessions
    live in the database, so a server on the same database accepts it)."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def parse_sse(text: str) -> list[dict]:
    """Messages of an event stream, each a dict of its fields (a comment under "")."""
    blocks = []
    for raw in text.split("\n\n"):
        if not raw.strip():
            continue
        block: dict = {}
        for line in raw.split("\n"):
            name, _, value = line.partition(":")
            block[name] = value.removeprefix(" ")
        blocks.append(block)
    return blocks


class EventStream:
    """One browser's EventSource on /live/, read by a thread into a queue of messages."""

    def __init__(
        self,
        base: str,
        sessionid: str | None,
        headers: dict | None = None,
        params: dict | None = None,
    ):
        self.blocks: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.ended = threading.Event()
        self._opened = threading.Event()
        cookies = {"sessionid": sessionid} if sessionid else {}
        self._thread = threading.Thread(
            target=self._read, args=(base, cookies, headers or {}, params or {}), daemon=True
        )
        self._thread.start()
        assert self._opened.wait(10), "no response from /live/"

    def _read(self, base, cookies, headers, params):
        try:
            timeout = httpx.Timeout(10, read=None)
            with (
                httpx.Client(base_url=base, cookies=cookies, timeout=timeout) as client,
                client.stream("GET", "/live/", headers=headers, params=params) as response,
            ):
                self.status, self.headers = response.status_code, response.headers
                self._opened.set()
                if self.status != 200:
                    response.read()
                    return
                buffer = ""
                for text in response.iter_text():
                    buffer += text
                    *done, buffer = buffer.split("\n\n")
                    for block in parse_sse("\n\n".join(done)):
                        self.blocks.put(block)
        except httpx.HTTPError:
            pass  # the server went away
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, timeout: float = 5) -> dict:
        return self.blocks.get(timeout=timeout)

    def wait_for(self, event: str, timeout: float) -> tuple[dict, list[dict]]:
        """The data of the first `event` message, and the messages before it."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            try:
                block = self.blocks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no `{event}` within {timeout} s; got {before}") from None
            if block.get("event") == event:
                return json.loads(block["data"]), before
            before.append(block)

    def pending(self) -> list[dict]:
        out = []
        while not self.blocks.empty():
            out.append(self.blocks.get_nowait())
        return out


# --- Private PostgreSQL and Redis ------------------------------------------------------


def devstack(*args: str, **env: str) -> str:
    """Run scripts/devstack.sh with `env` on top of this process's environment
    (without the shared test servers' URLs); its standard output."""
    environment = {k: v for k, v in os.environ.items() if k not in _SHARED_SERVER_ENV}
    result = subprocess.run(
        [str(DEVSTACK), *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"devstack.sh {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


class RedisServer:
    """A Redis of one test's own, on a free port, data under `data_dir`: stopping it
    disturbs nobody else. start() after stop() brings it back on the same port."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        # DATABASE_URL set: devstack.sh leaves PostgreSQL alone.
        self._env = {
            "DATA_DIR": str(data_dir),
            "REDIS_PORT": str(self.port),
            "DATABASE_URL": "postgres://unused",
        }

    def start(self) -> RedisServer:
        devstack("up", **self._env)
        return self

    def stop(self) -> None:
        devstack("down", "redis", **self._env)
        deadline = time.monotonic() + 10
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)

    def running(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0


class PostgresServer:
    """A PostgreSQL cluster of one test's own (initdb on first start, no fsync), on a
    free port, with an empty `tracker` database; migrate() makes it Tracker's."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/tracker"
        # REDIS_URL set: devstack.sh leaves Redis alone.
        self._env = {
            "DATA_DIR": str(data_dir),
            "PG_PORT": str(self.port),
            "DEVSTACK_FAST": "1",
            "REDIS_URL": "redis://unused",
        }
        self.cluster = Path(devstack("pgdir", **self._env).strip())

    @property
    def log(self) -> Path:
        return self.cluster / "server.log"

    def start(self) -> PostgresServer:
        devstack("up", **self._env)
        return self

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every connection is cut; how long it took."""
        started = time.monotonic()
        devstack("restart", "postgres", **self._env)
        return time.monotonic() - started

    def migrate(self) -> None:
        manage("migrate", "--no-input", "-v", "0", DATABASE_URL=self.url)

    def destroy(self) -> None:
        """Stop it and delete the cluster (devstack.sh may have put it under /tmp)."""
        try:
            devstack("down", "postgres", **self._env)
        finally:
            if self.cluster.parent.parent == Path("/tmp") and self.cluster.parent.name.startswith(
                "tracker-"
            ):
                shutil.rmtree(self.cluster.parent, ignore_errors=True)
            else:
                shutil.rmtree(self.cluster, ignore_errors=True)


def manage(*args: str, **env: str) -> str:
    """`python manage.py ...` in a subprocess with `env` on top of ours; its output."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def template_id(path: Path) -> str:
    return str(path.relative_to(TEMPLATES))

"""What tests that start real processes share: the address of this test session's
database (per xdist worker), and a Celery worker consuming a queue of its own."""

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


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

    def __init__(self, log: Path, *, prefix: str = "test", **env: str):
        self.queue = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.log = log
        environment = {**os.environ, "DATABASE_URL": database_url(), "CONN_MAX_AGE": "0", **env}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "tracker",
                    "worker",
                    "--pool=solo",
                    "-Q",
                    self.queue,
                    "-n",
                    f"{self.queue}@%h",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
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

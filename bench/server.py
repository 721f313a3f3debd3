"""The server under test: the production web configuration (the Dockerfile's
command: uvicorn with WEB_CONCURRENCY workers, DEBUG off) as a subprocess, and
the resident memory of its processes read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKERS = 2  # WEB_CONCURRENCY in the Dockerfile and docker-compose.yml


def _proc(pid: int, name: str) -> str | None:
    """The file /proc/<pid>/<name>, read, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/{name}") as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    statm = _proc(pid, "statm")
    return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE") if statm else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far (0 if it is gone)."""
    stat = _proc(pid, "stat")
    if not stat:
        return 0.0
    # The command name (field 2) may hold spaces: count from after it.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The whole process tree under `pid`."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            kids = [int(k) for k in (_proc(parent, f"task/{task}/children") or "").split()]
            found.extend(kids)
            todo.extend(kids)
    return found


class Server:
    """`uvicorn tracker.asgi:application --workers N` on 127.0.0.1:port, as the
    Dockerfile runs it (access log included), minus the proxy options."""

    def __init__(self, *, port: int, workers: int, log: Path, env: dict[str, str]):
        self.port = port
        self.workers = workers
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        uvicorn = Path(sys.executable).with_name("uvicorn")
        command = [
            str(uvicorn),
            "tracker.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-server-header",
            "--timeout-graceful-shutdown",
            "5",
        ]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.output()}")
            # Ready when every worker has started (and /health/ answers). With one
            # worker uvicorn serves in its own process, without a supervisor.
            workers_up = self.workers <= 1 or len(self.worker_pids()) >= self.workers
            if workers_up and self._healthy():
                return
            time.sleep(0.3)
        raise RuntimeError(f"the server did not become ready:\n{self.output()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def pids(self) -> list[int]:
        """The supervisor and its workers."""
        if self.process is None:
            return []
        return [self.process.pid, *children(self.process.pid)]

    def worker_pids(self) -> list[int]:
        """The processes serving requests: uvicorn's workers, started by
        multiprocessing's spawn (not its resource tracker beside them)."""
        if self.process is None:
            return []
        return [
            pid
            for pid in children(self.process.pid)
            if "spawn_main" in (_proc(pid, "cmdline") or "")
        ]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

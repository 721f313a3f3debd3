"""Start the real stack exactly as `make run` does (scripts/run.sh) in a private
data directory on free ports, use it, break it, and stop it with Ctrl-C."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from celery import Celery

from tracker.tests.support import ROOT, free_port

STARTUP_SECONDS = 180


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get_health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; stack log:\n{log.read_text()[-4000:]}")


@pytest.fixture
def stack(tmp_path):
    ports = {"PG_PORT": free_port(), "REDIS_PORT": free_port(), "WEB_PORT": free_port()}
    env = {
        key: value
        for key, value in os.environ.items()
        # The stack must start its own servers, as on a newcomer's machine.
        if key not in {"DATABASE_URL", "REDIS_URL", "DEVSTACK_FAST", "SECRET_KEY", "MEDIA_ROOT"}
    }
    env.update({key: str(value) for key, value in ports.items()})
    env.update({"DATA_DIR": str(tmp_path / "data"), "DEMO_ISSUES": "5", "DEBUG": "1"})
    log = tmp_path / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal
        )
    try:
        yield proc, ports, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        pgdir = subprocess.run(
            ["scripts/devstack.sh", "pgdir"], cwd=ROOT, env=env, capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(["scripts/devstack.sh", "down"], cwd=ROOT, env=env, capture_output=True)
        if pgdir.startswith("/tmp/tracker-"):
            subprocess.run(["rm", "-rf", str(Path(pgdir).parent)])


@pytest.mark.stack
def test_run_starts_web_worker_and_beat_then_stops_cleanly_on_ctrl_c(stack):
    proc, ports, log = stack
    web, redis_port, pg = ports["WEB_PORT"], ports["REDIS_PORT"], ports["PG_PORT"]

    wait_for(lambda: get_health(web)[0] == 200, STARTUP_SECONDS, "/health/ to answer 200", log)
    assert get_health(web) == (200, {"database": "ok", "redis": "ok"})

    # The worker consumes from the real broker.
    broker = f"redis://127.0.0.1:{redis_port}/0"
    # Not the current app: shared tasks of later tests in this process would
    # otherwise publish to this stack's broker after it has stopped.
    app = Celery(broker=broker, backend=broker, set_as_current=False)
    try:
        assert app.send_task("tracker.ping").get(timeout=60) == "pong"
    finally:
        app.close()
    wait_for(lambda: "beat: Starting" in log.read_text(), 30, "celery beat to start", log)
    assert proc.poll() is None, "run.sh exited early"

    # Demo users are there and can log in through the real server.
    login = urllib.request.urlopen(f"http://127.0.0.1:{web}/accounts/login/", timeout=5)
    assert login.status == 200
    assert "admin@example.com" in log.read_text()

    # Redis goes away: health says so with 503, and the server keeps answering.
    subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], check=False)
    wait_for(lambda: get_health(web)[0] == 503, 30, "/health/ to report Redis down", log)
    status, body = get_health(web)
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")

    # Ctrl-C stops everything the script started.
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    for port in (web, pg, redis_port):
        assert not port_open(port), f"port {port} still served after Ctrl-C"
    text = log.read_text()
    assert "PostgreSQL stopped" in text
    for process in ("web.1 stopped", "worker.1 stopped", "beat.1 stopped"):
        assert process in text

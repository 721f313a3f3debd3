"""Under uvicorn with several worker processes each process counts its own
requests; with PROMETHEUS_MULTIPROC_DIR every scrape reports the sum, whichever
process answers it."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tracker.tests.support import ROOT, database_url, free_port

UVICORN = Path(sys.executable).parent / "uvicorn"
REQUESTS = 12


def get(url: str) -> bytes:
    # A new connection per request, so the kernel spreads them over the workers.
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (our own server)
        return response.read()


def health_requests(body: bytes) -> float:
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if (
                sample.name == "django_http_requests_total_by_view_transport_method_total"
                and sample.labels.get("view") == "health"
            ):
                return sample.value
    return 0


@pytest.mark.django_db(transaction=True)
def test_several_worker_processes_report_one_sum(tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "CONN_MAX_AGE": "0",
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(UVICORN), "tracker.asgi:application", "--workers", "2"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                get(f"{base}/health/")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        # Both workers up: each has written its own file.
        while len({p.name.rsplit("_", 1)[-1] for p in multiproc.glob("*.db")}) < 2:
            assert time.monotonic() < deadline, log.read_text()
            get(f"{base}/health/")
        before = health_requests(get(f"{base}/metrics"))

        for _ in range(REQUESTS):
            get(f"{base}/health/")

        scrapes = [health_requests(get(f"{base}/metrics")) for _ in range(6)]
        assert scrapes == [before + REQUESTS] * 6, log.read_text()[-3000:]
        pids = {p.name.rsplit("_", 1)[-1] for p in multiproc.glob("counter_*.db")}
        assert len(pids) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)

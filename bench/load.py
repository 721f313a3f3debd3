"""The load driver: a process of its own (no Django), so that the client's work
is never counted as the server's and the server's GIL is not the client's.

    python -m bench.load < plan.json > results.json

The plan names the server, the credentials and the paths; each path is driven
by `concurrency` clients in a closed loop (each sends its next request when the
previous answer has been read whole), first for `warmup` seconds that are not
recorded, then for `duration` seconds that are. Latency is measured per request
from sending to the last byte; requests/s is what completed inside the window.
Meanwhile the resident memory of the server's processes is sampled every 50 ms.

Kinds of path:
- get: GET the `urls` in turn (token or session auth);
- create: POST a new issue (JSON) to `url`;
- patch: PATCH issues from `ids` with the version they are at (If-Match with
  the ETag read before the warm-up, then the one each answer returns),
  toggling their status;
- bulk: `iterations` sequential bulk status changes of `ids`, alternating between
  `statuses`;
- export: one streamed download, read to the end; rows/s from `rows`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import re
import sys
import time

import aiohttp
import uvloop

from bench import http11
from bench.server import children, cpu_seconds, rss_bytes

SAMPLE_EVERY = 0.05
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not values:
        return None
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


class MemorySampler:
    """Peak RSS of the server's processes: the largest single process and the
    largest total, over the time the sampler runs."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak_process = 0
        self.peak_total = 0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            sizes = [rss_bytes(pid) for pid in self.pids]
            self.peak_process = max(self.peak_process, *sizes, 0)
            self.peak_total = max(self.peak_total, sum(sizes))
            await asyncio.sleep(SAMPLE_EVERY)

    def __enter__(self) -> MemorySampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()


class CpuUse:
    """The CPU the server used in the measured window: each web worker's share of
    the workers' CPU, largest first, and the workers' and the database's CPU per
    request. The workers share one listening socket and a client's keep-alive
    connection stays with the worker that accepted it, so a few clients may all
    land on one worker while another idles: the split shows it. CPU per request
    changes less than requests/s when other work on the machine takes turns on
    its cores, which makes it the figure to compare two versions of the code by
    (the database's: every process of its server, backends and background). The
    load driver's own CPU per request is measured too: it shares the cores."""

    def __init__(self, workers: list[int], database: int | None):
        self.workers = workers
        self.database = database
        self.before: dict[int, float] | None = None
        self.driver_before = 0.0

    def _database_pids(self) -> list[int]:
        return [self.database, *children(self.database)] if self.database else []

    def start(self) -> None:
        self.before = {pid: cpu_seconds(pid) for pid in self.workers + self._database_pids()}
        self.driver_before = time.process_time()

    def measure(self, requests: int) -> dict:
        if self.before is None:
            return dict.fromkeys(
                ("worker_cpu_split", "worker_cpu_ms", "db_cpu_ms", "driver_cpu_ms")
            )
        driver = time.process_time() - self.driver_before
        used = [max(0.0, cpu_seconds(pid) - self.before[pid]) for pid in self.workers]
        # Backends opened during the window count from zero.
        database = sum(
            max(0.0, cpu_seconds(pid) - self.before.get(pid, 0.0)) for pid in self._database_pids()
        )
        total = sum(used)
        split = sorted((round(100 * u / total) for u in used), reverse=True) if total else None
        return {
            "worker_cpu_split": split if len(self.workers) > 1 else None,
            "worker_cpu_ms": round(total * 1000 / requests, 3) if requests else None,
            "db_cpu_ms": round(database * 1000 / requests, 3)
            if requests and self.database
            else None,
            "driver_cpu_ms": round(driver * 1000 / requests, 3) if requests else None,
        }


class Window:
    """Records the requests that started after the warm-up and ended in time. A
    path slower than its window is given more time, up to MAX_EXTENSION, to
    complete MIN_REQUESTS (so a one-second report still gets a figure)."""

    MIN_REQUESTS = 3
    MAX_EXTENSION = 60.0

    def __init__(self, warmup: float, duration: float):
        self.start = time.perf_counter() + warmup
        self.stop = self.start + duration
        self.latencies: list[float] = []
        self.errors: collections.Counter = collections.Counter()
        self.last = self.start

    @property
    def open(self) -> bool:
        now = time.perf_counter()
        if now < self.stop:
            return True
        done = len(self.latencies) + sum(self.errors.values())
        return done < self.MIN_REQUESTS and now < self.stop + self.MAX_EXTENSION

    @property
    def duration(self) -> float:
        return max(self.stop, self.last) - self.start

    def record(self, began: float, status: int, expected: int) -> None:
        ended = time.perf_counter()
        if began < self.start or (ended > self.stop and not self.open):
            return
        self.last = max(self.last, ended)
        if status == expected:
            self.latencies.append(ended - began)
        else:
            self.errors[str(status)] += 1


def summary(name: str, latencies: list[float], errors, seconds: float, memory) -> dict:
    latencies = sorted(latencies)
    ms = [x * 1000 for x in latencies]
    return {
        "name": name,
        "requests": len(latencies),
        "errors": dict(errors),
        "seconds": round(seconds, 3),
        "rps": round(len(latencies) / seconds, 1) if seconds else None,
        "p50_ms": _round(percentile(ms, 0.50)),
        "p95_ms": _round(percentile(ms, 0.95)),
        "p99_ms": _round(percentile(ms, 0.99)),
        "mean_ms": _round(sum(ms) / len(ms)) if ms else None,
        "max_ms": _round(ms[-1]) if ms else None,
        "server_peak_process_mb": round(memory.peak_process / 2**20, 1),
        "server_peak_total_mb": round(memory.peak_total / 2**20, 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Driver:
    def __init__(self, plan: dict):
        self.plan = plan
        self.base = plan["base_url"]
        self.pids = plan["pids"]
        self.workers = plan.get("workers", [])
        self.database = plan.get("database")
        self.sessions: dict[str, aiohttp.ClientSession] = {}

    async def __aenter__(self) -> Driver:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self.sessions["token"] = aiohttp.ClientSession(
            self.base,
            connector=connector,
            headers={"Authorization": f"Token {self.plan['token']}"},
        )
        # unsafe: keep cookies of an IP address (127.0.0.1), which aiohttp refuses by default.
        self.sessions["session"] = aiohttp.ClientSession(
            self.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        await self._login(self.sessions["session"])
        return self

    async def __aexit__(self, *exc) -> None:
        for session in self.sessions.values():
            await session.close()

    async def _login(self, session: aiohttp.ClientSession) -> None:
        login = self.plan["login"]
        async with session.get(login["url"]) as response:
            page = await response.text()
        match = CSRF_FIELD.search(page)
        if not match:
            raise RuntimeError(f"no CSRF token on the login page ({response.status})")
        form = {
            "username": login["email"],
            "password": login["password"],
            "csrfmiddlewaretoken": match.group(1),
        }
        async with session.post(login["url"], data=form, allow_redirects=False) as response:
            if response.status != 302:
                raise RuntimeError(f"login failed: {response.status} {await response.text()}")

    async def run(self, spec: dict) -> dict:
        kind = spec["kind"]
        with MemorySampler(self.pids) as memory:
            if kind == "bulk":
                result = await self._bulk(spec, memory)
            elif kind == "export":
                result = await self._export(spec, memory)
            else:
                result = await self._closed_loop(spec, memory)
        return result

    def _client(self, auth: str) -> http11.Client:
        """A closed-loop client's own connection, signed in as `auth` says: the
        API token, or the cookies of the session the login made."""
        if auth == "token":
            return http11.Client(self.base, {"Authorization": f"Token {self.plan['token']}"})
        jar = self.sessions["session"].cookie_jar
        cookies = "; ".join(f"{cookie.key}={cookie.value}" for cookie in jar)
        return http11.Client(self.base, {"Cookie": cookies})

    async def _closed_loop(self, spec: dict, memory: MemorySampler) -> dict:
        clients = [self._client(spec.get("auth", "token")) for _ in range(spec["concurrency"])]
        states = [{} for _ in clients]
        # What a kind of path sets up first (`_prepare_<kind>`), outside every measure.
        prepare = getattr(self, f"_prepare_{spec['kind']}", None)
        prepared = await prepare(clients, spec, states) if prepare else {}
        window = Window(spec["warmup"], spec["duration"])
        request = getattr(self, f"_request_{spec['kind']}")
        counter = itertools.count()

        async def loop(client: http11.Client, state: dict) -> None:
            while window.open:
                began = time.perf_counter()
                status, expected = await request(client, spec, next(counter), state)
                window.record(began, status, expected)

        cpu = CpuUse(self.workers, self.database)
        opening = asyncio.get_running_loop().call_later(spec["warmup"], cpu.start)
        try:
            await asyncio.gather(
                *(loop(client, state) for client, state in zip(clients, states, strict=True))
            )
        finally:
            for client in clients:
                client.close()
        opening.cancel()
        result = summary(spec["name"], window.latencies, window.errors, window.duration, memory)
        result.update(cpu.measure(len(window.latencies) + sum(window.errors.values())))
        result.update(prepared)
        return result

    async def _request_get(self, client, spec, n, state):
        answer = await client.request("GET", spec["urls"][n % len(spec["urls"])])
        return answer.status, 200

    async def _request_create(self, client, spec, n, state):
        body = {
            "title": f"Benchmark issue {n}: export shows an error",
            "description": "Created by the benchmark.\n\n- step one\n- step two",
            "severity": ("LOW", "MEDIUM", "HIGH", "CRITICAL")[n % 4],
            "labels": spec["labels"],
            "assignee": spec["assignee"],
        }
        answer = await client.request("POST", spec["url"], json_body=body)
        return answer.status, 201

    async def _prepare_patch(self, clients, spec, states) -> dict:
        """Each client owns its slice of the ids, so clients never conflict, and
        reads their versions (ETags) and statuses before the warm-up, so that the
        window counts the PATCHes alone. Read in the loop, an issue's first
        version cost a GET that the server served and the path did not count: at
        220 PATCHes a second, 734 of the 1,000 issues were first read inside the
        10 s window (2026-12-06)."""

        async def read(index: int, client: http11.Client, state: dict) -> None:
            mine = spec["ids"][index :: spec["concurrency"]]
            state.update(ids=mine, etags={}, statuses={}, turn=itertools.cycle(range(len(mine))))
            for issue_id in mine:
                await self._read_version(client, spec, issue_id, state)

        await asyncio.gather(
            *(read(i, c, s) for i, (c, s) in enumerate(zip(clients, states, strict=True)))
        )
        return {"versions_read_before": sum(len(state["ids"]) for state in states)}

    async def _read_version(self, client, spec, issue_id, state) -> None:
        answer = await client.request("GET", spec["url"].replace("ISSUE_ID", issue_id))
        _remember(state, issue_id, answer)

    async def _request_patch(self, client, spec, n, state):
        issue_id = state["ids"][next(state["turn"])]
        if issue_id not in state["etags"]:  # its last PATCH failed: read it again
            await self._read_version(client, spec, issue_id, state)
        current = state["statuses"][issue_id]
        target = spec["toggle"][1] if current == spec["toggle"][0] else spec["toggle"][0]
        headers = {"If-Match": state["etags"][issue_id]}
        url = spec["url"].replace("ISSUE_ID", issue_id)
        answer = await client.request("PATCH", url, json_body={"status": target}, headers=headers)
        if answer.status == 200:
            _remember(state, issue_id, answer)
        else:
            state["etags"].pop(issue_id, None)  # read it again next time
        return answer.status, 200

    async def _bulk(self, spec: dict, memory: MemorySampler) -> dict:
        session = self.sessions["token"]
        latencies, errors = [], collections.Counter()
        began_all = time.perf_counter()
        statuses = itertools.cycle(spec["statuses"])
        for n in range(spec["warmup_iterations"] + spec["iterations"]):
            body = {"ids": spec["ids"], "status": next(statuses)}
            began = time.perf_counter()
            async with session.post(spec["url"], json=body) as response:
                await response.read()
                status = response.status
            if n < spec["warmup_iterations"]:
                continue
            if status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors[str(status)] += 1
        seconds = time.perf_counter() - began_all
        return summary(spec["name"], latencies, errors, seconds, memory)

    async def _export(self, spec: dict, memory: MemorySampler) -> dict:
        session = self.sessions["token"]
        errors = collections.Counter()
        size = 0
        began = time.perf_counter()
        first_byte = None
        async with session.get(spec["url"], timeout=aiohttp.ClientTimeout(total=None)) as response:
            async for chunk in response.content.iter_chunked(1 << 16):
                first_byte = first_byte or time.perf_counter()
                size += len(chunk)
            status = response.status
        seconds = time.perf_counter() - began
        if status != 200:
            errors[str(status)] += 1
        result = summary(spec["name"], [seconds] if status == 200 else [], errors, seconds, memory)
        result.update(
            rows=spec["rows"],
            bytes=size,
            rows_per_s=round(spec["rows"] / seconds) if status == 200 else None,
            first_byte_ms=round((first_byte - began) * 1000, 1) if first_byte else None,
        )
        return result


def _remember(state: dict, issue_id: str, answer: http11.Answer) -> None:
    """The version (ETag) and status an answer gives an issue, for its next PATCH."""
    state["etags"][issue_id] = answer.headers["etag"]
    state["statuses"][issue_id] = answer.json()["status"]


def progress(result: dict) -> str:
    line = (
        f"load: {result['name']}: {result['requests']} requests, p95 {result['p95_ms']} ms, "
        f"{result['rps']}/s, errors {result['errors'] or 0}"
    )
    if result.get("worker_cpu_ms") is not None:
        line += (
            f", CPU per request: workers {result['worker_cpu_ms']} ms,"
            f" database {result['db_cpu_ms']} ms, load driver {result['driver_cpu_ms']} ms"
        )
    return line


async def drive(plan: dict) -> list[dict]:
    results = []
    async with Driver(plan) as driver:
        for spec in plan["paths"]:
            result = await driver.run(spec)
            print(progress(result), file=sys.stderr, flush=True)
            results.append(result)
    return results


def main() -> None:
    plan = json.load(sys.stdin)
    # uvloop, as the server's uvicorn uses: a quarter less of the driver's CPU
    # a request than asyncio's own loop (0.08-0.10 ms against 0.10-0.13).
    json.dump(uvloop.run(drive(plan)), sys.stdout)


if __name__ == "__main__":
    main()

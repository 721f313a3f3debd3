"""SQL per request, measured in-process: each path's request made once through
Django's test client (the whole middleware stack, authentication included) under
CaptureQueriesContext. Gives the queries-per-request figure and the exact SQL
the ORM emitted, which bench/baseline.py then runs directly against PostgreSQL."""

from __future__ import annotations

import itertools
import json

from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from bench.paths import Path
from issues import exporter

SAMPLES = 5  # distinct requests captured per path (the baseline cycles through them)
EXPORT_CHUNKS = 3  # pieces of the export stream read in-process (its first queries)


class Capturer:
    def __init__(self, token: str, user):
        self.api = Client(HTTP_AUTHORIZATION=f"Token {token}")
        self.pages = Client()
        self.pages.force_login(user)
        self.user = user

    def client(self, path: Path) -> Client:
        return self.pages if path.auth == "session" else self.api

    def capture(self, path: Path) -> dict:
        """{"queries": per request (the most any sample needed), "samples": [[sql, ...], ...]}"""
        with override_settings(ALLOWED_HOSTS=["*"]):
            method = getattr(self, f"_{path.kind}")
            samples = method(path)
        counts = [len(sample) for sample in samples]
        return {"queries": max(counts) if counts else None, "samples": samples}

    def _run(self, call) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = call()
        if response.status_code >= 400:
            raise RuntimeError(f"{response.status_code}: {response.content[:500]!r}")
        return [query["sql"] for query in queries.captured_queries]

    def _get(self, path: Path) -> list[list[str]]:
        client = self.client(path)
        client.get(path.urls[0])  # warm: first-use work (templates, caches) is not per request
        return [self._run(lambda u=url: client.get(u)) for url in path.urls[:SAMPLES]]

    def _create(self, path: Path) -> list[list[str]]:
        body = {
            "title": "Benchmark issue (query capture)",
            "description": "Created by the benchmark.",
            "severity": "HIGH",
            "labels": path.extra["labels"],
            "assignee": path.extra["assignee"],
        }
        return [
            self._run(
                lambda: self.api.post(path.extra["url"], json.dumps(body), "application/json")
            )
        ]

    def _patch(self, path: Path) -> list[list[str]]:
        samples = []
        for issue_id in path.extra["ids"][-2:]:  # the pool's tail: the driver starts at its head
            url = path.extra["url"].replace("ISSUE_ID", issue_id)
            current = self.api.get(url)
            status = current.json()["status"]
            target = "TRIAGED" if status == "OPEN" else "OPEN"
            headers = {"HTTP_IF_MATCH": current["ETag"]}
            samples.append(
                self._run(
                    lambda u=url, t=target, h=headers: self.api.patch(
                        u, json.dumps({"status": t}), "application/json", **h
                    )
                )
            )
        return samples

    def _bulk(self, path: Path) -> list[list[str]]:
        """Both directions, so the issues end where they started."""
        url, ids = path.extra["url"], path.extra["ids"]
        return [
            self._run(
                lambda s=status: self.api.post(
                    url, json.dumps({"ids": ids, "status": s}), "application/json"
                )
            )
            for status in path.extra["statuses"]
        ]

    def _export(self, path: Path) -> list[list[str]]:
        """Only the start of the stream (the queries before the rows), then the
        COPY statement itself, with its values written in: PostgreSQL writes
        the rows, through psycopg's cursor, which Django's query log does not see."""
        with CaptureQueriesContext(connection) as queries:
            response = self.api.get(path.extra["url"])
            for _ in itertools.islice(response.streaming_content, EXPORT_CHUNKS):
                pass
            response.close()
        request = RequestFactory().get(path.extra["url"])
        request.user = self.user
        statement, params = exporter.copy_statement(exporter.filtered_issues(request))
        with connection.cursor() as cursor:
            copy = cursor.cursor.mogrify(statement, params)
        return [[query["sql"] for query in queries.captured_queries] + [copy]]


def page_size_queries(token: str) -> dict[int, int]:
    """Queries of the API list at several page sizes: they must not grow with it."""
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    counts = {}
    with override_settings(ALLOWED_HOSTS=["*"]):
        for limit in (5, 50, 200):
            url = f"{reverse('api:issue-list')}?limit={limit}"
            client.get(url)
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            counts[limit] = len(queries.captured_queries)
    return counts

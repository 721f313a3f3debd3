"""What the benchmark drives: each path with its requests, its budget and how
its database baseline is measured. URLs come from reverse(), data from the
generated dataset (bench/dataset.py)."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import connection
from django.urls import reverse

from bench import budgets
from bench.budgets import Budget
from bench.dataset import Dataset
from reports.queries import MAX_DAYS

SAMPLE_SIZE = 2000  # distinct issues the detail and page paths cycle through
PATCH_POOL = 1000  # OPEN issues the PATCH path toggles to TRIAGED and back
BULK_SIZE = 500


@dataclass
class Path:
    name: str
    title: str
    kind: str  # get | create | patch | bulk | export (see bench/load.py)
    budget: Budget | None
    urls: list[str] = field(default_factory=list)
    auth: str = "token"  # token | session
    # replay: the ORM's SQL re-run with psycopg; rollback: the same inside a
    # transaction that is rolled back (writes); pgbench-insert / pgbench-update;
    # stream: the export's COPY read to the end; none.
    baseline: str = "replay"
    concurrency: int | None = None  # None: the run's default
    duration: float | None = None
    warmup: float | None = None
    extra: dict = field(default_factory=dict)

    def spec(self, defaults: dict) -> dict:
        """The plan entry bench/load.py reads."""
        return {
            "name": self.name,
            "kind": self.kind,
            "auth": self.auth,
            "urls": self.urls,
            "concurrency": self.concurrency or defaults["concurrency"],
            "duration": self.duration or defaults["duration"],
            "warmup": self.warmup if self.warmup is not None else defaults["warmup"],
            **self.extra,
        }


@dataclass
class Sample:
    """Issues the paths work on, drawn once per run (seeded)."""

    detail_ids: list[str]
    page_numbers: list[int]
    patch_ids: list[str]
    bulk_ids: list[str]
    assignee_id: int
    total_issues: int

    @classmethod
    def draw(cls, dataset: Dataset, maintainer_id: int, seed: int = 7) -> Sample:
        rng = random.Random(seed)
        numbers = rng.sample(range(1, dataset.max_number + 1), min(SAMPLE_SIZE, dataset.scale))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id::text, number FROM issues_issue WHERE number = ANY(%s)", [numbers]
            )
            by_number = {number: issue_id for issue_id, number in cursor.fetchall()}
            # OPEN issues for the writes: the PATCH pool and the bulk set, disjoint,
            # spread over the whole table (random order of a hash of the number).
            cursor.execute(
                "SELECT id::text FROM issues_issue WHERE status = 'OPEN' AND number <= %s "
                "ORDER BY md5(number::text || %s) LIMIT %s",
                [dataset.max_number, str(seed), PATCH_POOL + BULK_SIZE],
            )
            open_ids = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT id FROM accounts_user WHERE role = 'MAINTAINER' AND is_active "
                "AND id <> %s ORDER BY id LIMIT 1",
                [maintainer_id],
            )
            assignee_id = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM issues_issue")
            total = cursor.fetchone()[0]
        bulk_size = min(BULK_SIZE, len(open_ids) // 3)
        return cls(
            detail_ids=[by_number[n] for n in numbers if n in by_number],
            page_numbers=[n for n in numbers if n in by_number],
            bulk_ids=open_ids[:bulk_size],
            patch_ids=open_ids[bulk_size:],
            assignee_id=assignee_id,
            total_issues=total,
        )


def _list(params: dict) -> str:
    return f"{reverse('api:issue-list')}?{urlencode(params)}"


def all_paths(dataset: Dataset, sample: Sample, *, report_duration: float = 5) -> list[Path]:
    label = dataset.info["popular_label"]
    word = dataset.info["common_word"]
    today = datetime.datetime.now(datetime.UTC).date()
    history = {"since": (today - datetime.timedelta(days=MAX_DAYS - 1)).isoformat()}
    detail = [reverse("api:issue-detail", kwargs={"issue_id": i}) for i in sample.detail_ids]
    pages = [reverse("issues:detail", kwargs={"number": n}) for n in sample.page_numbers]
    report = {"concurrency": 1, "duration": report_duration, "warmup": 1}
    reads = [
        Path(
            "api_list_open",
            f"API list: status=OPEN, label={label}, 50 with count",
            "get",
            budgets.LIST,
            [_list({"status": "OPEN", "label": label, "limit": 50})],
        ),
        Path(
            "api_list_done",
            f"API list: status=DONE, label={label}, 50 with count",
            "get",
            budgets.LIST,
            [_list({"status": "DONE", "label": label, "limit": 50})],
        ),
        Path(
            "api_list_updated",
            "API list: all, by -updated_at, 50 with count",
            "get",
            budgets.LIST,
            [_list({"ordering": "-updated_at", "limit": 50})],
        ),
        Path(
            "api_search",
            f"API search: q={word}, ranked, 20",
            "get",
            budgets.SEARCH,
            [_list({"q": word, "limit": 20})],
        ),
        Path("api_detail", "API issue detail", "get", budgets.DETAIL, detail),
        # No budget: what any authenticated API request costs in this server
        # (token lookup, throttle, DRF, one tiny query), the floor under the rows above.
        Path(
            "api_floor",
            "API floor: the signed-in user (GET users/me)",
            "get",
            None,
            [reverse("api:me")],
        ),
        Path(
            "html_list",
            f"HTML issue list: status=OPEN, label={label}",
            "get",
            budgets.PAGE,
            [f"{reverse('issues:list')}?{urlencode({'status': 'OPEN', 'label': label})}"],
            auth="session",
        ),
        Path("html_issue", "HTML issue page", "get", budgets.PAGE, pages, auth="session"),
        # No budget: the cheapest page in the layout (session, CSRF token, the
        # new-issue form), the floor under the two HTML rows above.
        Path(
            "html_floor",
            "HTML floor: the new-issue form",
            "get",
            None,
            [reverse("issues:new")],
            auth="session",
        ),
    ]
    writes = [
        Path(
            "create",
            "API create issue (labels, assignee: event + notification)",
            "create",
            budgets.WRITE,
            baseline="pgbench-insert",
            extra={
                "url": reverse("api:issue-list"),
                "labels": [label],
                "assignee": sample.assignee_id,
            },
        ),
        Path(
            "patch",
            "API PATCH status with If-Match",
            "patch",
            budgets.WRITE,
            baseline="pgbench-update",
            extra={
                "url": reverse("api:issue-detail", kwargs={"issue_id": "ISSUE_ID"}),
                "ids": sample.patch_ids,
                "toggle": ["OPEN", "TRIAGED"],
            },
        ),
        Path(
            "bulk_status",
            f"API bulk status of {len(sample.bulk_ids)} issues",
            "bulk",
            budgets.BULK,
            baseline="rollback",
            concurrency=1,
            extra={
                "url": reverse("api:bulk-status"),
                "ids": sample.bulk_ids,
                "statuses": ["TRIAGED", "OPEN"],
                "iterations": 10,
                "warmup_iterations": 2,
            },
        ),
    ]
    reports = []
    for name, budget in (
        ("open-by-severity", budgets.REPORT),
        ("by-status", budgets.REPORT),
        ("open-age", budgets.REPORT),
    ):
        reports.append(
            Path(
                f"report_{name}",
                f"report {name}",
                "get",
                budget,
                [reverse(f"api:report-{name}")],
                **report,
            )
        )
    for name in ("top-assignees", "resolution-latency", "throughput"):
        url = reverse(f"api:report-{name}")
        reports.append(
            Path(
                f"report_{name}", f"report {name}, 90 days", "get", budgets.REPORT, [url], **report
            )
        )
        reports.append(
            Path(
                f"report_{name}_history",
                f"report {name}, whole history",
                "get",
                budgets.REPORT_HISTORY,
                [f"{url}?{urlencode(history)}"],
                **report,
            )
        )
    reports.append(
        Path(
            "html_dashboard",
            "HTML dashboard, 90 days",
            "get",
            None,
            [reverse("reports:dashboard")],
            auth="session",
            **report,
        )
    )
    export = Path(
        "export",
        f"CSV export, all {sample.total_issues:,} rows",
        "export",
        budgets.EXPORT,
        baseline="stream",
        concurrency=1,
        extra={"url": reverse("api:issue-export"), "rows": sample.total_issues},
    )
    # The export runs before the writes, which add issues.
    return [*reads, *reports, export, *writes]

"""The benchmark harness (bench/): the dataset generator at a tiny scale, the
invariants its data must satisfy, and the load driver against a real server for
one path and one second. The benchmark's figures themselves are not tested."""

import fcntl
import json
import subprocess
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.urls import reverse

from accounts.models import Role, User
from accounts.services import create_token
from accounts.tests.factories import UserFactory
from bench import baseline, budgets, dataset, report
from bench.capture import Capturer
from bench.paths import Path
from bench.run import drive, postmaster_pid, server_env
from bench.server import Server
from issues import services
from issues.models import Comment, EventKind, Issue, IssueEvent, Label, Status
from reports.backfill import backfill_daily_stats
from reports.models import DailyStat
from tracker.tests.support import ROOT, database_url, free_port

SCALE = 200

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_marker():
    """The marker table is not a Django model, so the test flush leaves it: drop it."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {dataset.MARKER_TABLE}")


def generate(*options: str) -> str:
    out = StringIO()
    call_command("bench_data", "--scale", str(SCALE), "--chunk-size", "60", *options, stdout=out)
    return out.getvalue()


def fingerprint() -> tuple[list, list]:
    """The data, with times relative to the generation (the dataset ends "now")."""
    now = dataset.current().generated_at
    rows = [
        (*row[:-1], round((row[-1] - now).total_seconds()))
        for row in Issue.objects.order_by("number").values_list(
            "id", "number", "title", "status", "severity", "assignee_id", "version", "created_at"
        )
    ]
    events = IssueEvent.objects.order_by("id").values_list("issue__number", "kind", "data")
    return rows, list(events)


def test_generated_data_is_consistent_skewed_and_reproducible(no_marker):
    output = generate("--workers", "1")
    assert f"Generated {SCALE:,} issues" in output

    assert Issue.objects.count() == SCALE
    assert User.objects.count() == 300
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert Label.objects.count() == 60
    # About two comments per issue, each with its timeline event; one CREATED each.
    comments = Comment.objects.count()
    assert 1.5 * SCALE <= comments <= 2.5 * SCALE
    assert IssueEvent.objects.filter(kind=EventKind.COMMENT_ADDED).count() == comments
    assert IssueEvent.objects.filter(kind=EventKind.CREATED).count() == SCALE
    # Skewed: most done, about 15 % open; resolved_at exactly while DONE.
    done = Issue.objects.filter(status=Status.DONE).count()
    assert 0.70 * SCALE <= done <= 0.95 * SCALE
    assert Issue.objects.filter(status=Status.DONE, resolved_at__isnull=True).count() == 0
    assert Issue.objects.exclude(status=Status.DONE).filter(resolved_at__isnull=False).count() == 0
    label_counts = [issue.labels.count() for issue in Issue.objects.all()]
    assert max(label_counts) <= 4 and min(label_counts) == 0
    # Replies stay within their issue.
    assert not Comment.objects.exclude(parent=None).exclude(parent__issue=F("issue"))

    # dbhealth finds nothing (it exits 1 on any finding).
    health = StringIO()
    call_command("dbhealth", stdout=health)
    assert "No problems found." in health.getvalue()

    # DailyStat is what the app's own backfill computes from the timelines.
    generated = {(s.date, s.status, s.severity): s.count for s in DailyStat.objects.all()}
    first, last = min(k[0] for k in generated), max(k[0] for k in generated)
    backfill_daily_stats(first, last)
    rebuilt = {(s.date, s.status, s.severity): s.count for s in DailyStat.objects.all()}
    assert generated == rebuilt

    before = fingerprint()
    # The number sequence is past the generated numbers.
    maintainer = User.objects.get(email=dataset.current().maintainer_email)
    assert services.create_issue(actor=maintainer, title="After").number == SCALE + 1

    # Reproducible whatever the number of worker processes; reused when asked.
    assert "already present" in generate("--if-needed")
    # Without --scale, a dataset of any size is kept (make bench without SCALE
    # must not replace a million issues by 100,000).
    kept = StringIO()
    call_command("bench_data", "--if-needed", stdout=kept)
    assert f"Dataset of {SCALE:,} issues (seed 1) already present" in kept.getvalue()
    # (remove_additions takes the issue created above away again.)
    assert dataset.remove_additions(dataset.current()) == 1
    generate("--workers", "2")
    after = fingerprint()
    assert after[0] == before[0]
    assert after[1] == before[1]


def test_generator_refuses_a_database_that_is_not_a_benchmark(no_marker):
    UserFactory(email="someone@example.com")
    with pytest.raises(CommandError, match="no benchmark marker"):
        generate()
    assert User.objects.filter(email="someone@example.com").exists()


def test_load_driver_drives_one_path_against_the_production_server(no_marker, tmp_path, settings):
    # The server logs in with the production hashers; the test settings' MD5 is not one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    generate("--workers", "1")
    data = dataset.current()
    maintainer = User.objects.get(email=data.maintainer_email)
    _, token = create_token(actor=maintainer, name=dataset.TOKEN_NAME)
    issue = Issue.objects.order_by("number").first()
    open_issues = Issue.objects.filter(status="OPEN").order_by("number")[:3]
    before = dict(open_issues.values_list("pk", "version"))
    edited = [str(pk) for pk in before]
    env = {
        **server_env(tmp_path),
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        # Without rate limits, as `make bench` runs (scripts/bench.sh): at the default
        # 600/minute a fast server answers 429 to part of the load, sooner still if
        # other tests' requests as a user of the same id (another worker's database)
        # fell in the same minute's count in the shared test Redis.
        "API_RATE_USER": "1000000/second",
        "API_RATE_ANON": "1000000/second",
    }
    server = Server(port=free_port(), workers=2, log=tmp_path / "server.log", env=env)
    server.start()
    try:
        plan = {
            "base_url": server.url,
            "token": token,
            "login": {
                "url": reverse("accounts:login"),
                "email": maintainer.email,
                "password": dataset.PASSWORD,
            },
            "pids": server.pids(),
            "workers": server.worker_pids(),
            "database": postmaster_pid(),
            "paths": [
                {
                    "name": "api_detail",
                    "kind": "get",
                    "urls": [
                        reverse("api:issue-detail", kwargs={"issue_id": issue.pk}),
                        reverse("api:issue-detail", kwargs={"issue_id": "not-an-id"}),
                    ],
                    "concurrency": 2,
                    "warmup": 0.2,
                    "duration": 1,
                },
                {
                    "name": "patch",
                    "kind": "patch",
                    "url": reverse("api:issue-detail", kwargs={"issue_id": "ISSUE_ID"}),
                    "ids": edited,
                    "toggle": ["OPEN", "TRIAGED"],
                    "concurrency": 2,
                    "warmup": 0.2,
                    "duration": 1,
                },
            ],
        }
        result, patched = drive(plan)
    finally:
        server.stop()
    # Every issue's version was read before the warm-up, so the window counts
    # PATCHes alone, and each PATCH sent the version its issue was at.
    assert patched["versions_read_before"] == 3
    assert patched["requests"] > 0 and patched["errors"] == {}
    after = dict(Issue.objects.filter(pk__in=before).values_list("pk", "version"))
    assert sum(after.values()) - sum(before.values()) >= patched["requests"]
    assert result["name"] == "api_detail"
    assert result["requests"] > 0 and result["rps"] > 0
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    # Every other request was for an issue that does not exist: counted as errors.
    assert set(result["errors"]) == {"404"}
    assert result["server_peak_process_mb"] > 10
    # The two workers' shares of their CPU in the window, largest first.
    split = result["worker_cpu_split"]
    assert len(split) == 2 and split[0] >= split[1] and 99 <= sum(split) <= 101
    # CPU per request: the workers' (a second of it at most), and the database
    # server's, counted from its main process (ticks of 10 ms: a second's load may
    # cost the database less than one).
    assert 0 < result["worker_cpu_ms"] < 1000
    assert 0 <= result["db_cpu_ms"] < 1000
    # The load driver's own, which shares the cores with the server.
    assert 0 < result["driver_cpu_ms"] < 1000
    # The workers kept their metrics in shared files, as under docker-compose.
    assert list((tmp_path / "prometheus-multiproc").glob("counter_*.db"))


@pytest.mark.django_db
def test_the_database_server_s_main_process_is_this_connection_s_parent():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with open(f"/proc/{backend}/stat") as stat:
        parent = int(stat.read().rpartition(")")[2].split()[1])
    assert postmaster_pid() == parent


def test_budgets_judge_results():
    ok = report.row(
        name="x", title="x", budget=budgets.DETAIL, load={"p95_ms": 9.0, "rps": 900, "errors": {}}
    )
    assert ok["result"] == "pass"
    slow = report.row(
        name="x", title="x", budget=budgets.DETAIL, load={"p95_ms": 20.0, "rps": 900, "errors": {}}
    )
    assert slow["result"] == "FAIL: p95 20.0 ms"
    broken = report.row(
        name="x",
        title="x",
        budget=budgets.LIST,
        load={"p95_ms": 1.0, "errors": {"500": 3}},
        queries=12,
        check_queries=True,
    )
    assert broken["failures"] == ["errors {'500': 3}", "12 queries"]
    missing = report.row(name="x", title="x", budget=budgets.EXPORT, load={"errors": {}})
    assert missing["result"].startswith("FAIL")  # nothing measured is not a pass


def test_the_table_shows_how_the_workers_shared_the_load():
    results = bare_results("2026-12-06T04:00:00+00:00")
    results["paths"] = [
        report.row(
            name="a",
            title="A",
            budget=None,
            load={
                "worker_cpu_split": [97, 3],
                "worker_cpu_ms": 1.234,
                "db_cpu_ms": 0.5,
                "driver_cpu_ms": 0.125,
            },
        ),
        report.row(name="b", title="B", budget=None, load={"worker_cpu_split": None}),
        # No database figure: the client's keeps its own place.
        report.row(
            name="c",
            title="C",
            budget=None,
            load={"worker_cpu_split": None, "worker_cpu_ms": 1.0, "driver_cpu_ms": 0.1},
        ),
    ]

    rows = report.markdown(results).splitlines()

    assert rows[0].split(" | ")[7:9] == ["worker CPU %", "CPU ms/req web + DB + client"]
    assert rows[2].split(" | ")[7:9] == ["97/3", "1.23 + 0.50 + 0.12"]
    assert rows[3].split(" | ")[7:9] == ["–", "–"]
    assert rows[4].split(" | ")[8] == "1.00 + – + 0.10"


def bare_results(date: str) -> dict:
    """A run's results with no paths."""
    return {
        "date": date,
        "scale": 1000,
        "settings": {"web_workers": 2, "concurrency": 4, "duration": 10, "warmup": 3},
        "machine": {"load_before": 0.5, "load_after": 1.0, "cpus": 2},
        "paths": [],
    }


def test_the_summary_names_the_machine_s_speed():
    from bench.run import python_speed

    results = bare_results("2026-12-04T21:00:00+00:00")
    assert report.summary_text(results).splitlines()[0].endswith("2 CPUs.")

    results["machine"]["python_loop_ms"] = python_speed(additions=100_000)
    head = report.summary_text(results).splitlines()[0]
    loop_ms = results["machine"]["python_loop_ms"]
    assert head.endswith(f"a reference Python loop (2 M additions) took {loop_ms:,} ms.")
    assert 0 < loop_ms < 1000


def test_a_partial_run_never_replaces_a_full_run_s_results(tmp_path):
    results = bare_results("2026-12-05T15:00:00+00:00")
    full = report.write({**results, "partial": False}, tmp_path)
    partial = report.write({**results, "partial": True}, tmp_path)

    assert (full.name, partial.name) == ("2026-12-05-1000.json", "2026-12-05-1000-partial.json")
    assert json.loads(full.read_text())["partial"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-12-05-1000-partial.json",
        "2026-12-05-1000-partial.md",
        "2026-12-05-1000.json",
        "2026-12-05-1000.md",
    ]


def test_a_second_benchmark_on_the_same_data_folder_is_refused(tmp_path):
    """Two runs would share one database and clear each other's additions."""
    with open(tmp_path / "bench.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running benchmark holds it
        second = subprocess.run(
            ["bash", "scripts/bench.sh"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "BENCH_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert second.returncode == 1
    assert "another benchmark is running" in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.lock"]  # nothing started


def test_a_crashed_last_step_is_a_failed_row_not_a_lost_run():
    from bench.run import survived

    def crash():
        raise TypeError("unsupported operand")

    row = survived("import", budgets.IMPORT, crash)
    kept = survived("stats", budgets.STATS, lambda: [{"name": "stats", "result": "pass"}])

    assert [r["name"] for r in row] == ["import"]
    assert row[0]["result"].startswith("FAIL: errors")
    assert "unsupported operand" in row[0]["result"]
    assert kept == [{"name": "stats", "result": "pass"}]


def test_the_export_baseline_reads_the_exports_own_copy_statement(settings):
    settings.ALLOWED_HOSTS = ["*"]
    maintainer = UserFactory(role=Role.MAINTAINER)
    for n in range(7):
        services.create_issue(actor=maintainer, title=f"Export {n}", description="")
    _, token = create_token(actor=maintainer, name="bench")
    path = Path("export", "CSV export", "export", None, baseline="stream")
    path.extra = {"url": reverse("api:issue-export") + "?status=OPEN"}

    (sample,) = Capturer(token, maintainer).capture(path)["samples"]
    streamed = baseline.stream(sample[-1])

    assert sample[-1].startswith("COPY (SELECT") and "'OPEN'" in sample[-1]
    assert streamed["kind"] == "stream"
    assert streamed["rows"] == 7


def test_the_baseline_runs_with_the_apps_session_settings():
    shown = "SELECT current_setting('jit'), current_setting('work_mem')"
    with psycopg.connect(baseline.conninfo()) as conn:
        settings = conn.execute(shown).fetchone()
    with connection.cursor() as cursor:
        cursor.execute(shown)
        app_settings = cursor.fetchone()

    # No JIT; the ranked search's sort of every match in memory (DATABASE_WORK_MEM).
    assert tuple(settings) == tuple(app_settings) == ("off", "16MB")

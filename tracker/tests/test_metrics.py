"""GET /metrics: what it exposes, that the numbers move with real requests and
queries, the scrape-time gauges against known data (real PostgreSQL and Redis),
and who may read it."""

import logging
import uuid
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import Client, override_settings
from django.urls import path, reverse
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from issues import services
from issues.models import Issue, PendingMail, Severity, Status
from issues.tests.factories import IssueFactory
from tracker.metrics import access, collectors, db_queries
from tracker.tasks import ping

METRICS = reverse("metrics")
HEALTH = reverse("health")
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
TOKEN = "s3cret-scrape-token"


def scrape(client, **extra) -> dict:
    """{(sample name, frozenset of labels): value} of one successful scrape."""
    response = client.get(METRICS, **extra)
    assert response.status_code == 200, response.content[:500]
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: dict) -> set[str]:
    return {name for name, _ in samples}


# --- what is exposed -----------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_prometheus_text_with_every_family_we_document(client):
    client.get(HEALTH)

    response = client.get(METRICS)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    samples = scrape(client)
    for name in (
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_responses_total_by_status_view_method_total",
        "tracker_db_queries_total",
        "tracker_http_request_db_queries_count",
        "tracker_open_issues",
        "tracker_celery_queue_length",
        "tracker_metrics_source_up",
    ):
        assert name in names(samples), name


@pytest.mark.django_db
def test_request_counters_and_latency_histograms_move_per_view(client):
    before = scrape(client)
    labels = {"view": "health", "method": "GET"}

    for _ in range(3):
        assert client.get(HEALTH).status_code == 200

    after = scrape(client)
    count = "django_http_requests_total_by_view_transport_method_total"
    assert (value(after, count, transport="http", **labels) or 0) - (
        value(before, count, transport="http", **labels) or 0
    ) == 3
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert (value(after, latency, **labels) or 0) - (value(before, latency, **labels) or 0) == 3
    status = "django_http_responses_total_by_status_view_method_total"
    assert (value(after, status, status="200", **labels) or 0) - (
        value(before, status, status="200", **labels) or 0
    ) == 3


@pytest.mark.django_db
def test_only_the_http_families_we_document_are_exposed(client):
    """Each series is a write per request (to a shared file with several
    workers): the undocumented ones django-prometheus kept cost 11 % of an API
    request and told nobody anything."""
    client.get(HEALTH)
    client.post(HEALTH, b"x", content_type="text/plain")  # a body, whose size is not observed

    text = client.get(METRICS).content.decode()
    # The text format shows a counter's or histogram's creation time as a family
    # of its own (`…_created`, one process only: not in multiprocess mode).
    families = {
        family.name
        for family in text_string_to_metric_families(text)
        if family.name.startswith("django_http") and not family.name.endswith("_created")
    }

    assert families == {
        "django_http_requests_total_by_view_transport_method",
        "django_http_responses_total_by_status_view_method",
        "django_http_requests_latency_seconds_by_view_method",
        "django_http_requests_latency_including_middlewares_seconds",
        "django_http_exceptions_total_by_type",
        "django_http_exceptions_total_by_view",
    }


def boom(request):
    raise KeyError("a bug")


urlpatterns = [path("boom/", boom, name="boom")]


def boom_samples() -> dict[str, float]:
    """What a request to `boom` moves, by what it measures."""
    labels = {"view": "boom", "method": "GET"}
    samples = {
        "type": ("django_http_exceptions_total_by_type_total", {"type": "KeyError"}),
        "view": ("django_http_exceptions_total_by_view_total", {"view": "boom"}),
        "latency": ("django_http_requests_latency_seconds_by_view_method_count", labels),
        "500": (
            "django_http_responses_total_by_status_view_method_total",
            {"status": "500", **labels},
        ),
    }
    return {key: REGISTRY.get_sample_value(*sample) or 0 for key, sample in samples.items()}


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_an_exception_in_a_view_is_counted_by_type_and_view_and_still_timed():
    client = Client(raise_request_exception=False)
    before = boom_samples()

    assert client.get("/boom/").status_code == 500

    after = boom_samples()
    assert {key: after[key] - before[key] for key in after} == {
        "type": 1,
        "view": 1,
        "latency": 1,  # once, not once for the exception and again for the response
        "500": 1,
    }


@pytest.mark.django_db
def test_the_time_through_every_middleware_is_observed_per_request(client):
    name = "django_http_requests_latency_including_middlewares_seconds"
    before = REGISTRY.get_sample_value(f"{name}_count") or 0

    client.get(HEALTH)
    client.get(f"/no-such-page-{uuid.uuid4().hex}/")

    assert REGISTRY.get_sample_value(f"{name}_count") == before + 2
    assert REGISTRY.get_sample_value(f"{name}_sum") > 0


@pytest.mark.django_db
def test_queries_per_request_are_observed_by_view(client):
    name = "tracker_http_request_db_queries"
    before_count = REGISTRY.get_sample_value(f"{name}_count", {"view": "health"}) or 0
    before_sum = REGISTRY.get_sample_value(f"{name}_sum", {"view": "health"}) or 0

    client.get(HEALTH)
    client.get(HEALTH)

    assert REGISTRY.get_sample_value(f"{name}_count", {"view": "health"}) == before_count + 2
    # The health check runs exactly one statement (SELECT 1) per request.
    assert REGISTRY.get_sample_value(f"{name}_sum", {"view": "health"}) == before_sum + 2


@pytest.mark.django_db
def test_unresolved_paths_and_made_up_methods_share_one_label_each(client):
    """Labels come from bounded sets, so a scanner cannot grow the metrics."""
    client.get(f"/no-such-page-{uuid.uuid4().hex}/")
    client.generic("BREW", HEALTH)

    samples = scrape(client)

    assert value(samples, "tracker_http_request_db_queries_count", view="<unnamed view>")
    count = "django_http_requests_total_by_view_transport_method_total"
    assert value(samples, count, view="<unnamed view>", transport="http", method="GET")
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert value(samples, latency, view="health", method="<invalid method>")
    assert not any(dict(labels).get("method") == "BREW" for _, labels in samples)


@pytest.mark.django_db
@pytest.mark.parametrize("length", ["abc", "-5", "1e3"])
def test_a_nonsense_content_length_is_still_counted_and_timed(client, length):
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    labels = {"view": "health", "method": "POST"}
    before = REGISTRY.get_sample_value(latency, labels) or 0

    response = client.post(HEALTH, b"x", content_type="text/plain", CONTENT_LENGTH=length)

    assert response.status_code in (400, 405)  # not a 500
    assert REGISTRY.get_sample_value(latency, labels) == before + 1


@pytest.mark.django_db(transaction=True)
def test_every_statement_is_counted_once_even_across_reconnects():
    def counted() -> float:
        return REGISTRY.get_sample_value("tracker_db_queries_total")

    def run(n: int) -> None:
        with connection.cursor() as cursor:
            for _ in range(n):
                cursor.execute("SELECT 1")

    run(1)  # connected
    start = counted()
    run(3)
    assert counted() == start + 3

    connection.close()  # the next statement reconnects: connection_created again
    run(2)
    assert counted() == start + 5
    assert connection.execute_wrappers.count(db_queries.count_query) == 1

    # A connection opened inside someone else's execute_wrapper block: when the
    # block ends it removes its own wrapper, not ours.
    connection.close()
    seen = []

    def other(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(other):
        run(1)
    run(1)
    assert seen == ["SELECT 1"]
    assert connection.execute_wrappers == [db_queries.count_query]
    assert counted() == start + 7


# --- gauges computed at scrape time ---------------------------------------------------


@pytest.mark.django_db
def test_open_issues_gauge_counts_every_not_done_issue_by_severity(client, maintainer):
    for status, severity in [
        (Status.OPEN, Severity.HIGH),
        (Status.TRIAGED, Severity.HIGH),
        (Status.IN_PROGRESS, Severity.CRITICAL),
        (Status.OPEN, Severity.LOW),
        (Status.DONE, Severity.HIGH),
        (Status.DONE, Severity.MEDIUM),
    ]:
        IssueFactory(reporter=maintainer, status=status, severity=severity)

    samples = scrape(client)

    assert {
        severity.name: value(samples, "tracker_open_issues", severity=severity.name)
        for severity in Severity
    } == {"LOW": 1, "MEDIUM": 0, "HIGH": 2, "CRITICAL": 1}
    assert value(samples, "tracker_metrics_source_up", source="database") == 1


@pytest.mark.django_db
def test_the_pending_mail_gauges_count_it_and_age_its_oldest(client, maintainer, reporter):
    samples = scrape(client)
    assert value(samples, "tracker_pending_mail") == 0
    assert value(samples, "tracker_pending_mail_age_seconds") == 0

    issue = IssueFactory(reporter=reporter)
    services.add_comment(actor=maintainer, issue=issue, body="One")
    services.add_comment(actor=maintainer, issue=issue, body="Two")
    PendingMail.objects.filter(pk=PendingMail.objects.order_by("pk")[0].pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )

    samples = scrape(client)
    assert value(samples, "tracker_pending_mail") == 2
    assert 600 <= value(samples, "tracker_pending_mail_age_seconds") < 660


@pytest.mark.django_db
def test_open_issues_query_can_use_the_partial_index_alone(maintainer):
    """At a million issues only the open ones are read (index-only scan)."""
    IssueFactory(reporter=maintainer, severity=Severity.HIGH)
    # Mostly closed issues, as in a real tracker, and statistics that say so: on a
    # table of one row every index costs the same and the planner's pick is a toss.
    done = timezone.now()
    Issue.objects.bulk_create(
        Issue(title=f"Closed {n}", status=Status.DONE, resolved_at=done, reporter=maintainer)
        for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_issue")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

    plan = collectors.open_issues_query().explain()

    # issue_open_severity_idx, or the other partial index over open issues
    # (issue_open_created_idx): open rows only.
    assert "issue_open_severity_idx" in plan or "issue_open_created_idx" in plan, plan
    assert collectors.open_issues_by_severity() == {Severity.HIGH: 1}


@pytest.fixture
def queue():
    """A queue of this test's own on the real broker, emptied afterwards."""
    from django.conf import settings

    name = f"test-metrics-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield name
    client.delete(name, *(f"{name}\x06\x16{step}" for step in (3, 6, 9)))
    client.close()


@pytest.mark.django_db
def test_queue_length_gauge_counts_waiting_tasks_of_every_priority(client, settings, queue):
    settings.NOTIFICATIONS_QUEUE = queue
    for _ in range(3):
        ping.apply_async(queue=queue)
    ping.apply_async(queue=queue, priority=9)
    # Celery's default queue is shared by every test, and nothing in them consumes
    # it: it only grows (tests beside this one may add to it at any moment), so
    # what it held before the scrape is what the scrape must at least count.
    default = redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("celery")

    samples = scrape(client)

    assert value(samples, "tracker_celery_queue_length", queue=queue) == 4
    assert value(samples, "tracker_celery_queue_length", queue="celery") >= default
    assert value(samples, "tracker_metrics_source_up", source="redis") == 1


@pytest.mark.django_db
def test_import_queue_is_measured_when_it_has_its_own(client, settings, queue):
    settings.IMPORT_QUEUE = queue
    ping.apply_async(queue=queue)

    assert value(scrape(client), "tracker_celery_queue_length", queue=queue) == 1


@pytest.mark.django_db
def test_redis_down_leaves_the_queue_gauge_out_and_logs_a_warning(client, settings, caplog):
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS

    with caplog.at_level(logging.WARNING, logger="tracker.metrics.collectors"):
        samples = scrape(client)

    assert "tracker_celery_queue_length" not in names(samples)
    assert value(samples, "tracker_metrics_source_up", source="redis") == 0
    assert value(samples, "tracker_open_issues", severity="HIGH") == 0  # the rest is there
    assert any("Celery queues not measured" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_database_failure_leaves_the_issue_gauge_out(client, monkeypatch, caplog):
    def broken():
        raise DatabaseError("connection lost")

    monkeypatch.setattr(collectors, "open_issues_by_severity", broken)

    with caplog.at_level(logging.WARNING, logger="tracker.metrics.collectors"):
        samples = scrape(client)

    assert "tracker_open_issues" not in names(samples)
    assert value(samples, "tracker_metrics_source_up", source="database") == 0
    assert "tracker_celery_queue_length" in names(samples)
    assert any("open issues not counted" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_broker_that_is_not_redis_is_not_measured(client, settings):
    settings.CELERY_BROKER_URL = "amqp://guest@127.0.0.1:1//"

    samples = scrape(client)

    assert "tracker_celery_queue_length" not in names(samples)
    assert value(samples, "tracker_metrics_source_up", source="redis") is None


# --- who may read them -----------------------------------------------------------------


@pytest.fixture
def protected(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("127.0.0.1", 200),
        ("127.8.9.10", 200),
        ("::1", 200),
        ("::ffff:127.0.0.1", 200),
        ("10.0.0.5", 404),
        ("192.168.1.20", 404),
        ("203.0.113.7", 404),
        ("", 404),
        ("not-an-address", 404),
    ],
)
def test_by_default_only_loopback_may_scrape(client, protected, address, status):
    assert client.get(METRICS, REMOTE_ADDR=address).status_code == status


@pytest.mark.django_db
def test_a_refusal_looks_like_any_unknown_page_and_is_logged(client, protected, caplog):
    with caplog.at_level(logging.WARNING, logger="tracker.metrics.views"):
        refused = client.get(METRICS, REMOTE_ADDR="10.0.0.5")
    unknown = client.get(f"/metrics-{uuid.uuid4().hex}", REMOTE_ADDR="10.0.0.5")

    assert refused.status_code == unknown.status_code == 404
    assert b"django_http" not in refused.content
    assert any("10.0.0.5 not in METRICS_ALLOWED_NETWORKS" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", [{"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, {"HTTP_FORWARDED": "for=127.0.0.1"}]
)
def test_a_proxied_request_needs_the_token_whatever_its_address(client, protected, header, caplog):
    """uvicorn --proxy-headers turns X-Forwarded-For into the client address: a
    client reaching the port directly could claim to be local."""
    with caplog.at_level(logging.WARNING, logger="tracker.metrics.views"):
        assert client.get(METRICS, REMOTE_ADDR="127.0.0.1", **header).status_code == 404
    assert any("forwarded by a proxy" in r.getMessage() for r in caplog.records)

    protected.METRICS_TOKEN = TOKEN
    authorised = client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **header)
    assert authorised.status_code == 200


@pytest.mark.django_db
def test_configured_networks_replace_loopback(client, protected):
    protected.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]

    assert client.get(METRICS, REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="fd00::1").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get(METRICS, REMOTE_ADDR="11.0.0.1").status_code == 404


@pytest.mark.django_db
def test_with_a_token_set_the_token_is_required_from_everywhere(client, protected):
    protected.METRICS_TOKEN = TOKEN

    for address in ("127.0.0.1", "10.0.0.5", "203.0.113.7"):
        assert client.get(METRICS, REMOTE_ADDR=address).status_code == 404
        ok = client.get(METRICS, REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert ok.status_code == 200
        assert b"tracker_open_issues" in ok.content
    assert (
        client.get(
            METRICS, REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=f"bearer {TOKEN}"
        ).status_code
        == 200
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Token {TOKEN}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
        "Bearer",
    ],
)
def test_a_wrong_or_malformed_token_is_refused(client, protected, header):
    protected.METRICS_TOKEN = TOKEN

    assert client.get(METRICS, REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION=header).status_code == 404


@pytest.mark.django_db
def test_a_bearer_token_is_refused_when_none_is_configured(client, protected, caplog):
    with caplog.at_level(logging.WARNING, logger="tracker.metrics.views"):
        response = client.get(METRICS, REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer x")

    assert response.status_code == 404
    assert any("no METRICS_TOKEN is configured" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_token_and_networks_together_each_let_in(client, protected):
    protected.METRICS_TOKEN = TOKEN
    protected.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert client.get(METRICS, REMOTE_ADDR="10.0.0.5").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="203.0.113.7").status_code == 404
    assert (
        client.get(
            METRICS, REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
        ).status_code
        == 200
    )


def test_allowed_networks_defaults(settings):
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = ""
    assert access.allowed_networks() == ["127.0.0.0/8", "::1/128"]
    settings.METRICS_TOKEN = TOKEN
    assert access.allowed_networks() == []
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert access.allowed_networks() == ["10.0.0.0/8"]


def test_a_bad_network_setting_fails_the_system_check(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "10.0.0.0/33", "intranet"]

    errors = access.check_metrics_settings()

    assert [error.id for error in errors] == ["tracker.E101", "tracker.E101"]
    assert "'10.0.0.0/33'" in errors[0].msg
    assert "'intranet'" in errors[1].msg
    with pytest.raises(Exception, match="SystemCheckError|tracker.E101"):
        call_command("check")


@pytest.mark.django_db
def test_metrics_answer_get_only(client):
    assert client.post(METRICS).status_code == 405


@pytest.mark.django_db
def test_scrapes_are_plain_http_even_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(METRICS).status_code == 200

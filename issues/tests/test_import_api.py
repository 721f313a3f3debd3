"""POST /api/issues/import/ and GET /api/issues/import/<id>/: who may, the
answers for small and large files, the error shape, and the large-file path
through a real Celery worker and the real Redis broker."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from issues import importer
from issues.models import EventKind, ImportJob, ImportStatus, Issue, IssueEvent
from issues.tests.api import assert_error, client_for
from issues.tests.csv_helpers import broker_down, csv_bytes, upload, wait_for_job
from tracker.tests.support import CeleryWorker

URL = "/api/issues/import/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def maintainer_api(maintainer):
    return client_for(maintainer)


@pytest.fixture
def admin_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def reporter_api(reporter):
    return client_for(reporter)


@pytest.fixture
def anon_api():
    return client_for()


def post(client, content, *, query="", name="issues.csv"):
    return client.post(f"{URL}{query}", {"file": upload(content, name)}, format="multipart")


GOOD_AND_BAD = csv_bytes(
    [["title", "severity"], ["Works", "HIGH"], ["", "LOW"], ["Also works", "nope"], ["Fine", ""]]
)


@pytest.mark.django_db
def test_a_small_file_answers_200_with_created_and_errors(maintainer_api):
    response = post(maintainer_api, GOOD_AND_BAD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 2
    assert body["errors"] == [
        {"line": 3, "column": "title", "message": "A title is required."},
        {
            "line": 4,
            "column": "severity",
            "message": "'nope' is not a severity; use one of LOW, MEDIUM, HIGH, CRITICAL.",
        },
    ]
    assert (body["status"], body["progress"], body["dry_run"]) == ("done", 100, False)
    assert body["file_name"] == "issues.csv"
    assert body["status_url"].endswith(f"/api/issues/import/{body['id']}/")
    assert sorted(Issue.objects.values_list("title", flat=True)) == ["Fine", "Works"]


@pytest.mark.django_db
def test_dry_run_validates_only(maintainer_api):
    response = post(maintainer_api, GOOD_AND_BAD, query="?dry_run=1")

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], len(body["errors"]), body["dry_run"]) == (2, 2, True)
    assert Issue.objects.count() == 0


@pytest.mark.django_db
def test_the_same_file_twice_creates_nothing_new(maintainer_api, admin_api):
    post(maintainer_api, GOOD_AND_BAD)
    body = post(admin_api, GOOD_AND_BAD).json()

    assert (body["created"], body["skipped"]) == (0, 2)
    assert Issue.objects.count() == 2


@pytest.mark.django_db
def test_file_level_problems_are_400_in_the_error_shape(maintainer_api):
    missing_title = assert_error(post(maintainer_api, "severity\nHIGH\n"), 400, "file")
    not_utf8 = assert_error(post(maintainer_api, b"title\n\xff\xfe\n"), 400, "file")
    no_file = assert_error(maintainer_api.post(URL, {}, format="multipart"), 400, "file")

    assert "title" in missing_title["detail"]
    assert not_utf8["errors"]["file"][0].startswith("Line 2 is not valid UTF-8")
    assert no_file["errors"]["file"]
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db
def test_a_json_body_is_refused(maintainer_api):
    response = maintainer_api.post(URL, {"file": "title\nx\n"}, format="json")

    assert_error(response, 415)


@pytest.mark.django_db
def test_over_the_size_limit_is_413(maintainer_api, settings):
    settings.IMPORT_MAX_BYTES = 50

    body = assert_error(post(maintainer_api, "title\n" + "An issue\n" * 20), 413)

    assert "limit of 50 bytes" in body["detail"]


@pytest.mark.django_db
def test_over_the_row_limit_is_400(maintainer_api, settings):
    settings.IMPORT_MAX_ROWS = 2

    body = assert_error(post(maintainer_api, "title\na\nb\nc\n"), 400, "file")

    assert "at most 2" in body["detail"]


@pytest.mark.django_db
def test_reporters_may_not_import_and_anonymous_visitors_must_sign_in(reporter_api, anon_api):
    assert_error(post(reporter_api, "title\nNope\n"), 403)
    assert anon_api.post(URL, {"file": upload("title\nNope\n")}).status_code == 401
    assert Issue.objects.count() == 0


@pytest.mark.django_db
def test_a_large_file_answers_202_with_a_status_url(maintainer, maintainer_api, settings):
    settings.IMPORT_ASYNC_ROWS = 3
    content = csv_bytes([["title"], *[[f"Issue {n}"] for n in range(5)]])

    response = post(maintainer_api, content)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"] == body["status_url"]
    job = ImportJob.objects.get()
    assert body["status_url"] == "http://testserver" + reverse(
        "api:issue-import-status", kwargs={"job_id": job.pk}
    )
    status = maintainer_api.get(body["status_url"]).json()
    assert (status["status"], status["progress"], status["total_lines"]) == ("queued", 0, 6)


# Outside a transaction (as a request runs) the job is sent to the worker at once,
# before the answer is written: a quick worker can be done, or the broker found
# down, by then.
@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_202_even_if_the_worker_finished_it_first(settings, monkeypatch):
    settings.IMPORT_ASYNC_ROWS = 3
    monkeypatch.setattr(
        "issues.importer.tasks.import_csv.apply_async",
        lambda args, **options: importer.run_job(args[0]),  # a worker quicker than us
    )
    api = client_for(UserFactory(role="MAINTAINER"))

    response = post(api, csv_bytes([["title"], *[[f"Issue {n}"] for n in range(5)]]))

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "done"
    assert api.get(response["Location"]).json()["created"] == 5


@pytest.mark.django_db(transaction=True)
def test_a_large_file_no_worker_can_be_asked_for_is_503(settings, monkeypatch):
    settings.IMPORT_ASYNC_ROWS = 3
    broker_down(monkeypatch)
    api = client_for(UserFactory(role="MAINTAINER"))

    response = post(api, csv_bytes([["title"], *[[f"Issue {n}"] for n in range(5)]]))

    assert_error(response, 503)
    assert "could not be reached" in response.json()["detail"]
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_an_import_is_seen_by_who_started_it_and_by_admins(maintainer_api, admin_api, reporter_api):
    job_url = post(maintainer_api, "title\nOne\n").json()["status_url"]

    assert maintainer_api.get(job_url).json()["created"] == 1
    assert admin_api.get(job_url).status_code == 200
    assert_error(client_for(UserFactory(role="MAINTAINER")).get(job_url), 404)
    assert_error(reporter_api.get(job_url), 403)
    assert_error(maintainer_api.get(f"{URL}not-a-uuid/"), 404)


# --- the large-file path through a real worker and broker ---------------------------------


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A real `celery worker` process on the test database and the real Redis broker,
    consuming a queue of its own (the import task is sent there)."""
    process = CeleryWorker(
        tmp_path / "worker.log",
        prefix="test-import",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        IMPORT_BATCH_SIZE="40",
    )
    settings.IMPORT_QUEUE = process.queue
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.mark.django_db(transaction=True)
def test_a_large_import_runs_in_a_real_worker_to_100_percent(worker, settings):
    settings.IMPORT_ASYNC_ROWS = 50
    maintainer = UserFactory(role="MAINTAINER")
    api = client_for(maintainer)
    rows = [[f"Background issue {n}", "", "HIGH"] for n in range(300)]
    rows[123] = ["", "no title on this row", "LOW"]
    content = csv_bytes([["title", "description", "severity"], *rows])

    response = post(api, content, name="large.csv")

    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    seen = wait_for_job(job_id, worker=worker)
    body = api.get(response["Location"]).json()
    assert body["status"] == "done", (body, worker.output())
    assert (body["progress"], body["created"], body["rows"]) == (100, 299, 300)
    assert body["errors"] == [{"line": 125, "column": "title", "message": "A title is required."}]
    assert seen == sorted(seen) and seen[-1] == 100  # it only ever goes forward
    assert Issue.objects.filter(title__startswith="Background issue").count() == 299
    assert IssueEvent.objects.filter(kind=EventKind.IMPORTED, actor=maintainer).count() == 299
    assert not list((settings.MEDIA_ROOT / "imports").iterdir())  # the stored copy is gone

    # The same file again, through the worker again: nothing new.
    again = post(api, content, name="large.csv")
    assert again.status_code == 202
    wait_for_job(again.json()["id"], worker=worker)
    job = ImportJob.objects.get(pk=again.json()["id"])
    assert (job.status, job.created_count, job.skipped_count) == (ImportStatus.DONE, 0, 299)
    assert Issue.objects.count() == 299

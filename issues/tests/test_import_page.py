"""The import page (/issues/import/): upload form, result summary with the error
table, the progress bar htmx polls for large files, and the list page's links."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from issues.importer import jobs
from issues.models import ImportJob, ImportStatus, Issue
from issues.tests.csv_helpers import csv_bytes, run_import, upload

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD_AND_BAD = csv_bytes(
    [["title", "severity"], ["Works", "HIGH"], ["", "LOW"], ["Also works", "nope"]]
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submit(client, content, **extra):
    return client.post(reverse("issues:import"), {"file": upload(content), **extra})


def test_reporters_get_403_and_visitors_are_sent_to_log_in(reporter, client):
    page = logged_in(reporter)

    assert page.get(reverse("issues:import")).status_code == 403
    assert submit(page, "title\nNope\n").status_code == 403
    response = client.get(reverse("issues:import"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert Issue.objects.count() == 0


def test_maintainers_get_the_upload_form(maintainer):
    page = logged_in(maintainer).get(reverse("issues:import")).content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page
    assert 'name="dry_run"' in page
    assert "<code>priority</code>" in page  # the format is explained


def test_an_upload_shows_the_summary_and_the_error_table(maintainer):
    client = logged_in(maintainer)

    response = submit(client, GOOD_AND_BAD)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("issues:import-job", kwargs={"job_id": job.pk})
    page = client.get(response["Location"]).content.decode()
    assert "<strong>1</strong> issue created." in page
    assert "2 rows with errors (2 errors), of 3 rows read." in page
    table = page[page.index('id="import-errors"') :]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    assert cells[:3] == ["3", "title", "A title is required."]
    assert cells[3:5] == ["4", "severity"]
    assert "&#x27;nope&#x27; is not a severity" in cells[5]
    assert 'value="100"' in page and "<progress" in page
    assert "hx-trigger" not in page  # finished: nothing polls
    # The import page lists it among the recent imports.
    assert "issues.csv" in client.get(reverse("issues:import")).content.decode()


def test_a_dry_run_says_what_would_happen(maintainer):
    client = logged_in(maintainer)

    response = submit(client, GOOD_AND_BAD, dry_run="on")

    page = client.get(response["Location"]).content.decode()
    assert "<strong>1</strong> issue would be created (dry run: nothing was imported)." in page
    assert Issue.objects.count() == 0


def test_a_file_that_cannot_be_imported_says_why(maintainer):
    response = submit(logged_in(maintainer), b"\x89PNG\r\n\x1a\n\x00\x00")

    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "Line 1 is not valid UTF-8" in page
    assert ImportJob.objects.count() == 0


def test_an_oversized_file_is_413(maintainer, settings):
    settings.IMPORT_MAX_BYTES = 20

    response = submit(logged_in(maintainer), "title\n" + "Too much\n" * 10)

    assert response.status_code == 413
    assert "over the import limit" in response.content.decode()


def test_a_large_file_shows_a_progress_bar_that_polls_until_done(maintainer, settings, monkeypatch):
    settings.IMPORT_ASYNC_ROWS = 2
    settings.IMPORT_BATCH_SIZE = 2
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)  # the worker comes later
    client = logged_in(maintainer)
    content = csv_bytes(
        [["title", "description"], ["One", ""], ["Two", ""], ["", "untitled"], ["Four", ""]]
    )

    location = submit(client, content)["Location"]

    job = ImportJob.objects.get()
    progress_url = reverse("issues:import-progress", kwargs={"job_id": job.pk})
    page = client.get(location).content.decode()
    assert f'hx-get="{progress_url}"' in page
    assert 'hx-trigger="every 1s"' in page
    assert re.search(r'<progress id="import-bar" value="0" max="100"', page)
    assert "Waiting for the background worker" in page

    # Half way through: what the page shows after the worker's first batch.
    seen = []
    flush = jobs._flush

    def looking_after_each_batch(run):
        flush(run)
        seen.append(client.get(progress_url, **HTMX).content.decode())

    monkeypatch.setattr(jobs, "_flush", looking_after_each_batch)
    jobs.run_job(job.pk)  # what the worker does

    partial = seen[0]
    assert partial.lstrip().startswith('<div id="import-progress"')
    assert re.search(r'<progress id="import-bar" value="60" max="100"', partial)
    assert 'hx-trigger="every 1s"' in partial
    assert "2 rows read, 2 issues created" in partial

    partial = client.get(progress_url, **HTMX).content.decode()
    assert re.search(r'<progress id="import-bar" value="100" max="100"', partial)
    assert "hx-get" not in partial and "hx-trigger" not in partial  # polling stops
    assert "<strong>3</strong> issues created." in partial
    assert 'id="import-errors"' in partial
    assert re.search(r"<td[^>]*>4</td><td>title</td>", partial)


def test_a_failed_import_shows_why(maintainer, settings, monkeypatch):
    settings.IMPORT_ASYNC_ROWS = 1
    monkeypatch.setattr(jobs, "_enqueue", lambda job_id: None)
    job = run_import(maintainer, "title\na\nb\n")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, detail="The import stopped after creating 0 issues: boom."
    )

    page = logged_in(maintainer).get(reverse("issues:import-job", kwargs={"job_id": job.pk}))

    assert "The import stopped after creating 0 issues: boom." in page.content.decode()


def test_an_import_is_seen_only_by_who_started_it_and_admins(maintainer, admin_user):
    job = run_import(maintainer, "title\nOne\n")
    url = reverse("issues:import-job", kwargs={"job_id": job.pk})
    progress = reverse("issues:import-progress", kwargs={"job_id": job.pk})

    assert logged_in(maintainer).get(url).status_code == 200
    assert logged_in(admin_user).get(url).status_code == 200
    other = logged_in(UserFactory(role="MAINTAINER"))
    assert other.get(url).status_code == 404
    assert other.get(progress).status_code == 404


def test_the_list_links_to_import_for_maintainers_and_to_export_for_everyone(maintainer, reporter):
    maintainers = logged_in(maintainer).get(reverse("issues:list") + "?status=OPEN")
    reporters = logged_in(reporter).get(reverse("issues:list"))

    page = maintainers.content.decode()
    assert f'href="{reverse("issues:import")}"' in page
    assert "Import CSV" in page
    assert f'href="{reverse("issues:export")}?status=OPEN"' in page
    assert "Export CSV" in page
    assert "Import CSV" not in reporters.content.decode()
    assert "Export CSV" in reporters.content.decode()

"""Attachments over the API: multipart upload, limits, the type told by the
bytes, safe names, and downloads only through the permission-checked endpoint."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from issues.models import Attachment, EventKind, IssueEvent
from issues.tests.api import PNG, assert_error, issue_state
from issues.tests.factories import IssueFactory

# The start of a 64-bit ELF executable.
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


@pytest.fixture(autouse=True)
def _media(media):
    return media


def files_in(media) -> list[Path]:
    return sorted(p for p in Path(media).rglob("*") if p.is_file()) if Path(media).exists() else []


def url(issue) -> str:
    return f"/api/issues/{issue.pk}/attachments/"


def upload(client, issue, name, content, content_type="application/octet-stream"):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(url(issue), {"file": file}, format="multipart")


def raw_upload(client, issue, filename: str, content: bytes):
    """A multipart body written by hand, so that the file name arrives exactly as
    a hostile client sends it (the test client would clean it first)."""
    boundary = "----tracker-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "POST", url(issue), body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def download(client, body_or_url):
    target = body_or_url["download_url"] if isinstance(body_or_url, dict) else body_or_url
    return client.get(target)


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.django_db
def test_a_reporter_uploads_a_png_to_their_issue(reporter_api, reporter, issue, media):
    response = upload(reporter_api, issue, "screen.png", PNG, "image/png")

    assert response.status_code == 201
    body = response.json()
    attachment = Attachment.objects.get()
    assert body == {
        "id": attachment.pk,
        "name": "screen.png",
        "size": len(PNG),
        "content_type": "image/png",
        "uploaded_by": {"id": reporter.pk, "name": "Rita Reporter"},
        "created_at": body["created_at"],
        "download_url": (
            f"http://testserver/api/issues/{issue.pk}/attachments/{attachment.pk}/download/"
        ),
    }
    (stored,) = files_in(media)
    assert stored.read_bytes() == PNG
    assert stored.parent == Path(media) / "attachments" / str(issue.pk)
    assert stored.name != "screen.png"  # the stored name is random
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.ATTACHMENT_ADDED)
    assert event.data == {"attachment": attachment.pk, "name": "screen.png", "size": len(PNG)}


@pytest.mark.django_db
def test_the_list_shows_the_issues_attachments(reporter_api, issue):
    upload(reporter_api, issue, "one.png", PNG)
    upload(reporter_api, issue, "two.txt", b"plain words\n")

    rows = reporter_api.get(url(issue)).json()

    assert [(row["name"], row["content_type"]) for row in rows] == [
        ("one.png", "image/png"),
        ("two.txt", "text/plain"),
    ]


@pytest.mark.django_db
def test_the_type_comes_from_the_bytes_not_the_name_or_the_header(reporter_api, issue):
    response = upload(reporter_api, issue, "notes.txt", PNG, content_type="text/plain")

    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    assert response.json()["name"] == "notes.txt"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "detected"),
    [
        (HTML, "text/html"),
        (ELF, "application/x-"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg"),
    ],
)
def test_a_forbidden_type_disguised_by_its_name_is_a_400(
    reporter_api, issue, media, content, detected
):
    before = issue_state(issue)

    response = upload(reporter_api, issue, "x.png", content, content_type="image/png")

    body = assert_error(response, 400, "file")
    assert detected in body["errors"]["file"][0]
    assert not Attachment.objects.exists()
    assert files_in(media) == []
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_file_over_the_limit_is_a_413_and_nothing_is_kept(reporter_api, issue, media, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    before = issue_state(issue)

    response = upload(reporter_api, issue, "big.txt", b"a" * 101)

    body = assert_error(response, 413)
    assert "100" in body["detail"]
    assert not Attachment.objects.exists()
    assert files_in(media) == []
    assert issue_state(issue) == before


@pytest.mark.django_db
def test_a_file_of_exactly_the_limit_is_accepted(reporter_api, issue, settings):
    settings.ATTACHMENT_MAX_BYTES = 100

    response = upload(reporter_api, issue, "exact.txt", b"a" * 99 + b"\n")

    assert response.status_code == 201
    assert response.json()["size"] == 100


@pytest.mark.django_db
def test_a_body_far_over_the_limit_is_refused_before_it_is_read(reporter_api, issue, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000

    response = upload(reporter_api, issue, "huge.txt", b"a" * 200_000)

    assert_error(response, 413)
    assert not Attachment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\\\..\\\\windows\\\\boot.txt", "boot.txt"),
        ("/absolute/path.txt", "path.txt"),
        ("a;b c.txt", "ab_c.txt"),
        ("%2e%2e%2fx.txt", "2e2e2fx.txt"),
        ("résumé 1.txt", "résumé_1.txt"),
    ],
)
def test_file_names_are_sanitised(reporter_api, issue, media, sent, kept):
    response = raw_upload(reporter_api, issue, sent, b"some text\n")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == kept
    # Whatever was sent, the bytes land in the issue's folder under a random name,
    # and nowhere else under the test's directory.
    (stored,) = files_in(Path(media).parent)
    assert stored.parent == Path(media) / "attachments" / str(issue.pk)
    assert stored.suffix == ".txt"
    assert kept.removesuffix(".txt") not in stored.name


@pytest.mark.django_db
def test_the_download_is_an_attachment_that_browsers_will_not_sniff(reporter_api, issue):
    created = raw_upload(reporter_api, issue, "../../etc/passwd.txt", b"root:x:0:0\n").json()

    response = download(reporter_api, created)

    assert response.status_code == 200
    assert content_of(response) == b"root:x:0:0\n"
    assert response["Content-Disposition"] == 'attachment; filename="passwd.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "text/plain"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_png_downloads_as_an_attachment_too(maintainer_api, issue):
    created = upload(maintainer_api, issue, "shot.png", PNG).json()

    response = download(maintainer_api, created)

    assert content_of(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_a_reporter_of_another_issue_gets_404_for_its_attachments(
    reporter_api, other_api, issue, media
):
    created = upload(reporter_api, issue, "shot.png", PNG).json()

    listing = other_api.get(url(issue))
    fetched = download(other_api, created)
    uploaded = upload(other_api, issue, "mine.png", PNG)

    for response in (listing, fetched, uploaded):
        assert_error(response, 404)
    assert Attachment.objects.count() == 1


@pytest.mark.django_db
def test_an_attachment_is_only_found_under_its_own_issue(
    reporter_api, other_api, issue, other_reporter
):
    """A visible issue's URL must not open a hidden issue's attachment."""
    hidden = upload(reporter_api, issue, "secret.png", PNG).json()
    own = IssueFactory(reporter=other_reporter)

    response = other_api.get(f"/api/issues/{own.pk}/attachments/{hidden['id']}/download/")

    assert_error(response, 404)


@pytest.mark.django_db
def test_there_is_no_public_url_for_uploaded_files(reporter_api, issue, media):
    upload(reporter_api, issue, "shot.png", PNG)
    stored = Attachment.objects.get().file.name

    response = reporter_api.get(f"/media/{stored}")

    assert response.status_code == 404


@pytest.mark.django_db
def test_an_unknown_attachment_is_a_404(reporter_api, issue):
    assert_error(reporter_api.get(url(issue) + "999999/download/"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"data": {}, "format": "multipart"}, 400, "file"),
        ({"data": {"file": "not a file"}, "format": "multipart"}, 400, "file"),
        ({"data": {"file": "x"}, "format": "json"}, 415, None),
    ],
)
def test_an_upload_without_a_file_is_refused(reporter_api, issue, kwargs, status, field):
    response = reporter_api.post(url(issue), **kwargs)

    assert_error(response, status, *([field] if field else []))
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_an_empty_file_is_a_400(reporter_api, issue):
    response = upload(reporter_api, issue, "empty.txt", b"")

    assert_error(response, 400, "file")


@pytest.mark.django_db
@pytest.mark.parametrize("length", ["abc", "-5", ""])
def test_a_nonsense_content_length_is_a_400(reporter_api, issue, length):
    file = SimpleUploadedFile("a.png", PNG, content_type="image/png")

    response = reporter_api.post(
        url(issue), {"file": file}, format="multipart", CONTENT_LENGTH=length
    )

    assert_error(response, 400)
    assert not Attachment.objects.exists()

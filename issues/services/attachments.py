"""Files attached to issues: limits, type sniffing, safe names."""

from __future__ import annotations

import magic
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts import roles
from accounts.models import User
from issues import live
from issues.errors import PayloadTooLarge
from issues.models import Attachment, EventKind, Issue, IssueEvent
from issues.services.validation import require_visible


def sniff_content_type(upload: UploadedFile) -> str:
    """The type the bytes say, not the name or the client's header."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    return magic.from_buffer(head, mime=True)


def safe_filename(name: str) -> str:
    """A display name with no path and nothing a shell or header could trip on."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    try:
        cleaned = get_valid_filename(base)
    except Exception:  # SuspiciousFileOperation for names like ".." or ""
        cleaned = ""
    return cleaned[:200] or "file"


@transaction.atomic
def add_attachment(*, actor: User, issue: Issue, upload: UploadedFile) -> Attachment:
    require_visible(actor, issue)
    if not roles.can_attach(actor, issue):
        raise PermissionDenied("You may not attach files to this issue.")
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise PayloadTooLarge(
            f"The file is {upload.size} bytes; the limit is {limit} bytes.", limit=limit
        )
    if upload.size == 0:
        raise ValidationError({"file": ["The file is empty."]})
    content_type = sniff_content_type(upload)
    if content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        raise ValidationError({"file": [f"Files of type {content_type} are not accepted."]})
    original_name = safe_filename(upload.name or "")
    attachment = Attachment(
        issue=issue,
        uploaded_by=actor,
        original_name=original_name,
        size=upload.size,
        content_type=content_type,
    )
    attachment.file.save(original_name, upload, save=False)
    stored = attachment.file.name
    # The file is written before the row: if the row cannot be written, remove it.
    try:
        attachment.save()
        IssueEvent.objects.create(
            issue=issue,
            actor=actor,
            kind=EventKind.ATTACHMENT_ADDED,
            data={"attachment": attachment.pk, "name": original_name, "size": upload.size},
        )
        Issue.objects.filter(pk=issue.pk).update(updated_at=timezone.now())
    except Exception:
        attachment.file.storage.delete(stored)
        raise
    live.announce("attached", issue)
    return attachment

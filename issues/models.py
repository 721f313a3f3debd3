import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Lower, Now

from issues.indexes import RumIndex

# Issue numbers come from a database sequence (created by the first migration), so
# concurrent creates, bulk imports and COPY loads all draw distinct numbers.
NUMBER_SEQUENCE = "issues_issue_number_seq"


class Status(models.TextChoices):
    OPEN = "OPEN", "Open"
    TRIAGED = "TRIAGED", "Triaged"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    DONE = "DONE", "Done"


class Severity(models.IntegerChoices):
    """Stored as a small integer so that sorting by severity is sorting by rank."""

    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"

    @classmethod
    def from_name(cls, name: str) -> "Severity":
        return cls[name.strip().upper()]


class Label(models.Model):
    name = models.CharField(max_length=50)
    colour = models.CharField(max_length=7, default="#6b7280", help_text="#rrggbb")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="label_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(colour__regex=r"^#[0-9a-fA-F]{6}$"),
                name="label_colour_hex",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="label_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Issue(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.BigIntegerField(
        unique=True,
        editable=False,
        db_default=models.Func(models.Value(NUMBER_SEQUENCE), function="nextval"),
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    # The people's foreign keys have no index of their own: the (reporter,
    # updated_at) and (assignee, status) indexes lead with them.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reported_issues",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_issues",
        db_index=False,
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="issues", through="IssueLabel")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="issue_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="issue_severity_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="issue_version_positive"
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="issue_title_not_empty"),
            # resolved_at is set exactly while the issue is DONE.
            models.CheckConstraint(
                condition=models.Q(status=Status.DONE, resolved_at__isnull=False)
                | (~models.Q(status=Status.DONE) & models.Q(resolved_at__isnull=True)),
                name="issue_resolved_at_matches_status",
            ),
        ]
        # The list's orderings end with `number` as tie-breaker and include the id,
        # so a page is found by an index-only scan (see tracker.paging).
        indexes = [
            models.Index(
                fields=["-updated_at", "-number"], name="issue_updated_idx", include=["id"]
            ),
            models.Index(fields=["created_at"], name="issue_created_idx"),
            models.Index(
                fields=["status", "-updated_at", "-number"],
                name="issue_status_updated_idx",
                include=["id"],
            ),
            models.Index(
                fields=["severity", "number"], name="issue_severity_number_idx", include=["id"]
            ),
            # A status's ids, for PostgreSQL to AND with other indexes' matches: a
            # search within a status counts in 71 ms with it, 86 ms without ("error"
            # among the open issues, 1,000,000 issues, 2026-12-06). (A status x label
            # count reads the links' own index, IssueLabel.status.)
            models.Index(fields=["status", "id"], name="issue_status_id_idx"),
            models.Index(fields=["severity", "status"], name="issue_severity_status_idx"),
            # Open issues per severity (/metrics, reports): reads the open rows only.
            models.Index(
                fields=["severity"],
                name="issue_open_severity_idx",
                condition=~models.Q(status=Status.DONE),
            ),
            models.Index(fields=["assignee", "status"], name="issue_assignee_status_idx"),
            models.Index(fields=["reporter", "-updated_at"], name="issue_reporter_updated_idx"),
            # The reports on resolved issues read these alone, never the table.
            models.Index(
                fields=["resolved_at"],
                name="issue_resolved_idx",
                include=["created_at", "assignee"],
                condition=models.Q(resolved_at__isnull=False),
            ),
            models.Index(
                fields=["created_at"],
                name="issue_open_created_idx",
                condition=~models.Q(status=Status.DONE),
            ),
            models.Index(
                fields=["assignee", "resolved_at"],
                name="issue_assignee_resolved_idx",
                include=["created_at"],
                condition=models.Q(resolved_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    @property
    def etag(self) -> str:
        return f'"{self.id}-{self.version}"'

    @property
    def is_open(self) -> bool:
        return self.status != Status.DONE


class IssueLabel(models.Model):
    """An issue's label, with a copy of the issue's status.

    The copy lets "open bugs" be counted from this table alone (the
    (label, status, issue) index, a few milliseconds at a million issues)
    instead of by joining every open issue with every bug link (about 50 ms).
    PostgreSQL keeps it, whoever writes (migration 0010's triggers): a link
    takes its issue's status when written, and a status change of the issue
    rewrites its links. Nothing in Python sets it.

    The foreign keys have no index of their own: the unique (issue, label) and
    the (label, status, issue) indexes lead with each, and every status change
    rewrites the links' indexes."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, db_index=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, db_default=Status.OPEN, editable=False
    )

    class Meta:
        db_table = "issues_issue_labels"
        unique_together = [("issue", "label")]
        indexes = [
            models.Index(fields=["label", "status", "issue"], name="issue_labels_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.label_id}"


class IssueSearch(models.Model):
    """An issue's words for full-text search: title (weight A) and description
    (weight B), English stemming. Kept by triggers of migrations 0008 and 0013 (on insert,
    and on an update that changes the title or the description), not by Django.

    It lives beside the issue rather than in its row on purpose: its RUM index
    (ranked search straight from the index) is costly to update, and a change
    of status, assignee or labels, which rewrites the issue's row, must not
    rewrite the issue's search entries too."""

    issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, primary_key=True, related_name="search"
    )
    vector = SearchVectorField()
    # `vector` without the words that are not in the title: each remaining word
    # keeps all its positions, so its distance to a one-word query is the same
    # as in `vector`. Searching one word ranks these matches first, and they
    # are fewer than all its matches (queries.titles_first).
    title_vector = SearchVectorField()

    class Meta:
        indexes = [
            RumIndex(fields=["vector"], name="issue_search_rum"),
            RumIndex(fields=["title_vector"], name="issue_search_title_rum"),
        ]

    def __str__(self) -> str:
        return f"Search words of {self.issue_id}"


class Comment(models.Model):
    # No index of its own: the (issue, created_at) index leads with it.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(body=""), name="comment_body_not_empty"),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="comment_not_own_parent"
            ),
        ]
        indexes = [models.Index(fields=["issue", "created_at"], name="comment_issue_created_idx")]

    def __str__(self) -> str:
        # Its own columns only: the admin names every comment a deletion takes along.
        return f"Comment {self.pk} on {self.issue_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name is random: the user's name never reaches the filesystem.
    suffix = PurePosixPath(filename).suffix.lower()[:16]
    return f"attachments/{instance.issue_id}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    # No index of its own: the (issue, created_at) index leads with it.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="attachments", db_index=False
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["issue", "created_at"], name="attachment_issue_idx")]

    def __str__(self) -> str:
        return self.original_name


class EventKind(models.TextChoices):
    CREATED = "CREATED", "Created"
    FIELD_CHANGED = "FIELD_CHANGED", "Field changed"
    LABELS_CHANGED = "LABELS_CHANGED", "Labels changed"
    COMMENT_ADDED = "COMMENT_ADDED", "Comment added"
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED", "Attachment added"
    BULK_CHANGE = "BULK_CHANGE", "Bulk change"
    IMPORTED = "IMPORTED", "Imported"


class IssueEvent(models.Model):
    """One entry of an issue's timeline. Append only: a trigger installed by the
    migrations makes PostgreSQL refuse any UPDATE of these rows."""

    # No index of its own: the (issue, created_at) index leads with it.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    # PROTECT, not SET_NULL: nulling the actor would be an UPDATE the table refuses.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issue_events",
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    field = models.CharField(max_length=32, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=EventKind.values), name="event_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["issue", "created_at"], name="event_issue_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.issue_id}"


class Watch(models.Model):
    """`user` gets mail about `issue` (see issues.notifications). The reporter and
    the assignee watch automatically; anyone who can see an issue may watch it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="watches",
        db_index=False,  # the unique (user, issue) index serves lookups by user
    )
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "issue"], name="watch_user_issue_unique"),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} watches {self.issue_id}"


class PendingMail(models.Model):
    """The mail one change calls for, not sent yet (issues.notifications): the
    timeline events it wrote, as [event id, issue id] pairs. Written in the
    change's own transaction, so mail goes out for exactly the changes that
    committed, even if the task queue was away then; sent and deleted by the
    send_pending_mail task."""

    refs = models.JSONField()
    # The request that made the change, for the mail's log lines.
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    # Failed sends so far, and when to try again: later after each failure, so
    # that mail that keeps failing does not hold up the rest.
    attempts = models.PositiveIntegerField(db_default=0)
    send_after = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"Mail pending for {len(self.refs)} event(s)"


# --- CSV import (issues.importer) ---------------------------------------------


class ImportStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class ImportJob(models.Model):
    """One upload of a CSV file: its progress while it runs and its result after.

    `import_id` is the SHA-256 of the file's bytes: importing the same file again
    skips the rows it already created (see ImportedRow). A RUNNING job whose
    `heartbeat_at` is older than IMPORT_STALE_SECONDS lost its worker
    (issues.importer.abandoned)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_jobs"
    )
    file_name = models.CharField(max_length=255)
    stored_file = models.CharField(max_length=255, blank=True, help_text="under MEDIA_ROOT")
    import_id = models.CharField(max_length=64, db_index=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_lines = models.PositiveIntegerField(default=0)
    processed_lines = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0, help_text="data rows read so far")
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0, help_text="already imported")
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="written with every batch while it runs"
    )

    # Not a column: set by importer.start_import on a job it handed to the worker,
    # which is answered as accepted whatever the worker has done with it since.
    background = False

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="import_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Import of {self.file_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def progress(self) -> int:
        """Per cent of the file's lines processed (100 once done)."""
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_lines:
            return 0
        return min(99, self.processed_lines * 100 // self.total_lines)


class ImportedRow(models.Model):
    """Which line of which file became which issue: the database refuses a second
    issue from the same line of the same file, so re-imports cannot duplicate."""

    import_id = models.CharField(max_length=64)
    line = models.PositiveIntegerField()
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["import_id", "line"], name="imported_row_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.import_id[:12]}:{self.line}"

"""API shapes: output serializers render models; input serializers check only the
shape of a request. Business rules (who may, which transitions, limits) are the
services' job, so the API and the pages answer bad input the same way."""

import uuid
from datetime import datetime, tzinfo

from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from issues.models import Attachment, Comment, Issue, IssueEvent, Label, Severity, Status
from issues.services import BULK_MAX
from issues.services.validation import sorted_names
from tracker.api import StrictSerializer, TextField
from tracker.reversing import reversed_around


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


@extend_schema_field({"type": "string", "enum": Severity.names})
class SeverityField(serializers.ChoiceField):
    """Severity travels by name (LOW ... CRITICAL); it is stored as a rank."""

    def __init__(self, **kwargs):
        super().__init__(choices=Severity.names, **kwargs)

    def to_representation(self, value):
        return Severity(value).name


class IssueSerializer(serializers.ModelSerializer):
    """The declared fields describe an issue (OpenAPI, the browsable API); the
    dict itself is built by hand (`to_representation`), since DRF's rendering
    field by field cost 1.3 ms an issue, a third of a page of 50. A test checks
    the two agree."""

    url = serializers.SerializerMethodField()
    severity = SeverityField()
    reporter = UserRefSerializer()
    assignee = UserRefSerializer(allow_null=True)
    labels = serializers.SerializerMethodField()

    class Meta:
        model = Issue
        fields = [
            "id",
            "number",
            "url",
            "title",
            "description",
            "status",
            "severity",
            "reporter",
            "assignee",
            "labels",
            "version",
            "created_at",
            "updated_at",
            "resolved_at",
        ]

    def to_representation(self, issue) -> dict:
        zone = self._zone
        return {
            "id": str(issue.pk),
            "number": issue.number,
            "url": self.get_url(issue),
            "title": issue.title,
            "description": issue.description,
            "status": issue.status,
            "severity": Severity(issue.severity).name,
            "reporter": _user_ref(issue.reporter),
            "assignee": _user_ref(issue.assignee),
            "labels": self.get_labels(issue),
            "version": issue.version,
            "created_at": _timestamp(issue.created_at, zone),
            "updated_at": _timestamp(issue.updated_at, zone),
            "resolved_at": _timestamp(issue.resolved_at, zone) if issue.resolved_at else None,
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, issue) -> str:
        before, after = self._url_parts
        return f"{before}{issue.pk}{after}"

    @cached_property
    def _url_parts(self) -> tuple[str, str]:
        """The absolute URL of an issue either side of its id, reversed once for a
        whole page: reverse() and build_absolute_uri() per issue were a third of
        the time of rendering it."""
        before, after = reversed_around("api:issue-detail", "issue_id", str(uuid.UUID(int=0)))
        request = self.context.get("request")
        return (request.build_absolute_uri(before) if request else before), after

    @cached_property
    def _zone(self) -> tzinfo:
        """The current time zone, looked up once for a whole page: DRF's
        DateTimeField looks it up for every timestamp (through asgiref's
        context-local storage), 150 times for a page of 50, which made it most
        of the cost of rendering one."""
        return timezone.get_current_timezone()

    def get_labels(self, issue) -> list[str]:
        # queries.api_issue_list reads the names with the issue; otherwise the
        # (prefetched) labels. Sorted here either way, the same for both.
        names = getattr(issue, "label_names", None)
        if names is None:
            names = [label.name for label in issue.labels.all()]
        return sorted_names(names)


def _timestamp(value: datetime, zone: tzinfo) -> str:
    """`value` as DRF's DateTimeField renders it (ISO 8601 in `zone`, UTC as "Z")."""
    text = value.astimezone(zone).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _user_ref(user) -> dict | None:
    return None if user is None else {"id": user.pk, "name": user.name}


class IssueCreateInput(StrictSerializer):
    title = TextField(trim_whitespace=False, allow_blank=True)
    description = TextField(trim_whitespace=False, allow_blank=True, required=False)
    severity = serializers.ChoiceField(choices=Severity.names, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    assignee = serializers.IntegerField(allow_null=True, required=False, help_text="user id")
    labels = serializers.ListField(child=TextField(), required=False)


class IssuePatchInput(IssueCreateInput):
    title = TextField(trim_whitespace=False, allow_blank=True, required=False)
    version = serializers.IntegerField(
        required=False, help_text="the version you edited; or send If-Match with the ETag"
    )


class LabelsInput(StrictSerializer):
    labels = serializers.ListField(child=TextField(), max_length=100)
    version = serializers.IntegerField(required=False)


class BulkStatusInput(StrictSerializer):
    ids = serializers.ListField(child=serializers.CharField(), max_length=BULK_MAX)
    status = serializers.ChoiceField(choices=Status.choices)


class BulkIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Issue
        fields = ["id", "number", "status", "version"]


class BulkStatusResult(serializers.Serializer):
    updated = serializers.IntegerField()
    issues = BulkIssueSerializer(many=True)


class EventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(allow_null=True)

    class Meta:
        model = IssueEvent
        fields = ["id", "kind", "field", "old_value", "new_value", "data", "actor", "created_at"]


class CommentSerializer(serializers.ModelSerializer):
    author = UserRefSerializer()
    depth = serializers.IntegerField(read_only=True, help_text="0 for a thread's first comment")

    class Meta:
        model = Comment
        fields = ["id", "parent", "depth", "author", "body", "created_at", "edited_at"]


class CommentInput(StrictSerializer):
    body = TextField(trim_whitespace=False, allow_blank=True)
    parent = serializers.IntegerField(allow_null=True, required=False)


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    uploaded_by = UserRefSerializer()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "uploaded_by", "created_at", "download_url"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, attachment) -> str:
        path = reverse(
            "api:attachment-download",
            kwargs={"issue_id": attachment.issue_id, "attachment_id": attachment.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "colour", "description"]


class LabelInput(StrictSerializer):
    name = TextField(trim_whitespace=False, allow_blank=True)
    colour = TextField(required=False)
    description = TextField(allow_blank=True, required=False)


class LabelPatchInput(LabelInput):
    name = TextField(trim_whitespace=False, allow_blank=True, required=False)


class WatchingSerializer(serializers.Serializer):
    watching = serializers.BooleanField(help_text="whether you get mail about this issue")

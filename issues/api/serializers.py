"""API shapes: output serializers render models; input serializers check only the
shape of a request. Business rules (who may, which transitions, limits) are the
services' job, so the API and the pages answer bad input the same way."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from issues.models import Attachment, Comment, Issue, IssueEvent, Label, Severity, Status
from issues.services import BULK_MAX
from tracker.api import StrictSerializer, TextField


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

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, issue) -> str:
        path = reverse("api:issue-detail", kwargs={"issue_id": issue.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_labels(self, issue) -> list[str]:
        # queries.api_issue_list reads the names with the issue; otherwise the
        # (prefetched) labels. Sorted here either way, the same for both.
        names = getattr(issue, "label_names", None)
        if names is None:
            names = [label.name for label in issue.labels.all()]
        return sorted(names, key=str.lower)


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

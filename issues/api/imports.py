"""CSV import and export over the API.

POST /api/issues/import/ (multipart, field `file`; `?dry_run=1` validates only)
answers 200 with the result for a small file, 202 with a status URL for a large
one (a Celery task imports it); GET /api/issues/import/<id>/ is the job's state.
GET /api/issues/export.csv streams the issues matching the list's filters.
"""

import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts import roles
from issues import exporter, importer, queries
from issues.errors import NotFound, PayloadTooLarge
from issues.filters import IssueFilter
from issues.models import ImportJob, ImportStatus
from tracker.api import error_body, validated
from tracker.db import one

ERROR = OpenApiResponse(description='`{"detail": "...", "errors": {"field": ["reason"]}}`')
TRUE = {"1", "true", "yes", "on"}


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="the line in the file; the header is line 1")
    column = serializers.CharField(help_text="the column as the header names it ('' for the row)")
    message = serializers.CharField()


class ImportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[s.lower() for s in ImportStatus.values])
    dry_run = serializers.BooleanField()
    file_name = serializers.CharField()
    created = serializers.IntegerField(help_text="issues created (a dry run: would create)")
    skipped = serializers.IntegerField(help_text="rows this file already imported before")
    error_count = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)
    errors_truncated = serializers.BooleanField(help_text="more errors than listed")
    rows = serializers.IntegerField(help_text="data rows read so far")
    total_lines = serializers.IntegerField()
    processed_lines = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="per cent")
    detail = serializers.CharField(allow_blank=True, help_text="why a failed import stopped")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.URLField()


class ImportInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


def _job_data(request, job: ImportJob) -> dict:
    path = reverse("api:issue-import-status", kwargs={"job_id": job.pk})
    data = {**importer.job_result(job), "status_url": request.build_absolute_uri(path)}
    return ImportJobSerializer(data).data


class IssueImport(GenericAPIView):
    parser_classes = [MultiPartParser]
    serializer_class = ImportJobSerializer
    pagination_class = None

    @extend_schema(
        summary="Import issues from a CSV file (MAINTAINER, ADMIN)",
        description="Columns by header name: title (required), description, status, severity "
        "(or priority), assignee (email or id), labels (separated by ; or |), reporter "
        "(email). Small files answer 200 with the result; files over the async threshold "
        "answer 202 and are imported in the background (poll `status_url`).",
        request={"multipart/form-data": ImportInput},
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="validate only")],
        responses={
            200: ImportJobSerializer,
            202: ImportJobSerializer,
            400: ERROR,
            403: ERROR,
            413: ERROR,
            503: ERROR,
        },
    )
    def post(self, request):
        if not roles.can_triage(request.user):
            raise PermissionDenied("Only maintainers and admins may import issues.")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = settings.IMPORT_MAX_BYTES
        if declared > limit + 64 * 1024:  # refuse before reading the body
            raise PayloadTooLarge(f"The upload is over the import limit of {limit} bytes.", limit)
        upload = validated(ImportInput, request.data)["file"]
        dry_run = request.query_params.get("dry_run", "").strip().lower() in TRUE
        job = importer.start_import(
            actor=request.user, upload=upload, file_name=upload.name, dry_run=dry_run
        )
        data = _job_data(request, job)
        # A job with the worker is accepted (202) whatever the worker has done with
        # it since; one it could not be sent to is a 503.
        if job.status == ImportStatus.FAILED and not job.background:
            return Response(
                error_body(job.detail or "The import failed."),
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        if job.status == ImportStatus.DONE and not job.background:
            return Response(data)
        return Response(
            data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["status_url"]}
        )


class IssueImportStatus(GenericAPIView):
    serializer_class = ImportJobSerializer
    pagination_class = None

    @extend_schema(
        summary="An import's progress and result",
        responses={200: ImportJobSerializer, 403: ERROR, 404: ERROR},
    )
    def get(self, request, job_id):
        return Response(_job_data(request, visible_job(request.user, job_id)))


def visible_job(user, job_id) -> ImportJob:
    """The person who started an import sees it, and admins; to other maintainers it
    is a 404, and people who may not import at all get a 403 whatever the id. A job
    whose worker stopped is marked failed on the way (importer.abandoned)."""
    if not roles.can_triage(user):
        raise PermissionDenied("Only maintainers and admins may import issues.")
    try:
        pk = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("No such import.") from None
    job = one(ImportJob.objects.filter(pk=pk))
    if job is None or not (job.created_by_id == user.pk or roles.is_admin(user)):
        raise NotFound("No such import.")
    importer.reap_if_abandoned(job)  # its worker may have died: say so
    return job


class _JsonErrors(BaseContentNegotiation):
    """The export answers CSV (a plain Django response) or, for bad filters, a
    JSON error whatever the client accepts."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class IssueExport(GenericAPIView):
    pagination_class = None
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonErrors
    filter_backends = [DjangoFilterBackend]
    filterset_class = IssueFilter

    def get_queryset(self):
        return queries.issue_list(self.request.user)

    @extend_schema(
        operation_id="issues_export",
        summary="Export the issues matching the list's filters as CSV",
        description="The same query parameters as the issue list; the columns are those "
        "the import reads (number, title, description, status, severity, assignee, labels, "
        "reporter, created_at, updated_at, resolved_at). Cells that a spreadsheet would "
        "run as a formula are prefixed with '.",
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: ERROR},
    )
    def get(self, request):
        return exporter.csv_response(request, self.filter_queryset(self.get_queryset()))

"""The reports API under /api/reports/: MAINTAINER and ADMIN only (others 403,
anonymous 401), errors in the shape of tracker.api.

Every answer carries `as_of` (when it was computed); reports over a period
also carry the `since` and `until` they used. Periods are whole UTC days, both
included; by default the last 90 days up to today.
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts import roles
from issues.api.serializers import UserRefSerializer
from issues.models import Severity, Status
from reports import queries

ERROR = OpenApiResponse(description='`{"detail": "...", "errors": {"field": ["reason"]}}`')
ERRORS = {401: ERROR, 403: ERROR}
PERIOD_ERRORS = {400: ERROR, **ERRORS}

SINCE = OpenApiParameter(
    "since",
    OpenApiTypes.DATE,
    description="first day of the period, YYYY-MM-DD (UTC); default: 89 days before `until`",
)
UNTIL = OpenApiParameter(
    "until",
    OpenApiTypes.DATE,
    description="last day of the period, included, YYYY-MM-DD (UTC); default: today. "
    f"A period is at most {queries.MAX_DAYS} days.",
)
LIMIT = OpenApiParameter(
    "limit",
    OpenApiTypes.INT,
    description=f"how many assignees, 1 to {queries.MAX_LIMIT} (default {queries.DEFAULT_LIMIT})",
)


class CanViewReports(BasePermission):
    message = "Reports are for maintainers and admins."

    def has_permission(self, request, view) -> bool:
        return roles.can_view_reports(request.user)


# --- response shapes ----------------------------------------------------------


class SeverityCount(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.names)
    label = serializers.CharField()
    count = serializers.IntegerField()


class StatusCount(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    label = serializers.CharField()
    count = serializers.IntegerField()


class AgeBucket(serializers.Serializer):
    bucket = serializers.ChoiceField(
        choices=[(key, label) for key, label, _low, _high in queries.AGE_BUCKETS]
    )
    label = serializers.CharField()
    count = serializers.IntegerField()


class TopAssignee(serializers.Serializer):
    assignee = UserRefSerializer()
    resolved = serializers.IntegerField(help_text="issues resolved in the period")


class Latency(serializers.Serializer):
    count = serializers.IntegerField(help_text="issues resolved in the period")
    average_seconds = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True, help_text="90th percentile")
    average = serializers.CharField(allow_null=True, help_text="e.g. `2 d 4 h`")
    median = serializers.CharField(allow_null=True)
    p90 = serializers.CharField(allow_null=True)


class AssigneeLatency(Latency):
    assignee = UserRefSerializer(allow_null=True, help_text="null: the unassigned issues")


class ThroughputDay(serializers.Serializer):
    date = serializers.DateField()
    created = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="resolved that day and still done")
    open = serializers.IntegerField(
        allow_null=True, help_text="open issues that day from the daily stats; null: no snapshot"
    )


class Totals(serializers.Serializer):
    created = serializers.IntegerField()
    resolved = serializers.IntegerField()


class Report(serializers.Serializer):
    as_of = serializers.DateTimeField()


class PeriodReport(Report):
    since = serializers.DateField()
    until = serializers.DateField()


class OpenBySeverityReport(Report):
    results = SeverityCount(many=True)


class ByStatusReport(Report):
    results = StatusCount(many=True)


class OpenAgeReport(Report):
    results = AgeBucket(many=True)


class TopAssigneesReport(PeriodReport):
    limit = serializers.IntegerField()
    results = TopAssignee(many=True)


class LatencyReport(PeriodReport):
    precomputed = serializers.BooleanField(
        help_text="true: the whole history, computed ahead by the stats task at `as_of` "
        "(too costly per request); false: computed now"
    )
    overall = Latency()
    assignees = AssigneeLatency(many=True, help_text="most resolved first")


class ThroughputReport(PeriodReport):
    totals = Totals()
    days = ThroughputDay(many=True, help_text="every day of the period, oldest first")


# --- views --------------------------------------------------------------------


class ReportView(GenericAPIView):
    permission_classes = [IsAuthenticated, CanViewReports]
    pagination_class = None

    def period(self, request) -> queries.Period:
        params = request.query_params
        return queries.parse_period(params.get("since"), params.get("until"))

    def answer(self, **data) -> Response:
        # A report computed ahead says when (its own `as_of`); others: now.
        return Response(self.get_serializer({"as_of": timezone.now(), **data}).data)


class OpenBySeverity(ReportView):
    serializer_class = OpenBySeverityReport

    @extend_schema(
        operation_id="reports_open_by_severity",
        summary="Open (not done) issues per severity",
        responses={200: OpenBySeverityReport, **ERRORS},
    )
    def get(self, request):
        return self.answer(results=queries.open_by_severity(request.user))


class ByStatus(ReportView):
    serializer_class = ByStatusReport

    @extend_schema(
        operation_id="reports_by_status",
        summary="All issues per status",
        responses={200: ByStatusReport, **ERRORS},
    )
    def get(self, request):
        return self.answer(results=queries.by_status(request.user))


class TopAssignees(ReportView):
    serializer_class = TopAssigneesReport

    @extend_schema(
        operation_id="reports_top_assignees",
        summary="Issues resolved in the period per assignee, most first",
        parameters=[SINCE, UNTIL, LIMIT],
        responses={200: TopAssigneesReport, **PERIOD_ERRORS},
    )
    def get(self, request):
        period = self.period(request)
        limit = queries.parse_limit(request.query_params.get("limit"))
        results = queries.top_assignees(request.user, period, limit)
        return self.answer(since=period.since, until=period.until, limit=limit, results=results)


class ResolutionLatency(ReportView):
    serializer_class = LatencyReport

    @extend_schema(
        operation_id="reports_resolution_latency",
        summary="Time to resolution (average, median, 90th percentile), overall and per assignee",
        description="Over the issues resolved in the period (and still done): "
        "`resolved_at - created_at`, percentiles interpolated (PostgreSQL percentile_cont).",
        parameters=[SINCE, UNTIL],
        responses={200: LatencyReport, **PERIOD_ERRORS},
    )
    def get(self, request):
        period = self.period(request)
        data = queries.resolution_latency(request.user, period)
        return self.answer(since=period.since, until=period.until, **data)


class Throughput(ReportView):
    serializer_class = ThroughputReport

    @extend_schema(
        operation_id="reports_throughput",
        summary="Created vs resolved per day, and the open-issue trend from the daily stats",
        parameters=[SINCE, UNTIL],
        responses={200: ThroughputReport, **PERIOD_ERRORS},
    )
    def get(self, request):
        period = self.period(request)
        days = queries.throughput(request.user, period)
        totals = {
            "created": sum(day["created"] for day in days),
            "resolved": sum(day["resolved"] for day in days),
        }
        return self.answer(since=period.since, until=period.until, totals=totals, days=days)


class OpenAge(ReportView):
    serializer_class = OpenAgeReport

    @extend_schema(
        operation_id="reports_open_age",
        summary="Open issues by age: < 1 day, < 1 week, < 1 month (30 days), older",
        responses={200: OpenAgeReport, **ERRORS},
    )
    def get(self, request):
        now = timezone.now()
        return Response(
            self.get_serializer({"as_of": now, "results": queries.open_age(request.user, now)}).data
        )

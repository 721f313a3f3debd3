from django.db import models

from issues.models import Severity, Status


class DailyStat(models.Model):
    """How many issues stood in each status x severity on a day. Upserted by the
    aggregation task, so re-running it rewrites the same rows."""

    date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    count = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "status", "severity"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "status", "severity"], name="dailystat_unique_cell"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="dailystat_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="dailystat_severity_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.status}/{self.get_severity_display()}: {self.count}"


class ReportSnapshot(models.Model):
    """A report computed ahead of time, for the periods too long to compute on
    each request (see reports.snapshots): its data as the report returns it,
    the period it covers, and when it was computed (shown as "as of")."""

    report = models.CharField(max_length=40, unique=True)
    since = models.DateField()
    until = models.DateField()
    data = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["report"]

    def __str__(self) -> str:
        return f"{self.report} {self.since}..{self.until} as of {self.computed_at:%Y-%m-%d %H:%M}"

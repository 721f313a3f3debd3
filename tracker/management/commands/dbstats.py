"""`manage.py dbstats`: rows per table, issues by status and severity, and what
happened in the last 7 days."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from issues.models import Comment, Issue, IssueEvent, Severity, Status
from tracker.management.maintenance import app_models


class Command(BaseCommand):
    help = "Print row counts per table, issues by status and severity, and recent activity."

    def handle(self, *args, **options):
        out = self.stdout.write
        out("Rows per table:")
        models = app_models()
        width = max(len(m._meta.db_table) for m in models)
        for model in models:
            out(f"  {model._meta.db_table:<{width}}  {model._default_manager.count():>9}")

        by_status = dict(
            Issue.objects.order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        out("Issues by status:")
        for value, label in Status.choices:
            out(f"  {label:<12}  {by_status.get(value, 0):>9}")

        by_severity = dict(
            Issue.objects.order_by()
            .values_list("severity")
            .annotate(n=Count("pk"))
            .values_list("severity", "n")
        )
        out("Issues by severity:")
        for value, label in Severity.choices:
            out(f"  {label:<12}  {by_severity.get(value, 0):>9}")

        since = timezone.now() - timedelta(days=7)
        out("Last 7 days:")
        out(f"  {'created':<12}  {Issue.objects.filter(created_at__gte=since).count():>9}")
        out(f"  {'resolved':<12}  {Issue.objects.filter(resolved_at__gte=since).count():>9}")
        out(f"  {'comments':<12}  {Comment.objects.filter(created_at__gte=since).count():>9}")
        out(f"  {'events':<12}  {IssueEvent.objects.filter(created_at__gte=since).count():>9}")

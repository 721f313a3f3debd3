from django.contrib import admin

from issues.admin import ReadOnlyAdmin
from reports.models import DailyStat


@admin.register(DailyStat)
class DailyStatAdmin(ReadOnlyAdmin):
    list_display = ["date", "status", "severity", "count", "computed_at"]
    list_filter = ["status", "severity"]
    date_hierarchy = "date"

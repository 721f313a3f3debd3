# Covering indexes for the reports (issue #7).

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0006_list_and_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="issue",
            name="issue_resolved_idx",
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["resolved_at"],
                include=("created_at", "assignee"),
                name="issue_resolved_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("status", "DONE"), _negated=True),
                fields=["created_at"],
                name="issue_open_created_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["assignee", "resolved_at"],
                include=("created_at",),
                name="issue_assignee_resolved_idx",
            ),
        ),
    ]

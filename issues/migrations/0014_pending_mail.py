"""Mail to send (issues.models.PendingMail): each change's notifications are
written in its own transaction and sent by a periodic task, where a Celery task
was queued after each commit (and lost when the queue was away)."""

import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0013_search_title_words"),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingMail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("refs", models.JSONField()),
                ("request_id", models.CharField(blank=True, max_length=128)),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("attempts", models.PositiveIntegerField(db_default=0)),
                (
                    "send_after",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
        ),
    ]

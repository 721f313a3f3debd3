from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """Built CONCURRENTLY: on a large table a plain CREATE INDEX would block
    writes to issues while it runs."""

    atomic = False

    dependencies = [
        ("issues", "0003_import_job"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("status", "DONE"), _negated=True),
                fields=["severity"],
                name="issue_open_severity_idx",
            ),
        ),
    ]

"""The label links' foreign keys lose their single-column indexes: the unique
(issue, label) and the (label, status, issue) indexes lead with each, and since
0010 every status change rewrites its issue's links and so all their indexes.

Only the indexes go. Django's own AlterField would also drop and re-add both
foreign-key constraints, re-checking every link under an exclusive lock."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "issue": "issues_issue_labels_issue_id_e7d458a1",
    "label": "issues_issue_labels_label_id_f9ff2581",
}


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0010_label_links_carry_status"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="issuelabel",
                    name=field,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to=f"issues.{field}",
                    ),
                )
                for field in INDEXES
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "issues_issue_labels" ("{field}_id")',
                )
                for field, name in INDEXES.items()
            ],
        ),
    ]

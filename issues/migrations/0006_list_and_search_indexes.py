"""Indexes for a million issues (issue #7).

- The `rum` extension, for the full-text search index of migration 0006. Needs
  the extension in the server: Debian/Ubuntu package `postgresql-<major>-rum`
  (scripts/system-deps.sh installs it), and a role allowed to CREATE EXTENSION
  when it is not there yet.
- The list's orderings with the `number` tie-breaker and the id included, so
  that a page is found with an index-only scan (tracker.paging).
- Labels by label: (label_id, issue_id) on the labels table, for "issues with
  label X" from the label's side (the auto-created M2M table has no Meta, so
  this index is plain SQL).
"""

from django.db import migrations, models


class CreateRumExtension(migrations.RunSQL):
    """CREATE EXTENSION rum, with a clear message when the server lacks it."""

    def __init__(self):
        super().__init__(
            "CREATE EXTENSION IF NOT EXISTS rum",
            reverse_sql=migrations.RunSQL.noop,  # other databases' objects may use it
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")
            available = cursor.fetchone() is not None
        if not available:
            version = schema_editor.connection.pg_version // 10000
            raise RuntimeError(
                "PostgreSQL lacks the `rum` extension used by the full-text search index. "
                f"Install it in the database server (Debian/Ubuntu: postgresql-{version}-rum, "
                "see scripts/system-deps.sh; docker-compose: the postgres image built from "
                "docker/postgres.Dockerfile), restart the server, and migrate again."
            )
        super().database_forwards(app_label, schema_editor, from_state, to_state)


LABEL_INDEX = "issue_labels_label_issue_idx"


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0005_import_heartbeat"),
    ]

    operations = [
        CreateRumExtension(),
        migrations.RemoveIndex(model_name="issue", name="issue_updated_idx"),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                fields=["-updated_at", "-number"], include=("id",), name="issue_updated_idx"
            ),
        ),
        migrations.RemoveIndex(model_name="issue", name="issue_status_updated_idx"),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                fields=["status", "-updated_at", "-number"],
                include=("id",),
                name="issue_status_updated_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                fields=["severity", "number"], include=("id",), name="issue_severity_number_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(fields=["status", "id"], name="issue_status_id_idx"),
        ),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {LABEL_INDEX} ON issues_issue_labels (label_id, issue_id)",
            reverse_sql=f"DROP INDEX IF EXISTS {LABEL_INDEX}",
        ),
    ]

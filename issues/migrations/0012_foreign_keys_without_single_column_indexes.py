"""Five more foreign keys lose their single-column indexes, which wider indexes
lead with (as 0011 did for the label links): an issue's reporter (reporter,
updated_at) and assignee (assignee, status); the issue of a comment, an
attachment and an event (issue, created_at). Every issue, comment and event
written maintained them for lookups the wider indexes serve as well.

Only the indexes go. Django's own AlterField would also drop and re-add the
foreign-key constraints, re-checking every row under an exclusive lock."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CASCADE, PROTECT, SET_NULL = (
    django.db.models.deletion.CASCADE,
    django.db.models.deletion.PROTECT,
    django.db.models.deletion.SET_NULL,
)

# (model, field, the field without its index, table, the index Django named)
INDEXES = [
    (
        "attachment",
        "issue",
        models.ForeignKey(
            db_index=False, on_delete=CASCADE, related_name="attachments", to="issues.issue"
        ),
        "issues_attachment",
        "issues_attachment_issue_id_67821106",
    ),
    (
        "comment",
        "issue",
        models.ForeignKey(
            db_index=False, on_delete=CASCADE, related_name="comments", to="issues.issue"
        ),
        "issues_comment",
        "issues_comment_issue_id_ea7f321f",
    ),
    (
        "issue",
        "assignee",
        models.ForeignKey(
            blank=True,
            db_index=False,
            null=True,
            on_delete=SET_NULL,
            related_name="assigned_issues",
            to=settings.AUTH_USER_MODEL,
        ),
        "issues_issue",
        "issues_issue_assignee_id_a39069db",
    ),
    (
        "issue",
        "reporter",
        models.ForeignKey(
            db_index=False,
            on_delete=PROTECT,
            related_name="reported_issues",
            to=settings.AUTH_USER_MODEL,
        ),
        "issues_issue",
        "issues_issue_reporter_id_0b69a16d",
    ),
    (
        "issueevent",
        "issue",
        models.ForeignKey(
            db_index=False, on_delete=CASCADE, related_name="events", to="issues.issue"
        ),
        "issues_issueevent",
        "issues_issueevent_issue_id_898f8eb2",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0011_label_links_without_single_column_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name=model, name=field, field=definition)
                for model, field, definition, _, _ in INDEXES
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{field}_id")',
                )
                for _, field, _, table, name in INDEXES
            ],
        ),
    ]

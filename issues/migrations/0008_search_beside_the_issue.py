"""Full-text search words move out of the issue's row into issues_issuesearch,
with a RUM index there (ranked search straight from the index), kept by
triggers. The issue's own GIN index and generated column go: a change of
status or assignee no longer rewrites search entries, and issue rows shrink.

On an existing database the backfill computes every issue's words once and the
RUM index is built after it (a few minutes for a million issues)."""

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

import issues.indexes

# Title weight A, description weight B, English stemming: as the generated
# column this replaces.
VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce({row}.title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce({row}.description, '')), 'B')"
)

TRIGGERS = f"""
CREATE FUNCTION issues_issue_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO issues_issuesearch (issue_id, vector) VALUES (NEW.id, {VECTOR.format(row="NEW")})
    ON CONFLICT (issue_id) DO UPDATE SET vector = EXCLUDED.vector;
    RETURN NULL;
END
$$;
CREATE TRIGGER issues_issue_search_insert AFTER INSERT ON issues_issue
    FOR EACH ROW EXECUTE FUNCTION issues_issue_search_sync();
CREATE TRIGGER issues_issue_search_update AFTER UPDATE OF title, description ON issues_issue
    FOR EACH ROW
    WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION issues_issue_search_sync();
"""  # noqa: S608 - constant SQL, no input

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS issues_issue_search_update ON issues_issue;
DROP TRIGGER IF EXISTS issues_issue_search_insert ON issues_issue;
DROP FUNCTION IF EXISTS issues_issue_search_sync();
"""

BACKFILL = f"""
INSERT INTO issues_issuesearch (issue_id, vector)
SELECT issue.id, {VECTOR.format(row="issue")} FROM issues_issue AS issue
ON CONFLICT (issue_id) DO NOTHING
"""  # noqa: S608 - constant SQL, no input


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0007_report_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="IssueSearch",
            fields=[
                (
                    "issue",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="issues.issue",
                    ),
                ),
                ("vector", django.contrib.postgres.search.SearchVectorField()),
            ],
        ),
        migrations.RunSQL(TRIGGERS, reverse_sql=DROP_TRIGGERS),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="issuesearch",
            index=issues.indexes.RumIndex(fields=["vector"], name="issue_search_rum"),
        ),
        migrations.RemoveIndex(model_name="issue", name="issue_search_gin"),
        migrations.RemoveField(model_name="issue", name="search_vector"),
    ]

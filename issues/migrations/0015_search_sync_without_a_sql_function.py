"""The search row's title words (0013) computed from the title's own words
instead of by issues_title_words(), a SQL function PostgreSQL cannot inline (it
reads the vector with a subquery): called from the trigger, it was parsed and
planned again for every issue written. Now the words of the description that
are not in the title are deleted from the issue's words, with built-in
functions only: the same vector, and the trigger's part of a create took
0.25-0.44 ms against 0.33-0.66 (EXPLAIN ANALYZE at 1,000,000 issues, three
sessions a side, 2026-12-07).
issues_title_words() stays, for 0013's way back."""

from importlib import import_module

from django.db import migrations

# 0013's trigger function, for the way back.
BACKWARD = import_module("issues.migrations.0013_search_title_words").sync_function(
    title_words=True
)

# The issue's words (0008's vector), the title's and the description's apart.
FORWARD = """
CREATE OR REPLACE FUNCTION issues_issue_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    title tsvector := to_tsvector('english'::regconfig, coalesce(NEW.title, ''));
    description tsvector := to_tsvector('english'::regconfig, coalesce(NEW.description, ''));
    words tsvector := setweight(title, 'A') || setweight(description, 'B');
BEGIN
    INSERT INTO issues_issuesearch (issue_id, vector, title_vector)
    VALUES (
        NEW.id,
        words,
        ts_delete(words, tsvector_to_array(ts_delete(description, tsvector_to_array(title))))
    )
    ON CONFLICT (issue_id) DO UPDATE
        SET vector = EXCLUDED.vector, title_vector = EXCLUDED.title_vector;
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0014_pending_mail"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, reverse_sql=BACKWARD),
    ]

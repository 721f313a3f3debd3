"""The search row also keeps its title's words (`title_vector`: the issue's
words that occur in its title, with all their positions, title and
description), with a RUM index of their own, for ranking a one-word search
among the issues that have the word in their title first
(issues.queries.titles_first): 6 ms for "error" at 1,000,000 issues against
30 ms over all its matches.

The trigger function of 0008 writes both columns from now on. On an existing
database the search rows are rewritten once, with their indexes."""

import django.contrib.postgres.search
from django.db import migrations

import issues.indexes

VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce({row}.title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce({row}.description, '')), 'B')"
)

# `words` without the words that have no title (A) position.
TITLE_WORDS = """
CREATE FUNCTION issues_title_words(words tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ts_delete(words, ARRAY(
        SELECT word.lexeme FROM unnest(words) AS word WHERE NOT 'A' = ANY(word.weights)
    ))
$$;
"""


def sync_function(title_words: bool) -> str:
    """0008's trigger function, writing the title's words too or not."""
    columns, values, updates = "issue_id, vector", "NEW.id, words", "vector = EXCLUDED.vector"
    if title_words:
        columns += ", title_vector"
        values += ", issues_title_words(words)"
        updates += ", title_vector = EXCLUDED.title_vector"
    return f"""
CREATE OR REPLACE FUNCTION issues_issue_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    words tsvector := {VECTOR.format(row="NEW")};
BEGIN
    INSERT INTO issues_issuesearch ({columns}) VALUES ({values})
    ON CONFLICT (issue_id) DO UPDATE SET {updates};
    RETURN NULL;
END
$$;
"""  # noqa: S608 - constant SQL, no input


# The column is filled by changing its type, which rewrites the table once
# with its indexes built anew: an UPDATE of every row kept the search index up
# row by row (6 minutes at 1,000,000 issues) and left the table twice its size.
FORWARD = f"""
{TITLE_WORDS}
ALTER TABLE issues_issuesearch ADD COLUMN title_vector text;
ALTER TABLE issues_issuesearch
    ALTER COLUMN title_vector TYPE tsvector USING issues_title_words(vector),
    ALTER COLUMN title_vector SET NOT NULL;
{sync_function(title_words=True)}
"""

BACKWARD = f"""
{sync_function(title_words=False)}
DROP FUNCTION issues_title_words(tsvector);
ALTER TABLE issues_issuesearch DROP COLUMN title_vector;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0012_foreign_keys_without_single_column_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)],
            state_operations=[
                migrations.AddField(
                    model_name="issuesearch",
                    name="title_vector",
                    field=django.contrib.postgres.search.SearchVectorField(),
                    preserve_default=False,
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="issuesearch",
            index=issues.indexes.RumIndex(fields=["title_vector"], name="issue_search_title_rum"),
        ),
    ]

"""Two SQL functions for the CSV export, which PostgreSQL now writes itself
(COPY ... TO STDOUT): a cell neutralised as `issues.importer.neutralise` does
it, and a time written as Python's `datetime.isoformat()` writes it in UTC.
Both are plain SQL, so the planner inlines them into the export's query."""

from django.db import migrations

FUNCTIONS = r"""
CREATE FUNCTION issues_csv_cell(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NULLIF(
        CASE WHEN left(ltrim(value, ''''), 1) IN ('=', '+', '-', '@', E'\t', E'\r')
             THEN '''' || value ELSE value END,
        '')
$$;
CREATE FUNCTION issues_csv_time(value timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(
        value AT TIME ZONE 'UTC',
        CASE WHEN date_part('microseconds', value)::bigint % 1000000 = 0
             THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
             ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END)
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS issues_csv_time(timestamptz);
DROP FUNCTION IF EXISTS issues_csv_cell(text);
"""


class Migration(migrations.Migration):
    dependencies = [("issues", "0008_search_beside_the_issue")]

    operations = [migrations.RunSQL(FUNCTIONS, DROP)]

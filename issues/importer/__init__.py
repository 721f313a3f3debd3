"""CSV import of issues.

The file format (see the README): a header line naming the columns, in any
order: `title` (required), `description`, `status`, `severity` (or `priority`),
`assignee` (email or user id), `labels` (separated by `;` or `|`), `reporter`
(email; default: the importer). An export's extra columns (`number`,
`created_at`, `updated_at`, `resolved_at`) are accepted and ignored. UTF-8 with
or without a byte order mark; `,` or `;` between cells.

- `reading`: streaming the upload to disk (import id, limits, UTF-8) and parsing it;
- `rows`: one record -> the fields of an issue, or errors naming line and column;
- `jobs`: accepting a file, running it in batches (in the request or in Celery);
- `writing`: one batch of good rows into the database (COPY, then set-based SQL);
- `abandoned`: noticing jobs whose worker died (heartbeat) and failing them;
- `tasks`: the Celery tasks.
"""

from issues.importer.abandoned import reap_if_abandoned
from issues.importer.jobs import job_result, run_job, start_import
from issues.importer.reading import COLUMNS, FORMULA_START, neutralise, restore

__all__ = [
    "COLUMNS",
    "FORMULA_START",
    "job_result",
    "neutralise",
    "reap_if_abandoned",
    "restore",
    "run_job",
    "start_import",
]

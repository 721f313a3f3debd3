"""Index types Django does not ship."""

from django.contrib.postgres.indexes import PostgresIndex


class RumIndex(PostgresIndex):
    """A RUM index (the `rum` extension, Debian package postgresql-<major>-rum).

    Like GIN it answers `@@`, and it also stores each word's positions and
    weights, so `ORDER BY vector <=> query LIMIT n` reads the best
    matches straight from the index instead of ranking every match."""

    suffix = "rum"

    def __init__(self, *expressions, **kwargs):
        kwargs.setdefault("opclasses", ["rum_tsvector_ops"])
        super().__init__(*expressions, **kwargs)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        if list(kwargs.get("opclasses") or []) == ["rum_tsvector_ops"]:
            kwargs.pop("opclasses")
        return path, args, kwargs

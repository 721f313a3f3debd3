"""Query helpers shared by the apps."""

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model, QuerySet


def one(queryset: QuerySet):
    """The row a unique lookup names, or None. Like first(), but without the
    ORDER BY first() adds: of no use for one row, and compiling it was a third of
    the time Django spent building the API issue detail's query."""
    try:
        return queryset.get()
    except queryset.model.DoesNotExist:
        return None


def columns(model: type[Model], alias: str) -> str:
    """Every column of `model`, qualified by `alias`, in the order `fetch_one`
    hands them to `Model.from_db`."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def fetch_one(sql: str, params, *models: type[Model]) -> tuple[Model, ...] | None:
    """The first row of `sql` as one instance of each of `models`, whose
    `columns()` it selects in that order; None when there is no row.

    For the lookups every request makes before its own work (its API token and
    user): Django builds and compiles a queryset's SQL anew on each call, which
    took three to four times as long as PostgreSQL took to answer."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for model in models:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        instances.append(model.from_db(DEFAULT_DB_ALIAS, [f.attname for f in fields], values))
        start += len(fields)
    return tuple(instances)

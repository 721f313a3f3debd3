"""Query helpers shared by the apps."""

from django.db.models import QuerySet


def one(queryset: QuerySet):
    """The row a unique lookup names, or None. Like first(), but without the
    ORDER BY first() adds: of no use for one row, and compiling it was a third of
    the time Django spent building the API issue detail's query."""
    try:
        return queryset.get()
    except queryset.model.DoesNotExist:
        return None

"""What the service layer raises. HTML views and the API translate these into
their own responses, so the same bad input gets the same answer everywhere.

Bad input is django.core.exceptions.ValidationError with a {field: [reasons]} dict.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404


class NotFound(Http404):
    """The object does not exist, or the user may not know that it does. `ids`
    names the missing ones when a request named several."""

    def __init__(self, message: str = "Not found.", ids: list[str] | None = None):
        self.ids = ids or []
        super().__init__(message)


class FieldPermissionDenied(PermissionDenied):
    """The user may act on the issue but not change this particular field."""

    def __init__(self, field: str, message: str | None = None):
        self.field = field
        super().__init__(message or f"You may not change '{field}'.")


class VersionConflict(Exception):
    """The issue changed since the client read it. `current` is its state now, so
    the client can show the difference and re-apply on top of it."""

    def __init__(self, current):
        self.current = current
        super().__init__(
            f"Issue #{current.number} was changed meanwhile (now at version {current.version})."
        )


class PayloadTooLarge(Exception):
    def __init__(self, message: str, limit: int):
        self.limit = limit
        super().__init__(message)

"""Path converters for the issues' URLs."""

from django.urls.converters import IntConverter


class IssueNumberConverter(IntConverter):
    """An issue number in a URL: at most 18 digits, all a bigint column holds.

    A longer one names no issue, so its URL does not resolve (404); as a plain
    <int:> it reached PostgreSQL, which refuses to compare a bigint with it (a
    500 on the issue page, whose read is prepared outside the ORM's own check)."""

    regex = "[0-9]{1,18}"

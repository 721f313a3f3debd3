"""reverse() once for the many links of one shape on a page."""

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


def reversed_around(viewname: str, kwarg: str, placeholder: str) -> tuple[str, str]:
    """The path of `viewname` either side of its one argument `kwarg`, reversed
    once with `placeholder` (a value no real argument has) standing in for it: a
    page's links then cost a format each instead of a reverse() each (a third of
    the time of rendering an API issue; 50 calls a page of the HTML list). Kept
    per process for each script prefix and URLconf: the one reverse() left was
    2 % of an API issue detail's worker time (py-spy, 2026-12-07)."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed_around(viewname, kwarg, placeholder, get_script_prefix(), urlconf)


@lru_cache(maxsize=64)
def _reversed_around(
    viewname: str, kwarg: str, placeholder: str, prefix: str, urlconf
) -> tuple[str, str]:
    # reverse() reads the current script prefix itself: `prefix` is that one.
    path = reverse(viewname, kwargs={kwarg: placeholder}, urlconf=urlconf)
    before, after = path.split(placeholder)
    return before, after

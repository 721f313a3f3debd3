"""Content-Security-Policy headers: django-csp's middleware, with the policy
from settings built once instead of for every response.

django-csp 4.0 rebuilds the header from settings on each response, copying and
sorting every directive: about 65 µs, as much as the rest of the middleware
stack together, for a string that only changes when the settings do. A response
whose view changed its policy (the csp decorators; the browsable API's inline
styles) and a request that asked for a nonce still go through django-csp itself.
"""

from __future__ import annotations

from functools import cache

from csp import middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What a view sets on its response to change the policy for that response alone.
_PER_RESPONSE = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)
_HEADERS = ((HEADER, False, "_csp_exempt"), (HEADER_REPORT_ONLY, True, "_csp_exempt_ro"))


@cache
def settings_policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    """The header django-csp builds from settings alone ("" for none), and the
    path prefixes those settings exclude from it."""
    setting = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
    excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
    return build_policy(report_only=report_only), tuple(excluded)


@receiver(setting_changed)
def _forget_policies(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_policy.cache_clear()


class CSPMiddleware(middleware.CSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE
        ):
            return super().process_response(request, response)
        # From here on, as django-csp does it, with the policies built once.
        if response.status_code in (404, 500) and settings.DEBUG:
            return response  # Django's debug pages
        for header, report_only, exempt in _HEADERS:
            policy, excluded = settings_policy(report_only)
            if (
                policy
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # The header is written: a nonce asked for now could no longer be in it.
        request.csp_nonce = middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response

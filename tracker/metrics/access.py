"""Who may read /metrics: a client address in METRICS_ALLOWED_NETWORKS, or a
request carrying `Authorization: Bearer <METRICS_TOKEN>`; either suffices.

METRICS_ALLOWED_NETWORKS unset (or empty) means loopback only, or no address at
all once a METRICS_TOKEN is set (a proxy on the same host makes every client
look local, so a token must not be bypassed by default).

The address check trusts only direct connections: a request that carries
X-Forwarded-For or Forwarded came through a proxy, i.e. from outside, and its
address is whatever the proxy (or, with uvicorn --forwarded-allow-ips='*' and
the port reachable directly, the client itself) wrote there. Such requests
need the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core import checks

LOOPBACK = ("127.0.0.0/8", "::1/128")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks() -> list[str]:
    configured = settings.METRICS_ALLOWED_NETWORKS
    if configured:
        return list(configured)
    return [] if settings.METRICS_TOKEN else list(LOOPBACK)


@lru_cache(maxsize=8)
def _parse(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network.strip(), strict=False) for network in networks)


def _client_address(request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address


def _bearer_token(request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def refusal(request) -> str | None:
    """Why this request may not read the metrics, or None if it may."""
    token = settings.METRICS_TOKEN
    given = _bearer_token(request)
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return None
    forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    address = _client_address(request)
    if (
        not forwarded
        and address is not None
        and any(address in net for net in _parse(tuple(allowed_networks())))
    ):
        return None
    if given is not None:
        return "wrong token" if token else "no METRICS_TOKEN is configured"
    if forwarded:
        return "forwarded by a proxy (X-Forwarded-For/Forwarded): only the token is accepted"
    return f"address {request.META.get('REMOTE_ADDR')} not in METRICS_ALLOWED_NETWORKS"


@checks.register(checks.Tags.security)
def check_metrics_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for network in settings.METRICS_ALLOWED_NETWORKS or ():
        try:
            ipaddress.ip_network(network.strip(), strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"METRICS_ALLOWED_NETWORKS: {network!r} is not an address or CIDR network.",
                    id="tracker.E101",
                )
            )
    return errors

"""Which address a request came from, trusting ``X-Forwarded-For`` only as far as configured.

``TRUSTED_PROXIES`` is either a count (like werkzeug's ``ProxyFix(x_for=N)``: the N-th address
from the right of X-Forwarded-For) or a list of proxy networks (walk the chain from the right,
skipping trusted proxies). With the default 0 only ``REMOTE_ADDR`` is used: a client can write any
X-Forwarded-For it likes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence

Resolver = Callable[[Mapping[str, object]], "str | None"]


def remote_addr(environ: Mapping[str, object]) -> str | None:
    return environ.get("REMOTE_ADDR")  # type: ignore[return-value]


def make_resolver(trusted: int | Sequence[str]) -> Resolver:
    """A function ``environ -> client address`` for the given TRUSTED_PROXIES setting."""
    if isinstance(trusted, int):
        if trusted == 0:
            return remote_addr
        return _count_resolver(trusted)
    return _network_resolver([ipaddress.ip_network(n, strict=False) for n in trusted])


def _forwarded(environ: Mapping[str, object]) -> list[str]:
    header = environ.get("HTTP_X_FORWARDED_FOR")
    if not isinstance(header, str):
        return []
    return [part.strip() for part in header.split(",") if part.strip()]


def _count_resolver(count: int) -> Resolver:
    def resolve(environ: Mapping[str, object]) -> str | None:
        chain = _forwarded(environ)
        if len(chain) >= count:
            return chain[-count]
        return remote_addr(environ)

    return resolve


def _network_resolver(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Resolver:
    def trusted(address: str | None) -> bool:
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    def resolve(environ: Mapping[str, object]) -> str | None:
        address = remote_addr(environ)
        if not trusted(address):
            return address  # the peer is not our proxy: its X-Forwarded-For is not evidence
        for hop in reversed(_forwarded(environ)):
            if not trusted(hop):
                return hop
            address = hop
        return address

    return resolve

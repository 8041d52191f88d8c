"""Who sent a request: the client address behind trusted proxies, and the allow-list. Pure.

``X-Forwarded-For`` is believed only hop by hop from the right, and only while
the hop that wrote it is a configured trusted proxy; anything else could be
forged by the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]
) -> Address | None:
    """The first address, from the right, not written by a trusted proxy."""
    address = parse_address(peer)
    if address is None or not forwarded_for or not _within(address, trusted_proxies):
        return address
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None or not _within(address, trusted_proxies):
            return address
    return address


def allowed(address: Address | None, networks: Sequence[Network]) -> bool:
    """An empty allow-list lets everyone in; otherwise the address must be inside it."""
    if not networks:
        return True
    return address is not None and _within(address, networks)

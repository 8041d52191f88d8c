"""Who sent a request: the client address behind trusted proxies, and the allow-list. Pure.

Which address is trusted: the TCP peer always (the kernel reports it). ``X-Forwarded-For``
counts only when the peer is inside ``TRUSTED_PROXIES``; then its hops, read across every
``X-Forwarded-For`` header line in order (a proxy may append a line of its own rather than
extend the last one), are believed one by one from the right while the hop that wrote each
is a trusted proxy. The client is the first address from the right that is not a trusted
proxy: everything left of it was written by the client and could be forged.

A hop must be a bare address: a port (``1.2.3.4:80``, ``[2001:db8::1]:80``), an IPv6 zone id
(``fe80::1%eth0``) or a name makes it unparseable, and the client unknown (``None``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: IPv6 clients are rate-limited by this prefix: one subscriber usually holds a whole /64.
IPV6_RATE_PREFIX = 64


def parse_address(text: str | None) -> Address | None:
    """A bare IPv4 or IPv6 address (IPv4-mapped IPv6 as IPv4); anything else is None."""
    if not text:
        return None
    text = text.strip()
    if "%" in text:  # a zone id: ip_address() accepts it, and every zone would be a new client
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def peer_address(peer: str | None) -> Address | None:
    """The TCP peer as the kernel reports it; a link-local peer's zone id is dropped."""
    return parse_address(peer.partition("%")[0] if peer else peer)


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[Network]
) -> Address | None:
    """The first address, from the right, not written by a trusted proxy (see the module doc).

    ``forwarded_for`` is every ``X-Forwarded-For`` header line, in the order received.
    """
    address = peer_address(peer)
    if address is None or not forwarded_for or not _within(address, trusted_proxies):
        return address
    hops = [hop for line in forwarded_for for hop in line.split(",")]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None or not _within(address, trusted_proxies):
            return address
    return address


def rate_key(address: Address | None) -> str:
    """The rate limiter's key: an IPv4 address, or the /64 an IPv6 address is in."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_RATE_PREFIX), strict=False))
    return str(address)


def allowed(address: Address | None, networks: Sequence[Network]) -> bool:
    """An empty allow-list lets everyone in; otherwise the address must be inside it."""
    if not networks:
        return True
    return address is not None and _within(address, networks)

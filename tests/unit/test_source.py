"""Client address behind trusted proxies, and the CIDR allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from ingress.source import allowed, client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        pytest.param("203.0.113.5", None, "203.0.113.5", id="direct"),
        pytest.param("203.0.113.5", "198.51.100.1", "203.0.113.5", id="untrusted-peer-xff-ignored"),
        pytest.param("10.0.0.2", "198.51.100.1", "198.51.100.1", id="trusted-proxy"),
        pytest.param("10.0.0.2", "1.2.3.4, 198.51.100.1", "198.51.100.1", id="forged-left-ignored"),
        pytest.param("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1", id="two-proxies"),
        pytest.param("10.0.0.2", "10.0.0.7", "10.0.0.7", id="all-trusted"),
        pytest.param("10.0.0.2", "garbage", None, id="unparseable-hop"),
        pytest.param("::ffff:203.0.113.5", None, "203.0.113.5", id="ipv4-mapped"),
        pytest.param(None, None, None, id="no-peer"),
    ],
)
def test_client_address(peer: str | None, xff: str | None, expected: str | None) -> None:
    address = client_address(peer, xff, PROXIES)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize(
    ("address", "networks", "expected"),
    [
        pytest.param("203.0.113.5", (), True, id="empty-list-allows-all"),
        pytest.param(None, (), True, id="empty-list-allows-unknown"),
        pytest.param("203.0.113.5", ("203.0.113.0/24",), True, id="inside"),
        pytest.param("198.51.100.1", ("203.0.113.0/24",), False, id="outside"),
        pytest.param(None, ("203.0.113.0/24",), False, id="unknown-refused"),
        pytest.param("2001:db8::1", ("2001:db8::/32",), True, id="ipv6"),
    ],
)
def test_allowed(address: str | None, networks: tuple[str, ...], expected: bool) -> None:
    parsed = None if address is None else ipaddress.ip_address(address)
    assert allowed(parsed, tuple(ipaddress.ip_network(n) for n in networks)) is expected

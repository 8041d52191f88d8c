"""Client address behind trusted proxies, the rate limiter's key, and the CIDR allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from ingress.source import allowed, client_address, parse_address, rate_key

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        pytest.param("203.0.113.5", (), "203.0.113.5", id="direct"),
        pytest.param(
            "203.0.113.5", ("198.51.100.1",), "203.0.113.5", id="untrusted-peer-xff-ignored"
        ),
        pytest.param("10.0.0.2", ("198.51.100.1",), "198.51.100.1", id="trusted-proxy"),
        pytest.param(
            "10.0.0.2", ("1.2.3.4, 198.51.100.1",), "198.51.100.1", id="forged-left-ignored"
        ),
        pytest.param("10.0.0.2", ("198.51.100.1, 10.0.0.9",), "198.51.100.1", id="two-proxies"),
        pytest.param("10.0.0.2", ("10.0.0.7",), "10.0.0.7", id="all-trusted"),
        pytest.param("10.0.0.2", ("garbage",), None, id="unparseable-hop"),
        pytest.param("::ffff:203.0.113.5", (), "203.0.113.5", id="ipv4-mapped"),
        pytest.param(None, (), None, id="no-peer"),
        # A proxy that appends a header line of its own instead of extending the client's:
        # the client's line (forgeable) comes first, the proxy's (the truth) last.
        pytest.param(
            "10.0.0.2",
            ("203.0.113.77", "198.51.100.1"),
            "198.51.100.1",
            id="appended-line-is-read",
        ),
        pytest.param(
            "10.0.0.2",
            ("203.0.113.77, 10.0.0.3", "10.0.0.4"),
            "203.0.113.77",
            id="lines-in-order-across-proxies",
        ),
        pytest.param("10.0.0.2", ("fe80::1%eth0",), None, id="zone-id-refused"),
        pytest.param("10.0.0.2", ("198.51.100.1:4431",), None, id="ipv4-port-refused"),
        pytest.param("10.0.0.2", ("[2001:db8::1]:443",), None, id="ipv6-port-refused"),
        pytest.param("10.0.0.2", ("[2001:db8::1]",), None, id="ipv6-brackets-refused"),
        pytest.param("fe80::1%eth0", (), "fe80::1", id="peer-zone-dropped"),
        pytest.param("fd00::2%eth0", ("2001:db8::5",), "2001:db8::5", id="zoned-trusted-peer"),
    ],
)
def test_client_address(peer: str | None, xff: tuple[str, ...], expected: str | None) -> None:
    address = client_address(peer, xff, PROXIES)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("203.0.113.5", "203.0.113.5", id="ipv4"),
        pytest.param(" 2001:db8::1 ", "2001:db8::1", id="ipv6-spaces"),
        pytest.param("fe80::1%eth0", None, id="zone-name"),
        pytest.param("fe80::1%1", None, id="zone-number"),
        pytest.param("203.0.113.5:80", None, id="port"),
        pytest.param("example.com", None, id="name"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_address(text: str, expected: str | None) -> None:
    address = parse_address(text)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize(
    ("address", "key"),
    [
        pytest.param("203.0.113.5", "203.0.113.5", id="ipv4-per-address"),
        pytest.param("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64", id="ipv6-by-64"),
        pytest.param("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", id="same-64"),
        pytest.param("2001:db8:1:3::1", "2001:db8:1:3::/64", id="next-64"),
        pytest.param(None, "None", id="unknown"),
    ],
)
def test_rate_key(address: str | None, key: str) -> None:
    assert rate_key(None if address is None else ipaddress.ip_address(address)) == key


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

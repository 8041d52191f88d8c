"""Settings load once from a mapping; every bad value names its variable."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

import pytest

from common.config import Env
from common.errors import ConfigError
from ingress.settings import IngressSettings

P = "FEDAPAY_BRIDGE_"
MINIMAL = {f"{P}WEBHOOKS": "sandbox", f"{P}WEBHOOK_SANDBOX_SECRETS": "wh_sandbox_a"}


def load_ingress(environ: Mapping[str, str]) -> IngressSettings:
    return IngressSettings.from_env(Env(environ))


def test_defaults() -> None:
    settings = load_ingress(MINIMAL)
    assert settings.endpoints == {"sandbox": ("wh_sandbox_a",)}
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.topics.raw == "fedapay.raw"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.signature_tolerance == 300
    assert settings.max_body_bytes == 256 * 1024
    assert settings.allowed_networks == ()
    assert settings.rate_limit_per_second == 0
    assert (settings.max_header_line_bytes, settings.max_headers) == (4096, 32)
    assert (settings.header_timeout, settings.keepalive_timeout) == (10.0, 75.0)
    assert settings.max_body_reads == 64


def test_connection_limits() -> None:
    settings = load_ingress(
        {
            **MINIMAL,
            f"{P}MAX_HEADER_LINE_BYTES": "8190",
            f"{P}MAX_HEADERS": "64",
            f"{P}HEADER_TIMEOUT_SECONDS": "2.5",
            f"{P}KEEPALIVE_TIMEOUT_SECONDS": "120",
            f"{P}MAX_BODY_READS": "8",
        }
    )
    assert (settings.max_header_line_bytes, settings.max_headers) == (8190, 64)
    assert (settings.header_timeout, settings.keepalive_timeout) == (2.5, 120.0)
    assert settings.max_body_reads == 8


def test_rotation_and_several_endpoints() -> None:
    settings = load_ingress(
        {
            f"{P}WEBHOOKS": "live, sandbox-2",
            f"{P}WEBHOOK_LIVE_SECRETS": "wh_new, wh_old",
            f"{P}WEBHOOK_SANDBOX_2_SECRETS": "wh_sandbox",
            f"{P}TOPIC_PREFIX": "acme",
            f"{P}ALLOWED_CIDRS": "10.0.0.0/8,2001:db8::/32",
        }
    )
    assert settings.endpoints == {"live": ("wh_new", "wh_old"), "sandbox-2": ("wh_sandbox",)}
    assert settings.topics.raw == "acme.raw"
    assert settings.allowed_networks[0] == ipaddress.ip_network("10.0.0.0/8")


def test_secrets_from_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets"
    path.write_text("wh_one\nwh_two\n")
    settings = load_ingress({f"{P}WEBHOOKS": "live", f"{P}WEBHOOK_LIVE_SECRETS_FILE": str(path)})
    assert settings.endpoints["live"] == ("wh_one", "wh_two")


def test_secrets_never_in_repr() -> None:
    settings = load_ingress(
        {
            **MINIMAL,
            f"{P}KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            f"{P}KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            f"{P}KAFKA_SASL_USERNAME": "u",
            f"{P}KAFKA_SASL_PASSWORD": "hunter2",
        }
    )
    assert "wh_sandbox_a" not in repr(settings)
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        pytest.param({f"{P}WEBHOOKS": ""}, f"{P}WEBHOOKS", id="no-endpoints"),
        pytest.param({f"{P}WEBHOOKS": "Live"}, f"{P}WEBHOOKS", id="bad-endpoint-name"),
        pytest.param({f"{P}WEBHOOKS": "live"}, f"{P}WEBHOOK_LIVE_SECRETS", id="missing-secret"),
        pytest.param(
            {f"{P}WEBHOOK_SANDBOX_SECRETS_FILE": "/nonexistent/secret"},
            f"{P}WEBHOOK_SANDBOX_SECRETS",
            id="secret-and-file",
        ),
        pytest.param({f"{P}HTTP_PORT": "eighty"}, f"{P}HTTP_PORT", id="port-not-int"),
        pytest.param({f"{P}HTTP_PORT": "-1"}, f"{P}HTTP_PORT", id="port-negative"),
        pytest.param(
            {f"{P}PUBLISH_TIMEOUT_SECONDS": "0"}, f"{P}PUBLISH_TIMEOUT_SECONDS", id="timeout-zero"
        ),
        pytest.param({f"{P}MAX_HEADERS": "4"}, f"{P}MAX_HEADERS", id="too-few-headers"),
        pytest.param(
            {f"{P}MAX_HEADER_LINE_BYTES": "100"}, f"{P}MAX_HEADER_LINE_BYTES", id="short-lines"
        ),
        pytest.param(
            {f"{P}HEADER_TIMEOUT_SECONDS": "0"}, f"{P}HEADER_TIMEOUT_SECONDS", id="no-head-time"
        ),
        pytest.param(
            {f"{P}KEEPALIVE_TIMEOUT_SECONDS": "-1"},
            f"{P}KEEPALIVE_TIMEOUT_SECONDS",
            id="negative-keepalive",
        ),
        pytest.param({f"{P}MAX_BODY_READS": "0"}, f"{P}MAX_BODY_READS", id="no-body-reads"),
        pytest.param({f"{P}ALLOWED_CIDRS": "10.0.0.0/33"}, f"{P}ALLOWED_CIDRS", id="bad-cidr"),
        pytest.param({f"{P}UVLOOP": "maybe"}, f"{P}UVLOOP", id="bad-bool"),
        pytest.param({f"{P}LOG_LEVEL": "LOUD"}, f"{P}LOG_LEVEL", id="bad-choice"),
        pytest.param(
            {f"{P}KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            f"{P}KAFKA_SASL_MECHANISM",
            id="sasl-without-mechanism",
        ),
        pytest.param(
            {f"{P}KAFKA_SECURITY_PROTOCOL": "SASL_SSL", f"{P}KAFKA_SASL_MECHANISM": "PLAIN"},
            f"{P}KAFKA_SASL_USERNAME",
            id="sasl-without-credentials",
        ),
    ],
)
def test_bad_configuration_names_the_setting(extra: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_ingress({**MINIMAL, **extra})
    assert caught.value.setting == setting
    assert str(caught.value).startswith(setting)


def test_unreadable_secret_file_names_the_file_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        load_ingress(
            {f"{P}WEBHOOKS": "live", f"{P}WEBHOOK_LIVE_SECRETS_FILE": "/nonexistent/secret"}
        )
    assert caught.value.setting == f"{P}WEBHOOK_LIVE_SECRETS_FILE"

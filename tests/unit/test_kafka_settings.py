"""Kafka connection settings: nothing configured is silently ignored, no password in clear text
unless asked for, no client key without its certificate. Each is one KafkaSettingsError naming the
setting, and the process exits 2 like for any other bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.cli import main
from common.config import Env
from common.errors import ConfigError
from common.kafka import KafkaSettings, KafkaSettingsError

P = "FEDAPAY_BRIDGE_"
SCRAM = {
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "bridge",
    "KAFKA_SASL_PASSWORD": "hunter2",
}


def load(**settings: str) -> KafkaSettings:
    return KafkaSettings.from_env(Env({f"{P}{name}": value for name, value in settings.items()}))


@pytest.mark.parametrize(
    ("protocol", "setting"),
    [
        ("PLAINTEXT", "KAFKA_SASL_MECHANISM"),
        ("PLAINTEXT", "KAFKA_SASL_USERNAME"),
        ("PLAINTEXT", "KAFKA_SASL_PASSWORD"),
        ("PLAINTEXT", "KAFKA_SASL_PASSWORD_FILE"),
        ("PLAINTEXT", "KAFKA_SSL_CA_FILE"),
        ("PLAINTEXT", "KAFKA_SSL_CERT_FILE"),
        ("PLAINTEXT", "KAFKA_SSL_KEY_FILE"),
        ("SSL", "KAFKA_SASL_PASSWORD"),
        ("SSL", "KAFKA_SASL_USERNAME_FILE"),
        ("SASL_PLAINTEXT", "KAFKA_SSL_CA_FILE"),
    ],
)
def test_a_setting_the_protocol_would_ignore_is_refused(protocol: str, setting: str) -> None:
    with pytest.raises(KafkaSettingsError) as caught:
        load(KAFKA_SECURITY_PROTOCOL=protocol, **{setting: "/run/secrets/x"})
    assert caught.value.setting == f"{P}{setting}"
    assert f"{P}KAFKA_SECURITY_PROTOCOL={protocol}" in str(caught.value)


def test_sasl_plain_without_tls_is_refused_unless_allowed() -> None:
    plain = {**SCRAM, "KAFKA_SASL_MECHANISM": "PLAIN"}
    with pytest.raises(KafkaSettingsError) as caught:
        load(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", **plain)
    assert caught.value.setting == f"{P}KAFKA_SASL_MECHANISM"
    assert f"{P}KAFKA_SASL_PLAIN_WITHOUT_TLS" in caught.value.problem
    allowed = load(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_PLAIN_WITHOUT_TLS="true", **plain
    )
    assert allowed.aiokafka_options()["sasl_mechanism"] == "PLAIN"
    assert load(KAFKA_SECURITY_PROTOCOL="SASL_SSL", **plain).uses_tls
    assert load(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", **SCRAM).uses_sasl


def test_a_client_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(KafkaSettingsError) as caught:
        load(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_KEY_FILE="/run/tls/tls.key")
    assert caught.value.setting == f"{P}KAFKA_SSL_KEY_FILE"
    assert f"{P}KAFKA_SSL_CERT_FILE" in caught.value.problem


def test_the_error_is_a_config_error() -> None:
    assert issubclass(KafkaSettingsError, ConfigError)


def test_process_exits_2_naming_the_setting_and_never_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    password = tmp_path / "password"
    password.write_text("kafka-password-93c1\n")
    monkeypatch.setenv(f"{P}WEBHOOKS", "sandbox")
    monkeypatch.setenv(f"{P}WEBHOOK_SANDBOX_SECRETS", "wh_x")
    monkeypatch.setenv(f"{P}KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv(f"{P}KAFKA_SASL_PASSWORD_FILE", str(password))
    assert main(["ingress"]) == 2
    err = capsys.readouterr().err
    assert f"{P}KAFKA_SASL_PASSWORD_FILE: is not used with" in err
    assert "kafka-password-93c1" not in err

"""Kafka connection settings: nothing configured is silently ignored, no password in clear text
unless asked for, no client key without its certificate. Each is one KafkaSettingsError naming the
setting, and the process exits 2 like for any other bad setting."""

from __future__ import annotations

import ssl
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


CA_PROBLEMS = [
    ("missing.crt", None, "No such file or directory"),
    ("garbage.crt", b"not a certificate\n", "[X509: NO_CERTIFICATE_OR_CRL_FOUND]"),
]


@pytest.mark.parametrize(("name", "content", "reason"), CA_PROBLEMS)
def test_a_ca_file_that_cannot_be_used_names_the_setting(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    settings = load(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SSL_CA_FILE=str(path), **SCRAM)
    with pytest.raises(KafkaSettingsError) as caught:
        settings.ssl_context()
    assert caught.value.setting == f"{P}KAFKA_SSL_CA_FILE"
    assert caught.value.problem.startswith(f"cannot use {path}: {reason}")


def test_a_client_certificate_that_cannot_be_used_names_the_setting(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    settings = load(
        KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CERT_FILE=str(cert), KAFKA_SSL_KEY_FILE=str(key)
    )
    with pytest.raises(KafkaSettingsError) as caught:
        settings.ssl_context()
    assert (caught.value.setting, caught.value.problem) == (
        f"{P}KAFKA_SSL_CERT_FILE",
        f"cannot use {cert}, {key}: No such file or directory",
    )


def test_without_a_ca_file_the_system_cas_are_used() -> None:
    context = load(KAFKA_SECURITY_PROTOCOL="SSL").ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED

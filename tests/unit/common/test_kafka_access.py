"""Which setting a connection failure names (common.kafka_access.diagnose), and what the start-up
check does when nothing answers. The real refusals (a wrong password, an untrusted CA, a
mechanism the broker does not offer) are in tests/integration/test_kafka_sasl_ssl.py."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
import yaml
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from common.kafka import KafkaSettings, KafkaSettingsError
from common.kafka_access import CHECK_TIMEOUT_SECONDS, check_access, diagnose
from tests.kafka_broker import REPO_ROOT, free_port

P = "FEDAPAY_BRIDGE_"
SERVER = "kafka-0.kafka:9093"
SCRAM = KafkaSettings(
    bootstrap_servers=SERVER,
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="bridge",
    sasl_password="hunter2",
    ssl_cafile="/etc/kafka-ca/ca.crt",
)
SYSTEM_CAS = KafkaSettings(bootstrap_servers=SERVER, security_protocol="SSL")


def cert_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    """As Python's ssl module raises it (it sets these two attributes)."""
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code = code
    error.verify_message = message
    return error


REFUSED = "Authentication failed during authentication due to invalid credentials"


@pytest.mark.parametrize(
    ("exc", "kafka", "setting", "problem"),
    [
        (
            cert_error(19, "self-signed certificate in certificate chain"),
            SCRAM,
            "KAFKA_SSL_CA_FILE",
            f"the broker at {SERVER} presented a certificate the CA file /etc/kafka-ca/ca.crt "
            "does not trust (self-signed certificate in certificate chain): set it to the CA "
            "certificate that signed the broker's",
        ),
        (
            cert_error(20, "unable to get local issuer certificate"),
            SYSTEM_CAS,
            "KAFKA_SSL_CA_FILE",
            f"the broker at {SERVER} presented a certificate the system CAs do not trust "
            "(unable to get local issuer certificate): set it to the CA certificate that "
            "signed the broker's",
        ),
        (
            cert_error(62, "Hostname mismatch, certificate is not valid for 'kafka-0.kafka'."),
            SCRAM,
            "KAFKA_BOOTSTRAP_SERVERS",
            f"the certificate of the broker at {SERVER} is not valid for that name (Hostname "
            "mismatch, certificate is not valid for 'kafka-0.kafka'.): use a name or address "
            "the certificate lists",
        ),
        (
            cert_error(64, "IP address mismatch, certificate is not valid for '10.0.0.7'."),
            SYSTEM_CAS,
            "KAFKA_BOOTSTRAP_SERVERS",
            f"the certificate of the broker at {SERVER} is not valid for that name (IP address "
            "mismatch, certificate is not valid for '10.0.0.7'.): use a name or address the "
            "certificate lists",
        ),
        (
            SaslAuthenticationFailed(REFUSED),
            SCRAM,
            "KAFKA_SASL_PASSWORD",
            f"the broker at {SERVER} refused user 'bridge' with SCRAM-SHA-512 ({REFUSED}): "
            f"check the password (or {P}KAFKA_SASL_PASSWORD_FILE) and {P}KAFKA_SASL_USERNAME",
        ),
        (
            SaslAuthenticationFailed(),
            SCRAM,
            "KAFKA_SASL_PASSWORD",
            f"the broker at {SERVER} refused user 'bridge' with SCRAM-SHA-512 "
            f"(SaslAuthenticationFailed): check the password (or {P}KAFKA_SASL_PASSWORD_FILE) "
            f"and {P}KAFKA_SASL_USERNAME",
        ),
        (
            UnsupportedSaslMechanismError(object()),  # aiokafka passes its connection
            SCRAM,
            "KAFKA_SASL_MECHANISM",
            f"the broker at {SERVER} does not offer SCRAM-SHA-512 on this listener",
        ),
    ],
)
def test_a_refusal_names_the_setting_to_fix(
    exc: BaseException, kafka: KafkaSettings, setting: str, problem: str
) -> None:
    error = diagnose(exc, kafka, SERVER)
    assert isinstance(error, KafkaSettingsError)
    assert (error.setting, error.problem) == (f"{P}{setting}", problem)
    assert "hunter2" not in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(),  # also what a TLS client gets from a plaintext listener
        TimeoutError(),
        KafkaConnectionError(f"Connection at {SERVER} closed"),
        ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    ],
)
def test_a_failure_that_says_nothing_about_the_settings_names_none(exc: BaseException) -> None:
    assert diagnose(exc, SCRAM, SERVER) is None


@pytest.mark.asyncio
async def test_the_check_leaves_a_broker_that_does_not_answer_to_the_clients() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    kafka = KafkaSettings(
        bootstrap_servers=nobody,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="bridge",
        sasl_password="hunter2",
    )
    await check_access(kafka, timeout_s=2.0)  # returns: the clients retry as before


@pytest.mark.asyncio
async def test_plaintext_is_not_checked() -> None:
    await check_access(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"))


@pytest.mark.asyncio
async def test_the_check_takes_at_most_its_timeout_in_all_whatever_the_number_of_servers() -> None:
    # Three listeners that complete TCP handshakes (the kernel does) but never answer TLS.
    silent = [socket.create_server(("127.0.0.1", 0), backlog=8) for _ in range(3)]
    try:
        servers = ",".join(f"127.0.0.1:{sock.getsockname()[1]}" for sock in silent)
        kafka = KafkaSettings(bootstrap_servers=servers, security_protocol="SSL")
        started = time.monotonic()
        await check_access(kafka, timeout_s=1.0)
        assert time.monotonic() - started < 2.0  # not 3 x 1 s
    finally:
        for sock in silent:
            sock.close()


def test_the_readme_states_the_checks_deadline_and_it_fits_in_the_receiver_liveness_grace() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert f"check gives up after {CHECK_TIMEOUT_SECONDS:g} s in all" in readme
    values = yaml.safe_load((REPO_ROOT / "helm/fedapay-bridge/values.yaml").read_text())
    probe = values["receiver"]["livenessProbe"]
    grace = probe["initialDelaySeconds"] + probe["periodSeconds"] * probe["failureThreshold"]
    assert grace > 2 * CHECK_TIMEOUT_SECONDS  # the check, then the process's start, with room

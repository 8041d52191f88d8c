"""Whether the Kafka settings let this process in: checked at start, and explained on retries.

aiokafka reports a password the broker refuses, or a broker certificate the client does not
trust, as ``KafkaConnectionError: Unable to bootstrap`` (the cause only in a log line), and its
clients retry forever. :func:`check_access` opens one connection to the bootstrap servers with
the process's settings (TLS handshake, then SASL authentication) and turns a failure that only a
setting can fix into a :class:`KafkaSettingsError` naming that setting, so the process stops with
exit code 2 and says what to fix. A broker that does not answer (down, starting) is not such a
failure: the check returns and the process's own clients keep retrying as before (the ingress
asks the check again after each failed connect, to log the setting of a broker that came up and
refused it).

:func:`diagnose` is the pure part: which setting explains a connection error.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Final

from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

from common.config import PREFIX
from common.kafka import KafkaSettings, KafkaSettingsError

log = logging.getLogger(__name__)

#: OpenSSL's verify codes of a certificate that is trusted but names another host or address.
_NAME_MISMATCH: Final = frozenset({62, 64})  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH
#: How long the check may take in all, however many bootstrap servers do not answer.
CHECK_TIMEOUT_SECONDS: Final = 10.0


def _var(name: str) -> str:
    return f"{PREFIX}{name}"


def diagnose(exc: BaseException, kafka: KafkaSettings, server: str) -> KafkaSettingsError | None:
    """The setting to fix when connecting to ``server`` failed with ``exc``, or None when the
    failure says nothing certain about the settings (refused, timed out, reset, closed: the
    broker may be down, or a TLS client may have reached a plaintext listener, which Kafka
    answers by closing the connection).
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _untrusted(exc, kafka, server)
    if isinstance(exc, SaslAuthenticationFailed):
        return KafkaSettingsError(
            _var("KAFKA_SASL_PASSWORD"),
            f"the broker at {server} refused user {kafka.sasl_username!r} with "
            f"{kafka.sasl_mechanism} ({_detail(exc)}): check the password (or "
            f"{_var('KAFKA_SASL_PASSWORD_FILE')}) and {_var('KAFKA_SASL_USERNAME')}",
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return KafkaSettingsError(
            _var("KAFKA_SASL_MECHANISM"),
            f"the broker at {server} does not offer {kafka.sasl_mechanism} on this listener",
        )
    return None


def _untrusted(
    exc: ssl.SSLCertVerificationError, kafka: KafkaSettings, server: str
) -> KafkaSettingsError:
    reason = getattr(exc, "verify_message", None) or str(exc)
    if getattr(exc, "verify_code", None) in _NAME_MISMATCH:
        return KafkaSettingsError(
            _var("KAFKA_BOOTSTRAP_SERVERS"),
            f"the certificate of the broker at {server} is not valid for that name ({reason}): "
            "use a name or address the certificate lists",
        )
    trust = f"the CA file {kafka.ssl_cafile} does" if kafka.ssl_cafile else "the system CAs do"
    return KafkaSettingsError(
        _var("KAFKA_SSL_CA_FILE"),
        f"the broker at {server} presented a certificate {trust} not trust ({reason}): "
        "set it to the CA certificate that signed the broker's",
    )


def _detail(exc: BaseException) -> str:
    """The broker's own words when aiokafka kept them, else the error's name."""
    text = str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else ""
    return text or type(exc).__name__


async def check_access(kafka: KafkaSettings, *, timeout_s: float = CHECK_TIMEOUT_SECONDS) -> None:
    """Connect to the bootstrap servers as the process will, one after the other, for at most
    ``timeout_s`` in all; raise the first :class:`KafkaSettingsError` a refusal explains.
    Returns once one server let it in, or when none answered in a way that names a setting."""
    if not (kafka.uses_tls or kafka.uses_sasl):
        return  # plaintext: nothing a broker could refuse at connection time
    context = kafka.ssl_context()
    try:
        async with asyncio.timeout(timeout_s):
            for host, port, _ in collect_hosts(kafka.bootstrap_servers, randomize=False):
                if await _let_in(kafka, context, host, port, timeout_s):
                    return
    except TimeoutError:
        log.info("kafka access not checked: no broker answered", extra={"within_s": timeout_s})


async def _let_in(
    kafka: KafkaSettings, context: ssl.SSLContext | None, host: str, port: int, timeout_s: float
) -> bool:
    """True when ``host:port`` let the process in, False when it did not say why not."""
    server = f"{host}:{port}"
    try:
        connection = await create_conn(
            host,
            port,
            client_id="fedapay-bridge-access-check",
            request_timeout_ms=int(timeout_s * 1000),
            ssl_context=context,
            security_protocol=kafka.security_protocol,
            sasl_mechanism=kafka.sasl_mechanism,
            sasl_plain_username=kafka.sasl_username,
            sasl_plain_password=kafka.sasl_password,
        )
    except Exception as exc:  # what is not a settings problem is the clients' to retry
        problem = diagnose(exc, kafka, server)
        if problem is not None:
            raise problem from None
        log.info("kafka access not checked", extra={"server": server, "error": repr(exc)})
        return False
    connection.close()
    log.info("kafka access checked", extra={"server": server})
    return True

"""How every process of the bridge connects to Kafka (plaintext, TLS, SASL)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from common.config import Env
from common.errors import ConfigError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __repr__(self) -> str:  # never show the password
        return (
            f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, "
            f"security_protocol={self.security_protocol!r}, sasl_mechanism={self.sasl_mechanism!r})"
        )

    @classmethod
    def from_env(cls, env: Env) -> KafkaSettings:
        protocol = env.choice("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", SECURITY_PROTOCOLS)
        settings = cls(
            bootstrap_servers=env.text("KAFKA_BOOTSTRAP_SERVERS", cls.bootstrap_servers),
            security_protocol=protocol,
            sasl_mechanism=env.optional("KAFKA_SASL_MECHANISM"),
            sasl_username=env.secret("KAFKA_SASL_USERNAME"),
            sasl_password=env.secret("KAFKA_SASL_PASSWORD"),
            ssl_cafile=env.optional("KAFKA_SSL_CA_FILE"),
            ssl_certfile=env.optional("KAFKA_SSL_CERT_FILE"),
            ssl_keyfile=env.optional("KAFKA_SSL_KEY_FILE"),
        )
        settings._check(env)
        return settings

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def _check(self, env: Env) -> None:
        if not self.uses_sasl:
            return
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                env.var("KAFKA_SASL_MECHANISM"),
                f"expected one of {', '.join(SASL_MECHANISMS)} with {self.security_protocol}",
            )
        if not self.sasl_username or not self.sasl_password:
            raise ConfigError(
                env.var("KAFKA_SASL_USERNAME"),
                "SASL needs a username and a password (or their _FILE variants)",
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options

"""How every process of the bridge connects to Kafka (plaintext, TLS, SASL).

Settings that the chosen ``KAFKA_SECURITY_PROTOCOL`` would not use are refused at start instead of
being ignored (credentials configured, plaintext used), and so are a SASL ``PLAIN`` password sent
over ``SASL_PLAINTEXT`` (unless ``KAFKA_SASL_PLAIN_WITHOUT_TLS`` says so) and a client key without
its certificate. Each raises :class:`KafkaSettingsError`, a :class:`ConfigError` naming the setting:
the process stops with exit code 2 like for any other bad setting.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Final

from common.config import PREFIX, Env
from common.errors import ConfigError
from common.settings import (
    Chart,
    Choice,
    Flag,
    OptionalText,
    Parsed,
    Secret,
    Setting,
    Text,
    declared,
    load,
    setting,
)
from schemas.topics import Topics

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_WITH_SASL = "required with SASL"

#: Every process's topic prefix (the Kafka table of the README lists it).
TOPIC_PREFIX: Final = Setting(
    "TOPIC_PREFIX",
    Parsed(Topics, lambda topics: topics.prefix),
    "prefix of every topic name",
    Topics,
    chart=Chart("kafka.topicPrefix", schema={"pattern": "^[a-zA-Z0-9._-]+$"}),
)


class KafkaSettingsError(ConfigError):
    """The Kafka settings contradict each other; the message names the setting to fix."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = setting(
        "KAFKA_BOOTSTRAP_SERVERS",
        Text(),
        "127.0.0.1:9092",
        "brokers, comma-separated",
        chart=Chart("kafka.bootstrapServers", schema={"minLength": 1}),
    )
    security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL",
        Choice(SECURITY_PROTOCOLS),
        "PLAINTEXT",
        "how to reach the brokers",
        chart=Chart("kafka.securityProtocol"),
    )
    sasl_mechanism: str | None = setting(
        "KAFKA_SASL_MECHANISM",
        OptionalText(),
        None,
        f"{', '.join(f'`{m}`' for m in SASL_MECHANISMS)} ({_WITH_SASL})",
    )
    sasl_username: str | None = setting("KAFKA_SASL_USERNAME", Secret(), None, _WITH_SASL)
    sasl_password: str | None = setting("KAFKA_SASL_PASSWORD", Secret(), None, _WITH_SASL)
    ssl_cafile: str | None = setting(
        "KAFKA_SSL_CA_FILE", OptionalText(), None, "CA bundle for TLS", shown="system CAs"
    )
    ssl_certfile: str | None = setting(
        "KAFKA_SSL_CERT_FILE", OptionalText(), None, "client certificate (mutual TLS)"
    )
    ssl_keyfile: str | None = setting(
        "KAFKA_SSL_KEY_FILE",
        OptionalText(),
        None,
        "the client certificate's key; a key without a certificate is refused",
    )
    sasl_plain_without_tls: bool = setting(
        "KAFKA_SASL_PLAIN_WITHOUT_TLS",
        Flag(),
        False,
        "allow mechanism `PLAIN` with `SASL_PLAINTEXT` (the password crosses the network in "
        "clear text); refused otherwise",
        chart=Chart("kafka.sasl.plainWithoutTls"),
    )

    def __repr__(self) -> str:  # never show the password
        return (
            f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, "
            f"security_protocol={self.security_protocol!r}, sasl_mechanism={self.sasl_mechanism!r})"
        )

    @classmethod
    def from_env(cls, env: Env) -> KafkaSettings:
        protocol = _PROTOCOL.read(env)
        _refuse_unused(env, protocol)
        settings = load(cls, env, security_protocol=protocol)
        settings._check(env)
        return settings

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def _check(self, env: Env) -> None:
        if self.ssl_keyfile and not self.ssl_certfile:
            raise KafkaSettingsError(
                env.var("KAFKA_SSL_KEY_FILE"),
                f"a client key needs its certificate: set {env.var('KAFKA_SSL_CERT_FILE')} too",
            )
        if not self.uses_sasl:
            return
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise KafkaSettingsError(
                env.var("KAFKA_SASL_MECHANISM"),
                f"expected one of {', '.join(SASL_MECHANISMS)} with {self.security_protocol}",
            )
        if not self.sasl_username or not self.sasl_password:
            raise KafkaSettingsError(
                env.var("KAFKA_SASL_USERNAME"),
                "SASL needs a username and a password (or their _FILE variants)",
            )
        plain_in_clear = self.sasl_mechanism == "PLAIN" and not self.uses_tls
        if plain_in_clear and not self.sasl_plain_without_tls:
            raise KafkaSettingsError(
                env.var("KAFKA_SASL_MECHANISM"),
                "PLAIN over SASL_PLAINTEXT sends the password in clear text: use SASL_SSL or a "
                f"SCRAM mechanism, or set {env.var('KAFKA_SASL_PLAIN_WITHOUT_TLS')}=true "
                "(a network you trust)",
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every client; a CA or client certificate file that cannot be
        used raises :class:`KafkaSettingsError` naming its setting."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ssl_cafile)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise _unusable("KAFKA_SSL_CA_FILE", self.ssl_cafile, exc) from exc
        if self.ssl_certfile:
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            except (OSError, ValueError) as exc:
                files = ", ".join(f for f in (self.ssl_certfile, self.ssl_keyfile) if f)
                raise _unusable("KAFKA_SSL_CERT_FILE", files, exc) from exc
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


_PROTOCOL: Final[Setting[str]] = next(
    spec for spec in declared(KafkaSettings) if spec.name == "KAFKA_SECURITY_PROTOCOL"
)


def _names(prefix: str) -> tuple[str, ...]:
    """The variables of the settings named ``prefix...`` (a secret's ``_FILE`` too), in order."""
    names: list[str] = []
    for spec in declared(KafkaSettings):
        if spec.name.startswith(prefix):
            names += [spec.name, f"{spec.name}_FILE"] if spec.kind.secret else [spec.name]
    return tuple(names)


#: Settings that only a SASL_* protocol uses, and those that only SSL or SASL_SSL uses.
SASL_SETTINGS: Final = _names("KAFKA_SASL_")
TLS_SETTINGS: Final = _names("KAFKA_SSL_")


def _refuse_unused(env: Env, protocol: str) -> None:
    """A SASL or TLS setting the protocol would ignore is a mistake: name it."""
    unused: tuple[str, ...] = () if protocol.startswith("SASL_") else SASL_SETTINGS
    if protocol not in ("SSL", "SASL_SSL"):
        unused += TLS_SETTINGS
    for name in unused:
        if env.raw(name) is not None:
            raise KafkaSettingsError(
                env.var(name),
                f"is not used with {env.var('KAFKA_SECURITY_PROTOCOL')}={protocol}: set the "
                "protocol that uses it (SSL, SASL_PLAINTEXT or SASL_SSL) or remove the setting",
            )


def _unusable(setting: str, path: str | None, exc: Exception) -> KafkaSettingsError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return KafkaSettingsError(f"{PREFIX}{setting}", f"cannot use {path}: {reason}")

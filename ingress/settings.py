"""The ingress process's settings, read once at start from the environment.

Every variable is prefixed ``FEDAPAY_BRIDGE_``; the README's configuration
reference lists them with their defaults. A missing or bad value raises
:class:`common.errors.ConfigError` naming the variable.

Webhook endpoints: ``WEBHOOKS=live,sandbox`` names them; each name ``N`` then
needs ``WEBHOOK_<N>_SECRETS`` (comma-separated, several while a secret is
rotated) or ``WEBHOOK_<N>_SECRETS_FILE`` (a file with one secret per line,
e.g. a mounted Kubernetes Secret). ``N`` is upper-cased and ``-`` becomes
``_`` in the variable name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config import Env, endpoint_setting
from common.errors import ConfigError
from common.kafka import KafkaSettings
from common.tracing import TracingSettings
from schemas.keys import ENDPOINT_NAME
from schemas.topics import DEFAULT_PREFIX, Topics

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

COMPRESSION = ("none", "gzip")


@dataclass(frozen=True)
class IngressSettings:
    endpoints: Mapping[str, tuple[str, ...]] = field(repr=False)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: Topics = field(default_factory=Topics)
    host: str = "127.0.0.1"
    port: int = 8080
    signature_tolerance: int = 300
    #: Seconds a signature timestamp may lie in the future (0: no limit, as FedaPay's SDK).
    signature_max_future: int = 300
    max_body_bytes: int = 256 * 1024
    max_header_line_bytes: int = 4096
    max_headers: int = 32
    header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    max_body_reads: int = 64
    publish_timeout: float = 5.0
    retry_after: int = 5
    allowed_networks: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 100
    linger_ms: int = 0
    compression: str = "none"
    log_level: str = "INFO"
    log_format: str = "json"
    uvloop: bool = False
    #: From the standard ``OTEL_*`` variables (:mod:`common.tracing`): off by default.
    tracing: TracingSettings = field(default_factory=TracingSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IngressSettings:
        env = Env(environ)
        return cls(
            endpoints=_endpoints(env),
            kafka=KafkaSettings.from_env(env),
            topics=Topics(env.text("TOPIC_PREFIX", DEFAULT_PREFIX)),
            host=env.text("HTTP_HOST", cls.host),
            port=env.integer("HTTP_PORT", cls.port, minimum=0),
            signature_tolerance=env.integer(
                "SIGNATURE_TOLERANCE", cls.signature_tolerance, minimum=1
            ),
            signature_max_future=env.integer(
                "SIGNATURE_MAX_FUTURE_SECONDS", cls.signature_max_future, minimum=0
            ),
            max_body_bytes=env.integer("MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
            max_header_line_bytes=env.integer(
                "MAX_HEADER_LINE_BYTES", cls.max_header_line_bytes, minimum=1024
            ),
            max_headers=env.integer("MAX_HEADERS", cls.max_headers, minimum=8),
            header_timeout=env.real("HEADER_TIMEOUT_SECONDS", cls.header_timeout, minimum=0.1),
            keepalive_timeout=env.real(
                "KEEPALIVE_TIMEOUT_SECONDS", cls.keepalive_timeout, minimum=0.1
            ),
            max_body_reads=env.integer("MAX_BODY_READS", cls.max_body_reads, minimum=1),
            publish_timeout=env.real("PUBLISH_TIMEOUT_SECONDS", cls.publish_timeout, minimum=0.1),
            retry_after=env.integer("RETRY_AFTER_SECONDS", cls.retry_after, minimum=1),
            allowed_networks=env.networks("ALLOWED_CIDRS"),
            trusted_proxies=env.networks("TRUSTED_PROXIES"),
            rate_limit_per_second=env.real("RATE_LIMIT_PER_SECOND", 0.0, minimum=0.0),
            rate_limit_burst=env.integer("RATE_LIMIT_BURST", cls.rate_limit_burst, minimum=1),
            linger_ms=env.integer("PRODUCER_LINGER_MS", cls.linger_ms, minimum=0),
            compression=env.choice("PRODUCER_COMPRESSION", cls.compression, COMPRESSION),
            log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=env.choice("LOG_FORMAT", "json", ("json", "text")),
            uvloop=env.flag("UVLOOP", cls.uvloop),
            tracing=TracingSettings.from_environ(environ),
        )


def _endpoints(env: Env) -> dict[str, tuple[str, ...]]:
    names = env.items("WEBHOOKS")
    if not names:
        raise ConfigError(env.var("WEBHOOKS"), "is required: name at least one webhook endpoint")
    endpoints: dict[str, tuple[str, ...]] = {}
    for name in names:
        if not ENDPOINT_NAME.match(name):
            raise ConfigError(
                env.var("WEBHOOKS"), f"endpoint name {name!r} must match {ENDPOINT_NAME.pattern}"
            )
        endpoints[name] = _secrets(env, name)
    return endpoints


def _secrets(env: Env, endpoint: str) -> tuple[str, ...]:
    setting = endpoint_setting(endpoint, "SECRETS")
    value = env.secret(setting)
    if value is None:
        raise ConfigError(env.var(setting), f"is required for webhook endpoint {endpoint!r}")
    secrets = tuple(s.strip() for s in re.split(r"[,\n]", value) if s.strip())
    if not secrets:
        raise ConfigError(env.var(setting), "holds no secret")
    return secrets

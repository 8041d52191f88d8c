"""The ingress process's settings, read once at start from the environment.

Each setting is declared once, below (:mod:`common.settings`): its variable (prefixed
``FEDAPAY_BRIDGE_``), type, default, bounds and meaning; the README's configuration tables and
the chart's values documentation are generated from these declarations. A missing or bad value
raises :class:`common.errors.ConfigError` naming the variable.

Webhook endpoints: ``WEBHOOKS=live,sandbox`` names them; each name ``N`` then
needs ``WEBHOOK_<N>_SECRETS`` (comma-separated, several while a secret is
rotated) or ``WEBHOOK_<N>_SECRETS_FILE`` (a file with one secret per line,
e.g. a mounted Kubernetes Secret). ``N`` is upper-cased and ``-`` becomes
``_`` in the variable name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from common.config import Env
from common.errors import ConfigError
from common.kafka import TOPIC_PREFIX, KafkaSettings
from common.logs import LOG_FORMAT, LOG_LEVEL
from common.settings import (
    Chart,
    Choice,
    Flag,
    Integer,
    Network,
    Networks,
    Real,
    Secret,
    Setting,
    Text,
    group,
    load,
    setting,
    shared,
)
from common.tracing import TracingSettings
from schemas.keys import ENDPOINT_NAME
from schemas.topics import Topics

COMPRESSION = ("none", "gzip")
_CHART: Final = "receiver.settings."
_CIDRS: Final = {"items": {"type": "string", "pattern": "^[0-9a-fA-F:.]+(/[0-9]{1,3})?$"}}

#: The endpoint names; each names a ``WEBHOOK_<N>_SECRETS`` setting.
WEBHOOKS: Final = Setting(
    "WEBHOOKS",
    Text(),
    f"endpoint names, e.g. `live,sandbox` (`{ENDPOINT_NAME.pattern.strip('^$')}`)",
    None,
)
WEBHOOK_SECRETS: Final = Setting(
    "WEBHOOK_<N>_SECRETS",
    Secret(),
    "the endpoint's secrets, comma- or newline-separated (several while rotating); `<N>` "
    "upper-cased, `-` → `_`",
    None,
    shown="required per endpoint",
)


@dataclass(frozen=True)
class IngressSettings:
    endpoints: Mapping[str, tuple[str, ...]] = field(repr=False)
    kafka: KafkaSettings = group(KafkaSettings, KafkaSettings.from_env)
    topics: Topics = shared(TOPIC_PREFIX)
    host: str = setting(
        "HTTP_HOST", Text(), "127.0.0.1", "listen address (`0.0.0.0` in containers)"
    )
    port: int = setting("HTTP_PORT", Integer(minimum=0), 8080, "listen port")
    signature_tolerance: int = setting(
        "SIGNATURE_TOLERANCE",
        Integer(minimum=1),
        300,
        "seconds a signature timestamp may be old",
        chart=Chart(_CHART + "signatureTolerance"),
    )
    signature_max_future: int = setting(
        "SIGNATURE_MAX_FUTURE_SECONDS",
        Integer(minimum=0),
        300,
        "seconds a signature timestamp may lie ahead of the ingress's clock (FedaPay's SDK "
        "accepts any future time: a future-dated signature stays replayable until `t` + "
        "`SIGNATURE_TOLERANCE`); 300 covers any sane clock skew, like the tolerance; `0` lifts "
        "the cap",
    )
    max_body_bytes: int = setting(
        "MAX_BODY_BYTES",
        Integer(minimum=1024),
        256 * 1024,
        "largest accepted request body, in bytes; larger bodies get 413",
        chart=Chart(_CHART + "maxBodyBytes"),
    )
    max_header_line_bytes: int = setting(
        "MAX_HEADER_LINE_BYTES",
        Integer(minimum=1024),
        4096,
        "longest request line or header field (name and value); longer heads are refused (431/400)",
        chart=Chart(_CHART + "maxHeaderLineBytes"),
    )
    max_headers: int = setting(
        "MAX_HEADERS",
        Integer(minimum=8),
        32,
        "most header fields in a request head; more are refused (431/400)",
        chart=Chart(_CHART + "maxHeaders"),
    )
    header_timeout: float = setting(
        "HEADER_TIMEOUT_SECONDS",
        Real(minimum=0.1),
        10.0,
        "a request head not complete this long after the connection opened, or after the first "
        "byte following an answer, closes the connection",
        chart=Chart(_CHART + "headerTimeoutSeconds"),
    )
    keepalive_timeout: float = setting(
        "KEEPALIVE_TIMEOUT_SECONDS",
        Real(minimum=0.1),
        75.0,
        "an idle kept-alive connection is closed after this; keep it longer than the idle "
        "timeout of the proxy in front",
        chart=Chart(_CHART + "keepaliveTimeoutSeconds"),
    )
    max_body_reads: int = setting(
        "MAX_BODY_READS",
        Integer(minimum=1),
        64,
        "requests per process that may be receiving their body at once; one more whose body "
        "has not all arrived gets 503 `overloaded` (bounds the memory of slow bodies to about "
        "this times `MAX_BODY_BYTES`)",
        chart=Chart(_CHART + "maxBodyReads"),
    )
    publish_timeout: float = setting(
        "PUBLISH_TIMEOUT_SECONDS",
        Real(minimum=0.1),
        5.0,
        "how long to wait for the broker's ack before answering 503",
        chart=Chart(_CHART + "publishTimeoutSeconds"),
    )
    retry_after: int = setting(
        "RETRY_AFTER_SECONDS",
        Integer(minimum=1),
        5,
        "`Retry-After` of 503 answers, in seconds",
        chart=Chart(_CHART + "retryAfterSeconds"),
    )
    allowed_networks: tuple[Network, ...] = setting(
        "ALLOWED_CIDRS",
        Networks(),
        (),
        "source networks allowed to post webhooks",
        shown="empty (all)",
        chart=Chart(_CHART + "allowedCidrs", schema=_CIDRS),
    )
    trusted_proxies: tuple[Network, ...] = setting(
        "TRUSTED_PROXIES",
        Networks(),
        (),
        "networks whose `X-Forwarded-For` is believed: every header line, in order, hop by hop "
        "from the right while the hop that wrote it is trusted; the client is the first address "
        "from the right that is not a trusted proxy. A hop with a port or an IPv6 zone id "
        "(`%eth0`) is not an address (403 when `ALLOWED_CIDRS` is set)",
        shown="empty",
        chart=Chart(_CHART + "trustedProxies", "E.g. the ingress controller's pods.", _CIDRS),
    )
    rate_limit_per_second: float = setting(
        "RATE_LIMIT_PER_SECOND",
        Real(minimum=0.0),
        0.0,
        "requests per second per client: an IPv4 address, or an IPv6 /64; `0` turns rate "
        "limiting off",
        shown="`0` (off)",
        chart=Chart(_CHART + "rateLimitPerSecond"),
    )
    rate_limit_burst: int = setting(
        "RATE_LIMIT_BURST",
        Integer(minimum=1),
        100,
        "bucket size of the rate limit",
        chart=Chart(_CHART + "rateLimitBurst"),
    )
    linger_ms: int = setting(
        "PRODUCER_LINGER_MS",
        Integer(minimum=0),
        0,
        "producer batching delay (linger.ms)",
        chart=Chart(_CHART + "producerLingerMs"),
    )
    compression: str = setting(
        "PRODUCER_COMPRESSION",
        Choice(COMPRESSION),
        "none",
        "producer compression",
        chart=Chart(_CHART + "producerCompression"),
    )
    log_level: str = shared(LOG_LEVEL)
    log_format: str = shared(LOG_FORMAT)
    uvloop: bool = setting("UVLOOP", Flag(), False, "run on uvloop", chart=Chart(_CHART + "uvloop"))
    #: From the standard ``OTEL_*`` variables (:mod:`common.tracing`): off by default.
    tracing: TracingSettings = group(
        TracingSettings, lambda env: TracingSettings.from_environ(env.environ)
    )

    @classmethod
    def from_env(cls, env: Env) -> IngressSettings:
        return load(cls, env, endpoints=_endpoints(env))


def _endpoints(env: Env) -> dict[str, tuple[str, ...]]:
    names = env.items(WEBHOOKS.name)
    if not names:
        raise ConfigError(env.var(WEBHOOKS.name), "is required: name at least one webhook endpoint")
    endpoints: dict[str, tuple[str, ...]] = {}
    for name in names:
        if not ENDPOINT_NAME.match(name):
            raise ConfigError(
                env.var(WEBHOOKS.name),
                f"endpoint name {name!r} must match {ENDPOINT_NAME.pattern}",
            )
        endpoints[name] = _secrets(env, name)
    return endpoints


def _secrets(env: Env, endpoint: str) -> tuple[str, ...]:
    name = WEBHOOK_SECRETS.var(endpoint)
    value = WEBHOOK_SECRETS.read(env, endpoint)
    if value is None:
        raise ConfigError(env.var(name), f"is required for webhook endpoint {endpoint!r}")
    secrets = tuple(s.strip() for s in re.split(r"[,\n]", value) if s.strip())
    if not secrets:
        raise ConfigError(env.var(name), "holds no secret")
    return secrets

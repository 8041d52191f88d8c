"""Settings of ``reconcile`` (and of ``dlq redrive`` and ``replay``: Kafka and the prefix),
read once from ``FEDAPAY_BRIDGE_*`` variables.

Each setting is declared once, below and in :class:`reconcile.retry.RetryPolicy`
(:mod:`common.settings`); the README's table of them and the chart's values documentation are
generated from these declarations. Kafka connection variables are read by
:class:`common.kafka.KafkaSettings`. Per endpoint ``N`` (the name as in ``WEBHOOKS``; upper case,
``-`` as ``_``): ``WEBHOOK_<N>_API_BASE`` and ``WEBHOOK_<N>_API_KEY`` (or ``_FILE``).

Keep the overlap and the lookback below the workers' ``DEDUP_WINDOW_SECONDS``: a record older
than the window whose webhook was processed would be emitted a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from common.config import Env
from common.errors import ConfigError
from common.kafka import TOPIC_PREFIX, KafkaSettings
from common.logs import LOG_FORMAT, LOG_LEVEL
from common.settings import (
    Chart,
    Integer,
    Items,
    Real,
    Required,
    Secret,
    Setting,
    group,
    load,
    setting,
    shared,
)
from reconcile.retry import RetryPolicy
from schemas.keys import ENDPOINT_NAME
from schemas.records import STATUSES
from schemas.topics import Topics

_CHART: Final = "reconcile.settings."

API_BASE: Final = Setting(
    "WEBHOOK_<N>_API_BASE",
    Required(),
    "the FedaPay API base of the endpoint's account (`https://sandbox-api.fedapay.com` or "
    "`https://api.fedapay.com`)",
    None,
)
API_KEY: Final = Setting("WEBHOOK_<N>_API_KEY", Secret(), "the account's secret API key", None)


@dataclass(frozen=True)
class ToolSettings:
    """What ``dlq redrive`` and ``replay`` need: Kafka and the topic prefix."""

    kafka: KafkaSettings = group(KafkaSettings, KafkaSettings.from_env)
    topics: Topics = shared(TOPIC_PREFIX)
    log_level: str = shared(LOG_LEVEL)
    log_format: str = shared(LOG_FORMAT)

    @classmethod
    def from_env(cls, env: Env) -> ToolSettings:
        return load(cls, env)


@dataclass(frozen=True, kw_only=True)
class ReconcileSettings:
    kafka: KafkaSettings = group(KafkaSettings, KafkaSettings.from_env)
    topics: Topics = shared(TOPIC_PREFIX)
    endpoint: str
    api_base: str
    api_key: str = field(repr=False)
    replication_factor: int = setting(
        "TOPIC_REPLICATION_FACTOR",
        Integer(minimum=1),
        1,
        "replication of the checkpoint topic when `reconcile` creates it",
    )
    overlap_seconds: int = setting(
        "RECONCILE_OVERLAP_SECONDS",
        Integer(minimum=0),
        900,
        "a pass starts this long (seconds) before the end of the last complete pass",
        chart=Chart(_CHART + "overlapSeconds"),
    )
    lookback_seconds: int = setting(
        "RECONCILE_LOOKBACK_SECONDS",
        Integer(minimum=1),
        86_400,
        "how far back (seconds) the first pass (no checkpoint yet) starts",
        chart=Chart(_CHART + "lookbackSeconds"),
    )
    per_page: int = setting(
        "RECONCILE_PER_PAGE",
        Integer(minimum=1),
        100,
        "events per page asked of the API",
        chart=Chart(_CHART + "perPage"),
    )
    rate_per_second: float = setting(
        "RECONCILE_RATE_PER_SECOND",
        Real(minimum=0.01),
        5.0,
        "most API requests per second",
        chart=Chart(_CHART + "ratePerSecond"),
    )
    retry: RetryPolicy = group(RetryPolicy, lambda env: load(RetryPolicy, env))
    timeout_seconds: float = setting(
        "RECONCILE_TIMEOUT_SECONDS", Real(minimum=0.1), 30.0, "timeout of one API request"
    )
    drift_after_seconds: int = setting(
        "RECONCILE_DRIFT_AFTER_SECONDS",
        Integer(minimum=0),
        1800,
        "a watched status older than this (seconds) is checked against FedaPay (`0`: no drift "
        "check)",
        chart=Chart(_CHART + "driftAfterSeconds"),
    )
    drift_statuses: tuple[str, ...] = setting(
        "RECONCILE_DRIFT_STATUSES",
        Items(STATUSES, "statuses"),
        ("pending",),
        "the statuses whose transactions are watched",
        chart=Chart(_CHART + "driftStatuses", schema={"minItems": 1}),
    )
    drift_max: int = setting(
        "RECONCILE_DRIFT_MAX",
        Integer(minimum=0),
        500,
        "most transactions checked per pass",
        chart=Chart(_CHART + "driftMax"),
    )
    log_level: str = shared(LOG_LEVEL)
    log_format: str = shared(LOG_FORMAT)

    @classmethod
    def from_env(cls, env: Env, endpoint: str) -> ReconcileSettings:
        if ENDPOINT_NAME.match(endpoint) is None:
            raise ConfigError("--endpoint", f"{endpoint!r} must match {ENDPOINT_NAME.pattern}")
        api_key = API_KEY.read(env, endpoint)
        if api_key is None:
            raise ConfigError(
                env.var(API_KEY.var(endpoint)), f"is required to reconcile {endpoint!r}"
            )
        api_base = API_BASE.read(env, endpoint)
        if not api_base.startswith(("https://", "http://")):
            raise ConfigError(env.var(API_BASE.var(endpoint)), "must be an http(s) URL")
        return load(cls, env, endpoint=endpoint, api_base=api_base, api_key=api_key)

"""Settings of ``reconcile`` (and of ``dlq redrive`` and ``replay``: Kafka and the prefix),
read once from ``FEDAPAY_BRIDGE_*`` variables.

Kafka connection variables are read by :class:`common.kafka.KafkaSettings`. Per endpoint
``N`` (the name as in ``WEBHOOKS``; upper case, ``-`` as ``_``):

==================================  ====================  =======================================
variable                            default               meaning
==================================  ====================  =======================================
WEBHOOK_<N>_API_BASE                (required)            FedaPay API base of the endpoint's
                                                          account, e.g. the sandbox or live one
WEBHOOK_<N>_API_KEY or _FILE        (required)            the account's secret API key
TOPIC_PREFIX                        ``fedapay``           prefix of every topic of the contract
TOPIC_REPLICATION_FACTOR            ``1``                 replication of the checkpoint topic
RECONCILE_OVERLAP_SECONDS           ``900``               a pass starts this long before where
                                                          the last complete pass ended
RECONCILE_LOOKBACK_SECONDS          ``86400``             the first pass (no checkpoint) starts
                                                          this long before now
RECONCILE_PER_PAGE                  ``100``               events per page asked of the API
RECONCILE_RATE_PER_SECOND           ``5``                 most API requests per second
RECONCILE_MAX_ATTEMPTS              ``6``                 attempts per request on 429/5xx/no
                                                          answer before the pass fails
RECONCILE_BACKOFF_SECONDS           ``1``                 first backoff (doubles, capped at 60 s;
                                                          a 429's Retry-After is used instead)
RECONCILE_TIMEOUT_SECONDS           ``30``                timeout of one API request
RECONCILE_DRIFT_AFTER_SECONDS       ``1800``              a watched status older than this is
                                                          checked against FedaPay (0: no check)
RECONCILE_DRIFT_STATUSES            ``pending``           statuses whose transactions are watched
RECONCILE_DRIFT_MAX                 ``500``               most transactions checked per pass
LOG_LEVEL, LOG_FORMAT               ``INFO``, ``json``    as for the other processes
==================================  ====================  =======================================

Keep the overlap and the lookback below the workers' ``DEDUP_WINDOW_SECONDS``: a record older
than the window whose webhook was processed would be emitted a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import Env, endpoint_setting
from common.errors import ConfigError
from common.kafka import KafkaSettings
from reconcile.retry import RetryPolicy
from schemas.keys import ENDPOINT_NAME
from schemas.records import STATUSES
from schemas.topics import DEFAULT_PREFIX, Topics

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class ToolSettings:
    """What ``dlq redrive`` and ``replay`` need: Kafka and the topic prefix."""

    kafka: KafkaSettings
    topics: Topics
    log_level: str = "INFO"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Env) -> ToolSettings:
        return cls(
            KafkaSettings.from_env(env),
            Topics(env.text("TOPIC_PREFIX", DEFAULT_PREFIX)),
            env.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
            env.choice("LOG_FORMAT", "json", LOG_FORMATS),
        )


@dataclass(frozen=True)
class ReconcileSettings:
    kafka: KafkaSettings
    topics: Topics
    endpoint: str
    api_base: str
    api_key: str = field(repr=False)
    replication_factor: int = 1
    overlap_seconds: int = 900
    lookback_seconds: int = 86_400
    per_page: int = 100
    rate_per_second: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = 30.0
    drift_after_seconds: int = 1800
    drift_statuses: tuple[str, ...] = ("pending",)
    drift_max: int = 500
    log_level: str = "INFO"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Env, endpoint: str) -> ReconcileSettings:
        if ENDPOINT_NAME.match(endpoint) is None:
            raise ConfigError("--endpoint", f"{endpoint!r} must match {ENDPOINT_NAME.pattern}")
        base_setting = endpoint_setting(endpoint, "API_BASE")
        key_setting = endpoint_setting(endpoint, "API_KEY")
        api_key = env.secret(key_setting)
        if api_key is None:
            raise ConfigError(env.var(key_setting), f"is required to reconcile {endpoint!r}")
        api_base = env.required(base_setting)
        if not api_base.startswith(("https://", "http://")):
            raise ConfigError(env.var(base_setting), "must be an http(s) URL")
        return cls(
            kafka=KafkaSettings.from_env(env),
            topics=Topics(env.text("TOPIC_PREFIX", DEFAULT_PREFIX)),
            endpoint=endpoint,
            api_base=api_base,
            api_key=api_key,
            replication_factor=env.integer("TOPIC_REPLICATION_FACTOR", 1, minimum=1),
            overlap_seconds=env.integer("RECONCILE_OVERLAP_SECONDS", 900, minimum=0),
            lookback_seconds=env.integer("RECONCILE_LOOKBACK_SECONDS", 86_400, minimum=1),
            per_page=env.integer("RECONCILE_PER_PAGE", 100, minimum=1),
            rate_per_second=env.real("RECONCILE_RATE_PER_SECOND", 5.0, minimum=0.01),
            retry=RetryPolicy(
                max_attempts=env.integer("RECONCILE_MAX_ATTEMPTS", 6, minimum=1),
                backoff_seconds=env.real("RECONCILE_BACKOFF_SECONDS", 1.0, minimum=0.0),
            ),
            timeout_seconds=env.real("RECONCILE_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            drift_after_seconds=env.integer("RECONCILE_DRIFT_AFTER_SECONDS", 1800, minimum=0),
            drift_statuses=_statuses(env),
            drift_max=env.integer("RECONCILE_DRIFT_MAX", 500, minimum=0),
            log_level=env.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
            log_format=env.choice("LOG_FORMAT", "json", LOG_FORMATS),
        )


def _statuses(env: Env) -> tuple[str, ...]:
    statuses = env.items("RECONCILE_DRIFT_STATUSES", ("pending",))
    unknown = [status for status in statuses if status not in STATUSES]
    if unknown:
        raise ConfigError(env.var("RECONCILE_DRIFT_STATUSES"), f"unknown statuses {unknown}")
    return statuses

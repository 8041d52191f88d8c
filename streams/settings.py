"""The stream worker's settings, read once at start from ``FEDAPAY_BRIDGE_*`` variables.

Kafka connection variables (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_*``, ``KAFKA_SSL_*``) are read by :class:`common.kafka.KafkaSettings`.
The worker's own variables, each prefixed ``FEDAPAY_BRIDGE_``:

================================  ===================  ==========================================
variable                          default              meaning
================================  ===================  ==========================================
TOPIC_PREFIX                      ``fedapay``          prefix of every topic of the contract
APP_ID                            ``fedapay-bridge``   Faust app id: the consumer group, and the
                                                       prefix of the table changelog topics
WORKER_ID                         (none)               stable name of this worker (e.g. the pod
                                                       name); enables static group membership,
                                                       so a restart does not rebalance
DEDUP_WINDOW_SECONDS              ``259200`` (72 h)    how long after its last delivery a dedup
                                                       key still marks duplicates (sliding)
DEDUP_SWEEP_INTERVAL_SECONDS      ``600``              how often (stream time) each partition's
                                                       expired dedup keys are deleted
STORE                             ``rocksdb``          table store: ``rocksdb`` or ``memory``
DATA_DIR                          ``fedapay-bridge-    directory of the RocksDB tables
                                  data``
PROCESSING_GUARANTEE              ``at_least_once``    ``at_least_once`` (idempotent producer)
                                                       or ``exactly_once`` (Kafka transactions)
KEEP_ACCOUNT                      ``false``            keep the merchant ``account`` object in
                                                       normalized events (personal data) instead
                                                       of only ``account_id``
PERSONAL_DATA                     ``redact``           ``redact`` sets the entity's personal
                                                       fields (:mod:`schemas.personal`) to null
                                                       in normalized events; ``keep`` passes
                                                       them on (the raw topic always keeps them)
STALE_DELIVERY_ANOMALIES          ``false``            emit a ``stale_delivery`` anomaly for every
                                                       delivery older than the newest known
                                                       (they are always counted)
TOPIC_PARTITIONS                  ``6``                partitions of topics the worker creates
TOPIC_REPLICATION_FACTOR          ``1``                replication factor of topics it creates
CREATE_TOPICS                     ``true``             create missing topics at start (never
                                                       alters existing ones)
COMMIT_INTERVAL_SECONDS           ``2.8``              how often consumed offsets are committed
BATCH_MAX_RECORDS                 ``500``              most raw records decided and made durable
                                                       together (a batch holds what is waiting,
                                                       up to this; an idle stream: one record)
SESSION_TIMEOUT_SECONDS           ``30``               consumer group session timeout
WEB_ENABLED                       ``true``             run the worker's HTTP server
WEB_BIND                          ``0.0.0.0``          address the HTTP server listens on
WEB_PORT                          ``6066``             port of the HTTP server
WEB_HOST                          (host name)          host name other workers use to reach this
                                                       one (table routing)
METRICS_WINDOWS                   ``1m:24h,1h:30d``    metric window sizes and how long each is
                                                       kept (``<size>:<retention>``, units s m h d)
QUERY_TIMEOUT_SECONDS             ``5``                how long a query waits for another worker
QUERY_TOKEN or QUERY_TOKEN_FILE   (none)               bearer token every HTTP request but
                                                       ``/healthz``, ``/readyz``, ``/metrics``
                                                       must carry (16 to 4096 visible ASCII
                                                       characters); workers send it to each other
QUERY_ALLOW_UNAUTHENTICATED       ``false``            without a token: ``true`` serves the query
                                                       API to anyone (local use only); ``false``
                                                       answers its routes 403 (the worker still
                                                       processes, and health and metrics answer)
LOG_LEVEL                         ``INFO``             DEBUG, INFO, WARNING or ERROR
LOG_FORMAT                        ``json``             ``json`` or ``text``
================================  ===================  ==========================================
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from common.config import Env
from common.errors import ConfigError
from common.kafka import KafkaSettings
from common.tracing import TracingSettings
from schemas import personal
from schemas.topics import DEFAULT_PREFIX, Topics
from streams.windows import DEFAULT_SPEC, Resolution, parse_resolutions

STORES: Final = ("rocksdb", "memory")
GUARANTEES: Final = ("at_least_once", "exactly_once")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS: Final = ("json", "text")
#: A query token: visible ASCII (it travels in a header), long enough not to be guessed.
QUERY_TOKEN: Final = re.compile(r"[\x21-\x7e]{16,4096}")


@dataclass(frozen=True)
class WorkerSettings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: Topics = field(default_factory=Topics)
    app_id: str = "fedapay-bridge"
    worker_id: str | None = None
    dedup_window_seconds: int = 72 * 3600
    dedup_sweep_interval_seconds: int = 600
    store: str = "rocksdb"
    data_dir: Path = Path("fedapay-bridge-data")
    processing_guarantee: str = "at_least_once"
    keep_account: bool = False
    personal_data: str = personal.DEFAULT_POLICY
    stale_delivery_anomalies: bool = False
    topic_partitions: int = 6
    topic_replication_factor: int = 1
    create_topics: bool = True
    commit_interval_seconds: float = 2.8
    batch_max_records: int = 500
    session_timeout_seconds: float = 30.0
    web_enabled: bool = True
    web_bind: str = "0.0.0.0"  # noqa: S104 - a server inside a container; set WEB_BIND to narrow
    web_port: int = 6066
    web_host: str = field(default_factory=socket.gethostname)
    metrics_windows: tuple[Resolution, ...] = field(
        default_factory=lambda: parse_resolutions(DEFAULT_SPEC)
    )
    query_timeout_seconds: float = 5.0
    #: Bearer token of the HTTP API; never logged (``repr`` hides it).
    query_token: str | None = field(default=None, repr=False)
    query_allow_unauthenticated: bool = False
    log_level: str = "INFO"
    log_format: str = "json"
    #: From the standard ``OTEL_*`` variables (:mod:`common.tracing`): off by default.
    tracing: TracingSettings = field(default_factory=TracingSettings)

    @classmethod
    def from_env(cls, env: Env) -> WorkerSettings:
        return cls(
            kafka=KafkaSettings.from_env(env),
            topics=Topics(env.text("TOPIC_PREFIX", DEFAULT_PREFIX)),
            app_id=env.text("APP_ID", cls.app_id),
            worker_id=env.optional("WORKER_ID"),
            dedup_window_seconds=env.integer(
                "DEDUP_WINDOW_SECONDS", cls.dedup_window_seconds, minimum=1
            ),
            dedup_sweep_interval_seconds=env.integer(
                "DEDUP_SWEEP_INTERVAL_SECONDS", cls.dedup_sweep_interval_seconds, minimum=1
            ),
            store=env.choice("STORE", cls.store, STORES),
            data_dir=Path(env.text("DATA_DIR", str(cls.data_dir))),
            processing_guarantee=env.choice(
                "PROCESSING_GUARANTEE", cls.processing_guarantee, GUARANTEES
            ),
            keep_account=env.flag("KEEP_ACCOUNT", cls.keep_account),
            personal_data=env.choice("PERSONAL_DATA", cls.personal_data, personal.POLICIES),
            stale_delivery_anomalies=env.flag(
                "STALE_DELIVERY_ANOMALIES", cls.stale_delivery_anomalies
            ),
            topic_partitions=env.integer("TOPIC_PARTITIONS", cls.topic_partitions, minimum=1),
            topic_replication_factor=env.integer(
                "TOPIC_REPLICATION_FACTOR", cls.topic_replication_factor, minimum=1
            ),
            create_topics=env.flag("CREATE_TOPICS", cls.create_topics),
            commit_interval_seconds=env.real(
                "COMMIT_INTERVAL_SECONDS", cls.commit_interval_seconds, minimum=0.1
            ),
            batch_max_records=env.integer("BATCH_MAX_RECORDS", cls.batch_max_records, minimum=1),
            session_timeout_seconds=env.real(
                "SESSION_TIMEOUT_SECONDS", cls.session_timeout_seconds, minimum=6.0
            ),
            web_enabled=env.flag("WEB_ENABLED", cls.web_enabled),
            web_bind=env.text("WEB_BIND", cls.web_bind),
            web_port=env.integer("WEB_PORT", cls.web_port, minimum=0),
            web_host=env.text("WEB_HOST", socket.gethostname()),
            metrics_windows=parse_resolutions(env.text("METRICS_WINDOWS", DEFAULT_SPEC)),
            query_timeout_seconds=env.real(
                "QUERY_TIMEOUT_SECONDS", cls.query_timeout_seconds, minimum=0.1
            ),
            query_token=_query_token(env),
            query_allow_unauthenticated=env.flag(
                "QUERY_ALLOW_UNAUTHENTICATED", cls.query_allow_unauthenticated
            ),
            log_level=env.choice("LOG_LEVEL", cls.log_level, LOG_LEVELS),
            log_format=env.choice("LOG_FORMAT", cls.log_format, LOG_FORMATS),
            tracing=TracingSettings.from_environ(env.environ),
        )

    @property
    def query_auth(self) -> str:
        """``token``, ``none`` (explicitly unauthenticated) or ``off`` (query routes refused)."""
        if self.query_token is not None:
            return "token"
        return "none" if self.query_allow_unauthenticated else "off"

    @property
    def dedup_window_ms(self) -> int:
        return self.dedup_window_seconds * 1000

    @property
    def dedup_sweep_interval_ms(self) -> int:
        return self.dedup_sweep_interval_seconds * 1000

    @property
    def keep_personal(self) -> bool:
        return self.personal_data == "keep"

    @property
    def exactly_once(self) -> bool:
        return self.processing_guarantee == "exactly_once"


def _query_token(env: Env) -> str | None:
    token = env.secret("QUERY_TOKEN")
    if token is None:
        return None
    if not QUERY_TOKEN.fullmatch(token):
        # The value is never part of the message.
        raise ConfigError(
            env.var("QUERY_TOKEN"), "must be 16 to 4096 visible ASCII characters (no spaces)"
        )
    if env.flag("QUERY_ALLOW_UNAUTHENTICATED", False):
        raise ConfigError(
            env.var("QUERY_ALLOW_UNAUTHENTICATED"), "set either it or a query token, not both"
        )
    return token

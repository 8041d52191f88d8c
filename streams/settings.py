"""The stream worker's settings, read once at start from ``FEDAPAY_BRIDGE_*`` variables.

Each setting is declared once, below (:mod:`common.settings`): its variable, type, default,
bounds and meaning; the README's configuration tables and the chart's values documentation are
generated from these declarations. Kafka connection variables (``KAFKA_BOOTSTRAP_SERVERS``,
``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``, ``KAFKA_SSL_*``) are read by
:class:`common.kafka.KafkaSettings`.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
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
    OptionalText,
    Parsed,
    Real,
    Secret,
    Text,
    group,
    load,
    setting,
    setting_factory,
    shared,
)
from common.tracing import TracingSettings
from schemas import personal
from schemas.topics import Topics
from streams import tables
from streams.windows import DEFAULT_SPEC, Resolution, parse_resolutions

STORES: Final = ("rocksdb", "memory")
GUARANTEES: Final = ("at_least_once", "exactly_once")
#: A query token: visible ASCII (it travels in a header), long enough not to be guessed.
QUERY_TOKEN: Final = re.compile(r"[\x21-\x7e]{16,4096}")
_CHART: Final = "worker.settings."
#: RocksDB memory per store (Faust's defaults: a 64 MiB memtable, up to 3, and a 2 GiB block
#: cache per store, which grows a worker's memory far past its container's limit).
_WRITE_BUFFER_BYTES: Final = 4 << 20
_MAX_WRITE_BUFFERS: Final = 2
_BLOCK_CACHE_BYTES: Final = 8 << 20
_EXAMPLE_PARTITIONS: Final = 6


def rocksdb_memory_bound(
    partitions: int,
    write_buffer_bytes: int = _WRITE_BUFFER_BYTES,
    max_write_buffers: int = _MAX_WRITE_BUFFERS,
    block_cache_bytes: int = _BLOCK_CACHE_BYTES,
) -> int:
    """Most bytes the RocksDB stores of ``partitions`` assigned raw partitions can hold."""
    per_store = write_buffer_bytes * max_write_buffers + block_cache_bytes
    return len(tables.ALL) * partitions * per_store


def _bytes_shown(value: int) -> str:
    return f"`{value}` ({value >> 20} MiB)"


@dataclass(frozen=True)
class WorkerSettings:
    kafka: KafkaSettings = group(KafkaSettings, KafkaSettings.from_env)
    topics: Topics = shared(TOPIC_PREFIX)
    app_id: str = setting(
        "APP_ID",
        Text(),
        "fedapay-bridge",
        "Faust app id: the consumer group and the prefix of the table changelog topics",
        chart=Chart(_CHART + "appId", schema={"pattern": "^[a-zA-Z0-9._-]+$"}),
    )
    worker_id: str | None = setting(
        "WORKER_ID",
        OptionalText(),
        None,
        "stable name of this worker (e.g. the pod name): static group membership, so a restart "
        "does not rebalance",
    )
    dedup_window_seconds: int = setting(
        "DEDUP_WINDOW_SECONDS",
        Integer(minimum=1),
        72 * 3600,
        "how long after its last delivery a dedup key still marks duplicates (sliding); must "
        "cover FedaPay's retries and redeliveries",
        shown="`259200` (72 h)",
        chart=Chart(_CHART + "dedupWindowSeconds"),
    )
    dedup_sweep_interval_seconds: int = setting(
        "DEDUP_SWEEP_INTERVAL_SECONDS",
        Integer(minimum=1),
        600,
        "how often (stream time) each partition's expired dedup keys are deleted",
        chart=Chart(_CHART + "dedupSweepIntervalSeconds"),
    )
    store: str = setting(
        "STORE",
        Choice(STORES),
        "rocksdb",
        "table store",
        chart=Chart(_CHART + "store", "rocksdb keeps the tables on the volume below."),
    )
    data_dir: Path = setting(
        "DATA_DIR",
        Parsed(Path, str),
        Path("fedapay-bridge-data"),
        "directory of the RocksDB tables",
        chart=Chart(_CHART + "dataDir", "The volume claim is mounted here.", {"pattern": "^/"}),
    )
    rocksdb_write_buffer_bytes: int = setting(
        "ROCKSDB_WRITE_BUFFER_BYTES",
        Integer(minimum=64 * 1024),
        _WRITE_BUFFER_BYTES,
        f"size of one RocksDB memtable; each open store (a table's partition: {len(tables.ALL)} "
        "tables per assigned raw partition) holds up to `ROCKSDB_MAX_WRITE_BUFFERS` of them",
        shown=_bytes_shown(_WRITE_BUFFER_BYTES),
        chart=Chart(_CHART + "rocksdbWriteBufferBytes"),
    )
    rocksdb_max_write_buffers: int = setting(
        "ROCKSDB_MAX_WRITE_BUFFERS",
        Integer(minimum=2),
        _MAX_WRITE_BUFFERS,
        "memtables a store keeps before its writes wait for a flush",
        chart=Chart(_CHART + "rocksdbMaxWriteBuffers"),
    )
    rocksdb_block_cache_bytes: int = setting(
        "ROCKSDB_BLOCK_CACHE_BYTES",
        Integer(minimum=0),
        _BLOCK_CACHE_BYTES,
        f"block cache of each store. A worker's RocksDB memory is at most {len(tables.ALL)} "
        "\u00d7 assigned partitions \u00d7 (write buffer \u00d7 max write buffers + block "
        f"cache): {rocksdb_memory_bound(_EXAMPLE_PARTITIONS) >> 20} MiB for {_EXAMPLE_PARTITIONS} "
        "partitions with the defaults",
        shown=_bytes_shown(_BLOCK_CACHE_BYTES),
        chart=Chart(_CHART + "rocksdbBlockCacheBytes"),
    )
    processing_guarantee: str = setting(
        "PROCESSING_GUARANTEE",
        Choice(GUARANTEES),
        "at_least_once",
        "`at_least_once` (idempotent producer; duplicates are removed by the dedup table) or "
        "`exactly_once` (Kafka transactions; the local tables are rebuilt from their changelogs "
        "at every start)",
        chart=Chart(_CHART + "processingGuarantee"),
    )
    keep_account: bool = setting(
        "KEEP_ACCOUNT",
        Flag(),
        False,
        "keep the merchant `account` object (personal data) in normalized events instead of "
        "only `account_id`",
        chart=Chart(_CHART + "keepAccount"),
    )
    personal_data: str = setting(
        "PERSONAL_DATA",
        Choice(personal.POLICIES),
        personal.DEFAULT_POLICY,
        "`redact`: the entity's personal fields (listed in the project README) are `null` in "
        "normalized events; `keep`: passed on. The raw topic always keeps them",
        chart=Chart(_CHART + "personalData"),
    )
    stale_delivery_anomalies: bool = setting(
        "STALE_DELIVERY_ANOMALIES",
        Flag(),
        False,
        "emit a `stale_delivery` anomaly for every delivery older (by `updated_at`) than the "
        "newest one known, for auditors who want every out-of-order delivery on record; off by "
        "default because FedaPay's own retries make them common (they are always counted: "
        "`stale deliveries` in the transaction query, `stale` in the metrics)",
        chart=Chart(_CHART + "staleDeliveryAnomalies"),
    )
    topic_partitions: int = setting(
        "TOPIC_PARTITIONS",
        Integer(minimum=1),
        6,
        "partitions of the topics the worker (or `topics create`) creates; all topics of a "
        "deployment need at least as many partitions as `<prefix>.raw`",
        chart=Chart("topics.partitions"),
    )
    topic_replication_factor: int = setting(
        "TOPIC_REPLICATION_FACTOR",
        Integer(minimum=1),
        1,
        "replication factor of the topics it creates",
        chart=Chart("topics.replicationFactor"),
    )
    create_topics: bool = setting(
        "CREATE_TOPICS",
        Flag(),
        True,
        "create missing topics at start (never alters existing ones)",
        chart=Chart(_CHART + "createTopics"),
    )
    commit_interval_seconds: float = setting(
        "COMMIT_INTERVAL_SECONDS",
        Real(minimum=0.1),
        2.8,
        "how often consumed offsets are committed, in seconds",
        chart=Chart(_CHART + "commitIntervalSeconds"),
    )
    batch_max_records: int = setting(
        "BATCH_MAX_RECORDS",
        Integer(minimum=1),
        500,
        "most raw records a worker plans and makes durable together; a batch holds what is "
        "waiting, up to this (an idle stream gives batches of one)",
    )
    session_timeout_seconds: float = setting(
        "SESSION_TIMEOUT_SECONDS",
        Real(minimum=6.0),
        30.0,
        "consumer group session timeout, in seconds; with static membership a restarted worker "
        "that is back within it gets its partitions without a rebalance",
        chart=Chart(_CHART + "sessionTimeoutSeconds"),
    )
    web_enabled: bool = setting("WEB_ENABLED", Flag(), True, "run the worker's HTTP server")
    web_bind: str = setting(
        "WEB_BIND",
        Text(),
        "0.0.0.0",  # noqa: S104 - a server inside a container; set WEB_BIND to narrow
        "address the HTTP server listens on",
    )
    web_port: int = setting(
        "WEB_PORT",
        Integer(minimum=0),
        6066,
        "port of the HTTP server (query API and table routing)",
        chart=Chart(_CHART + "webPort", "Named web.", {"minimum": 1024, "maximum": 65535}),
    )
    web_host: str = setting_factory(
        "WEB_HOST",
        Text(),
        socket.gethostname,
        "host name other workers use to reach this one (table routing)",
        shown="host name",
    )
    metrics_windows: tuple[Resolution, ...] = setting(
        "METRICS_WINDOWS",
        Parsed(parse_resolutions, lambda _: DEFAULT_SPEC, "`<size>:<retention>`, comma-separated"),
        parse_resolutions(DEFAULT_SPEC),
        "metric window sizes and how long each is kept (units s m h d)",
    )
    query_timeout_seconds: float = setting(
        "QUERY_TIMEOUT_SECONDS",
        Real(minimum=0.1),
        5.0,
        "how long a query waits for another worker's answer",
    )
    #: Bearer token of the HTTP API; never logged (``repr`` hides it).
    query_token: str | None = setting(
        "QUERY_TOKEN",
        Secret(QUERY_TOKEN, "must be 16 to 4096 visible ASCII characters (no spaces)"),
        None,
        "bearer token of the query API (the same on every worker; they send it to each "
        "other); every HTTP request but `/healthz`, `/readyz`, `/metrics` must carry it; "
        "without it the query routes answer 403",
        shown="(none)",
    )
    query_allow_unauthenticated: bool = setting(
        "QUERY_ALLOW_UNAUTHENTICATED",
        Flag(),
        False,
        "without a token, serve the query API to anyone (local use only; refused together with "
        "a token)",
    )
    log_level: str = shared(LOG_LEVEL)
    log_format: str = shared(LOG_FORMAT)
    #: From the standard ``OTEL_*`` variables (:mod:`common.tracing`): off by default.
    tracing: TracingSettings = group(
        TracingSettings, lambda env: TracingSettings.from_environ(env.environ)
    )

    @classmethod
    def from_env(cls, env: Env) -> WorkerSettings:
        settings = load(cls, env)
        if settings.query_token is not None and settings.query_allow_unauthenticated:
            raise ConfigError(
                env.var("QUERY_ALLOW_UNAUTHENTICATED"), "set either it or a query token, not both"
            )
        return settings

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

    @property
    def rocksdb_options(self) -> dict[str, int]:
        """A table's RocksDB ``options`` (Faust's ``RocksDBOptions`` fields), a new dict per call.

        Faust's RocksDB store pops keys from the mapping it is given, so each table needs its own.
        """
        return {
            "write_buffer_size": self.rocksdb_write_buffer_bytes,
            "max_write_buffer_number": self.rocksdb_max_write_buffers,
            "block_cache_size": self.rocksdb_block_cache_bytes,
        }

    def rocksdb_memory_bound(self, partitions: int) -> int:
        """Most bytes the RocksDB stores of ``partitions`` assigned raw partitions can hold."""
        return rocksdb_memory_bound(
            partitions,
            self.rocksdb_write_buffer_bytes,
            self.rocksdb_max_write_buffers,
            self.rocksdb_block_cache_bytes,
        )

"""WorkerSettings.from_env: defaults, every variable, and errors naming the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from common.config import Env
from common.errors import ConfigError
from common.settings import SETTING
from streams.settings import WorkerSettings

P = "FEDAPAY_BRIDGE_"


def load(**values: str) -> WorkerSettings:
    return WorkerSettings.from_env(Env({f"{P}{k}": v for k, v in values.items()}))


def test_defaults() -> None:
    settings = load()

    assert settings.app_id == "fedapay-bridge"
    assert settings.topics.raw == "fedapay.raw"
    assert settings.dedup_window_seconds == 259_200
    assert settings.dedup_window_ms == 259_200_000
    assert (settings.store, settings.processing_guarantee) == ("rocksdb", "at_least_once")
    assert not settings.exactly_once
    assert not settings.keep_account
    assert (settings.personal_data, settings.keep_personal) == ("redact", False)
    assert not settings.stale_delivery_anomalies
    assert settings.worker_id is None
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_every_variable() -> None:
    settings = load(
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:19092",
        TOPIC_PREFIX="acme",
        APP_ID="acme-bridge",
        WORKER_ID="worker-0",
        DEDUP_WINDOW_SECONDS="60",
        DEDUP_SWEEP_INTERVAL_SECONDS="5",
        STORE="memory",
        DATA_DIR="/tmp/w",
        ROCKSDB_WRITE_BUFFER_BYTES="1048576",
        ROCKSDB_MAX_WRITE_BUFFERS="3",
        ROCKSDB_BLOCK_CACHE_BYTES="0",
        PROCESSING_GUARANTEE="exactly_once",
        KEEP_ACCOUNT="true",
        PERSONAL_DATA="keep",
        STALE_DELIVERY_ANOMALIES="true",
        TOPIC_PARTITIONS="3",
        TOPIC_REPLICATION_FACTOR="2",
        CREATE_TOPICS="false",
        COMMIT_INTERVAL_SECONDS="1.5",
        SESSION_TIMEOUT_SECONDS="10",
        WEB_ENABLED="false",
        WEB_BIND="127.0.0.1",
        WEB_PORT="7000",
        WEB_HOST="w0.local",
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="text",
    )

    assert settings == WorkerSettings(
        kafka=settings.kafka,
        topics=settings.topics,
        app_id="acme-bridge",
        worker_id="worker-0",
        dedup_window_seconds=60,
        dedup_sweep_interval_seconds=5,
        store="memory",
        data_dir=Path("/tmp/w"),
        rocksdb_write_buffer_bytes=1_048_576,
        rocksdb_max_write_buffers=3,
        rocksdb_block_cache_bytes=0,
        processing_guarantee="exactly_once",
        keep_account=True,
        personal_data="keep",
        stale_delivery_anomalies=True,
        topic_partitions=3,
        topic_replication_factor=2,
        create_topics=False,
        commit_interval_seconds=1.5,
        session_timeout_seconds=10.0,
        web_enabled=False,
        web_bind="127.0.0.1",
        web_port=7000,
        web_host="w0.local",
        log_level="DEBUG",
        log_format="text",
    )
    assert settings.topics.status == "acme.transaction.status"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.exactly_once
    assert settings.keep_personal


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORE", "redis"),
        ("PROCESSING_GUARANTEE", "at_most_once"),
        ("DEDUP_WINDOW_SECONDS", "0"),
        ("DEDUP_WINDOW_SECONDS", "3d"),
        ("KEEP_ACCOUNT", "maybe"),
        ("PERSONAL_DATA", "hash"),
        ("TOPIC_PARTITIONS", "0"),
        ("SESSION_TIMEOUT_SECONDS", "1"),
        ("ROCKSDB_WRITE_BUFFER_BYTES", "4096"),
        ("ROCKSDB_MAX_WRITE_BUFFERS", "1"),
        ("ROCKSDB_BLOCK_CACHE_BYTES", "-1"),
    ],
    ids=[
        "store",
        "guarantee",
        "zero-window",
        "bad-window",
        "bad-flag",
        "personal-data",
        "partitions",
        "session",
        "write-buffer",
        "write-buffers",
        "block-cache",
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**{name: value})

    assert caught.value.setting == f"{P}{name}"


# ---------------------------------------------------------------------- RocksDB memory

MIB = 1 << 20


@pytest.mark.parametrize(
    ("values", "options", "bound_6"),
    [
        ({}, (4 * MIB, 2, 8 * MIB), 288 * MIB),
        (
            {"ROCKSDB_WRITE_BUFFER_BYTES": str(MIB), "ROCKSDB_MAX_WRITE_BUFFERS": "4"},
            (MIB, 4, 8 * MIB),
            216 * MIB,
        ),
        ({"ROCKSDB_BLOCK_CACHE_BYTES": "0"}, (4 * MIB, 2, 0), 144 * MIB),
    ],
    ids=["defaults", "small-memtables", "no-cache"],
)
def test_rocksdb_options_and_their_memory_bound(
    values: dict[str, str], options: tuple[int, int, int], bound_6: int
) -> None:
    settings = load(**values)

    assert settings.rocksdb_options == dict(
        zip(
            ("write_buffer_size", "max_write_buffer_number", "block_cache_size"),
            options,
            strict=True,
        )
    )
    assert settings.rocksdb_options is not settings.rocksdb_options
    assert settings.rocksdb_memory_bound(6) == bound_6
    assert settings.rocksdb_memory_bound(1) * 6 == bound_6


def test_the_documented_memory_bound_is_the_computed_one() -> None:
    (spec,) = (
        field.metadata[SETTING]
        for field in dataclasses.fields(WorkerSettings)
        if field.name == "rocksdb_block_cache_bytes"
    )

    assert f": {load().rocksdb_memory_bound(6) // MIB} MiB for 6 partitions" in spec.doc


# ---------------------------------------------------------------------- query token

TOKEN = "a-query-token-of-32-characters!!"


def test_no_query_token_by_default_turns_the_query_api_off() -> None:
    settings = load()

    assert settings.query_token is None
    assert not settings.query_allow_unauthenticated
    assert settings.query_auth == "off"
    assert load(QUERY_ALLOW_UNAUTHENTICATED="true").query_auth == "none"


def test_query_token_from_the_variable_or_a_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")

    assert load(QUERY_TOKEN=TOKEN).query_token == TOKEN
    assert load(QUERY_TOKEN_FILE=str(path)).query_token == TOKEN
    assert load(QUERY_TOKEN=TOKEN).query_auth == "token"
    assert TOKEN not in repr(load(QUERY_TOKEN=TOKEN))


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"QUERY_TOKEN": "short"}, "QUERY_TOKEN"),
        ({"QUERY_TOKEN": "sixteen chars with spaces"}, "QUERY_TOKEN"),
        ({"QUERY_TOKEN": "caf\u00e9-token-0123456789"}, "QUERY_TOKEN"),
        ({"QUERY_TOKEN": TOKEN, "QUERY_TOKEN_FILE": "/x"}, "QUERY_TOKEN"),
        ({"QUERY_TOKEN_FILE": "/nonexistent/token"}, "QUERY_TOKEN_FILE"),
        ({"QUERY_TOKEN": TOKEN, "QUERY_ALLOW_UNAUTHENTICATED": "true"}, "QUERY_ALLOW_"),
    ],
)
def test_bad_query_token_settings(values: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{P}{variable}") as raised:
        load(**values)

    assert TOKEN not in str(raised.value)

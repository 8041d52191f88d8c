"""The Faust app built from settings (no broker needed to build it), and its parts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import faust
import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from faust.stores import rocksdb

from common.config import Env
from common.kafka import KafkaSettings
from streams import tables
from streams.faust import agent, app, producer
from streams.faust.consumer import GuardedConsumer
from streams.settings import WorkerSettings


def settings(**values: str) -> WorkerSettings:
    env = {"FEDAPAY_BRIDGE_WEB_ENABLED": "false", "FEDAPAY_BRIDGE_TOPIC_PREFIX": "p"}
    env.update({f"FEDAPAY_BRIDGE_{k}": v for k, v in values.items()})
    return WorkerSettings.from_env(Env(env))


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_build(guarantee: str, tmp_path: Path) -> None:
    worker = app.build(
        settings(
            PROCESSING_GUARANTEE=guarantee,
            APP_ID="acme",
            DATA_DIR=str(tmp_path),
            STORE="memory",
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1,127.0.0.1:2",
        ),
        partitions=4,
    )
    conf = worker.app.conf

    assert conf.id == "acme"
    assert getattr(conf.processing_guarantee, "value", None) == guarantee
    assert conf.topic_partitions == 4
    assert [str(url) for url in conf.broker] == ["kafka://127.0.0.1:1", "kafka://127.0.0.1:2"]
    assert set(worker.app.tables) == set(tables.ALL)
    assert str(conf.store) == "memory:"
    assert isinstance(worker.app.producer, producer.IdempotentProducer)
    assert isinstance(worker.app.consumer, GuardedConsumer)
    assert isinstance(worker.app, app.BridgeApp)
    assert worker.app.raw_topic == "p.raw"
    assert worker.app.offsets.committable(0, worker.app.consumer_generation_id) is None
    assert not worker.app.processing_guard.locked()


def test_every_table_store_gets_the_rocksdb_memory_settings(tmp_path: Path) -> None:
    worker = app.build(
        settings(
            DATA_DIR=str(tmp_path),
            STORE="rocksdb",
            ROCKSDB_WRITE_BUFFER_BYTES="1048576",
            ROCKSDB_MAX_WRITE_BUFFERS="3",
            ROCKSDB_BLOCK_CACHE_BYTES="2097152",
        ),
        partitions=2,
    )

    for name in tables.ALL:
        table = worker.app.tables[name]
        assert isinstance(table, faust.Table)
        store = table.data
        assert isinstance(store, rocksdb.Store)
        store._db_for_partition(1)  # opens the partition's database with these options
        options = store.rocksdb_options
        assert (
            options.write_buffer_size,
            options.max_write_buffer_number,
            options.block_cache_size,
        ) == (1 << 20, 3, 2 << 20), name


def test_producer_is_idempotent_in_every_mode() -> None:
    extra = producer.IdempotentProducer._settings_extra(None)  # type: ignore[arg-type]

    assert extra == {"acks": "all", "enable_idempotence": True}


@pytest.mark.parametrize(
    ("kafka", "credentials"),
    [
        (KafkaSettings(), type(None)),
        (KafkaSettings(security_protocol="SSL"), faust.SSLCredentials),
        (
            KafkaSettings(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_username="u",
                sasl_password="p",
            ),
            faust.SASLCredentials,
        ),
    ],
    ids=["plaintext", "ssl", "sasl"],
)
def test_credentials(kafka: KafkaSettings, credentials: type) -> None:
    result = app.faust_credentials(kafka)

    assert isinstance(result, credentials)
    if isinstance(result, faust.SASLCredentials):
        assert (result.username, result.mechanism.value) == ("u", "SCRAM-SHA-512")


def test_raw_record_from_a_faust_message() -> None:
    message = SimpleNamespace(
        key=b"k",
        value=b"v",
        headers=[("fedapay-event", b"transaction.approved")],
        partition=2,
        offset=7,
        timestamp=1708343290.408,
    )
    record = agent.raw_record(message)

    assert (record.key, record.value, record.partition, record.offset) == (b"k", b"v", 2, 7)
    assert record.headers == (("fedapay-event", b"transaction.approved"),)
    assert record.timestamp_ms == 1708343290408


class _Producer:
    """What :func:`producer._builders` uses of aiokafka's producer: batches of a small size."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, compression_type=0, is_transactional=False)


def test_records_fill_batches_in_order_and_overflow_into_new_ones() -> None:
    records: list[producer.Sendable] = [
        ("t", f"k{i}".encode(), b"v" * 300, [("h", b"x")]) for i in range(10)
    ]
    records.append(("t", b"tombstone", None, ()))

    built = list(producer._builders(_Producer(batch_size=1024), records))

    assert [count for _, count in built] == [3, 3, 3, 2]
    keys = [
        record.key for builder, _ in built for record in DefaultRecordBatch(bytes(builder._build()))
    ]
    assert keys == [record[1] for record in records]
    assert all(builder.closed() for builder, _ in built)


def test_a_record_larger_than_a_batch_gets_a_batch_of_its_own() -> None:
    records: list[producer.Sendable] = [("t", b"big", b"v" * 5000, ()), ("t", b"small", b"v", ())]

    built = list(producer._builders(_Producer(batch_size=1024), records))

    assert [count for _, count in built] == [1, 1]

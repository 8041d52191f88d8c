"""The real Kafka broker of the tests: exact round trips, and a broker that keeps its data
across a stop and a restart (what the fault tests rely on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from schemas import headers
from tests.kafka_broker import LocalBroker, free_port
from tests.kafka_io import Consumed, consume_all, create_topics

Headers = list[tuple[str, bytes]]
Sent = tuple[bytes | None, bytes, Headers]

RECORDS: list[Sent] = [
    (
        b"transaction:1234",
        b'{"name":"transaction.approved","entity":{"id":1234,"amount":5000}}',
        [
            (headers.EVENT_NAME, b"transaction.approved"),
            (headers.RECEIVED_AT_MS, b"1700000000000"),
            (headers.DEDUP_KEY, "évènement:1234".encode()),
        ],
    ),
    (b"customer:\xff\x00", bytes(range(256)), [("binary", b"\x00\x01\xfe\xff")]),
    (b"transaction:1234", b"", []),
    (None, b"no key", [("same-name", b"1"), ("same-name", b"2")]),
]


async def _produce(bootstrap: str, topic: str, records: list[Sent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, record_headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=record_headers)
    finally:
        await producer.stop()


def _as_sent(record: Consumed) -> Sent:
    return (record.key, record.value, list(record.headers))


def _ordered(records: list[Sent]) -> list[Sent]:
    return sorted(records, key=repr)


@pytest.mark.kafka
@pytest.mark.asyncio
async def test_records_come_back_byte_for_byte(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.roundtrip"
    await create_topics(kafka_bootstrap, [topic])

    await _produce(kafka_bootstrap, topic, RECORDS)
    received = await consume_all(kafka_bootstrap, topic, expect=len(RECORDS), timeout=30)

    assert _ordered([_as_sent(record) for record in received]) == _ordered(RECORDS)


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.asyncio
async def test_local_broker_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    broker = LocalBroker(
        free_port(),
        tmp_path / "data",
        controller_port=free_port(),
        state_dir=tmp_path / "state",
    )
    topic = "kept.across.restart"
    try:
        assert broker.start()
        await _produce(broker.bootstrap, topic, RECORDS[:1])

        broker.stop()
        assert not broker.is_answering()
        assert broker.start()

        received = await consume_all(broker.bootstrap, topic, expect=1, timeout=30)
        assert [_as_sent(record) for record in received] == RECORDS[:1]
    finally:
        broker.stop(purge=True)
    assert not (tmp_path / "data").exists()

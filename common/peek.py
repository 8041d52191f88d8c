"""``fedapay-bridge peek TOPIC``: show what landed in a topic, without payloads.

Prints one line per record: partition, offset, key, the event and dedup
headers and the value's size. Bodies hold personal data, so they are never
printed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.config import Env
from common.kafka import KafkaSettings
from common.kafka_access import check_access


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("peek", help="show keys and headers of a topic's records")
    parser.add_argument("topic")
    parser.add_argument("--limit", type=int, default=20, help="records to show (from the end)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait at most")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    kafka = KafkaSettings.from_env(Env(environ))
    total, records = asyncio.run(_tail(kafka, args.topic, args.limit, args.timeout))
    print(f"{args.topic}: {total} records; the last {len(records)}:")  # noqa: T201
    for record in records:
        print(describe(record))  # noqa: T201
    return 0


def describe(record: ConsumerRecord[bytes, bytes]) -> str:
    found = {name: value.decode("utf-8", "replace") for name, value in record.headers}
    key = record.key.decode("utf-8", "replace") if record.key else "-"
    size = len(record.value) if record.value is not None else 0
    event = found.get("fedapay-event") or found.get("fedapay-error") or "-"
    dedup = found.get("fedapay-dedup-key", "-")
    return f"  p{record.partition} @{record.offset:<6} {key:<24} {event:<26} {size:>6} B  {dedup}"


async def _tail(
    kafka: KafkaSettings, topic: str, limit: int, seconds: float
) -> tuple[int, list[ConsumerRecord[bytes, bytes]]]:
    await check_access(kafka)
    partitions = await _partitions(kafka, topic)
    if not partitions:
        return 0, []
    consumer = AIOKafkaConsumer(**kafka.aiokafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        for tp in partitions:
            consumer.seek(tp, max(starts[tp], ends[tp] - limit))
        records = await _read_until(consumer, ends, seconds)
    finally:
        await consumer.stop()
    records.sort(key=lambda r: r.timestamp)
    return total, records[-limit:]


async def _partitions(kafka: KafkaSettings, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0:
        return []
    return [TopicPartition(topic, p["partition"]) for p in description["partitions"]]


async def _read_until(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int], seconds: float
) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline and any(await _behind(consumer, ends)):
        batch = await consumer.getmany(timeout_ms=500)
        for chunk in batch.values():
            records.extend(chunk)
    return records


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[bool]:
    return [await consumer.position(tp) < end for tp, end in ends.items()]

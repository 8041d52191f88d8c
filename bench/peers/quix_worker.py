"""The stream worker's logic on Quix Streams: the peer of ``fedapay-bridge worker``.

    python -m bench.peers.quix_worker --raw-topic P.raw --output-prefix Q --group G --state-dir D

Same input (the raw topic as the ingress writes it), same logic (dedup by the
dedup key with the sliding window, the transaction state machine, one
normalized event per type topic plus status and anomaly records, DLQ for what
does not parse): the pure functions of ``streams.pipeline`` run inside a
stateful Quix ``apply``, with Quix's RocksDB state (changelogged) for the two
tables and Quix's producer for the outputs. Only the framework differs.

Quix state is scoped to the message key (``<object>:<entity.id>``); within it
the dedup entries and the transaction states are kept under the worker's own
keys (``Delivery.seen_key``, ``Delivery.state_key``: per endpoint), so per-key
state holds both tables. Not ported: the periodic sweep of expired dedup keys.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from quixstreams import Application, State, message_context
from quixstreams.models import Topic, TopicConfig
from quixstreams.models.serializers import Serializer

from schemas.topics import Topics
from streams import codec
from streams.pipeline import Output, PipelineConfig, RawRecord, plan, read

DEFAULT_WINDOW_MS = 72 * 3600 * 1000


class OutputSerializer(Serializer):
    """Outputs are produced as their ready-made value bytes."""

    def __call__(self, *args: Any, **kwargs: Any) -> bytes:
        output: Output = args[0]
        return output.value


def process(
    config: PipelineConfig,
    value: bytes,
    key: bytes | None,
    timestamp: int,
    headers: Any,
    state: State[str, str],
) -> list[Output]:
    record = RawRecord(
        key=key,
        value=value,
        headers=tuple((str(n), bytes(v or b"")) for n, v in (headers or ())),
        partition=message_context().partition,
        offset=message_context().offset,
        timestamp_ms=timestamp,
    )
    delivery = read(record, config.topics)
    if isinstance(delivery, Output):
        return [delivery]
    # The worker's own keys (per endpoint), under the message key's state scope.
    seen_key = "d:" + delivery.seen_key
    seen_text = state.get(seen_key)
    seen = codec.decode_seen(seen_text.encode()) if seen_text else None
    tx_key = None if delivery.state_key is None else "t:" + delivery.state_key
    tx_text = None if tx_key is None else state.get(tx_key)
    tx_state = codec.decode_state(tx_text.encode()) if tx_text else None
    step = plan(delivery, seen, tx_state, config)
    if tx_key is not None and step.state is not None:
        state.set(tx_key, codec.encode_state(step.state).decode())
    state.set(seen_key, codec.encode_seen(step.seen).decode())
    return list(step.outputs)


def build(args: argparse.Namespace) -> Application:
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        state_dir=args.state_dir,
        processing_guarantee="at-least-once",
        loglevel="WARNING",
    )
    raw_topics = Topics(args.raw_topic.removesuffix(".raw"))
    out_topics = Topics(args.output_prefix)
    config = PipelineConfig(topics=raw_topics, dedup_window_ms=args.dedup_window_ms)
    raw = app.topic(args.raw_topic, key_deserializer="bytes", value_deserializer="bytes")
    outputs: dict[str, Topic] = {}

    def output_topic(name: str) -> Topic:
        mapped = out_topics.prefix + name[len(raw_topics.prefix) :]
        topic = outputs.get(mapped)
        if topic is None:
            topic = outputs[mapped] = app.topic(
                mapped,
                key_serializer="bytes",
                value_serializer=OutputSerializer(),
                config=TopicConfig(num_partitions=args.partitions, replication_factor=1),
            )
        return topic

    for name in (*raw_topics.per_type(), raw_topics.unknown, raw_topics.status,
                 raw_topics.anomalies, raw_topics.dlq):  # fmt: skip
        output_topic(name)

    def handle(value: bytes, key: Any, timestamp: int, headers: Any, state: State[str, str]) -> Any:
        return process(config, value, key, timestamp, headers, state)

    sdf = app.dataframe(raw)
    sdf = sdf.apply(handle, stateful=True, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda value, key, timestamp, headers: list(value.headers))
    sdf.to_topic(
        lambda value, key, timestamp, headers: output_topic(value.topic),
        key=lambda value: value.key,
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--raw-topic", required=True)
    parser.add_argument("--output-prefix", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--commit-interval", type=float, default=2.8)
    parser.add_argument("--dedup-window-ms", type=int, default=DEFAULT_WINDOW_MS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    build(args).run()


if __name__ == "__main__":
    main()

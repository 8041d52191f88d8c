"""``fedapay-bridge worker`` whose sends do not wait for the broker's acks.

An upper bound, not a proposal as is: per record, the worker awaits the acks of
its outputs, then of the transaction-state changelog record, then of the dedup
changelog record (three round trips in a row: crash safety, see
``streams.processor``). This variant skips those waits, so records pipeline the
way a checkpointing framework (Quix Streams, Kafka Streams) lets them, which
flushes once per commit. The stream benchmark runs it as contender
``ours-nowait`` to measure what removing the per-record round trips would buy.
Unsafe on a crash; never deploy it.

    python -m bench.experiments.nowait_worker   (settings from FEDAPAY_BRIDGE_* as the worker)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common.cli import main
from streams import app
from streams.pipeline import Output


async def send_without_waiting(
    self: app.OutputSender, outputs: Sequence[Output], partition: int
) -> None:
    producer = self.app.producer
    for output in outputs:
        await producer.send(
            output.topic, output.key, output.value, partition, None, list(output.headers)
        )


async def put_without_waiting(self: app.ChangelogTable, key: bytes, value: bytes) -> None:
    self.table.data[key] = value
    self.table.send_changelog(self.table.partition_for_key(key), key, value)


if __name__ == "__main__":
    # Written against streams/app.py as it is; if it changed shape, fail loudly.
    app.OutputSender.send = send_without_waiting  # type: ignore[method-assign]
    app.ChangelogTable.put = put_without_waiting  # type: ignore[method-assign]
    sys.exit(main(["worker"]))

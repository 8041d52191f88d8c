"""streams.faust.tables: a local store only ever holds what its changelog made durable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from streams.faust import app, tables
from streams.faust.producer import Sendable, Sent
from streams.staging import Write

CHANGELOG = "acme-t-changelog"


class _Sender:
    """Acknowledges every record at once, numbering them per partition."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[Sendable]]] = []
        self.next_offset: dict[int, int] = {}

    async def send(self, records: Sequence[Sendable], partition: int) -> list[Sent]:
        self.sent.append((partition, list(records)))
        first = self.next_offset.get(partition, 0)
        self.next_offset[partition] = first + len(records)
        return [Sent(CHANGELOG, partition, first + len(records) - 1)]


def _table(*, deferred: bool) -> tuple[tables.ChangelogTable, Any, _Sender]:
    the_app = app.BridgeApp(
        "acme", raw_topic="r.raw", broker="kafka://127.0.0.1:1", store="memory://",
        autodiscover=False, web_enabled=False,
    )  # fmt: skip
    faust_table = the_app.Table("t", key_type=bytes, value_type=bytes, partitions=4)
    sender = _Sender()
    changelog = tables.ChangelogTable(
        faust_table,
        tables.BatchEvents(),
        sender,  # type: ignore[arg-type]
        deferred=deferred,
    )
    return changelog, faust_table, sender


WRITES = [Write(1, b"a", b"1"), Write(2, b"b", b"2"), Write(1, b"c", None)]


@pytest.mark.asyncio
async def test_at_least_once_writes_reach_the_store_once_acknowledged() -> None:
    changelog, faust_table, sender = _table(deferred=False)
    faust_table.data[b"c"] = b"old"

    await changelog.write(WRITES)

    assert sorted((p, [r[1] for r in records]) for p, records in sender.sent) == [
        (1, [b"a", b"c"]),
        (2, [b"b"]),
    ]
    assert dict(faust_table.data.items()) == {b"a": b"1", b"b": b"2"}
    assert changelog.pending.partitions() == set()


@pytest.mark.asyncio
async def test_exactly_once_writes_wait_for_their_partitions_commit() -> None:
    changelog, faust_table, _ = _table(deferred=True)
    faust_table.data[b"c"] = b"old"

    await changelog.write(WRITES)

    assert dict(faust_table.data.items()) == {b"c": b"old"}  # nothing durable yet
    assert (changelog.get(b"a", 1), changelog.get(b"c", 1)) == (b"1", None)  # the processor
    assert (changelog.get(b"a"), changelog.get(b"c")) == (b"1", None)  # the query API too
    assert dict(faust_table.data.items())[b"c"] == b"old"  # the store: durable values only
    assert dict(changelog.items()) == {b"a": b"1", b"b": b"2"}

    changelog.durable([1])

    assert dict(faust_table.data.items()) == {b"a": b"1"}
    assert changelog.get(b"b", 2) == b"2"  # partition 2's transaction is still open


@pytest.mark.asyncio
async def test_exactly_once_writes_of_a_lost_partition_never_reach_the_store() -> None:
    changelog, faust_table, _ = _table(deferred=True)

    await changelog.write(WRITES)
    changelog.drop([1, 2])
    changelog.durable([1, 2])

    assert dict(faust_table.data.items()) == {}
    assert changelog.get(b"a", 1) is None


@pytest.mark.asyncio
async def test_changelogs_tell_every_registered_table() -> None:
    registry = tables.Changelogs()
    first, first_data, _ = _table(deferred=True)
    second, second_data, _ = _table(deferred=True)
    registry.register(first)
    registry.register(second)
    await first.write([Write(1, b"a", b"1")])
    await second.write([Write(1, b"b", b"2"), Write(3, b"c", b"3")])

    registry.durable([1])
    registry.drop([3])

    assert dict(first_data.data.items()) == {b"a": b"1"}
    assert dict(second_data.data.items()) == {b"b": b"2"}
    assert second.pending.partitions() == set()

"""Table writes staged in memory while a batch is decided, made durable in one go. Pure.

The processor decides a whole batch of raw records before anything is sent:
each decision reads the tables *through* the writes staged by the records
before it (a transaction's second event in a batch sees the state its first
event produced), and nothing reaches the underlying table, local store or
changelog, until :meth:`StagedTable.flush`. Only the last value of each key
is written: ten events of one transaction in a batch make one changelog
record, not ten.

Keeping staged writes out of the local store matters for crash safety: a
dedup entry in a RocksDB store whose outputs never reached the broker would
make the restarted worker drop the delivery as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Write:
    """One change of a table key, made while handling a record of raw ``partition``."""

    partition: int
    key: bytes
    #: ``None`` deletes the key (a changelog tombstone).
    value: bytes | None


def apply(writes: Iterable[Write], data: MutableMapping[bytes, bytes]) -> None:
    """Make ``writes`` in ``data``, in order (a ``None`` value deletes the key)."""
    for write in writes:
        if write.value is None:
            data.pop(write.key, None)
        else:
            data[write.key] = write.value


class DurableTable(Protocol):
    """A table of bytes whose :meth:`write` returns once the changes are durable.

    ``get`` is told the raw partition the key belongs to when the caller knows
    it (the processor always does); a partitioned store can then look in that
    partition only.
    """

    def get(self, key: bytes, partition: int | None = None) -> bytes | None: ...

    def items(self) -> Iterable[tuple[bytes, bytes]]: ...

    async def write(self, writes: Sequence[Write]) -> None: ...


class MemoryTable:
    """A :class:`DurableTable` in a dict, for tests."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data = {} if data is None else data

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        return self.data.get(key)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.data.items())

    async def write(self, writes: Sequence[Write]) -> None:
        apply(writes, self.data)


class StagedTable:
    """A :class:`DurableTable` seen through the writes staged since the last flush."""

    def __init__(self, table: DurableTable) -> None:
        self.table = table
        self._staged: dict[bytes, Write] = {}

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        staged = self._staged.get(key)
        if staged is not None:
            return staged.value
        return self.table.get(key, partition)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """The table's items with the staged writes applied."""
        staged = self._staged
        for key, value in self.table.items():
            if key not in staged:
                yield key, value
        for key, write in staged.items():
            if write.value is not None:
                yield key, write.value

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self._staged[key] = Write(partition, key, value)

    def delete(self, partition: int, keys: Iterable[bytes]) -> None:
        for key in keys:
            self._staged[key] = Write(partition, key, None)

    async def flush(self) -> None:
        """Write every staged change; they stay staged (and readable) if that fails."""
        if not self._staged:
            return
        await self.table.write(list(self._staged.values()))
        self._staged.clear()

    def discard(self) -> None:
        """Forget the staged writes (their batch is abandoned)."""
        self._staged.clear()

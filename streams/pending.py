"""Table writes sent to a changelog but not durable yet, per raw partition. Pure.

A table's local store must only ever hold what its changelog made durable:
that is what a restart or a new owner of the partition rebuilds, so a local
value that the changelog does not have (a write of an aborted transaction)
would make this worker decide differently from everybody else: a dedup entry
whose outputs were aborted drops the record's redelivery, a state whose status
record was aborted hides a transition.

So a write waits here, readable, from the moment its changelog record is sent
until it is durable: under at-least-once when the broker acknowledged it (at
once), under exactly-once when the transaction of its raw partition commits.
Then it is taken and written to the local store; if that transaction can no
longer commit (the partition was lost, its producer stopped), it is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.staging import Write

#: ``lookup`` of a key with no pending write.
NOT_PENDING: object = object()


@dataclass
class _Partition:
    #: Key -> its latest pending value (``None``: deleted).
    values: dict[bytes, bytes | None] = field(default_factory=dict)
    #: The changelog offset of the latest pending write.
    last_offset: int = -1


@dataclass(frozen=True, slots=True)
class Durable:
    """The pending writes of one raw partition, now durable: to write to the local store."""

    partition: int
    values: dict[bytes, bytes | None]
    #: The changelog offset the local store has then caught up with.
    last_offset: int


class PendingWrites:
    """The pending writes of one table, per raw partition."""

    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}

    def add(self, partition: int, writes: Sequence[Write], last_offset: int) -> None:
        """``writes`` of ``partition`` were sent; the last one is at ``last_offset``."""
        pending = self._partitions.setdefault(partition, _Partition())
        for write in writes:
            pending.values[write.key] = write.value
        pending.last_offset = max(pending.last_offset, last_offset)

    def lookup(self, partition: int, key: bytes) -> bytes | object | None:
        """The pending value of ``key`` (``None``: deleted), or :data:`NOT_PENDING`."""
        pending = self._partitions.get(partition)
        if pending is None:
            return NOT_PENDING
        return pending.values.get(key, NOT_PENDING)

    def lookup_any(self, key: bytes) -> bytes | object | None:
        """:meth:`lookup` in whichever partition has a pending write of ``key``."""
        for pending in self._partitions.values():
            if key in pending.values:
                return pending.values[key]
        return NOT_PENDING

    def overlay(self) -> dict[bytes, bytes | None]:
        """Every pending value, of every partition."""
        merged: dict[bytes, bytes | None] = {}
        for pending in self._partitions.values():
            merged.update(pending.values)
        return merged

    def take(self, partitions: Iterable[int]) -> list[Durable]:
        """Remove and return the pending writes of ``partitions`` (they became durable)."""
        taken = []
        for partition in partitions:
            pending = self._partitions.pop(partition, None)
            if pending is not None and pending.values:
                taken.append(Durable(partition, pending.values, pending.last_offset))
        return taken

    def drop(self, partitions: Iterable[int]) -> int:
        """Forget the pending writes of ``partitions`` (they will never be durable);
        return how many were dropped."""
        dropped = 0
        for partition in partitions:
            pending = self._partitions.pop(partition, None)
            if pending is not None:
                dropped += len(pending.values)
        return dropped

    def partitions(self) -> set[int]:
        return set(self._partitions)

"""The metric windows in a worker table: writes from the processor, reads for queries.

No Faust import: the table is a :class:`streams.staging.DurableTable`. Writes
are staged (:mod:`streams.staging`) and made durable by :meth:`WindowStore.flush`,
which the processor calls once per batch: the windows a batch touches are written
once each, whatever the number of its records.

One table value per (raw partition, endpoint, resolution, window start), keyed
``<partition>|<endpoint>|<resolution>|<start ms>`` (endpoint ``-``: raw records
without the endpoint header, see :mod:`schemas.keys`): live and sandbox are
counted apart, and a query reads one endpoint's windows or merges every
endpoint's. Windows written before endpoints were kept apart (keyed
``<partition>|<resolution>|<start ms>``) count in the all-endpoints reading
only, and retire by their retention. The processor writes it while it
handles a record of that raw partition, so the value goes to the same
changelog partition as the record (Faust's ``partition_for_key`` is the
current event's partition) and every key lives in exactly one changelog
partition: the table is partitioned like the raw topic, by construction, and
no re-keying topic is needed. A query reads the windows of the partitions a
worker owns and merges them with the other workers' (see :mod:`streams.web`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from schemas import keys
from streams import aggregates
from streams.codec import CorruptValue
from streams.counters import Counters
from streams.staging import DurableTable, StagedTable
from streams.windows import Resolution

log = logging.getLogger(__name__)

#: How many recently written windows keep their decoded counters in memory.
RECENT_WINDOWS: Final = 256


@dataclass(frozen=True, slots=True)
class WindowKey:
    partition: int
    resolution: str
    start_ms: int
    #: ``None``: a window written before windows were kept per endpoint (all endpoints).
    endpoint: str | None

    def encode(self) -> bytes:
        if self.endpoint is None:
            return f"{self.partition}|{self.resolution}|{self.start_ms}".encode()
        return f"{self.partition}|{self.endpoint}|{self.resolution}|{self.start_ms}".encode()

    @classmethod
    def decode(cls, key: bytes) -> WindowKey | None:
        try:
            parts = key.decode().split("|")
            if len(parts) == 3:
                partition, resolution, start = parts
                return cls(int(partition), resolution, int(start), None)
            partition, endpoint, resolution, start = parts
            if not keys.is_endpoint(endpoint):
                return None
            return cls(int(partition), resolution, int(start), endpoint)
        except ValueError:
            return None


class WindowStore:
    def __init__(self, table: DurableTable, resolutions: Sequence[Resolution]) -> None:
        self.table = StagedTable(table)
        self.resolutions = tuple(resolutions)
        self.by_name = {r.name: r for r in self.resolutions}
        self.corrupt = 0
        #: Key -> (stored bytes, their counters) of recently written windows: decoding is
        #: skipped while the table still holds exactly those bytes.
        self._recent: dict[bytes, tuple[bytes, Counters]] = {}

    def add(
        self, partition: int, endpoint: str, at_ms: int, now_ms: int, added: Mapping[str, int]
    ) -> None:
        """Stage ``added`` into ``endpoint``'s windows holding ``at_ms`` (skipping windows
        already expired)."""
        for resolution in self.resolutions:
            start = resolution.start(at_ms)
            if resolution.expired(start, now_ms):
                continue
            key = WindowKey(partition, resolution.name, start, endpoint).encode()
            counters = aggregates.merge(self._load(key, partition), added)
            value = aggregates.encode(counters)
            self._remember(key, value, counters)
            self.table.put(partition, key, value)

    async def flush(self) -> None:
        """Make the staged window changes durable (see :meth:`StagedTable.flush`)."""
        await self.table.flush()

    def discard(self) -> None:
        self.table.discard()

    def _remember(self, key: bytes, value: bytes, counters: Counters) -> None:
        self._recent.pop(key, None)
        self._recent[key] = (value, counters)
        while len(self._recent) > RECENT_WINDOWS:
            del self._recent[next(iter(self._recent))]

    def sweep(self, partition: int, now_ms: int) -> int:
        """Stage the deletion of the expired windows of ``partition``; return how many."""
        expired = []
        for key, _ in self.table.items():
            found = WindowKey.decode(key)
            if found is None or found.partition != partition:
                continue
            resolution = self.by_name.get(found.resolution)
            if resolution is None or resolution.expired(found.start_ms, now_ms):
                expired.append(key)
        if expired:
            self.table.delete(partition, expired)
            log.info(
                "expired metric windows removed",
                extra={"partition": partition, "windows": len(expired)},
            )
        return len(expired)

    def windows(
        self,
        partitions: Collection[int],
        resolution: Resolution,
        from_ms: int,
        to_ms: int,
        endpoint: str | None = None,
    ) -> dict[int, Counters]:
        """Window start -> the counters of ``partitions`` merged, for windows overlapping
        ``[from_ms, to_ms)``: of ``endpoint``, or of every endpoint when ``None``."""
        first = resolution.start(from_ms)
        wanted = partitions if isinstance(partitions, frozenset) else frozenset(partitions)
        merged: dict[int, Counters] = {}
        for key, value in self.table.items():
            found = WindowKey.decode(key)
            if found is None or found.resolution != resolution.name:
                continue
            if found.partition not in wanted or not first <= found.start_ms < to_ms:
                continue
            if endpoint is not None and found.endpoint != endpoint:
                continue
            try:
                counters = aggregates.decode(value)
            except CorruptValue:
                self.corrupt += 1
                continue
            aggregates.merge(merged.setdefault(found.start_ms, {}), counters)
        return merged

    def _load(self, key: bytes, partition: int) -> Counters:
        value = self.table.get(key, partition)
        if value is None:
            return {}
        recent = self._recent.get(key)
        if recent is not None and recent[0] == value:
            return dict(recent[1])
        try:
            return aggregates.decode(value)
        except CorruptValue:
            self.corrupt += 1
            log.warning("unreadable metric window replaced")
            return {}

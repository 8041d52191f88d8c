"""The dedup table as its changelog shows it: which keys are alive (not deleted)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.reliability.outputs import Consumed


@dataclass
class DedupChangelog:
    """Folds changelog records: a key is alive until a tombstone (value ``None``) deletes it."""

    alive: set[bytes] = field(default_factory=set)
    writes: int = 0
    tombstones: int = 0

    def apply(self, records: Iterable[Consumed]) -> DedupChangelog:
        for record in records:
            if record.key is None:
                continue
            if record.value is None:
                self.tombstones += 1
                self.alive.discard(record.key)
            else:
                self.writes += 1
                self.alive.add(record.key)
        return self

    def alive_keys(self) -> set[str]:
        return {key.decode("utf-8", "replace") for key in self.alive}

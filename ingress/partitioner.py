"""Kafka's default partitioner, remembering the hashes of recent keys.

aiokafka's default partitioner computes murmur2 of the key in pure Python for
every record (a few microseconds). The events of one entity share a key (a
transaction's lifecycle is several webhooks), so the hash of a recent key is
looked up instead of computed again. The partition chosen is exactly the default
partitioner's (the same function of the same key), which the workers rely on for
per-key order.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2

#: Distinct keys remembered; the memory is cleared when it is full.
MAX_KEYS = 4096


class KeyHashPartitioner:
    """A drop-in for aiokafka's ``DefaultPartitioner`` (the ``partitioner`` option)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._hashes: dict[bytes, int] = {}
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:  # no key: a random partition, as the default does
            partition: int = self._default(key, all_partitions, available)
            return partition
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]

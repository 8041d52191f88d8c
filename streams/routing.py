"""Which worker answers for which raw partition. Pure.

Faust's partition assignor publishes, with every assignment, the URL of each
worker's web server and the table changelog partitions it serves actively
(``app.assignor.changelog_distribution``: URL -> changelog topic ->
partitions). Every table of the bridge is written in the raw record's
partition, so changelog partition ``p`` of any table is raw partition ``p``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from aiokafka.partitioner import DefaultPartitioner
from yarl import URL

Distribution = Mapping[str, Mapping[str, Sequence[int]]]

_PARTITIONER = DefaultPartitioner()


def key_partition(key: bytes, partitions: int) -> int:
    """The raw partition of a record key, as the ingress's producer picks it."""
    every = list(range(partitions))
    return int(_PARTITIONER(key, every, every))


def owners(distribution: Distribution, topic: str) -> dict[int, str]:
    """Partition of ``topic`` -> URL of the worker serving it."""
    found: dict[int, str] = {}
    for url, topics in distribution.items():
        for partition in topics.get(topic, ()):
            found[int(partition)] = url
    return found


def scatter(
    distribution: Distribution, topic: str, partitions: int
) -> tuple[dict[str, list[int]], list[int]]:
    """URL -> the partitions it answers for, and the partitions nobody serves."""
    by_url: dict[str, list[int]] = {}
    found = owners(distribution, topic)
    for partition, url in sorted(found.items()):
        if partition < partitions:
            by_url.setdefault(url, []).append(partition)
    missing = [p for p in range(partitions) if p not in found]
    return by_url, missing


def same_node(url: str | URL, own: str | URL) -> bool:
    """Whether two web server URLs name the same host and port."""
    a, b = URL(str(url)), URL(str(own))
    return (a.host, a.port) == (b.host, b.port)


def covered(expected: int, answered: Collection[int]) -> list[int]:
    """The partitions below ``expected`` that no answer covered."""
    return [p for p in range(expected) if p not in set(answered)]

"""The remembering partitioner chooses exactly the partitions of aiokafka's default one."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from ingress.partitioner import KeyHashPartitioner


def test_same_partition_as_the_default_partitioner() -> None:
    rng = random.Random(7)
    default = DefaultPartitioner()
    remembering = KeyHashPartitioner(max_keys=64)  # small: the memory is cleared many times
    for i in range(20_000):
        if i % 2:
            key = f"transaction:{rng.randrange(300)}".encode()
        else:
            key = rng.randbytes(rng.randrange(0, 40))
        partitions = list(range(rng.randrange(1, 13)))
        assert remembering(key, partitions, partitions) == default(key, partitions, partitions)


def test_no_key_gets_an_available_partition() -> None:
    remembering = KeyHashPartitioner()
    assert {remembering(None, [0, 1, 2], [2]) for _ in range(50)} == {2}
    assert remembering(None, [0, 1, 2], []) in {0, 1, 2}

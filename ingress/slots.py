"""A counted cap without a queue: over the cap a caller is refused at once. Pure."""

from __future__ import annotations


class Slots:
    """At most ``limit`` taken at once; :meth:`take` over it returns False (nobody waits)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.taken = 0

    def take(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def give_back(self) -> None:
        if self.taken <= 0:
            raise RuntimeError("no slot was taken")
        self.taken -= 1

"""A processor that handles one raw record in a single attempt."""

from __future__ import annotations

from streams.pipeline import RawRecord
from streams.processor import Processor, Step


class SingleAttemptProcessor(Processor):
    """:class:`Processor` plus :meth:`handle`, for tests of one record and one attempt
    (:meth:`Processor.process` retries every failed step until it succeeds)."""

    async def handle(self, record: RawRecord) -> None:
        """Decide ``record`` and make it durable, once: errors propagate and the record's
        staged writes are dropped."""

        async def once(step: Step, name: str) -> None:
            await step()

        try:
            await self._complete(self.plan_batch([record]), once)
        except BaseException:
            self._discard()
            raise

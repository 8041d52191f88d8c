"""Exactly-once transactions: which transactional producer a raw partition's records use.

Faust opens one transactional producer per actively assigned source partition
and commits a partition's offsets with the producer of id
``f"{app id}-{group}-{partition}"`` (``TransactionManager.commit``). The worker
sends outputs and changelog records with the same producer (see
:class:`streams.faust.producer.RecordSender`), so they are in the transaction
that commits the raw record's offset.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import faust
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP

if TYPE_CHECKING:
    from streams.faust.app import BridgeApp

log = logging.getLogger(__name__)


def transactional_id(app: faust.App, tp: TP) -> str:
    """The id Faust's ``TransactionManager.commit`` commits ``tp``'s offsets with."""
    group = app.assignor.group_for_topic(tp.topic)
    return f"{app.conf.id}-{group}-{tp.partition}"


def partition_of(transactional_id: str) -> int:
    """The source partition of a :func:`transactional_id`."""
    return int(transactional_id.rsplit("-", 1)[1])


class ReassigningTransactionManager(TransactionManager):
    """Faust's transaction manager, which stops the producers of every partition it lost.

    On a rebalance Faust stops the transactional producers of the revoked
    partitions, but leaves out every partition the assignor lists as a standby
    (``TransactionManager._tps_to_transactional_ids`` skips standbys), and the
    assignor lists the raw topic's partitions of a standby group there too: a
    raw partition that moves to another worker while this one keeps its tables
    as a standby keeps its producer here. The new owner's producer with the
    same transactional id fences it; when the partition comes back, Faust
    reuses the fenced producer (``Producer._transaction_producers``), and every
    send of that partition fails (``ProducerFenced``, then
    ``IllegalOperation``) until the worker restarts. Here every producer whose
    partition is no longer actively assigned is stopped first, so a partition
    that comes back gets a new producer.

    A stopped producer's open transaction can never commit (the partition's
    next producer aborts it), so the changelog tables drop the pending writes
    of its partition (see :class:`streams.faust.tables.ChangelogTable`).
    """

    #: True from the commit that ended the transactions (Faust's ``wait_empty``, when
    #: partitions are revoked and when the worker stops) until the next assignment began
    #: them again: no commit may run meanwhile (see
    #: :meth:`streams.faust.consumer.GuardedConsumer.commit`).
    ended: bool = False

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]
    ) -> None:
        active = self._tps_to_transactional_ids(assigned)
        producers = cast(AIOKafkaProducer, self.producer)._transaction_producers
        lost = sorted(set(producers) - active)
        if lost:
            log.info("stopping transactional producers of lost partitions", extra={"ids": lost})
        for lost_id in lost:
            await self.producer.stop_transaction(lost_id)
        cast("BridgeApp", self.app).changelogs.drop(partition_of(lost_id) for lost_id in lost)
        await super().on_rebalance(assigned, revoked, newly_assigned)
        # Faust began a transaction for every actively assigned partition.
        self.ended = False

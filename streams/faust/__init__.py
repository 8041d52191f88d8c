"""Everything Faust-specific of the workers; the rest of :mod:`streams` imports no Faust.

* :mod:`.app`: the app (:class:`~.app.BridgeApp`), :func:`~.app.build`, :func:`~.app.run`;
* :mod:`.agent`: the agent loop over batches of raw records;
* :mod:`.consumer`: the consumer (guarded commits, capped offsets, short long-polls);
* :mod:`.producer`: batched, acknowledged sends with an idempotent producer;
* :mod:`.transactions`: the transactional producer of each raw partition;
* :mod:`.tables`: local table stores that hold only what the changelogs made durable.

Overrides of Faust and aiokafka behaviour, each documented where it is defined
and pinned by a test in ``tests/unit/streams/faust/test_overrides.py`` that
fails when an upgrade changes the behaviour it depends on (that test also
fails when an override or a private upstream name used here is not listed):

* ``IdempotentProducer._settings_extra``: idempotence in every mode, not only
  exactly-once.
* ``IdempotentProducer.send_batches`` (``_ensure_producer``,
  ``_transaction_producers``, ``_trn_locks``): whole producer batches with the
  producer and lock Faust's ``send`` uses.
* ``transactional_id``: the id format of ``TransactionManager.commit``.
* ``ReassigningTransactionManager.on_rebalance`` (``_tps_to_transactional_ids``,
  ``_transaction_producers``): stops fenced producers of lost partitions, and marks the
  transactions begun again.
* ``ShortPollConsumerThread._create_worker_consumer`` (``_fetch_max_wait_ms``):
  0.1 s long-polls instead of 1.5 s.
* ``GuardedConsumer.__init__``: uses ``ReassigningTransactionManager``.
* ``GuardedConsumer.commit``: commits wait for the batch being processed; under
  exactly-once none runs while Faust has the transactions ended (from a revocation or
  the shutdown until the next assignment).
* ``GuardedConsumer.seek`` (``_read_offset``, :class:`~.consumer.FencedReadOffsets`): a
  seek back is not undone by records fetched before it (Faust's fetcher loop would raise
  the read offset past the target again and drop the records sought back to).
* ``GuardedConsumer._new_offset`` and ``GuardedConsumer.committed``
  (``_committed_offset``, ``_acked``, ``_acked_index``, ``_gap``): a raw partition's
  commits name its first unfinished offset in the consumer generation, not the end of
  Faust's acks (which can stop for good after a seek back); Faust's acks and gaps below it
  are dropped.
* ``GuardedConsumer._new_consumer_thread``: uses ``ShortPollConsumerThread``.
* ``GuardedConsumer.highwaters`` (``_thread``, ``_ensure_consumer``): changelog end
  offsets from the broker for recovery, not -1 after a rebalance; ``start_offset``
  (not an override) asks the broker, the same way, where the group reads a raw
  partition from when Faust does not know it.
* ``BridgeApp.__init__``: the app's own state, set when it is made.
* ``BridgeApp._new_producer``: uses ``IdempotentProducer``.
* ``BridgeApp._new_consumer`` (``_on_partitions_revoked``, ``_on_partitions_assigned``):
  uses ``GuardedConsumer``.
* ``BridgeApp.FlowControlQueue``: queues never cleared on resume
  (faust-streaming issue #596).
* ``BatchEvents.acting_for`` (``_current_event``): the partition of each table read
  and write in a batch.
* ``ChangelogTable.durable``: durable writes reach the local store through
  ``Table.apply_changelog_batch``, as recovery writes changelog records (Faust's
  own ``Table._on_changelog_sent`` never persists an exactly-once offset).
* ``CommitAwareTableManager.on_commit``: the raw partitions whose transactions
  committed make their pending table writes durable.
* ``_while_flowing``: reads no event while flow control is suspended (Faust
  drops those, and its pure-Python stream iterator acks them).
* ``reset_local_tables``: discards the RocksDB stores (under ``conf.tabledir``)
  that may hold writes of aborted transactions.

Faust's own web routes (``/table/*``, ``/router/*``, statistics, graph) are turned
off through its public ``web_*_enabled`` settings in :func:`.app.build`: no override.

Not used: windowed tables, whose expiry after recovery is broken
(faust-streaming issue #385); the dedup table is a plain table whose entries
carry their own time (:mod:`streams.dedup`).
"""

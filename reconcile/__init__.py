"""FedaPay's own record as the second source of truth, and the operators' recovery tools.

``reconcile`` pages FedaPay's Events API and republishes what it recorded as the
webhooks would have carried it (same record key, same dedup key), so events a
dead endpoint never got still reach the workers once; it also asks FedaPay for
transactions stuck in a non-final status. ``dlq redrive`` puts dead letters back
on the raw topic; ``replay`` re-derives outputs of a time range under another
topic prefix.

Pure modules (no framework, no I/O): :mod:`reconcile.events`,
:mod:`reconcile.window`, :mod:`reconcile.drift`, :mod:`reconcile.retry`,
:mod:`reconcile.records`. I/O: :mod:`reconcile.api` (FedaPay's HTTP API),
:mod:`reconcile.kafka_io` (publisher, checkpoint, topic reads),
:mod:`reconcile.run`, :mod:`reconcile.redrive`, :mod:`reconcile.replay`;
:mod:`reconcile.cli` maps their errors to exit codes.
"""

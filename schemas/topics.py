"""Every topic name of the Kafka contract, derived from one configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass

#: Event names FedaPay documents, plus those seen in third-party integrations.
KNOWN_EVENTS: tuple[str, ...] = (
    "transaction.created",
    "transaction.approved",
    "transaction.declined",
    "transaction.canceled",
    "transaction.transferred",
    "transaction.updated",
    "transaction.refunded",
    "transaction.deleted",
    "transaction.expired",
    "customer.created",
    "customer.updated",
    "customer.deleted",
)

DEFAULT_PREFIX = "fedapay"


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = DEFAULT_PREFIX

    @property
    def raw(self) -> str:
        return f"{self.prefix}.raw"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def unknown(self) -> str:
        return f"{self.prefix}.unknown"

    @property
    def status(self) -> str:
        return f"{self.prefix}.transaction.status"

    @property
    def anomalies(self) -> str:
        return f"{self.prefix}.anomalies"

    @property
    def reconcile_checkpoints(self) -> str:
        """Compacted, keyed by endpoint: where the last complete ``reconcile`` pass ended."""
        return f"{self.prefix}.reconcile.checkpoints"

    def for_event(self, name: str) -> str:
        """The per-type topic of an event name; unknown names share one topic."""
        if name in KNOWN_EVENTS:
            return f"{self.prefix}.{name}"
        return self.unknown

    def per_type(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}.{name}" for name in KNOWN_EVENTS)

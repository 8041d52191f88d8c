"""Prometheus metrics of one worker, in a registry of its own, read at scrape time.

Counters come from :class:`streams.processor.ProcessorStats` (since the process
started); consumer lag, table sizes and readiness are read from a
:class:`WorkerProbe` when Prometheus scrapes ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.processor import ProcessorStats

PREFIX = "fedapay_worker"

#: ProcessorStats field -> help text.
_COUNTERS: Mapping[str, str] = {
    "records": "Raw records handled.",
    "events": "Distinct events emitted (per-type topics).",
    "duplicates": "Deliveries dropped as duplicates.",
    "dead_letters": "Raw records sent to the DLQ.",
    "status_records": "Transaction status records emitted.",
    "anomalies": "Anomaly records emitted.",
    "stale": "Transaction deliveries older than the known state.",
    "expired_keys": "Dedup keys deleted by the sweep.",
    "expired_windows": "Metric windows deleted by the sweep.",
    "corrupt_values": "Unreadable table values ignored.",
}


@dataclass(frozen=True)
class WorkerProbe:
    stats: ProcessorStats
    #: Raw partition -> records not yet read (high watermark - next offset).
    lag: Callable[[], Mapping[int, int]]
    #: Table name -> keys in the partitions this worker serves actively.
    table_sizes: Callable[[], Mapping[str, int]]
    ready: Callable[[], bool]


class WorkerCollector(Collector):
    def __init__(self, probe: WorkerProbe) -> None:
        self.probe = probe

    def collect(self) -> Iterator[Metric]:
        stats = self.probe.stats
        known = {item.name for item in fields(stats)}
        for name, text in _COUNTERS.items():
            if name in known:
                family = CounterMetricFamily(f"{PREFIX}_{name}", text)
                family.add_metric([], float(getattr(stats, name)))
                yield family
        lag = GaugeMetricFamily(
            f"{PREFIX}_consumer_lag",
            "Raw records not yet read, per partition.",
            labels=["partition"],
        )
        for partition, value in sorted(self.probe.lag().items()):
            lag.add_metric([str(partition)], float(value))
        yield lag
        sizes = GaugeMetricFamily(
            f"{PREFIX}_table_keys",
            "Keys of a table on this worker (active partitions).",
            labels=["table"],
        )
        for table, size in sorted(self.probe.table_sizes().items()):
            sizes.add_metric([table], float(size))
        yield sizes
        ready = GaugeMetricFamily(
            f"{PREFIX}_ready", "1 when partitions are assigned and recovered."
        )
        ready.add_metric([], 1.0 if self.probe.ready() else 0.0)
        yield ready


def registry_for(probe: WorkerProbe) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(probe))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

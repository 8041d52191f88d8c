"""streams.prom: what a scrape of a worker's ``/metrics`` says, read from its probe at scrape time
(no broker, no server: the registry is rendered as Prometheus would read it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams import prom
from streams.processor import ProcessorStats

STAT_NAMES = [field.name for field in dataclasses.fields(ProcessorStats)]


def scrape(probe: prom.WorkerProbe) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> sorted labels -> value, as Prometheus stores a scrape."""
    text = prom.render(prom.registry_for(probe)).decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def probe(
    stats: ProcessorStats | None = None,
    lag: Mapping[int, int] | None = None,
    sizes: Mapping[str, int] | None = None,
    ready: bool = True,
) -> prom.WorkerProbe:
    return prom.WorkerProbe(
        stats=stats or ProcessorStats(),
        lag=lambda: dict(lag or {}),
        table_sizes=lambda: dict(sizes or {}),
        ready=lambda: ready,
    )


def test_every_processor_counter_is_exported_and_nothing_else() -> None:
    assert sorted(prom._COUNTERS) == sorted(STAT_NAMES)


@pytest.mark.parametrize("name", STAT_NAMES)
def test_each_counter_reads_its_stats_field(name: str) -> None:
    stats = ProcessorStats(**{name: 7})

    samples = scrape(probe(stats))

    assert samples[f"fedapay_worker_{name}_total"] == {(): 7.0}
    others = {n for n in STAT_NAMES if n != name}
    assert all(samples[f"fedapay_worker_{n}_total"] == {(): 0.0} for n in others)


@pytest.mark.parametrize(
    ("lag", "expected"),
    [
        ({}, {}),
        ({0: 5}, {(("partition", "0"),): 5.0}),
        ({2: 0, 0: 3, 1: 12}, {(("partition", p),): v for p, v in (("0", 3), ("1", 12), ("2", 0))}),
    ],
)
def test_consumer_lag_per_partition(lag: dict[int, int], expected: dict[object, float]) -> None:
    assert scrape(probe(lag=lag)).get("fedapay_worker_consumer_lag", {}) == expected


def test_table_keys_per_table() -> None:
    samples = scrape(probe(sizes={"transactions": 4, "dedup": 10, "metrics": 0}))

    assert samples["fedapay_worker_table_keys"] == {
        (("table", "dedup"),): 10.0,
        (("table", "metrics"),): 0.0,
        (("table", "transactions"),): 4.0,
    }


@pytest.mark.parametrize(("ready", "value"), [(True, 1.0), (False, 0.0)])
def test_readiness_gauge(ready: bool, value: float) -> None:
    assert scrape(probe(ready=ready))["fedapay_worker_ready"] == {(): value}


def test_the_probe_is_read_at_each_scrape() -> None:
    stats = ProcessorStats()
    lag = {0: 9}
    registry = prom.registry_for(
        prom.WorkerProbe(
            stats=stats, lag=lambda: dict(lag), table_sizes=dict, ready=lambda: bool(lag)
        )
    )
    before = prom.render(registry)
    stats.records += 3
    lag.clear()
    after = prom.render(registry)

    assert b"fedapay_worker_records_total 0.0" in before
    assert b"fedapay_worker_records_total 3.0" in after
    assert b'fedapay_worker_consumer_lag{partition="0"} 9.0' in before
    assert b"fedapay_worker_consumer_lag{" not in after
    assert b"fedapay_worker_ready 0.0" in after


def test_the_registry_is_the_workers_own() -> None:
    """Only the worker's families: nothing of the process-wide default registry."""
    names = {name.split("{")[0] for name in scrape(probe())}

    assert all(name.startswith("fedapay_worker_") for name in names)

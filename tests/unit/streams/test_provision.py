"""The topic list of the contract (the broker side is in tests/integration)."""

from __future__ import annotations

from schemas.topics import KNOWN_EVENTS, Topics
from streams.provision import contract_topics


def test_every_topic_with_its_policy() -> None:
    specs = {spec.name: spec for spec in contract_topics(Topics("p"), 4, 3, app_id="app")}

    expected = {
        "p.raw",
        "p.unknown",
        "p.transaction.status",
        "p.anomalies",
        "p.dlq",
        "app-dedup-changelog",
        "app-transactions-changelog",
        "app-metrics-changelog",
        *(f"p.{name}" for name in KNOWN_EVENTS),
    }
    assert set(specs) == expected
    compacted = {name for name, spec in specs.items() if spec.compacted}
    assert compacted == {
        "p.transaction.status",
        "app-dedup-changelog",
        "app-transactions-changelog",
        "app-metrics-changelog",
    }
    assert {(spec.partitions, spec.replication_factor) for spec in specs.values()} == {(4, 3)}


def test_changelogs_are_optional() -> None:
    names = [spec.name for spec in contract_topics(Topics("p"), 1, 1)]

    assert not [name for name in names if name.endswith("-changelog")]
    assert len(names) == len(set(names)) == 5 + len(KNOWN_EVENTS)

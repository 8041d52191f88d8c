"""The personal data policy: which fields, their redaction on the real fixture, and where the
list is shown (README, JSON Schema), all derived from ``schemas.personal``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import personal
from schemas.jsonschema import load
from schemas.topics import Topics
from streams.pipeline import ParsedEvent, PipelineConfig, RawRecord, plan, read
from tests.fixtures import fixture_bytes

ROOT = Path(__file__).resolve().parents[3]
TOPICS = Topics("t")
REDACT = PipelineConfig(topics=TOPICS, dedup_window_ms=1000)
KEEP = PipelineConfig(topics=TOPICS, dedup_window_ms=1000, keep_personal=True)

#: What the real fixture holds in its personal fields (names and numbers were replaced by
#: stand-ins when it was captured, but sit where FedaPay puts them).
FIXTURE_PERSONAL = {
    ("customer", "firstname"): "Unknown",
    ("customer", "lastname"): "Unknown",
    ("customer", "full_name"): "Unknown Unknown",
    ("payment_method", "number"): "22960000000",
    ("metadata", "paid_customer"): {
        "firstname": "Ama",
        "lastname": "Kossou",
        "email": "customer@example.com",
    },
}


def fixture() -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(fixture_bytes("transaction.approved.json"))
    return document


def at(entity: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = entity
    for name in path:
        node = node[name]
    return node


def event_of(config: PipelineConfig) -> dict[str, Any]:
    raw = RawRecord(b"transaction:235879", fixture_bytes("transaction.approved.json"), (), 0, 0, 1)
    delivery = read(raw, TOPICS)
    assert isinstance(delivery, ParsedEvent)
    event: dict[str, Any] = orjson.loads(plan(delivery, None, None, config).outputs[0].value)
    return event


def test_the_fixture_holds_what_the_list_names() -> None:
    entity = fixture()["entity"]

    for path, value in FIXTURE_PERSONAL.items():
        assert at(entity, path) == value
    assert at(entity, ("customer", "email")) is None


def test_redaction_nulls_every_personal_field_of_the_real_fixture() -> None:
    entity = event_of(REDACT)["entity"]
    original = fixture()["entity"]

    for path in FIXTURE_PERSONAL:
        assert at(entity, path) is None, path
    assert "phone_number" not in entity["customer"]  # absent in the delivery: stays absent
    assert at(entity, ("customer", "email")) is None
    for path in FIXTURE_PERSONAL:
        *parents, leaf = path
        at(original, tuple(parents))[leaf] = None
    assert entity == original  # nothing else changed: ids, amounts, statuses all kept


def test_redacted_output_holds_no_personal_value() -> None:
    value = orjson.dumps(event_of(REDACT))

    for needle in (b"Ama", b"Kossou", b"22960000000", b"Unknown", b"customer@example.com"):
        assert needle not in value


def test_keep_passes_the_entity_on_as_delivered() -> None:
    assert event_of(KEEP)["entity"] == fixture()["entity"]


def test_redaction_never_modifies_its_input() -> None:
    entity = fixture()["entity"]
    before = copy.deepcopy(entity)

    personal.redact("transaction", entity)

    assert entity == before


@pytest.mark.parametrize(
    ("obj", "entity", "expected"),
    [
        (
            "customer",
            {"id": 1, "firstname": "A", "lastname": "B", "email": "a@example.com"},
            {"id": 1, "firstname": None, "lastname": None, "email": None},
        ),
        (
            "customer",
            {"id": 1, "full_name": "A B", "phone_number": {"number": "229", "country": "bj"}},
            {"id": 1, "full_name": None, "phone_number": None},
        ),
        (
            "transaction",
            {"id": 2, "firstname": "only customers have it at the top"},
            {"id": 2, "firstname": "only customers have it at the top"},
        ),
        (
            "payout",
            {"id": 3, "customer": {"id": 9, "email": "c@example.com"}},
            {"id": 3, "customer": {"id": 9, "email": None}},
        ),
        ("transaction", {"id": 4, "customer": None}, {"id": 4, "customer": None}),
        ("transaction", {"id": 5, "metadata": "text"}, {"id": 5, "metadata": "text"}),
    ],
    ids=["customer", "customer-phone", "top-level-only-customers", "any-object", "null", "odd"],
)
def test_redact_table(obj: str, entity: dict[str, Any], expected: dict[str, Any]) -> None:
    assert personal.redact(obj, entity) == expected


def test_readme_shows_the_list() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- personal-fields:start -->\n", "\n<!-- personal-fields:end -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]

    assert shown.strip() == personal.markdown_table()


def test_schema_describes_the_list() -> None:
    description = load("normalized-event")["properties"]["entity"]["description"]

    assert personal.describe() in description
    for item in personal.PERSONAL_FIELDS:
        assert item.dotted in description

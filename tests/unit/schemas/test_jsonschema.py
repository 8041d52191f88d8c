"""The published JSON Schemas: in sync with the models, readable as plain files, and strict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, ValidationError

from schemas.generate import JSON_DIR, stale_files, write_all
from schemas.jsonschema import all_schemas, file_name, load
from schemas.records import RECORD_MODELS, Anomaly, NormalizedEvent, StatusRecord

STATUS = StatusRecord(
    transaction_id="1",
    endpoint="live",
    status="approved",
    previous_status=None,
    updated_at="2024-02-19T11:48:10.408Z",
    event="transaction.approved",
    dedup_key="k",
    reference=None,
    amount=None,
    currency=None,
)
EVENT = NormalizedEvent(
    name="customer.created",
    object="customer",
    entity_id="5",
    event_id=None,
    updated_at=None,
    dedup_key="k",
    received_at="2024-02-19T11:48:10.408Z",
    endpoint=None,
    account_id=None,
    entity={"id": 5},
)
ANOMALY = Anomaly(
    kind="illegal_transition",
    transaction_id="1",
    endpoint=None,
    from_status="approved",
    to_status="pending",
    from_updated_at="2024-02-19T11:48:10.408Z",
    to_updated_at="2024-02-19T11:48:11.408Z",
    event="transaction.updated",
    dedup_key="k",
    applied=True,
    detail="approved -> pending is not a legal transition",
)


def test_published_files_match_the_models() -> None:
    assert stale_files() == [], "run: python -m schemas.generate"


def test_generation_is_reproducible(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert stale_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in JSON_DIR.iterdir())


def test_files_are_plain_json_schemas() -> None:
    for name in RECORD_MODELS:
        document = orjson.loads((JSON_DIR / file_name(name)).read_bytes())
        Draft202012Validator.check_schema(document)
        assert document == load(name) == all_schemas()[name]


@pytest.mark.parametrize(
    ("name", "record"),
    [("status-record", STATUS), ("normalized-event", EVENT), ("anomaly", ANOMALY)],
    ids=["status", "event", "anomaly"],
)
def test_records_validate(name: str, record: Any) -> None:
    Draft202012Validator(load(name)).validate(orjson.loads(record.to_json()))


def test_optional_account_is_absent_not_null() -> None:
    assert "account" not in EVENT.to_dict()
    assert "account" not in load("normalized-event")["required"]


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("status-record", {**STATUS.to_dict(), "status": "paid"}),
        ("status-record", {**STATUS.to_dict(), "extra": 1}),
        ("anomaly", {k: v for k, v in ANOMALY.to_dict().items() if k != "kind"}),
        ("normalized-event", {**EVENT.to_dict(), "account": None}),
        ("normalized-event", {**EVENT.to_dict(), "account_id": True}),
    ],
    ids=["unknown-status", "extra-field", "missing-kind", "null-account", "bool-account-id"],
)
def test_invalid_records_are_rejected(name: str, document: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Draft202012Validator(load(name)).validate(document)

"""The worker's error tree (:mod:`streams.errors`): its answers, its OpenAPI description and
its table in ``streams/QUERY_API.md`` all come from the classes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from streams import errors, openapi
from streams.windows import Resolution

QUERY_API = Path(errors.__file__).with_name("QUERY_API.md")
MINUTE = Resolution("1m", 60_000, 60)


def _subclasses(cls: type[errors.WorkerError]) -> set[type[errors.WorkerError]]:
    found = set(cls.__subclasses__())
    return found | {deeper for sub in found for deeper in _subclasses(sub)}


def test_every_error_is_listed_and_described() -> None:
    assert all(inspect.getdoc(error) for error in errors.ERRORS)
    assert set(errors.ERRORS) == {errors.WorkerError, *_subclasses(errors.WorkerError)}
    assert len({error.code for error in errors.ERRORS}) == len(errors.ERRORS)


@pytest.mark.parametrize(
    ("error", "document"),
    [
        (
            errors.BadQuery("to", "must be after from"),
            {"error": "bad_request", "reason": "to: must be after from"},
        ),
        (
            errors.NotFound("no transaction with this id"),
            {"error": "not_found", "reason": "no transaction with this id"},
        ),
        (
            errors.Ambiguous("500", ["live", "sandbox"]),
            {
                "error": "ambiguous",
                "reason": "transaction 500 exists on several endpoints: choose one with ?endpoint=",
                "endpoints": ["live", "sandbox"],
            },
        ),
        (errors.Unavailable("retry"), {"error": "unavailable", "reason": "retry"}),
        (errors.WorkerError("boom"), {"error": "internal_error", "reason": "boom"}),
    ],
)
def test_documents(error: errors.WorkerError, document: dict[str, object]) -> None:
    assert error.document() == document


def test_only_unauthorized_adds_a_header() -> None:
    assert errors.Unauthorized("x").headers == {"WWW-Authenticate": 'Bearer realm="fedapay-bridge"'}
    assert all(not error("x").headers for error in (errors.Forbidden, errors.NotFound))


def test_the_openapi_answers_are_the_classes() -> None:
    paths = openapi.document((MINUTE,))["paths"]
    by_status = {error.status: error for error in errors.ERRORS if error is not errors.WorkerError}
    for path, item in paths.items():
        for status, answer in item["get"]["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if "error" not in schema.get("properties", {}):
                continue  # 200, /metrics, and /readyz's 503 (its own document)
            error = by_status[int(status)]
            assert schema["properties"]["error"] == {"const": error.code}, (path, status)
            assert answer["description"] == inspect.getdoc(error), (path, status)


def test_the_query_api_table_is_the_tree() -> None:
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", QUERY_API.read_text(), flags=re.M)
    assert sorted((int(status), code) for status, code in rows) == sorted(
        (error.status, error.code) for error in errors.ERRORS
    )

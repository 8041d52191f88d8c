"""The OpenAPI 3.1 document of the workers' HTTP API, served at ``/openapi.json``.

Written by hand next to :mod:`streams.web` (the routes) and
:mod:`streams.query` (the parameters and documents); the schema of a metric summary
and the filters come from :mod:`streams.counters`, the error answers from
:mod:`streams.errors` (status, code, description, body). A test checks that every
route is documented and a schemathesis run checks the server against it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from schemas import keys
from streams.counters import FILTERS, summary_schema
from streams.errors import (
    Ambiguous,
    BadQuery,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    WorkerError,
)
from streams.query import MAX_MINUTES, TRANSACTION_ID
from streams.windows import Resolution

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
#: A summary of counters, as :data:`streams.counters.READINGS` declare its fields.
_SUMMARY: dict[str, Any] = summary_schema()

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^|]+$"}
_TIME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64}

#: An endpoint name, or ``-`` (records without the endpoint header).
_ENDPOINT: dict[str, Any] = {
    "type": "string",
    "pattern": f"{keys.ENDPOINT_NAME.pattern}|^-$",
    "maxLength": 63,
}

_FRAME = {
    "endpoint": {
        "type": ["string", "null"],
        "description": "The endpoint the windows are of; null: every endpoint's, merged.",
    },
    "resolution": {"type": "string"},
    "from": {"type": "string", "format": "date-time"},
    "to": {"type": "string", "format": "date-time"},
    "filters": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _param(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _responses(ok: dict[str, Any], *errors: type[WorkerError]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": ok}}}
    }
    for error in sorted(errors, key=lambda error: error.status):
        responses[str(error.status)] = {
            "description": inspect.getdoc(error),
            "content": {"application/json": {"schema": _error_schema(error)}},
        }
    return responses


def _error_schema(error: type[WorkerError]) -> dict[str, Any]:
    """The body of :meth:`WorkerError.document` for ``error``."""
    return {
        "type": "object",
        "required": ["error", "reason", *error.fields],
        "properties": {
            "error": {"const": error.code},
            "reason": {"type": "string"},
            **error.fields,
        },
    }


def _guarded(ok: dict[str, Any], *errors: type[WorkerError]) -> dict[str, Any]:
    """The responses of a route behind the query token (401 and 403 besides ``errors``)."""
    return _responses(ok, *errors, Unauthorized, Forbidden)


def _endpoint(what: str) -> dict[str, Any]:
    return _param("endpoint", what, **_ENDPOINT)


def _filters() -> list[dict[str, Any]]:
    chosen = _endpoint(
        "Only this webhook endpoint's windows (e.g. live, sandbox; '-': raw records without "
        "the endpoint header). Default: every endpoint's, merged."
    )
    return [
        chosen,
        *(_param(name, f"Only counters whose {name} is this value.", **_TEXT) for name in FILTERS),
    ]


def document(resolutions: Sequence[Resolution]) -> dict[str, Any]:
    names = [r.name for r in resolutions]
    time_doc = "Epoch milliseconds or an ISO 8601 instant (UTC when it has no zone)."
    window_params = [
        _param("from", f"Start (inclusive). {time_doc}", required=True, **_TIME),
        _param("to", f"End (exclusive). {time_doc}", required=True, **_TIME),
        _param("resolution", f"Window size (default {names[0]}).", type="string", enum=names),
    ]
    range_schema = {
        "type": "object",
        "required": ["resolution", "from", "to", "windows", "total"],
        "properties": {
            **_FRAME,
            "windows": {
                "type": "array",
                "items": {
                    "allOf": [
                        {
                            "type": "object",
                            "properties": {
                                "start": {"type": "string", "format": "date-time"},
                                "end": {"type": "string", "format": "date-time"},
                            },
                        },
                        _SUMMARY,
                    ]
                },
            },
            "total": _SUMMARY,
        },
    }
    summary_schema = {
        "allOf": [
            {"type": "object", "properties": {**_FRAME, "minutes": {"type": "integer"}}},
            _SUMMARY,
        ]
    }
    transaction_schema = {
        "type": "object",
        "required": ["transaction_id", "endpoint", "status", "updated_at", "history"],
        "properties": {
            "transaction_id": {"type": "string"},
            "endpoint": {
                "type": ["string", "null"],
                "description": "The webhook endpoint of the transaction (null: raw records "
                "without the endpoint header).",
            },
            "status": {"type": "string"},
            "updated_at": {"type": "string"},
            "event": {"type": "string"},
            "reference": {"type": ["string", "null"]},
            "amount": {"type": ["integer", "null"]},
            "currency": {"type": ["string", "null"]},
            "stale_deliveries": {"type": "integer"},
            "anomalies": {"type": "integer"},
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "updated_at": {"type": "string"},
                    },
                },
            },
        },
    }
    status_schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "partitions": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Raw partitions this worker serves (readyz).",
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fedapay-bridge worker API",
            "version": "1",
            "description": "Windowed metrics and transaction status from the stream "
            "workers. Any worker answers any query. Every route but /healthz, /readyz "
            "and /metrics needs the workers' bearer token.",
        },
        "components": {
            "securitySchemes": {
                "queryToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "FEDAPAY_BRIDGE_QUERY_TOKEN of the workers.",
                }
            }
        },
        "security": [{"queryToken": []}],
        "paths": {
            "/query/range": {
                "get": {
                    "operationId": "queryRange",
                    "summary": "Metrics per window over a time range",
                    "parameters": [*window_params, *_filters()],
                    "responses": _guarded(range_schema, BadQuery, Unavailable),
                }
            },
            "/query/summary": {
                "get": {
                    "operationId": "querySummary",
                    "summary": "Metrics of the last N minutes",
                    "parameters": [
                        _param(
                            "minutes",
                            "How many minutes back (default 5).",
                            type="integer",
                            minimum=1,
                            maximum=MAX_MINUTES,
                        ),
                        *_filters(),
                    ],
                    "responses": _guarded(summary_schema, BadQuery, Unavailable),
                }
            },
            "/transactions/{id}": {
                "get": {
                    "operationId": "getTransaction",
                    "summary": "A transaction's derived status and history",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "description": "FedaPay transaction id (entity.id): digits only.",
                            "schema": {"type": "string", "pattern": f"^{TRANSACTION_ID.pattern}$"},
                        },
                        _endpoint(
                            "The webhook endpoint of the transaction (e.g. live, sandbox; '-': "
                            "raw records without the endpoint header). Live and sandbox number "
                            "transactions independently. Default: the id's only endpoint; 409 "
                            "when it exists on several."
                        ),
                    ],
                    "responses": _guarded(
                        transaction_schema, BadQuery, NotFound, Ambiguous, Unavailable
                    ),
                }
            },
            "/internal/windows": {
                "get": {
                    "operationId": "internalWindows",
                    "summary": "Raw window counters of some partitions of this worker "
                    "(used between workers)",
                    "parameters": [
                        *window_params,
                        _param(
                            "partitions",
                            "Comma-separated distinct raw partitions, each below the raw "
                            "topic's partition count, at most that many.",
                        ),
                        _endpoint("Only this endpoint's windows (default: every endpoint's)."),
                    ],
                    "responses": _guarded(
                        {
                            "type": "object",
                            "properties": {
                                "partitions": {"type": "array", "items": {"type": "integer"}},
                                "windows": {
                                    "type": "object",
                                    "additionalProperties": _COUNTS,
                                },
                            },
                        },
                        BadQuery,
                        Unavailable,
                    ),
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "security": [],
                    "summary": "The web server answers",
                    "responses": _responses(status_schema),
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "security": [],
                    "summary": "Partitions assigned and tables recovered",
                    "responses": {
                        **_responses(status_schema),
                        "503": {
                            "description": "Not ready",
                            "content": {"application/json": {"schema": status_schema}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "prometheus",
                    "security": [],
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": _guarded({"type": "object"}),
                }
            },
        },
    }

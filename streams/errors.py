"""The worker's HTTP error tree. Each error carries its HTTP status and stable code.

They are turned into answers in exactly one place, :func:`streams.web.errors_middleware`.
Error bodies have the ingress's shape, ``{"error": <code>, "reason": <text>}``, plus the
fields an error adds (:meth:`WorkerError.document`: the endpoints of an ambiguous id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from common.errors import BridgeError


class WorkerError(BridgeError):
    """An unexpected failure of the worker (logged)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    #: JSON Schemas of the fields :meth:`document` adds to ``error`` and ``reason``.
    fields: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def headers(self) -> Mapping[str, str]:
        return {}

    def document(self) -> dict[str, Any]:
        """The answer's body."""
        return {"error": self.code, "reason": self.reason}


class BadQuery(WorkerError):
    """A query parameter is missing or invalid."""

    status = 400
    code = "bad_request"

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


class Unauthorized(WorkerError):
    """No valid ``Authorization: Bearer <token>`` header (the workers'
    ``FEDAPAY_BRIDGE_QUERY_TOKEN``)."""

    status = 401
    code = "unauthorized"

    @property
    def headers(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="fedapay-bridge"'}


class Forbidden(WorkerError):
    """This worker has no query token configured: its query API is off."""

    status = 403
    code = "forbidden"


class NotFound(WorkerError):
    """No such transaction (on the endpoint asked for)."""

    status = 404
    code = "not_found"


class Ambiguous(WorkerError):
    """The transaction id exists on several endpoints and none was chosen: the answer lists
    them in ``endpoints``; ask again with ``?endpoint=``."""

    status = 409
    code = "ambiguous"
    fields: ClassVar[Mapping[str, Any]] = {
        "endpoints": {"type": "array", "items": {"type": "string"}}
    }

    def __init__(self, transaction_id: str, endpoints: Sequence[str]) -> None:
        super().__init__(
            f"transaction {transaction_id} exists on several endpoints: choose one with ?endpoint="
        )
        self.endpoints = list(endpoints)

    def document(self) -> dict[str, Any]:
        return {**super().document(), "endpoints": self.endpoints}


class Unavailable(WorkerError):
    """A partition the answer needs has no reachable worker now (rebalancing); retry."""

    status = 503
    code = "unavailable"


#: Every error a route can answer with, for the OpenAPI document.
ERRORS: tuple[type[WorkerError], ...] = (
    BadQuery,
    Unauthorized,
    Forbidden,
    NotFound,
    Ambiguous,
    Unavailable,
    WorkerError,
)

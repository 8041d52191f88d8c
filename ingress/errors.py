"""The ingress's error tree. Each error carries its HTTP status and stable code.

They are turned into answers in exactly one place, :mod:`ingress.middleware`.
Error bodies are ``{"error": <code>}`` plus the optional ``reason``.
"""

from __future__ import annotations

from common.errors import BridgeError


class IngressError(BridgeError):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message or self.code)
        self.reason = reason

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(IngressError):
    """The body could not be read as sent: undecodable Content-Encoding, broken chunking,
    or the client went away before sending all of it."""

    status = 400
    code = "bad_request"


class InvalidSignature(IngressError):
    status = 401
    code = "invalid_signature"


class ForbiddenSource(IngressError):
    status = 403
    code = "forbidden_source"


class UnknownEndpoint(IngressError):
    status = 404
    code = "unknown_endpoint"


class NotFound(IngressError):
    status = 404
    code = "not_found"


class MethodNotAllowed(IngressError):
    status = 405
    code = "method_not_allowed"


class ExpectationFailed(IngressError):
    status = 417
    code = "expectation_failed"


class PayloadTooLarge(IngressError):
    status = 413
    code = "payload_too_large"


class _RetryLater(IngressError):
    def __init__(self, retry_after: int, message: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryLater):
    status = 429
    code = "rate_limited"


class BrokerUnavailable(_RetryLater):
    """The record could not be made durable in time; nothing was acknowledged."""

    status = 503
    code = "broker_unavailable"


class Overloaded(_RetryLater):
    """``MAX_BODY_READS`` bodies are being received already; this one is not read."""

    status = 503
    code = "overloaded"


class RequestTimeout(IngressError):
    """The client did not send its whole body in time."""

    status = 408
    code = "request_timeout"


class NotReady(IngressError):
    status = 503
    code = "not_ready"


def codes(minimum_status: int = 0) -> frozenset[str]:
    """The code of every error of the tree whose HTTP status is at least ``minimum_status``."""
    found: set[str] = set()
    pending: list[type[IngressError]] = [IngressError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind.status >= minimum_status:
            found.add(kind.code)
    return frozenset(found)

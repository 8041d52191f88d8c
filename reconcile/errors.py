"""The errors of ``reconcile``, ``dlq redrive`` and ``replay``; :mod:`reconcile.cli` maps each
to its exit code (the one place)."""

from __future__ import annotations

from common.errors import BridgeError


class ReconcileError(BridgeError):
    """Base of the errors a reconciliation pass ends with."""


class ApiAuthError(ReconcileError):
    """FedaPay answered 401 (or 403): the API key is wrong, revoked, or of the other mode."""


class ApiUnavailable(ReconcileError):
    """FedaPay kept answering 429/5xx (or not at all) until the attempts ran out."""


class ApiContractError(ReconcileError):
    """FedaPay answered something that is not the documented shape (or an unexpected 4xx)."""


class ApiNotFound(ApiContractError):
    """FedaPay answered 404: it has no such object (in this account)."""

"""Endpoint-qualified identities: the one place their keys are built and read. Pure.

FedaPay's live and sandbox accounts number their transactions and events
independently, so an id means something only together with the webhook
endpoint it came through (the ``fedapay-endpoint`` header the ingress sets).
Every identity the workers keep is qualified by the endpoint:

* dedup table key: ``<endpoint>:<dedup key>``
* transaction state key, and the key of the compacted
  ``<prefix>.transaction.status`` topic and of ``<prefix>.anomalies``:
  ``<endpoint>:<transaction id>``
* beside the states, ``*:<transaction id>`` lists the endpoints that hold a
  state of that id (how ``GET /transactions/{id}`` finds them without a scan)
* metric windows: ``<raw partition>|<endpoint>|<resolution>|<window start>``
  (:mod:`streams.window_store`)

An endpoint name matches :data:`ENDPOINT_NAME` (the ingress's rule), so it
never holds ``:``: a key splits at its first ``:`` without ambiguity, whatever
the id holds. A raw record without the header (written by something else
than the ingress, which always sets it) belongs to :data:`NO_ENDPOINT`
(``-``), a namespace of its own that never matches a real endpoint; its
records carry ``endpoint: null``. A header that is not a valid name cannot be
qualified: such a record goes to the DLQ (:data:`INVALID_ENDPOINT`).
"""

from __future__ import annotations

import re
from typing import Final

from common.errors import BridgeError

#: A webhook endpoint name (the ingress refuses any other in ``WEBHOOKS``).
ENDPOINT_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: The endpoint of a record without the ``fedapay-endpoint`` header.
NO_ENDPOINT: Final = "-"
SEPARATOR: Final = ":"
#: The "endpoint" of the state table's index entries (never an endpoint name).
INDEX: Final = "*"
#: DLQ error code of a raw record whose ``fedapay-endpoint`` header is not a name.
INVALID_ENDPOINT: Final = "invalid_endpoint"


class InvalidEndpoint(BridgeError):
    """A ``fedapay-endpoint`` value that is not an endpoint name."""


def is_endpoint(name: str) -> bool:
    """Whether ``name`` is an endpoint of a key: a valid name or :data:`NO_ENDPOINT`."""
    return name == NO_ENDPOINT or ENDPOINT_NAME.match(name) is not None


def endpoint_of(header: str | None) -> str:
    """The endpoint of a raw record's ``fedapay-endpoint`` header (``None``: absent)."""
    if header is None:
        return NO_ENDPOINT
    if ENDPOINT_NAME.match(header) is None:
        raise InvalidEndpoint(f"fedapay-endpoint {header[:70]!r} is not an endpoint name")
    return header


def record_endpoint(endpoint: str) -> str | None:
    """The ``endpoint`` field of an output record: ``None`` for :data:`NO_ENDPOINT`."""
    return None if endpoint == NO_ENDPOINT else endpoint


def qualified(endpoint: str, identifier: str) -> str:
    """``<endpoint>:<identifier>``, the key of ``identifier`` on ``endpoint``."""
    if not is_endpoint(endpoint):
        raise InvalidEndpoint(f"{endpoint[:70]!r} is not an endpoint name")
    return f"{endpoint}{SEPARATOR}{identifier}"


def split(key: str) -> tuple[str, str] | None:
    """``(endpoint, identifier)`` of a :func:`qualified` key; ``None`` for any other key
    (e.g. one written before keys were qualified)."""
    endpoint, separator, identifier = key.partition(SEPARATOR)
    if not separator or not is_endpoint(endpoint):
        return None
    return endpoint, identifier


def index_key(transaction_id: str) -> str:
    """``*:<transaction id>``: the state table entry listing the endpoints of the id."""
    return f"{INDEX}{SEPARATOR}{transaction_id}"

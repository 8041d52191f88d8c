"""The personal data a FedaPay entity carries, declared once. Pure.

With ``PERSONAL_DATA=redact`` (the default) the workers set every field listed in
:data:`PERSONAL_FIELDS` to ``null`` in the ``entity`` of the events they emit on the
per-type topics; ``keep`` passes them on. The raw topic always keeps the body byte for
byte (the audit copy). Consumers that need to join on a customer use ``customer_id``
(an id, kept), never a name or an address.

The README's list, the JSON Schema description of ``entity`` and the redaction itself
are all derived from :data:`PERSONAL_FIELDS`; ``tests/unit/schemas/test_personal.py`` checks
the README and the real fixture against it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

POLICIES: Final = ("redact", "keep")
DEFAULT_POLICY: Final = "redact"


@dataclass(frozen=True, slots=True)
class PersonalField:
    """A field inside ``entity`` that identifies a person.

    ``path`` is the field's path inside the entity; ``object`` limits it to entities of
    that kind (``None``: any entity that has the path, e.g. a transaction's or a
    payout's ``customer``).
    """

    path: tuple[str, ...]
    what: str
    object: str | None = None

    @property
    def dotted(self) -> str:
        return "entity." + ".".join(self.path)

    @property
    def label(self) -> str:
        return self.dotted if self.object is None else f"{self.dotted} ({self.object} events)"

    @property
    def scope(self) -> str:
        return "any" if self.object is None else f"`{self.object}`"


_CUSTOMER: Final = (
    ("firstname", "first name"),
    ("lastname", "last name"),
    ("full_name", "full name"),
    ("email", "email address"),
    ("phone_number", "phone number"),
)

#: Every personal field of the entities FedaPay sends, in the order they are documented.
PERSONAL_FIELDS: Final[tuple[PersonalField, ...]] = (
    *(PersonalField(("customer", name), f"the customer's {what}") for name, what in _CUSTOMER),
    PersonalField(("payment_method", "number"), "the phone or card number paid with"),
    PersonalField(("metadata", "paid_customer"), "the payer's name and email address"),
    *(
        PersonalField((name,), f"the customer's {what}", object="customer")
        for name, what in _CUSTOMER
    ),
)


def applies(item: PersonalField, obj: str) -> bool:
    return item.object is None or item.object == obj


def redact(obj: str, entity: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``entity`` with every personal field present set to ``None``.

    Fields that are absent stay absent (the schema of the entity is FedaPay's); the
    input is never modified. An entity without any personal field is returned as is.
    """
    found = [item for item in PERSONAL_FIELDS if applies(item, obj) and _present(entity, item)]
    if not found:
        return entity
    redacted = copy.deepcopy(entity)
    for item in found:
        *parents, leaf = item.path
        node: Any = redacted
        for name in parents:
            node = node[name]
        node[leaf] = None
    return redacted


def _present(entity: dict[str, Any], item: PersonalField) -> bool:
    node: Any = entity
    for name in item.path:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return node is not None


def describe() -> str:
    """One sentence listing the fields, for the JSON Schema of normalized events."""
    labels = ", ".join(item.label for item in PERSONAL_FIELDS)
    return (
        "Personal fields set to null unless the worker keeps personal data "
        f"(FEDAPAY_BRIDGE_PERSONAL_DATA=keep): {labels}."
    )


def markdown_table() -> str:
    """The README's table of personal fields."""
    rows = ["| field | in entities of | what it holds |", "|---|---|---|"]
    rows.extend(f"| `{item.dotted}` | {item.scope} | {item.what} |" for item in PERSONAL_FIELDS)
    return "\n".join(rows)

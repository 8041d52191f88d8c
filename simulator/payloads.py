"""Webhook bodies in FedaPay's real shape, byte for byte in its serialization style.

Every field mirrors the real sandbox delivery kept with the shared notes
(``transaction.approved.json``): the four top-level keys ``name``, ``object``,
``entity``, ``account`` in that order, the transaction entity with its nested
customer, currency, payment method, balance and refunds, and the merchant
account with its users, API keys and balances. All personal data is fake
(``example.com`` addresses, test-range phone numbers, redacted keys).

Serialization follows FedaPay (Rails): compact JSON, UTF-8, and ``&``, ``<``,
``>``, U+2028, U+2029 escaped as ``\\u0026``… inside strings, so a body that is
parsed and re-serialized no longer matches its signature.

The refund object's fields are inferred (the real delivery had none).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

#: Mobile-money operators (FedaPay ``mode``) with their country and dialing code.
OPERATORS: Final[Mapping[str, tuple[str, str]]] = {
    "moov": ("BJ", "229"),
    "mtn": ("BJ", "229"),
    "mtn_open": ("BJ", "229"),
    "mtn_ci": ("CI", "225"),
    "orange_ci": ("CI", "225"),
    "moov_tg": ("TG", "228"),
    "togocel": ("TG", "228"),
    "orange_sn": ("SN", "221"),
    "free_sn": ("SN", "221"),
    "airtel_ne": ("NE", "227"),
    "orange_ml": ("ML", "223"),
}

#: The ``modes`` list of the XOF currency object, as FedaPay sends it.
CURRENCY_MODES: Final = (
    "mtn", "cybersource", "moov", "mtn_ci", "moov_tg", "orange_ci", "orange_sn", "free_sn",
    "airtel_ne", "togocel", "orange_ml", "mtn_open", "mtn_ecw", "ecobank_tpe", "orabank_tpe",
    "uba", "stripe_gw", "uba_atm", "bmo", "mtn_open_ci", "sbin",
)  # fmt: skip

#: Modes that get a balance on a merchant account (the real account had these).
BALANCE_MODES: Final = (
    "sbin", "bmo", "uba_atm", "uba", "orabank_tpe", "ecobank_tpe", "orange_ml", "togocel",
    "airtel_ne", "free_sn", "orange_sn", "orange_ci", "moov_tg", "mtn_ci", "moov", "stripe_gw",
    "mtn",
)  # fmt: skip

#: Which ``*_at`` field a status change stamps.
STATUS_TIMESTAMP_FIELD: Final[Mapping[str, str]] = {
    "approved": "approved_at",
    "declined": "declined_at",
    "canceled": "canceled_at",
    "refunded": "refunded_at",
    "approved_partially_refunded": "refunded_at",
    "transferred_partially_refunded": "refunded_at",
    "transferred": "transferred_at",
}

_TIMESTAMP_FIELDS: Final = (
    "approved_at",
    "canceled_at",
    "declined_at",
    "refunded_at",
    "transferred_at",
    "deleted_at",
)

COMMISSION: Final = "0.018"
_FEE_RATE: Final = 0.0183

_FIRST_NAMES: Final = (
    "Ama", "Kofi", "Aïcha", "Moussa", "Fatou", "Koffi", "Adjoa", "Sèna", "Yao", "Mariam",
    "Ibrahim", "Akouavi", "Chabi", "Rokia", "Segun", "Awa", "Komlan", "Nafissatou",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Kossou", "Mensah", "Diallo", "Traoré", "Houngbédji", "Agbodjan", "Sow", "Adjovi",
    "Koné", "Dossou", "Gnonlonfoun", "Ndiaye", "Akakpo", "Sanogo", "Bello", "Zinsou",
)  # fmt: skip
_PRODUCTS: Final = (
    "Pagne & accessoires",
    "Abonnement <Premium>",
    "Recharge data",
    "Livraison express",
    "Billet de bus Cotonou > Lomé",
    "Panier du marché",
    "Frais de scolarité",
)
#: ``last_error_code`` values of declined transactions (illustrative).
DECLINE_ERROR_CODES: Final = ("INSUFFICIENT_FUNDS", "TRANSACTION_DECLINED", "API_ERROR")

_ESCAPES: Final = (
    (b"&", b"\\u0026"),
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def dumps(document: Any) -> bytes:
    """Serialize like FedaPay: compact, UTF-8, HTML-sensitive characters escaped.

    The replacements are safe on the whole document because these characters
    can only occur inside JSON strings.
    """
    data = orjson.dumps(document)
    for raw, escaped in _ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def iso_ms(epoch_ms: int) -> str:
    """``2024-02-19T11:48:10.408Z`` for a Unix time in milliseconds."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_seconds(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=8192)
def _iso_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_iso_ms(text: str) -> int:
    """The inverse of :func:`iso_ms`."""
    stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(stamp.timestamp()) * 1000 + stamp.microsecond // 1000


def _iso_or_none(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else iso_ms(epoch_ms)


def assemble(name: str, obj: str, entity_json: bytes, account_json: bytes) -> bytes:
    """A whole body from pre-serialized parts, keys in FedaPay's order."""
    head = dumps({"name": name, "object": obj})[:-1]
    return b"".join((head, b',"entity":', entity_json, b',"account":', account_json, b"}"))


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True, slots=True)
class Customer:
    """One state of a FedaPay customer."""

    id: int
    firstname: str
    lastname: str
    email: str | None
    account_id: int
    created_ms: int
    updated_ms: int
    phone_number_id: int | None = None
    deleted_ms: int | None = None


def customer_entity(customer: Customer) -> dict[str, Any]:
    return {
        "klass": "v1/customer",
        "id": customer.id,
        "firstname": customer.firstname,
        "lastname": customer.lastname,
        "full_name": f"{customer.firstname} {customer.lastname}",
        "email": customer.email,
        "account_id": customer.account_id,
        "phone_number_id": customer.phone_number_id,
        "created_at": iso_ms(customer.created_ms),
        "updated_at": iso_ms(customer.updated_ms),
        "deleted_at": _iso_or_none(customer.deleted_ms),
    }


def random_customer(rng: random.Random, customer_id: int, account_id: int, at_ms: int) -> Customer:
    """A fake customer; ``email`` is always under ``example.com``."""
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    email = f"customer{customer_id}@example.com" if rng.random() < 0.8 else None
    phone = customer_id * 3 + 1 if rng.random() < 0.6 else None
    return Customer(customer_id, first, last, email, account_id, at_ms, at_ms, phone)


def anonymous_customer(customer_id: int, account_id: int, at_ms: int) -> Customer:
    """The customer FedaPay's checkout creates for an unknown payer."""
    return Customer(customer_id, "Unknown", "Unknown", None, account_id, at_ms, at_ms)


# --------------------------------------------------------------------------- merchant


@dataclass(frozen=True, slots=True)
class Merchant:
    """The merchant account every event carries, serialized once."""

    account_id: int
    balance_ids: Mapping[str, int]
    created_ms: int
    account_json: bytes


def build_merchant(rng: random.Random, created_ms: int) -> Merchant:
    account_id = rng.randrange(1000, 99999)
    first_balance = rng.randrange(100_000, 900_000)
    balance_ids = {mode: first_balance + i for i, mode in enumerate(reversed(BALANCE_MODES))}
    account = _account_document(rng, account_id, balance_ids, created_ms)
    return Merchant(account_id, balance_ids, created_ms, dumps(account))


def _account_document(
    rng: random.Random, account_id: int, balance_ids: Mapping[str, int], created_ms: int
) -> dict[str, Any]:
    user_id = rng.randrange(1000, 99999)
    created = iso_ms(created_ms)
    confirmed = iso_ms(created_ms + 107_513)
    updated = iso_ms(created_ms + 1_097_325_949)
    business = dict.fromkeys(
        (
            "business_type", "business_identity_type", "business_identity_number",
            "business_vat_number", "business_registration_number", "business_category",
        )
    )  # fmt: skip
    more_business = dict.fromkeys(
        (
            "business_website", "business_address", "business_name", "business_phone",
            "business_email", "business_owner", "business_company_capital",
            "business_description",
        )
    )  # fmt: skip
    codes = dict.fromkeys(
        (
            "prospect_code", "deal_closer_code", "manager_code", "business_identity_id",
            "business_vat_id", "business_registration_id", "business_owner_signature_id",
            "business_identity", "business_vat", "business_registration",
            "business_owner_signature",
        )
    )  # fmt: skip
    return {
        "klass": "v1/account",
        "id": account_id,
        "name": "Mon compte",
        "timezone": "UTC",
        "country": "BJ",
        "created_at": created,
        "updated_at": updated,
        "verified": False,
        "reference": f"acc_{rng.randrange(10**9, 10**10)}",
        **business,
        "blocked": False,
        **more_business,
        "submitted": False,
        "reject_reason": None,
        "has_balance_issue": True,
        "last_balance_issue_checked_at": iso_ms(created_ms + 1_097_325_021),
        **codes,
        "user_accounts": [
            {
                "klass": "v1/user_account",
                "id": user_id + 356,
                "account_id": account_id,
                "user_id": user_id,
                "role_id": 1,
            }
        ],
        "users": [
            {
                "klass": "v1/user",
                "id": user_id,
                "email": "merchant@example.com",
                "confirmed_at": confirmed,
                "reset_sent_at": None,
                "admin": False,
                "admin_role": "user",
                "created_at": iso_ms(created_ms - 22),
                "updated_at": iso_ms(created_ms + 107_522),
                "firstname": "Merchant",
                "lastname": "Owner",
                "locale": "fr",
                "two_fa_enabled": False,
            }
        ],
        "api_keys": [
            {
                "klass": "v1/api_key",
                "id": user_id + 926,
                "created_at": iso_ms(created_ms + 904),
                "updated_at": iso_ms(created_ms + 904),
                "public_key": "pk_sandbox_REDACTEDREDACTEDREDACTED",
            }
        ],
        "balances": [
            _balance(balance_ids[mode], mode, 0, created_ms + 40 * i)
            for i, mode in enumerate(BALANCE_MODES)
        ],
        "bank_accounts": [],
        "mobile_accounts": [],
        "card_accounts": [],
        "currencies": [CURRENCY_XOF],
    }


def _balance(balance_id: int, mode: str, amount: int, at_ms: int) -> dict[str, Any]:
    stamp = iso_ms(at_ms)
    return {
        "klass": "v1/balance",
        "id": balance_id,
        "amount": amount,
        "mode": mode,
        "created_at": stamp,
        "updated_at": stamp,
    }


CURRENCY_XOF: Final[Mapping[str, Any]] = {
    "klass": "v1/currency",
    "id": 1,
    "name": "FCFA",
    "iso": "XOF",
    "code": 952,
    "prefix": None,
    "suffix": "CFA",
    "div": 1,
    "default": True,
    "created_at": "2018-05-27T21:26:23.618Z",
    "updated_at": "2023-04-25T13:45:49.805Z",
    "modes": list(CURRENCY_MODES),
}


# --------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    amount: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One state of a FedaPay transaction (what one webhook body shows)."""

    id: int
    reference: str
    amount: int
    description: str
    callback_url: str
    mode: str
    customer: Customer
    account_id: int
    balance_id: int
    payment_method_id: int
    phone_number: str
    transaction_key: str
    expire_job_id: str
    balance_created_ms: int
    created_ms: int
    updated_ms: int
    status: str = "pending"
    #: ``approved_at``… → epoch ms, only for the fields that are set.
    stamps: Mapping[str, int] = field(default_factory=dict)
    custom_metadata: Mapping[str, Any] | None = None
    last_error_code: str | None = None
    refunds: tuple[Refund, ...] = ()


def random_transaction(
    rng: random.Random,
    transaction_id: int,
    merchant: Merchant,
    customer: Customer,
    at_ms: int,
) -> Transaction:
    """A new pending transaction of a random amount, operator and product."""
    mode = rng.choice(tuple(OPERATORS))
    _, dial = OPERATORS[mode]
    order = rng.randrange(1, 100_000)
    return Transaction(
        id=transaction_id,
        reference=f"trx_{_token(rng, 3)}_{at_ms}",
        amount=rng.choice((100, 500, 1000, 2500, 5000, 10_000, 22_000, 50_000, 150_000)),
        description=f"Commande {order} - {rng.choice(_PRODUCTS)}",
        callback_url=f"https://shop.example.com/fedapay/callback?order={order}&lang=fr",
        mode=mode,
        customer=customer,
        account_id=merchant.account_id,
        balance_id=merchant.balance_ids.get(mode, merchant.balance_ids["moov"]),
        payment_method_id=transaction_id // 3 + 1000,
        phone_number=f"{dial}6000{transaction_id % 10_000:04d}",
        transaction_key=str(rng.randrange(10**15, 10**16)),
        expire_job_id=f"{rng.getrandbits(96):024x}",
        balance_created_ms=merchant.created_ms + 144,
        created_ms=at_ms,
        updated_ms=at_ms,
    )


def _token(rng: random.Random, length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    return "".join(rng.choice(alphabet) for _ in range(length))


def fees(amount: int) -> int:
    return round(amount * _FEE_RATE)


def transaction_entity(tx: Transaction) -> dict[str, Any]:
    """The ``entity`` of a transaction event, fields in FedaPay's order."""
    paid = tx.status != "pending" and "approved_at" in tx.stamps
    charged = fees(tx.amount)
    metadata: dict[str, Any] = {"expire_schedule_jobid": tx.expire_job_id}
    if paid:
        metadata["paid_customer"] = {
            "firstname": tx.customer.firstname,
            "lastname": tx.customer.lastname,
            "email": tx.customer.email,
        }
    entity: dict[str, Any] = {
        "klass": "v1/transaction",
        "id": tx.id,
        "reference": tx.reference,
        "amount": tx.amount,
        "description": tx.description,
        "callback_url": tx.callback_url,
        "status": tx.status,
        "customer_id": tx.customer.id,
        "currency_id": 1,
        "mode": tx.mode,
        "operation": "payment",
        "metadata": metadata,
        "commission": COMMISSION,
        "fees": charged,
        "fixed_commission": 0,
        "amount_transferred": tx.amount if paid else 0,
        "created_at": iso_ms(tx.created_ms),
        "updated_at": iso_ms(tx.updated_ms),
    }
    for name in _TIMESTAMP_FIELDS:
        entity[name] = _iso_or_none(tx.stamps.get(name))
    entity.update(
        {
            "last_error_code": tx.last_error_code,
            "custom_metadata": None if tx.custom_metadata is None else dict(tx.custom_metadata),
            "amount_debited": tx.amount + charged,
            "receipt_url": None,
            "payment_method_id": tx.payment_method_id,
            "sub_accounts_commissions": None,
            "transaction_key": tx.transaction_key,
            "merchant_reference": None,
            "account_id": tx.account_id,
            "balance_id": tx.balance_id,
            "customer": customer_entity(tx.customer),
            "currency": CURRENCY_XOF,
            "payment_method": _payment_method(tx),
            "balance": _balance(tx.balance_id, tx.mode, 474_000, tx.balance_created_ms),
            "refunds": [_refund(tx.id, refund) for refund in tx.refunds],
        }
    )
    return entity


def _payment_method(tx: Transaction) -> dict[str, Any]:
    country, _ = OPERATORS[tx.mode]
    stamp = iso_ms(tx.created_ms + 300)
    return {
        "klass": "v1/payment_method",
        "id": tx.payment_method_id,
        "brand": tx.mode,
        "country": country,
        "number": tx.phone_number,
        "deleted_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        "method": "phone",
    }


def _refund(transaction_id: int, refund: Refund) -> dict[str, Any]:
    stamp = iso_ms(refund.at_ms)
    return {
        "klass": "v1/refund",
        "id": refund.id,
        "amount": refund.amount,
        "transaction_id": transaction_id,
        "created_at": stamp,
        "updated_at": stamp,
    }


def entity_json(state: Transaction | Customer) -> bytes:
    """The serialized entity of a transaction or customer state."""
    if isinstance(state, Transaction):
        return dumps(transaction_entity(state))
    return dumps(customer_entity(state))


def customer_body(name: str, customer: Customer, merchant: Merchant) -> bytes:
    """A whole ``customer.*`` body."""
    return assemble(name, "customer", dumps(customer_entity(customer)), merchant.account_json)

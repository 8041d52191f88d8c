"""Verify and produce FedaPay webhook signatures (``X-FEDAPAY-SIGNATURE``).

Pure and standard library only: no I/O, no logging, nothing read from the
environment. Usable as a library, like ``stripe.Webhook.construct_event``::

    t = verify_signature(raw_body, request.headers.get("X-FEDAPAY-SIGNATURE"), secrets)

What FedaPay's official Node SDK does
-------------------------------------
The reference is ``WebhookSignature.verifyHeader`` of the npm package ``fedapay``
1.2.5 (``src/Webhook.ts``), read from the published package and run against the
table of header variants in ``tests/unit/ingress/test_signature.py``. In words:

* A header that is not a string is rejected ("Unable to extract timestamp and
  signatures from header").
* The header is split on ``,``; each part is split on *every* ``=``. The label is
  the text before the first ``=``, the value the text between the first and the
  second ``=`` (so ``s=<hex>=junk`` offers ``<hex>``; the PHP and Ruby SDKs split
  on the first ``=`` only and would offer ``<hex>=junk``). Nothing is trimmed:
  ``t=1, s=abc`` has a part labelled `` s``, which is no signature.
* Label ``t`` (exact, lowercase): the timestamp is ``parseInt(value)``; when several
  parts say ``t`` the last one wins. Label ``s`` (exact, lowercase): the value is a
  candidate signature; every ``s`` part is one. Every other label (``v1``, ``v0``,
  ``S``, ``T``) is ignored.
* The timestamp starts as the sentinel ``-1``: no ``t`` part, or a ``t`` that
  parses to ``-1``, is rejected like a missing header. No ``s`` part: rejected
  ("No signatures found with expected scheme").
* Expected signature: lowercase hex HMAC-SHA256, key = the secret's UTF-8 bytes,
  message = ``String(timestamp) + "." + payload``. Each candidate is compared in
  constant time; a length mismatch is simply no match, so uppercase hex, extra
  spaces or an empty value never match.
* Only after a signature matched: reject when ``tolerance`` is truthy and positive
  and ``floor(now) - t > tolerance``. An age equal to the tolerance passes; a
  timestamp in the future always passes; a tolerance of 0 or below disables the
  check. (``verifyHeader`` itself has no default; ``Webhook.constructEvent`` passes
  300.) So a bad signature with an old timestamp is a signature failure.
  DEVIATION, opt-in: with ``max_future`` (the ingress sets it from
  ``SIGNATURE_MAX_FUTURE_SECONDS``) a matching signature whose ``t`` lies more than
  ``max_future`` seconds ahead of ``now`` is refused with the same reason, since a
  future-dated signature would stay replayable until ``t + tolerance``.
* ``parseInt`` semantics for ``t``: leading JavaScript white space is skipped (space,
  tab, line breaks, no-break space, the Unicode space separators, BOM), then an
  optional sign, then either ``0x``/``0X`` and hex digits or ASCII decimal digits;
  parsing stops at the first other character. So ``12abc`` is 12, `` 12`` is 12,
  ``+12`` is 12, ``1e3`` is 1, ``1.9`` is 1, ``0x1A`` is 26, ``-5`` is -5,
  ``-0`` is 0. No digit at all (empty value, ``abc``, a ``t`` without ``=``) is NaN.
  The signed message uses the parsed number, not the header's spelling.
* An ``s`` part without ``=`` has an undefined value; the SDK's compare throws a
  ``TypeError`` on it. Its candidate search stops at the first match, so such a part
  rejects the request only when it comes before the matching candidate.

This module decides every case as that SDK does, with these deviations, each on
the safe side (marked ``DEVIATION`` in the code):

1. A ``t`` that ``parseInt`` reads as NaN: the SDK goes on and verifies against the
   message ``"NaN.<payload>"``, and its age check never fires (comparisons with NaN
   are false), i.e. such a signature would be valid forever. Rejected here with
   ``malformed_header``. FedaPay never signs ``NaN``.
2. A ``t`` beyond +/-(2**53 - 1) (JavaScript's safe integers): the SDK rounds it and
   signs a rounded or exponent spelling. Rejected here with ``malformed_header``;
   such a timestamp is hundreds of millions of years away.
3. A payload that is not valid UTF-8: the SDK first decodes the bytes to text
   (invalid sequences become U+FFFD) and signs that text, so several different
   bodies share one signature. Here the HMAC is always over the raw bytes. For
   valid UTF-8 (every FedaPay JSON body) both are the same message.

Decisions that are the project's own (the SDK has one secret, no such input):

* Several secrets (rotation): the request verifies if any secret verifies it. For
  every secret the expected digest is computed once and compared with every
  candidate; all comparisons run, whatever matches.
* An empty header string is ``missing_header`` (the SDK rejects it too, with the
  same message as a missing header).
* Caller mistakes are not signature failures and raise plain errors, so an HTTP
  layer does not answer 401 for a misconfiguration: a payload that is not
  ``bytes`` or a header that is neither ``str`` nor ``None`` raises ``TypeError``;
  ``secrets`` given as one ``str`` or holding a non-``str`` raises ``TypeError``;
  no secrets, an empty secret, or a secret that is not encodable as UTF-8 raises
  ``ValueError``. Catch :class:`SignatureError` (not ``ValueError``) to answer 401.

Reasons (``SignatureError.reason``, stable strings):

``missing_header``
    No header, or an empty one.
``malformed_header``
    No ``t`` part, a ``t`` that is NaN, ``-1`` or beyond the safe-integer range.
``no_signature``
    No part labelled exactly ``s``.
``signature_mismatch``
    No candidate equals the HMAC under any secret.
``timestamp_out_of_tolerance``
    The signature matched but the timestamp is older than ``tolerance`` seconds.

Error messages are fixed per reason: they never include the header, the expected
signature or a secret.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from typing import Final, NamedTuple

__all__ = [
    "DEFAULT_TOLERANCE",
    "MALFORMED_HEADER",
    "MISSING_HEADER",
    "NO_SIGNATURE",
    "REASONS",
    "SIGNATURE_MISMATCH",
    "TIMESTAMP_OUT_OF_TOLERANCE",
    "SignatureError",
    "sign",
    "verify_signature",
]

MISSING_HEADER: Final = "missing_header"
MALFORMED_HEADER: Final = "malformed_header"
NO_SIGNATURE: Final = "no_signature"
SIGNATURE_MISMATCH: Final = "signature_mismatch"
TIMESTAMP_OUT_OF_TOLERANCE: Final = "timestamp_out_of_tolerance"

REASONS: Final = frozenset(
    {MISSING_HEADER, MALFORMED_HEADER, NO_SIGNATURE, SIGNATURE_MISMATCH, TIMESTAMP_OUT_OF_TOLERANCE}
)

DEFAULT_TOLERANCE: Final = 300
"""Seconds; the default of every FedaPay SDK."""

_MESSAGES: Final = {
    MISSING_HEADER: "no signature header",
    MALFORMED_HEADER: "unable to extract a timestamp from the signature header",
    NO_SIGNATURE: "no signature with the expected scheme in the signature header",
    SIGNATURE_MISMATCH: "no signature matches the payload; was the raw request body used?",
    TIMESTAMP_OUT_OF_TOLERANCE: "signature timestamp outside the tolerance zone",
}

_TIMESTAMP_LABEL: Final = "t"
_SIGNATURE_LABEL: Final = "s"
_NO_TIMESTAMP: Final = -1  # the SDK's sentinel: a `t` parsing to -1 counts as none
_MAX_SAFE_INTEGER: Final = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER

# What JavaScript's parseInt skips before the number (WhiteSpace and LineTerminator
# of ECMAScript: TAB, LF, VT, FF, CR, SP, NBSP, the Zs space separators, LS, PS, BOM).
_JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL_DIGITS: Final = frozenset("0123456789")
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
# More significant digits than this are out of the safe range whatever they say;
# capping keeps int() cheap on a hostile header.
_MAX_DIGITS: Final = 32


class SignatureError(ValueError):
    """The request is not verifiably FedaPay's. ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason = reason


class _Header(NamedTuple):
    """The parts of a signature header the SDK looks at."""

    has_timestamp: bool
    timestamp: int | None  # parseInt of the last `t` part; None for NaN
    candidates: tuple[str | None, ...]  # every `s` part's value; None when it had no `=`


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
    max_future: int | None = None,
) -> int:
    """Return the verified timestamp ``t`` of ``header``, or raise :class:`SignatureError`.

    ``payload`` is the raw request body; ``header`` the ``X-FEDAPAY-SIGNATURE``
    value (``None`` when absent); ``secrets`` the endpoint's secrets (several while
    one is rotated). Timestamps older than ``tolerance`` seconds before ``now``
    (default: the current time) are refused; ``tolerance <= 0`` disables that check.
    ``max_future`` (seconds; ``None`` or ``<= 0``: no limit, as FedaPay's SDK) refuses
    timestamps further ahead of ``now``.
    """
    _require_payload(payload)
    keys = _secret_keys(secrets)
    if header is not None and not isinstance(header, str):
        raise TypeError("header must be a str or None")
    if not header:
        raise SignatureError(MISSING_HEADER)
    parsed = _parse_header(header)
    if not parsed.has_timestamp or parsed.timestamp == _NO_TIMESTAMP:
        raise SignatureError(MALFORMED_HEADER)
    if not parsed.candidates:
        raise SignatureError(NO_SIGNATURE)
    timestamp = parsed.timestamp
    # DEVIATION 1 and 2 (module docstring): the SDK would verify "NaN.<payload>"
    # or a rounded number here; refusing is the safe side.
    if timestamp is None or abs(timestamp) > _MAX_SAFE_INTEGER:
        raise SignatureError(MALFORMED_HEADER)
    if not _any_candidate_matches(_signed_message(timestamp, payload), keys, parsed.candidates):
        raise SignatureError(SIGNATURE_MISMATCH)
    if _too_old(timestamp, tolerance, now) or _too_new(timestamp, max_future, now):
        raise SignatureError(TIMESTAMP_OUT_OF_TOLERANCE)
    return timestamp


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """Return the header value ``t=<timestamp>,s=<hex>`` FedaPay would send for ``payload``.

    ``timestamp`` defaults to the current Unix time. Only timestamps that
    :func:`verify_signature` can accept are allowed.
    """
    _require_payload(payload)
    (key,) = _secret_keys([secret])
    ts = int(time.time()) if timestamp is None else timestamp
    if ts == _NO_TIMESTAMP or abs(ts) > _MAX_SAFE_INTEGER:
        raise ValueError("timestamp must be a safe integer other than -1")
    digest = _hex_digest(key, _signed_message(ts, payload))
    return f"{_TIMESTAMP_LABEL}={ts},{_SIGNATURE_LABEL}={digest}"


def _require_payload(payload: object) -> None:
    if not isinstance(payload, bytes):
        raise TypeError("payload must be the raw body as bytes")


def _secret_keys(secrets: Sequence[str]) -> list[bytes]:
    """The HMAC keys (UTF-8, as Node encodes a string key), after checking the secrets."""
    if isinstance(secrets, str | bytes):
        raise TypeError("secrets must be a sequence of str, not a single value")
    keys: list[bytes] = []
    for secret in secrets:
        if not isinstance(secret, str):
            raise TypeError("every secret must be a str")
        if not secret:
            raise ValueError("a secret must not be empty")
        try:
            keys.append(secret.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("a secret is not encodable as UTF-8") from None
    if not keys:
        raise ValueError("at least one secret is required")
    return keys


def _parse_header(header: str) -> _Header:
    """Split like the SDK: parts on ',', each part on every '=' (label, value)."""
    has_timestamp = False
    timestamp: int | None = None
    candidates: list[str | None] = []
    for part in header.split(","):
        fields = part.split("=")
        label = fields[0]
        value = fields[1] if len(fields) > 1 else None  # JS: kv[1] is undefined
        if label == _TIMESTAMP_LABEL:
            has_timestamp = True
            timestamp = _js_parse_int(value)  # the last `t` wins
        if label == _SIGNATURE_LABEL:
            candidates.append(value)
    return _Header(has_timestamp, timestamp, tuple(candidates))


def _js_parse_int(text: str | None) -> int | None:
    """JavaScript's ``parseInt(text)`` (no radix); ``None`` stands for NaN.

    Values with more than ``_MAX_DIGITS`` significant digits are truncated: they
    are far outside the safe-integer range either way and get refused by the caller.
    """
    if text is None:
        return None
    if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        return int(text)  # plain decimal digits, the usual `t`: the same number, faster
    rest = text.lstrip(_JS_WHITESPACE)
    negative = rest[:1] == "-"
    if rest[:1] in {"+", "-"}:
        rest = rest[1:]
    base, allowed = 10, _DECIMAL_DIGITS
    if rest[:2] in {"0x", "0X"}:
        base, allowed, rest = 16, _HEX_DIGITS, rest[2:]
    digits = _leading(rest, allowed)
    if not digits:
        return None
    value = int((digits.lstrip("0") or "0")[:_MAX_DIGITS], base)
    return -value if negative else value


def _leading(text: str, allowed: frozenset[str]) -> str:
    """The longest prefix of ``text`` made of ``allowed`` characters."""
    end = 0
    while end < len(text) and text[end] in allowed:
        end += 1
    return text[:end]


def _signed_message(timestamp: int, payload: bytes) -> bytes:
    """``<t>.<payload>``: the raw bytes (DEVIATION 3: the SDK signs the UTF-8-decoded text)."""
    return f"{timestamp}.".encode("ascii") + payload


def _hex_digest(key: bytes, message: bytes) -> str:
    return hmac.digest(key, message, "sha256").hex()


def _any_candidate_matches(
    message: bytes, keys: Sequence[bytes], candidates: Sequence[str | None]
) -> bool:
    """Constant-time check of every (secret, candidate) pair; no early exit.

    The SDK throws on a valueless ``s`` part while it searches in order and stops
    at the first match, so candidates from the first valueless one on never count.
    """
    usable: list[bytes] = []
    for candidate in candidates:
        if candidate is None:
            break
        # Any text compares as bytes: compare_digest refuses non-ASCII str.
        usable.append(candidate.encode("utf-8", "surrogatepass"))
    matched = False
    for key in keys:
        expected = _hex_digest(key, message).encode("ascii")
        for candidate_bytes in usable:
            matched |= hmac.compare_digest(candidate_bytes, expected)
    return matched


def _too_old(timestamp: int, tolerance: int, now: int | None) -> bool:
    """The SDK's check: only the past is limited, and only by a positive tolerance."""
    if tolerance <= 0:
        return False
    current = int(time.time()) if now is None else now
    return current - timestamp > tolerance


def _too_new(timestamp: int, max_future: int | None, now: int | None) -> bool:
    """Not the SDK's: a timestamp more than ``max_future`` seconds ahead (when positive)."""
    if max_future is None or max_future <= 0:
        return False
    current = int(time.time()) if now is None else now
    return timestamp - current > max_future

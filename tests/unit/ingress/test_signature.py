"""ingress.signature: FedaPay's webhook signature, decided as the official Node SDK decides.

The Node table below was produced by running ``WebhookSignature.verifyHeader`` of the
npm package ``fedapay`` 1.2.5 (with ``Date.now`` pinned to ``NOW``) on every header
variant; its outcomes and the hex signatures it computed are recorded as literals, so
these tests never need Node.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingress.signature import (
    MALFORMED_HEADER,
    MISSING_HEADER,
    NO_SIGNATURE,
    REASONS,
    SIGNATURE_MISMATCH,
    TIMESTAMP_OUT_OF_TOLERANCE,
    SignatureError,
    sign,
    verify_signature,
)
from tests.fixtures import fixture_bytes

NOW = 1_700_000_000
SECRET = "wh_sandbox_kat_secret"
OTHER_SECRET = "wh_sandbox_rotated_secret"
KAT_PAYLOAD = b'{"name":"transaction.approved","object":"transaction"}'
INVALID_UTF8 = b'{"a":"\xff"}'
MAX_SAFE = 2**53 - 1


def hmac_hex(timestamp: str, payload: bytes = KAT_PAYLOAD, secret: str = SECRET) -> str:
    """The test's own HMAC, independent of the module under test."""
    message = timestamp.encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def reason_of(
    payload: bytes,
    header: str | None,
    secrets: list[str],
    *,
    tolerance: int = 300,
    now: int = NOW,
) -> str | None:
    """None when the header verifies, else the SignatureError reason."""
    try:
        verify_signature(payload, header, secrets, tolerance=tolerance, now=now)
    except SignatureError as exc:
        return exc.reason
    return None


# --- one row per rule -----------------------------------------------------------------

SIG = hmac_hex(str(NOW))
SIG_WITHOUT_T = hmac.new(SECRET.encode(), KAT_PAYLOAD, hashlib.sha256).hexdigest()

RULES = [
    pytest.param(f"t={NOW},s={SIG}", 300, None, id="valid"),
    pytest.param(None, 300, MISSING_HEADER, id="missing_header"),
    pytest.param("", 300, MISSING_HEADER, id="empty_header"),
    pytest.param(f"s={SIG}", 300, MALFORMED_HEADER, id="no_t"),
    pytest.param(f"t=abc,s={hmac_hex('NaN')}", 300, MALFORMED_HEADER, id="t_non_numeric"),
    pytest.param(f"t=,s={hmac_hex('NaN')}", 300, MALFORMED_HEADER, id="t_empty"),
    pytest.param(f"t,s={hmac_hex('NaN')}", 300, MALFORMED_HEADER, id="t_without_equals"),
    pytest.param(f"t=-1,s={hmac_hex('-1')}", 0, MALFORMED_HEADER, id="t_is_sdk_sentinel_minus_one"),
    pytest.param(
        f"t={MAX_SAFE + 1},s={hmac_hex(str(MAX_SAFE + 1))}",
        0,
        MALFORMED_HEADER,
        id="t_beyond_safe_integer",
    ),
    pytest.param(f"t={MAX_SAFE},s={hmac_hex(str(MAX_SAFE))}", 300, None, id="t_max_safe_integer"),
    pytest.param(f"t={NOW}", 300, NO_SIGNATURE, id="no_s"),
    pytest.param(f"t={NOW}, s={SIG}", 300, NO_SIGNATURE, id="space_before_s_not_trimmed"),
    pytest.param(f"t={NOW},v1={SIG}", 300, NO_SIGNATURE, id="other_label_ignored"),
    pytest.param(f"t={NOW},S={SIG}", 300, NO_SIGNATURE, id="label_case_sensitive"),
    pytest.param(f"t={NOW},v1={SIG},v0=00,s={SIG}", 300, None, id="other_labels_beside_s"),
    pytest.param(f"t={NOW},s={SIG.upper()}", 300, SIGNATURE_MISMATCH, id="uppercase_hex"),
    pytest.param(f"t={NOW},s={'0' * 64}", 300, SIGNATURE_MISMATCH, id="wrong_signature"),
    pytest.param(f"t={NOW},s={SIG} ", 300, SIGNATURE_MISMATCH, id="s_value_not_trimmed"),
    pytest.param(f"t={NOW},s={SIG_WITHOUT_T}", 300, SIGNATURE_MISMATCH, id="body_signed_without_t"),
    pytest.param(
        f"t={NOW},s={hmac_hex(str(NOW - 1))}", 300, SIGNATURE_MISMATCH, id="signature_bound_to_t"
    ),
    pytest.param(f"t={NOW},s=00,s=bad,s={SIG}", 300, None, id="any_s_candidate_may_match"),
    pytest.param(f"t={NOW},s={SIG},s=00", 300, None, id="first_candidate_matches"),
    pytest.param(f"t={NOW},s={SIG}=junk", 300, None, id="value_ends_at_second_equals"),
    pytest.param(f"t={NOW},s,s={SIG}", 300, SIGNATURE_MISMATCH, id="valueless_s_before_match"),
    pytest.param(f"t={NOW},s={SIG},s", 300, None, id="valueless_s_after_match"),
    pytest.param(f"s={SIG},t={NOW}", 300, None, id="order_free"),
    pytest.param(f"t={NOW - 10},t={NOW},s={SIG}", 300, None, id="last_t_wins"),
    pytest.param(f"t={NOW}abc,s={SIG}", 300, None, id="t_parseint_prefix"),
    pytest.param(f"t= {NOW},s={SIG}", 300, None, id="t_parseint_skips_leading_space"),
    pytest.param(f"t=0x{NOW:x},s={SIG}", 300, None, id="t_parseint_hex"),
    pytest.param(f"t=1e9,s={hmac_hex('1')}", 0, None, id="t_parseint_stops_at_e"),
    pytest.param(
        f"t={NOW - 300},s={hmac_hex(str(NOW - 300))}", 300, None, id="age_equal_to_tolerance_passes"
    ),
    pytest.param(
        f"t={NOW - 301},s={hmac_hex(str(NOW - 301))}",
        300,
        TIMESTAMP_OUT_OF_TOLERANCE,
        id="age_over_tolerance",
    ),
    pytest.param(
        f"t={NOW + 86_400},s={hmac_hex(str(NOW + 86_400))}", 300, None, id="future_timestamp_passes"
    ),
    pytest.param(f"t=12345,s={hmac_hex('12345')}", 0, None, id="tolerance_zero_disables"),
    pytest.param(f"t=12345,s={hmac_hex('12345')}", -5, None, id="tolerance_negative_disables"),
    pytest.param(
        f"t=-5,s={hmac_hex('-5')}", 300, TIMESTAMP_OUT_OF_TOLERANCE, id="negative_t_is_old"
    ),
    pytest.param(
        f"t={NOW - 9999},s={'0' * 64}", 300, SIGNATURE_MISMATCH, id="signature_checked_before_age"
    ),
]


@pytest.mark.parametrize(("header", "tolerance", "expected"), RULES)
def test_rule(header: str | None, tolerance: int, expected: str | None) -> None:
    assert reason_of(KAT_PAYLOAD, header, [SECRET], tolerance=tolerance) == expected


def test_verified_timestamp_is_returned() -> None:
    assert verify_signature(KAT_PAYLOAD, f"t=00{NOW}xyz,s={SIG}", [SECRET], now=NOW) == NOW


def test_every_reason_is_covered_by_the_rule_table() -> None:
    covered = {p.values[2] for p in RULES}
    assert covered - {None} == REASONS


def test_error_message_reveals_neither_signature_nor_secret() -> None:
    header = f"t={NOW},s={'0' * 64}"
    with pytest.raises(SignatureError) as caught:
        verify_signature(KAT_PAYLOAD, header, [SECRET], now=NOW)
    text = str(caught.value) + repr(caught.value)
    assert SIG not in text
    assert SECRET not in text
    assert header not in text


# --- the Node SDK's own decisions -----------------------------------------------------

# Hex signatures computed by the Node SDK's computeSignature for KAT_PAYLOAD and SECRET.
N_NOW = "c20d912dd1ad1bc840e7ff80f4289cdd6fb87ae21b3b23458e9a717bcf82d5ff"  # "1700000000."
N_NAN = "360c24a4a1846e95064bcdb0d013a87e86acceab7a4c0c9fc2aabfc9a80d1461"  # "NaN."
N_1 = "3e18960f43764a0265e45997a14743586fb90f4c4458844844849e7319a1ee35"  # "1."
N_M1 = "8aab530c55daee92c519a334b269e5ca546c58585d06559079d9c7d0d70dd4b0"  # "-1."
N_M5 = "cb9c0df3b261abdd9b5e8319f57030443b399eeaa905e84ab2c4bc36ed10c9ac"  # "-5."
N_0 = "f2c7871ec45924394b4749570d84a6d279c16e9a2f0e385c496183bb00a41b07"  # "0."
N_HUGE = "e5e0b5aef31b4f8615072081ac58fc3afdff15da801aba208120673d01f36133"  # "1000...0" (1e20)
N_AGE300 = "0686e65a072d24c0bc2cbe43e2ecb192957c3d4ab4596a64d487391c3d053db0"  # "1699999700."
N_AGE301 = "d6bd72112c80d1a0393fa2673204c0c70434474baca7ab119f16987bf13adbe5"  # "1699999699."
N_HOUR = "6b2d1aaca7a6f889359bb7c0888f64885ec1648dc534bf850648a2e8decd44a7"  # "1700003600."
N_YEAR = "ffa928be2cbd79cf0dfae5c654f69a3bede019545cfee5558b4ab171543dd5af"  # "1731536000."
N_12345 = "60ccdafb25a3107e5e320ab21067c4f12646658a837b791f65a5a4d382d9175d"  # "12345."
N_PREV = "df991bbf6dd3410a8dd4a26955d9224272f16af15dbcdc0729411a1b3f0573b8"  # "1699999999."
# For INVALID_UTF8: over the U+FFFD-decoded text (what Node signs) and over the raw bytes.
N_BAD_TEXT = "56b1887887f9aafc4c9817059c4297f1515f79c104e9c8cc378e2bc82c3aac95"
N_BAD_RAW = "2605833ff04413413a655385335fcba6093fb3e036b3022090d10df42a667665"
ZEROS = "0" * 64

# Node outcomes: verifyHeader returned true, or threw with this message / error type.
ACCEPT = "accept"
NO_TIMESTAMP = "Unable to extract timestamp and signatures from header"
NO_SCHEME = "No signatures found with expected scheme"
NO_MATCH = "No signatures found matching the expected signature for payload"
OUT_OF_TOLERANCE = "Timestamp outside the tolerance zone"
TYPE_ERROR = "TypeError (Buffer.from(undefined) in secureCompare)"

T = NOW
NODE_TABLE = [
    # (payload, header, tolerance, node outcome, our reason)
    pytest.param(KAT_PAYLOAD, f"t={T},s={N_NOW}", 300, ACCEPT, None, id="valid"),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T},s={N_NOW.upper()}",
        300,
        NO_MATCH,
        SIGNATURE_MISMATCH,
        id="uppercase_hex",
    ),
    pytest.param(
        KAT_PAYLOAD, f"t={T}, s={N_NOW}", 300, NO_SCHEME, NO_SIGNATURE, id="space_before_s"
    ),
    pytest.param(
        KAT_PAYLOAD, f" t={T},s={N_NOW}", 300, NO_TIMESTAMP, MALFORMED_HEADER, id="space_before_t"
    ),
    pytest.param(KAT_PAYLOAD, f"s={N_NOW},t={T}", 300, ACCEPT, None, id="s_before_t"),
    pytest.param(KAT_PAYLOAD, f"t={T},v1={N_NOW}", 300, NO_SCHEME, NO_SIGNATURE, id="only_v1"),
    pytest.param(
        KAT_PAYLOAD, f"t={T},v1=deadbeef,v0={N_NOW},s={N_NOW}", 300, ACCEPT, None, id="v1_and_s"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T},s=00,s={N_NOW}", 300, ACCEPT, None, id="bad_then_good_s"),
    pytest.param(KAT_PAYLOAD, f"t={T},s={N_NOW},s=00", 300, ACCEPT, None, id="good_then_bad_s"),
    pytest.param(KAT_PAYLOAD, f"t={T},s={N_NOW}=junk", 300, ACCEPT, None, id="s_second_equals"),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s=={N_NOW}", 300, NO_MATCH, SIGNATURE_MISMATCH, id="s_leading_equals"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T}", 300, NO_SCHEME, NO_SIGNATURE, id="no_s"),
    pytest.param(KAT_PAYLOAD, f"s={N_NOW}", 300, NO_TIMESTAMP, MALFORMED_HEADER, id="no_t"),
    pytest.param(KAT_PAYLOAD, "", 300, NO_TIMESTAMP, MISSING_HEADER, id="empty_header"),
    pytest.param(KAT_PAYLOAD, None, 300, NO_TIMESTAMP, MISSING_HEADER, id="null_header"),
    pytest.param(
        KAT_PAYLOAD,
        "I'm not a signature header",
        300,
        NO_TIMESTAMP,
        MALFORMED_HEADER,
        id="garbage_header",
    ),
    pytest.param(
        KAT_PAYLOAD, f"T={T},s={N_NOW}", 300, NO_TIMESTAMP, MALFORMED_HEADER, id="capital_T"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T},S={N_NOW}", 300, NO_SCHEME, NO_SIGNATURE, id="capital_S"),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s={N_NOW} ", 300, NO_MATCH, SIGNATURE_MISMATCH, id="s_trailing_space"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T},,s={N_NOW}", 300, ACCEPT, None, id="empty_part"),
    pytest.param(KAT_PAYLOAD, f"t={T},s=", 300, NO_MATCH, SIGNATURE_MISMATCH, id="empty_s_value"),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s", 300, TYPE_ERROR, SIGNATURE_MISMATCH, id="s_without_equals"
    ),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T},s,s={N_NOW}",
        300,
        TYPE_ERROR,
        SIGNATURE_MISMATCH,
        id="s_without_equals_before_good",
    ),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s={N_NOW},s", 300, ACCEPT, None, id="s_without_equals_after_good"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T}abc,s={N_NOW}", 300, ACCEPT, None, id="t_suffix_letters"),
    pytest.param(KAT_PAYLOAD, f"t= {T},s={N_NOW}", 300, ACCEPT, None, id="t_leading_space"),
    pytest.param(KAT_PAYLOAD, f"t=\t{T},s={N_NOW}", 300, ACCEPT, None, id="t_leading_tab"),
    pytest.param(KAT_PAYLOAD, f"t=\xa0{T},s={N_NOW}", 300, ACCEPT, None, id="t_leading_nbsp"),
    pytest.param(
        KAT_PAYLOAD, f"t=\x85{T},s={N_NOW}", 300, NO_MATCH, MALFORMED_HEADER, id="t_leading_nel"
    ),
    pytest.param(KAT_PAYLOAD, f"t={T} ,s={N_NOW}", 300, ACCEPT, None, id="t_trailing_space"),
    pytest.param(KAT_PAYLOAD, f"t=+{T},s={N_NOW}", 300, ACCEPT, None, id="t_plus_sign"),
    pytest.param(KAT_PAYLOAD, f"t=000{T},s={N_NOW}", 300, ACCEPT, None, id="t_leading_zeros"),
    pytest.param(KAT_PAYLOAD, f"t={T}.9,s={N_NOW}", 300, ACCEPT, None, id="t_decimal_fraction"),
    pytest.param(KAT_PAYLOAD, f"t=0x6553f100,s={N_NOW}", 300, ACCEPT, None, id="t_hex"),
    pytest.param(KAT_PAYLOAD, f"t=0X6553F100,s={N_NOW}", 300, ACCEPT, None, id="t_hex_upper_X"),
    pytest.param(
        KAT_PAYLOAD,
        f"t=1.7e9,s={N_1}",
        300,
        OUT_OF_TOLERANCE,
        TIMESTAMP_OUT_OF_TOLERANCE,
        id="t_exponent",
    ),
    pytest.param(KAT_PAYLOAD, f"t=1.7e9,s={N_1}", 0, ACCEPT, None, id="t_exponent_no_tolerance"),
    pytest.param(KAT_PAYLOAD, f"t={T}=5,s={N_NOW}", 300, ACCEPT, None, id="t_second_equals"),
    pytest.param(KAT_PAYLOAD, f"t=,s={N_NAN}", 300, ACCEPT, MALFORMED_HEADER, id="t_empty_nan_sig"),
    pytest.param(
        KAT_PAYLOAD, f"t=abc,s={N_NAN}", 300, ACCEPT, MALFORMED_HEADER, id="t_letters_nan_sig"
    ),
    pytest.param(
        KAT_PAYLOAD, f"t,s={N_NAN}", 300, ACCEPT, MALFORMED_HEADER, id="t_without_equals_nan_sig"
    ),
    pytest.param(
        KAT_PAYLOAD, f"t=,s={N_NOW}", 300, NO_MATCH, MALFORMED_HEADER, id="t_empty_real_sig"
    ),
    pytest.param(
        KAT_PAYLOAD, f"t=-1,s={N_M1}", 0, NO_TIMESTAMP, MALFORMED_HEADER, id="t_minus_one"
    ),
    pytest.param(
        KAT_PAYLOAD, f"t=-1abc,s={N_M1}", 0, NO_TIMESTAMP, MALFORMED_HEADER, id="t_minus_one_suffix"
    ),
    pytest.param(KAT_PAYLOAD, f"t=-5,s={N_M5}", 0, ACCEPT, None, id="t_minus_five_no_tolerance"),
    pytest.param(
        KAT_PAYLOAD,
        f"t=-5,s={N_M5}",
        300,
        OUT_OF_TOLERANCE,
        TIMESTAMP_OUT_OF_TOLERANCE,
        id="t_minus_five_tolerance",
    ),
    pytest.param(KAT_PAYLOAD, f"t=-0,s={N_0}", 0, ACCEPT, None, id="t_minus_zero"),
    pytest.param(
        KAT_PAYLOAD,
        f"t=99999999999999999999,s={N_HUGE}",
        300,
        ACCEPT,
        MALFORMED_HEADER,
        id="t_huge",
    ),
    pytest.param(KAT_PAYLOAD, f"t={T - 9999},t={T},s={N_NOW}", 300, ACCEPT, None, id="t_last_wins"),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T},t={T - 9999},s={N_NOW}",
        300,
        NO_MATCH,
        SIGNATURE_MISMATCH,
        id="t_last_wins_old",
    ),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T},t=-1,s={N_NOW}",
        300,
        NO_TIMESTAMP,
        MALFORMED_HEADER,
        id="t_last_minus_one",
    ),
    pytest.param(
        KAT_PAYLOAD, f"t={T - 300},s={N_AGE300}", 300, ACCEPT, None, id="age_equals_tolerance"
    ),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T - 301},s={N_AGE301}",
        300,
        OUT_OF_TOLERANCE,
        TIMESTAMP_OUT_OF_TOLERANCE,
        id="age_over_tolerance",
    ),
    pytest.param(KAT_PAYLOAD, f"t={T + 3600},s={N_HOUR}", 300, ACCEPT, None, id="future_one_hour"),
    pytest.param(
        KAT_PAYLOAD, f"t={T + 31_536_000},s={N_YEAR}", 300, ACCEPT, None, id="future_one_year"
    ),
    pytest.param(KAT_PAYLOAD, f"t=12345,s={N_12345}", 0, ACCEPT, None, id="old_no_tolerance"),
    pytest.param(
        KAT_PAYLOAD, f"t=12345,s={N_12345}", -1, ACCEPT, None, id="old_negative_tolerance"
    ),
    pytest.param(
        KAT_PAYLOAD,
        f"t={T - 9999},s={ZEROS}",
        300,
        NO_MATCH,
        SIGNATURE_MISMATCH,
        id="old_and_bad_sig",
    ),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s={ZEROS}", 300, NO_MATCH, SIGNATURE_MISMATCH, id="wrong_sig_same_len"
    ),
    pytest.param(
        KAT_PAYLOAD, f"t={T},s={N_PREV}", 300, NO_MATCH, SIGNATURE_MISMATCH, id="sig_of_other_t"
    ),
    pytest.param(
        INVALID_UTF8,
        f"t={T},s={N_BAD_TEXT}",
        300,
        ACCEPT,
        SIGNATURE_MISMATCH,
        id="invalid_utf8_text_sig",
    ),
    pytest.param(
        INVALID_UTF8, f"t={T},s={N_BAD_RAW}", 300, NO_MATCH, None, id="invalid_utf8_raw_sig"
    ),
]

# Where this module knowingly decides otherwise than the SDK (see the module docstring):
# NaN timestamps (1), timestamps beyond 2**53 - 1 (2), HMAC over raw bytes, not over the
# U+FFFD-decoded text (3).
DEVIATIONS = {
    "t_empty_nan_sig",
    "t_letters_nan_sig",
    "t_without_equals_nan_sig",
    "t_huge",
    "invalid_utf8_text_sig",
    "invalid_utf8_raw_sig",
}


@pytest.mark.parametrize(("payload", "header", "tolerance", "node", "expected"), NODE_TABLE)
def test_node_sdk_table(
    payload: bytes, header: str | None, tolerance: int, node: str, expected: str | None
) -> None:
    assert reason_of(payload, header, [SECRET], tolerance=tolerance) == expected


@pytest.mark.parametrize(("payload", "header", "tolerance", "node", "expected"), NODE_TABLE)
def test_node_sdk_decision_is_mirrored(
    request: pytest.FixtureRequest,
    payload: bytes,
    header: str | None,
    tolerance: int,
    node: str,
    expected: str | None,
) -> None:
    node_accepts = node == ACCEPT
    we_accept = expected is None
    deviation = request.node.callspec.id in DEVIATIONS
    assert (we_accept != node_accepts) == deviation


def test_node_sdk_hex_matches_ours() -> None:
    assert hmac_hex(str(NOW)) == N_NOW
    assert hmac_hex("NaN") == N_NAN
    assert hmac_hex("100000000000000000000") == N_HUGE
    assert hmac_hex(str(NOW), INVALID_UTF8) == N_BAD_RAW
    text_message = f"{NOW}.".encode() + INVALID_UTF8.decode("utf-8", "replace").encode()
    assert hmac.new(SECRET.encode(), text_message, hashlib.sha256).hexdigest() == N_BAD_TEXT


# Known answers from the Node SDK's computeSignature(`${t}.${payload}`, secret).
KNOWN_ANSWERS = [
    pytest.param(
        SECRET,
        1_700_000_000,
        b"{}",
        "49f69dccef55903db10dc79c5db9c15f98d2bc0ed83cabfd1fdddd42eb767466",
        id="empty_obj",
    ),
    pytest.param(SECRET, 1_700_000_000, KAT_PAYLOAD, N_NOW, id="small_event"),
    pytest.param(
        "cl\u00e9",
        1,
        "\u00e9".encode(),
        "d7abf9b2cb22f0a5e9ab85ad191c87b2124a8cfa0855c80f6235c70888966688",
        id="utf8_secret_and_body",
    ),
]


@pytest.mark.parametrize(("secret", "timestamp", "payload", "hex_digest"), KNOWN_ANSWERS)
def test_known_answer(secret: str, timestamp: int, payload: bytes, hex_digest: str) -> None:
    header = sign(payload, secret, timestamp=timestamp)
    assert header == f"t={timestamp},s={hex_digest}"
    assert verify_signature(payload, header, [secret], tolerance=0) == timestamp


# --- the real delivery ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_body() -> bytes:
    return fixture_bytes("transaction.approved.json")


def test_real_body_verifies(real_body: bytes) -> None:
    header = sign(real_body, SECRET, timestamp=NOW)
    assert verify_signature(real_body, header, [SECRET], now=NOW + 5) == NOW


@pytest.mark.parametrize(
    "reserialize",
    [
        pytest.param(lambda b: json.dumps(json.loads(b)).encode(), id="json"),
        pytest.param(
            lambda b: json.dumps(json.loads(b), separators=(",", ":"), ensure_ascii=False).encode(),
            id="json_compact",
        ),
        pytest.param(lambda b: orjson.dumps(orjson.loads(b)), id="orjson"),
    ],
)
def test_reserialized_body_does_not_verify(
    real_body: bytes, reserialize: Callable[[bytes], bytes]
) -> None:
    body = reserialize(real_body)
    assert body != real_body
    header = sign(real_body, SECRET, timestamp=NOW)
    assert reason_of(body, header, [SECRET]) == SIGNATURE_MISMATCH


# --- secrets, rotation, argument checks ---------------------------------------------------


@pytest.mark.parametrize(
    ("signed_with", "secrets", "expected"),
    [
        pytest.param(SECRET, [SECRET, OTHER_SECRET], None, id="old_secret_first"),
        pytest.param(OTHER_SECRET, [SECRET, OTHER_SECRET], None, id="new_secret_second"),
        pytest.param(OTHER_SECRET, [SECRET], SIGNATURE_MISMATCH, id="unknown_secret"),
        pytest.param(SECRET, (OTHER_SECRET, SECRET), None, id="tuple_of_secrets"),
    ],
)
def test_rotation(signed_with: str, secrets: list[str], expected: str | None) -> None:
    header = sign(KAT_PAYLOAD, signed_with, timestamp=NOW)
    assert reason_of(KAT_PAYLOAD, header, list(secrets)) == expected


def test_candidates_for_two_secrets_in_one_header() -> None:
    both = f"t={NOW},s={hmac_hex(str(NOW), secret=OTHER_SECRET)},s={SIG}"
    assert reason_of(KAT_PAYLOAD, both, [SECRET]) is None
    assert reason_of(KAT_PAYLOAD, both, [OTHER_SECRET]) is None


@pytest.mark.parametrize(
    ("payload", "secrets", "error"),
    [
        pytest.param(KAT_PAYLOAD.decode(), [SECRET], TypeError, id="payload_str"),
        pytest.param(bytearray(KAT_PAYLOAD), [SECRET], TypeError, id="payload_bytearray"),
        pytest.param(KAT_PAYLOAD, [], ValueError, id="no_secrets"),
        pytest.param(KAT_PAYLOAD, [""], ValueError, id="empty_secret"),
        pytest.param(KAT_PAYLOAD, SECRET, TypeError, id="secrets_as_one_str"),
        pytest.param(KAT_PAYLOAD, [SECRET.encode()], TypeError, id="secret_bytes"),
        pytest.param(KAT_PAYLOAD, ["\ud800"], ValueError, id="secret_lone_surrogate"),
    ],
)
def test_caller_mistakes_are_not_signature_errors(
    payload: object, secrets: object, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        verify_signature(payload, f"t={NOW},s={SIG}", secrets, now=NOW)  # type: ignore[arg-type]
    assert not isinstance(caught.value, SignatureError)


def test_header_of_wrong_type() -> None:
    with pytest.raises(TypeError):
        verify_signature(KAT_PAYLOAD, f"t={NOW},s={SIG}".encode(), [SECRET])  # type: ignore[arg-type]


def test_sign_refuses_what_verify_would_refuse() -> None:
    with pytest.raises(TypeError):
        sign(KAT_PAYLOAD.decode(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timestamp"):
        sign(KAT_PAYLOAD, SECRET, timestamp=-1)
    with pytest.raises(ValueError, match="timestamp"):
        sign(KAT_PAYLOAD, SECRET, timestamp=MAX_SAFE + 1)
    with pytest.raises(ValueError, match="secret"):
        sign(KAT_PAYLOAD, "")


def test_defaults_use_the_current_time() -> None:
    assert verify_signature(KAT_PAYLOAD, sign(KAT_PAYLOAD, SECRET), [SECRET]) > NOW
    assert reason_of(KAT_PAYLOAD, sign(KAT_PAYLOAD, SECRET, timestamp=NOW), [SECRET]) is None
    with pytest.raises(SignatureError) as caught:
        verify_signature(KAT_PAYLOAD, sign(KAT_PAYLOAD, SECRET, timestamp=NOW), [SECRET])
    assert caught.value.reason == TIMESTAMP_OUT_OF_TOLERANCE


# --- properties ---------------------------------------------------------------------------

secrets_st = st.text(min_size=1, max_size=64)
timestamps_st = st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE).filter(lambda t: t != -1)


@given(payload=st.binary(max_size=2048), secret=secrets_st, timestamp=timestamps_st)
def test_sign_then_verify_round_trips(payload: bytes, secret: str, timestamp: int) -> None:
    header = sign(payload, secret, timestamp=timestamp)
    assert verify_signature(payload, header, [secret], now=timestamp) == timestamp


@given(
    payload=st.binary(min_size=1, max_size=2048),
    secret=secrets_st,
    timestamp=timestamps_st,
    data=st.data(),
)
def test_any_single_byte_change_fails(
    payload: bytes, secret: str, timestamp: int, data: st.DataObject
) -> None:
    header = sign(payload, secret, timestamp=timestamp)
    index = data.draw(st.integers(min_value=0, max_value=len(payload) - 1), label="index")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != payload[index]), label="byte")
    changed = payload[:index] + bytes([byte]) + payload[index + 1 :]
    assert reason_of(changed, header, [secret], now=timestamp) == SIGNATURE_MISMATCH

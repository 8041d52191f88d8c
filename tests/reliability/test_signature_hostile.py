"""The signature verifier under hostile headers (hypothesis) and its constant-time compare.

Whatever text the header holds, :func:`verify_signature` either returns the
timestamp or raises :class:`SignatureError` with one of the documented reasons
and that reason's fixed message; nothing else escapes, and the answer never
depends on how close a wrong signature came. The digest comparison is checked
structurally: ``hmac.compare_digest`` only, every (secret, candidate) pair
compared whatever matches, no ``==`` on secret-derived values.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingress import signature
from ingress.signature import REASONS, SignatureError, sign, verify_signature

SECRET = "wh_sandbox_hostile_secret"
OTHER = "wh_sandbox_other_secret"
NOW = 1_700_000_000
MESSAGES = {reason: str(SignatureError(reason)) for reason in REASONS}

HOSTILE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Header text: the characters that matter to the parser, plus anything at all.
parts_alphabet = st.sampled_from(list("ts=,01234567890abcdefABCDEFx -+.\t\u00a0\ufeffS"))
header_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=parts_alphabet, max_size=300),
    st.lists(
        st.tuples(
            st.sampled_from(["t", "s", "v1", "T", " s", "s ", ""]),
            st.text(alphabet=parts_alphabet, max_size=80),
        ),
        max_size=12,
    ).map(lambda pairs: ",".join(f"{label}={value}" for label, value in pairs)),
)


def outcome(payload: bytes, header: str | None, secrets: list[str]) -> str:
    """``ok`` or the reason; fails the test on anything but a SignatureError."""
    try:
        verify_signature(payload, header, secrets, now=NOW)
    except SignatureError as exc:
        error = exc
    else:
        return "ok"
    assert error.reason in REASONS
    assert str(error) == MESSAGES[error.reason], "messages are fixed per reason"
    return error.reason


@HOSTILE
@given(payload=st.binary(max_size=4096), header=header_text)
def test_any_header_gets_a_documented_answer(payload: bytes, header: str) -> None:
    result = outcome(payload, header, [SECRET])
    if result != "ok":
        # Which secret was tried never shows: the reason is the same for any wrong secret.
        assert outcome(payload, header, [OTHER]) == result


@HOSTILE
@given(
    payload=st.binary(max_size=2048),
    garbage=st.lists(st.text(alphabet="0123456789abcdefx", min_size=1, max_size=70), max_size=6),
    position=st.integers(min_value=0, max_value=6),
    extra=st.lists(st.sampled_from(["v1=abc", "v0=", "S=00", "x"]), max_size=3),
)
def test_valid_signature_among_garbage_candidates_verifies(
    payload: bytes, garbage: list[str], position: int, extra: list[str]
) -> None:
    good = sign(payload, SECRET, timestamp=NOW).split(",")[1]
    candidates = [f"s={value}" for value in garbage]
    candidates.insert(min(position, len(candidates)), good)
    header = ",".join([f"t={NOW}", *candidates, *extra])
    assert verify_signature(payload, header, [OTHER, SECRET], now=NOW) == NOW


@HOSTILE
@given(payload=st.binary(max_size=1024), age=st.integers(min_value=301, max_value=10**9))
def test_old_valid_signature_is_refused(payload: bytes, age: int) -> None:
    header = sign(payload, SECRET, timestamp=NOW - age)
    assert outcome(payload, header, [SECRET]) == signature.TIMESTAMP_OUT_OF_TOLERANCE


@pytest.mark.parametrize("size", [0, 1, 10_000, 1_000_000])
def test_huge_and_tiny_headers(size: int) -> None:
    for header in ("s=" * size, "t=1," * size, "," * size, "=" * size, "t=" + "9" * size):
        assert outcome(b"{}", header, [SECRET]) in REASONS


# --- constant time, checked structurally (never by timing) ---------------------------------


def _tree(function: Callable[..., object]) -> ast.AST:
    return ast.parse(inspect.getsource(function).strip())


def test_digests_are_compared_only_with_compare_digest() -> None:
    tree = _tree(signature._any_candidate_matches)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "hmac.compare_digest" in calls
    comparisons = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops)
    ]
    assert comparisons == [], "no ==, != or in on candidates or digests"


def test_no_early_exit_once_a_candidate_matched() -> None:
    tree = _tree(signature._any_candidate_matches)
    key_loops = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.For) and ast.unparse(node.target) == "key"
    ]
    assert len(key_loops) == 1
    exits = [n for n in ast.walk(key_loops[0]) if isinstance(n, ast.Break | ast.Return)]
    assert exits == [], "the loop over secrets and candidates never stops early"


def test_module_never_compares_a_digest_with_equality() -> None:
    source = inspect.getsource(signature)
    tree = ast.parse(source)
    digest_names = {"expected", "digest", "candidate_bytes", "usable"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        calls = {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
        assert not names & digest_names, ast.unparse(node)
        assert not calls & {"_hex_digest", "hmac.new"}, ast.unparse(node)


@pytest.mark.parametrize("match_at", [None, 0, 2])
def test_every_secret_candidate_pair_is_compared(
    monkeypatch: pytest.MonkeyPatch, match_at: int | None
) -> None:
    """Behaviourally: the number of compare_digest calls does not depend on which
    candidate matched, or whether any did."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    payload = b'{"name":"transaction.approved"}'
    good = hmac.new(SECRET.encode(), f"{NOW}.".encode() + payload, hashlib.sha256).hexdigest()
    candidates = ["0" * 64, "1" * 64, "2" * 64]
    if match_at is not None:
        candidates[match_at] = good
    header = ",".join([f"t={NOW}", *(f"s={c}" for c in candidates)])
    secrets = [OTHER, SECRET, "wh_third_secret"]
    result = outcome(payload, header, secrets)
    assert result == ("ok" if match_at is not None else signature.SIGNATURE_MISMATCH)
    assert len(calls) == len(secrets) * len(candidates)

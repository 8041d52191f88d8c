"""atheris fuzz target: the signature verifier over arbitrary headers, payloads and secrets.

Invariants checked on every input:

* :func:`verify_signature` returns an int or raises :class:`SignatureError`
  (nothing else) whose reason is documented and whose message is the fixed
  message of that reason (so it never echoes the header, a secret or a digest);
* the answer for a wrong signature is the same whichever secret was tried;
* a header the fuzzer built around a real signature of the payload verifies,
  whatever garbage parts surround it (unless a valueless ``s`` part precedes
  it, which the SDK treats as fatal);
* a signature is only ever accepted through ``hmac.compare_digest`` (a counting
  wrapper sees at least one call, two secrets times the candidates, for each ``ok``).

Run bounded, e.g. ``python fuzz/fuzz_signature.py -max_total_time=60`` (see run.sh).
"""

from __future__ import annotations

import hmac
import sys

import atheris

with atheris.instrument_imports():
    from ingress import signature

SECRETS = ("wh_sandbox_fuzz_secret", "wh_sandbox_other_secret")
NOW = 1_700_000_000
MESSAGES = {reason: str(signature.SignatureError(reason)) for reason in signature.REASONS}
_real_compare = hmac.compare_digest
_compared = [0]


def _counting_compare(a: bytes, b: bytes) -> bool:
    _compared[0] += 1
    return _real_compare(a, b)


hmac.compare_digest = _counting_compare  # type: ignore[assignment]


def outcome(payload: bytes, header: str, secrets: list[str]) -> str:
    try:
        result = signature.verify_signature(payload, header, secrets, now=NOW)
    except signature.SignatureError as exc:
        if exc.reason not in signature.REASONS or str(exc) != MESSAGES[exc.reason]:
            raise AssertionError(f"undocumented failure {exc.reason!r}: {exc}") from None
        return exc.reason
    if not isinstance(result, int):
        raise AssertionError(f"verify_signature returned {result!r}")
    return "ok"


def _garbage(fdp: atheris.FuzzedDataProvider, *, drop_bare_s: bool) -> str:
    """Header parts that change neither the timestamp nor, before the real signature,
    the SDK's candidate search (a bare ``s`` part stops it)."""
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 200))
    parts = [
        part
        for part in text.split(",")
        if part.split("=")[0] != "t" and not (drop_bare_s and part == "s")
    ]
    return ",".join(parts)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 2)
    payload = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2048))
    if mode == 0:  # any text at all
        header = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 1024))
        embedded = False
    else:  # parts around a real signature
        timestamp = NOW - fdp.ConsumeIntInRange(-1000, 200)
        real = signature.sign(payload, SECRETS[1], timestamp=timestamp).split(",")[1]
        before = _garbage(fdp, drop_bare_s=True)
        after = _garbage(fdp, drop_bare_s=False)
        header = f"t={timestamp},{before},{real},{after}" if mode == 1 else f"{before}={after}"
        embedded = mode == 1
    _compared[0] = 0
    result = outcome(payload, header, list(SECRETS))
    if result == "ok" and _compared[0] < len(SECRETS):
        raise AssertionError("accepted without comparing every secret with compare_digest")
    if embedded and result != "ok":
        raise AssertionError(f"a real signature among garbage did not verify: {result}")
    if result != "ok" and outcome(payload, header, [SECRETS[0]]) != result:
        raise AssertionError("the reason depends on which secret was tried")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

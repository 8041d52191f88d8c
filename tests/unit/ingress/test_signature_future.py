"""SIGNATURE_MAX_FUTURE_SECONDS: a signature dated too far ahead is refused (FedaPay's SDK accepts
any future time; the library default keeps that, the ingress caps it at 300 s by default)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from common.config import Env
from common.errors import ConfigError
from ingress import signature
from ingress.settings import IngressSettings

P = "FEDAPAY_BRIDGE_"
MINIMAL = {f"{P}WEBHOOKS": "sandbox", f"{P}WEBHOOK_SANDBOX_SECRETS": "wh_sandbox_a"}


def load_ingress(environ: Mapping[str, str]) -> IngressSettings:
    return IngressSettings.from_env(Env(environ))


NOW = 1_760_000_000
BODY = b'{"name":"transaction.approved"}'


def header(ahead: int) -> str:
    return signature.sign(BODY, "wh_sandbox_a", timestamp=NOW + ahead)


@pytest.mark.parametrize(
    ("ahead", "passes"), [(0, True), (300, True), (301, False), (10**7, False)]
)
def test_timestamps_further_ahead_than_the_cap_are_refused(ahead: int, passes: bool) -> None:
    verify = {"tolerance": 300, "now": NOW, "max_future": 300}
    if passes:
        assert signature.verify_signature(BODY, header(ahead), ["wh_sandbox_a"], **verify)
        return
    with pytest.raises(signature.SignatureError) as caught:
        signature.verify_signature(BODY, header(ahead), ["wh_sandbox_a"], **verify)
    assert caught.value.reason == signature.TIMESTAMP_OUT_OF_TOLERANCE


def test_without_a_cap_any_future_passes_as_in_the_sdk() -> None:
    assert signature.verify_signature(BODY, header(10**7), ["wh_sandbox_a"], now=NOW)
    verify = {"now": NOW, "max_future": 0}
    assert signature.verify_signature(BODY, header(10**7), ["wh_sandbox_a"], **verify)


def test_the_ingress_setting_defaults_to_300_and_0_turns_it_off() -> None:
    assert load_ingress(MINIMAL).signature_max_future == 300
    off = {**MINIMAL, f"{P}SIGNATURE_MAX_FUTURE_SECONDS": "0"}
    assert load_ingress(off).signature_max_future == 0
    with pytest.raises(ConfigError) as caught:
        load_ingress({**MINIMAL, f"{P}SIGNATURE_MAX_FUTURE_SECONDS": "-1"})
    assert caught.value.setting == f"{P}SIGNATURE_MAX_FUTURE_SECONDS"

"""The command line: bad configuration fails at start, naming the setting."""

from __future__ import annotations

import pytest

from common.cli import build_parser, main


def test_missing_configuration_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FEDAPAY_BRIDGE_WEBHOOKS", raising=False)
    assert main(["ingress"]) == 2
    assert "FEDAPAY_BRIDGE_WEBHOOKS: is required" in capsys.readouterr().err


def test_bad_value_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDAPAY_BRIDGE_WEBHOOKS", "sandbox")
    monkeypatch.setenv("FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_SECRETS", "wh_x")
    monkeypatch.setenv("FEDAPAY_BRIDGE_HTTP_PORT", "http")
    assert main(["ingress"]) == 2
    assert "FEDAPAY_BRIDGE_HTTP_PORT: invalid value 'http'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["ingress", "simulate", "peek"])
def test_subcommands_are_registered(command: str) -> None:
    assert command in build_parser().format_help()

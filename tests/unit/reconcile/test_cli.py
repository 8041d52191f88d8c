"""The command line of reconcile, dlq redrive and replay: exit codes, the progress bar."""

from __future__ import annotations

import io

import pytest

from common.cli import build_parser, main
from reconcile import errors
from reconcile.cli import EXIT_CODES, ProgressBar, _exit_code, render


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.ApiAuthError("x"), 3),
        (errors.ApiUnavailable("x"), 4),
        (errors.ApiContractError("x"), 5),
        (errors.ApiNotFound("x"), 5),
        (errors.ReconcileError("x"), 5),
    ],
)
def test_exit_codes(error: errors.ReconcileError, code: int) -> None:
    assert _exit_code(error) == code


def test_every_exit_code_is_distinct_from_config_errors() -> None:
    assert 2 not in {code for _, code in EXIT_CODES}


@pytest.mark.parametrize(
    ("done", "total", "frame"),
    [
        (0, 10, "[..........]   0% 0/10 raw records"),
        (5, 10, "[#####.....]  50% 5/10 raw records"),
        (10, 10, "[##########] 100% 10/10 raw records"),
        (0, 0, "[##########] 100% 0/0 raw records"),
    ],
)
def test_render(done: int, total: int, frame: str) -> None:
    assert render(done, total, 10) == frame


def test_progress_bar_redraws_in_place() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(1, 2)
    bar(2, 2)
    bar.close()
    assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().endswith("2/2 raw records\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["reconcile", "--endpoint", "live"],
        ["reconcile", "--endpoint", "live", "--since", "2027-01-01T00:00:00Z", "--no-drift"],
        ["dlq", "redrive", "--error", "invalid_json", "--dry-run"],
        ["replay", "--from", "a", "--to", "b", "--to-prefix", "p", "--transaction", "7"],
    ],
)
def test_commands_parse(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).run is not None


def test_missing_api_key_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--endpoint", "live"]) == 2
    assert "FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_KEY" in capsys.readouterr().err


def test_bad_since_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_KEY", "k")
    monkeypatch.setenv("FEDAPAY_BRIDGE_WEBHOOK_LIVE_API_BASE", "https://api.example.test")
    assert main(["reconcile", "--endpoint", "live", "--since", "soon"]) == 2
    assert "'soon' is not an ISO 8601 time" in capsys.readouterr().err

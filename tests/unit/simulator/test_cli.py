"""simulator.cli: ``fedapay-bridge simulate`` options, dumps, posts and reports."""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from schemas.envelope import parse
from simulator import cli
from tests.unit.simulator.receiver import SECRET, Receiver, free_port

# -------------------------------------------------------------------------------- CLI


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fedapay-bridge")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.register(subparsers)
    args = parser.parse_args(["simulate", *argv])
    assert args.run is cli.run
    return args


def test_cli_dump_writes_bodies_and_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_cli(
        "--transactions", "10", "--customers", "2", "--duplicates", "0.5", "--shuffle",
        "--dump", str(tmp_path / "out"), "--json", "--start-ms", "1708343266047",
    )  # fmt: skip
    assert cli.run(args) == 0
    files = sorted((tmp_path / "out").glob("*-*.json"))
    summary = orjson.loads(capsys.readouterr().out)
    assert len(files) == summary["deliveries"] > summary["distinct_events"]
    assert all(parse(path.read_bytes()).name in path.name for path in files)
    truth = orjson.loads((tmp_path / "out" / "truth.json").read_bytes())
    assert len(truth["final_status"]) == 10


@pytest.mark.parametrize(
    "argv",
    [
        ("--duplicates", "1.5"),
        ("--concurrency", "0"),
        ("--shuffle", "--reorder-window", "3"),
        ("--secret", "a", "--secret-file", "b"),
    ],
)
def test_cli_rejects_bad_options(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        parse_cli(*argv)


def test_cli_needs_a_secret_and_a_loopback_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(parse_cli("--transactions", "1"), {}) == 2
    assert "FEDAPAY_BRIDGE_SIMULATOR_SECRET" in capsys.readouterr().err
    assert cli.run(parse_cli("--url", "http://example.com/x", "--secret", "s")) == 2
    assert "non-loopback" in capsys.readouterr().err


@pytest.fixture
def threaded_receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver on its own loop and thread, for the CLI's own ``asyncio.run``."""
    receiver = Receiver(flaky_every=4)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(receiver.app())
    port = free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{port}/webhooks/sandbox"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_cli_posts_and_reports(
    threaded_receiver: tuple[Receiver, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, url = threaded_receiver
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    args = parse_cli(
        "--url", url, "--secret-file", str(secret_file), "--transactions", "20",
        "--customers", "3", "--duplicates", "0.3", "--reorder-window", "10", "--illegal", "0.1",
        "--backoff", "0.01", "--json",
    )  # fmt: skip
    assert cli.run(args) == 0
    output = orjson.loads(capsys.readouterr().out)
    assert output["delivery"]["sent"] == output["scenario"]["deliveries"] == len(receiver.accepted)
    assert output["delivery"]["failures"] == 0
    assert output["scenario"]["illegal_total"] == 2
    assert receiver.rejected == 0
    assert SECRET not in str(output)


def test_cli_human_summary_with_the_secret_from_the_environment(
    threaded_receiver: tuple[Receiver, str], capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, url = threaded_receiver
    environ = {"FEDAPAY_BRIDGE_SIMULATOR_SECRET": SECRET}
    assert cli.run(parse_cli("--url", url, "--transactions", "5"), environ) == 0
    assert receiver.rejected == 0
    out = capsys.readouterr().out
    assert "5 transactions" in out
    assert "delivered" in out
    assert "p50" in out

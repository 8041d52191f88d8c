"""The README's run command, end to end: `scripts/demo.sh --once` on the test broker."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.kafka_broker import REPO_ROOT, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_demo_runs_and_shows_every_stage(kafka_bootstrap: str) -> None:
    """The broker is named as scripts/kafka.sh knows it (``KAFKA_PORT``), as a user with a
    broker on another port would: the demo finds it there and talks to it."""
    host, _, port = kafka_bootstrap.rpartition(":")
    assert host == "127.0.0.1", "the demo runs against the local broker script's address"
    env = {
        **{k: v for k, v in os.environ.items() if k != "FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS"},
        "KAFKA_PORT": port,
        "DEMO_PORT": str(free_port()),
        "FEDAPAY_BRIDGE_WEB_PORT": str(free_port()),
        "DEMO_SETTLE_SECONDS": "10",
    }
    result = subprocess.run(
        ["scripts/demo.sh", "--once"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "181/181 delivered, 0 failed" in out
    assert re.search(r"\.raw: 181 records", out)
    assert re.search(r"\.transaction\.approved: \d+ records", out)
    assert re.search(r"\.transaction\.status: \d+ records", out)
    assert re.search(r"\.anomalies: 3 records", out), "one anomaly per injected illegal transition"
    assert re.search(r"duplicates dropped\s+44", out), "the query API counted the duplicates"
    assert "demo: done" in out

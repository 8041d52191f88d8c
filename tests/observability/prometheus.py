"""A real Prometheus (Debian's ``prometheus`` package) on loopback, scraping given targets.

``prometheus`` and ``promtool`` are looked up on PATH; ``scripts/prometheus.sh`` installs them.
The tests that need them fail (never skip) without them, so that CI cannot pass without running.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.kafka_broker import free_port

INSTALL_HINT = "run scripts/prometheus.sh (it installs Debian's prometheus package and promtool)"


def tool(name: str) -> Path:
    """The path of ``prometheus`` or ``promtool``; fails the test when it is not installed."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return Path(found)


@dataclass(frozen=True)
class Target:
    """One scrape target: ``host:port`` of a /metrics endpoint and the labels it gets (what a
    ServiceMonitor's relabelling gives: ``namespace``, ``pod``)."""

    job: str
    address: str
    labels: Mapping[str, str] = field(default_factory=dict)


def config(targets: Sequence[Target], rule_files: Sequence[Path], interval: str) -> dict[str, Any]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(
            {"targets": [target.address], "labels": dict(target.labels)}
        )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": configs}
            for job, configs in jobs.items()
        ],
    }


class Prometheus:
    """The HTTP API of a running Prometheus."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._session = session

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        async with self._session.get(f"{self.url}{path}", params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector (a scalar result becomes one unlabelled sample)."""
        data = await self._get("/api/v1/query", {"query": expr})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    async def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = await self._get(f"/api/v1/label/{label}/values", {"match[]": match})
        return values

    async def targets(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/targets")
        active: list[dict[str, Any]] = data["activeTargets"]
        return active

    async def rule_groups(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/rules")
        groups: list[dict[str, Any]] = data["groups"]
        return groups

    async def alerts(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts

    async def wait_scraped(self, within: float = 30.0) -> None:
        """Until every target was scraped successfully at least once."""
        deadline = time.monotonic() + within
        while True:
            targets = await self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"targets not up in {within}s: {targets}")
            await asyncio.sleep(0.5)


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    values = [float(sample["value"][1]) for sample in result]
    return [value for value in values if math.isfinite(value)]


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)


def _start(
    root: Path, targets: Sequence[Target], rule_files: Sequence[Path], interval: str
) -> _Process:
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config(targets, rule_files, interval)), encoding="utf-8")
    port = free_port()
    log_path = root / "prometheus.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [
                str(tool("prometheus")),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return _Process(popen, f"http://127.0.0.1:{port}", log_path)


@asynccontextmanager
async def running_prometheus(
    root: Path,
    targets: Sequence[Target],
    *,
    rule_files: Sequence[Path] = (),
    interval: str = "1s",
) -> AsyncIterator[Prometheus]:
    """Prometheus scraping ``targets`` every ``interval``, its data and log under ``root``."""
    process = await asyncio.to_thread(_start, root, targets, rule_files, interval)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await _wait_ready(process, session)
            yield Prometheus(process.url, session)
    finally:
        await asyncio.to_thread(process.stop)


async def _wait_ready(
    process: _Process, session: aiohttp.ClientSession, within: float = 30.0
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            log = await asyncio.to_thread(process.log_tail)
            raise AssertionError(f"prometheus exited with {process.popen.returncode}:\n{log}")
        try:
            async with session.get(f"{process.url}/-/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"prometheus not ready in {within}s")

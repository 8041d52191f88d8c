"""Closed-loop HTTP load with wrk: N connections, each sending its next request on a reply.

Why wrk: it is C with an epoll loop, so on this 2-core machine the load generator
costs a fraction of a core and the server, not the client, is what is measured
(an aiohttp client doing the same would need about as much CPU as the server it
drives). Requests are pre-signed and replayed from a file by ``wrk.lua``.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.util import HOST, Usage, pinned

LUA = Path(__file__).resolve().parent / "wrk.lua"
MARK = "WRK_JSON "


class LoadGeneratorMissing(RuntimeError):
    pass


@dataclass
class WrkResult:
    summary: dict[str, Any]
    usage: Usage

    @property
    def seconds(self) -> float:
        return float(self.summary["duration_us"]) / 1e6

    @property
    def non_2xx(self) -> int:
        return int(self.summary["errors"]["status"])

    @property
    def accepted(self) -> int:
        return int(self.summary["requests"]) - self.non_2xx

    @property
    def socket_errors(self) -> int:
        errors = self.summary["errors"]
        return int(errors["connect"] + errors["read"] + errors["write"] + errors["timeout"])

    def latency_ms(self, name: str) -> float:
        return round(float(self.summary["latency_us"][name]) / 1000.0, 3)


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadGeneratorMissing("wrk is not installed: apt-get install wrk")
    return path


def run_wrk(
    port: int,
    path: str,
    connections: int,
    seconds: float,
    requests_file: Path,
    cpus: str | None,
) -> WrkResult:
    command = pinned(
        [
            wrk_path(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"http://{HOST}:{port}{path}",
            "--",
            str(requests_file),
        ],
        cpus,
    )
    # wrk's CPU: this process's reaped children before and after (wrk is the only one reaped).
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    usage = Usage(cpu, time.monotonic() - started, 0)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.decode(errors='replace')}")
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith(MARK):
            return WrkResult(orjson.loads(line[len(MARK) :]), usage)
    raise RuntimeError(f"wrk printed no summary: {stdout.decode(errors='replace')[-500:]}")

"""Shared pieces of the benchmarks: run ids, processes, sampling, percentiles, results."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
#: The benchmark's one webhook endpoint and its secret (a throwaway test value).
ENDPOINT = "bench"
SECRET = "wh_bench_secret_0123456789abcdef"  # noqa: S105 (a test value)
ENV_PREFIX = "FEDAPAY_BRIDGE_"


def run_id(kind: str) -> str:
    """A unique topic prefix per run, so runs never read each other's records."""
    return f"bench{kind}{time.strftime('%H%M%S')}{uuid.uuid4().hex[:4]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def check_loopback(bootstrap: str) -> None:
    """Every target of a benchmark is on this machine's loopback interface."""
    for server in bootstrap.split(","):
        host = server.rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"bench: only loopback brokers are allowed, got {server!r}")


def pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    """``command`` run under ``taskset -c cpus`` when pinning is asked for and possible."""
    if cpus is None or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", cpus, *command]


def python_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def bridge_environ(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without FEDAPAY_BRIDGE_* variables, plus ``overrides``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**base, **{f"{ENV_PREFIX}{k}": v for k, v in overrides.items()}}


@dataclass
class Server:
    """A child process the benchmark started (and stops, by its own pid)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_process(
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path = ROOT,
) -> Server:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=cwd
        )
    return Server(name, process, log_path)


@contextlib.contextmanager
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop()


def wait_http_ok(port: int, path: str, within: float, server: Server | None = None) -> None:
    """Poll ``GET path`` on loopback until it answers 200."""
    deadline = time.monotonic() + within
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if server is not None and server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log_path}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 2) as sock:
            sock.sendall(request)
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing answered 200 on {HOST}:{port}{path} within {within} s")


@dataclass
class Usage:
    cpu_seconds: float
    wall_seconds: float
    peak_rss_bytes: int

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "cpu_seconds": round(self.cpu_seconds, 3),
            "cpu_percent": round(self.cpu_percent, 1),
            "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
        }


@dataclass
class Sampler:
    """CPU time and peak RSS of one process (and its children) over a stretch of time."""

    pid: int
    interval: float = 0.05
    _peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu0: float = 0.0
    _t0: float = 0.0

    def __enter__(self) -> Sampler:
        self._process = psutil.Process(self.pid)
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.usage = Usage(self._cpu() - self._cpu0, time.monotonic() - self._t0, self._peak)

    def _processes(self) -> list[psutil.Process]:
        try:
            return [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return []

    def _cpu(self) -> float:
        total = 0.0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def _rss(self) -> int:
        total = 0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._rss())
        self._peak = max(self._peak, self._rss())


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(q / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def conditions(bootstrap: str) -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka_version": broker_version(),
        "bootstrap": bootstrap,
        "load_average_at_start": [round(x, 2) for x in load_average()],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "packages": _versions(
            [
                "aiohttp",
                "aiokafka",
                "orjson",
                "msgspec",
                "uvloop",
                "faust-streaming",
                "quixstreams",
                "confluent-kafka",
            ]
        ),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def broker_version() -> str:
    """The Kafka version scripts/kafka.sh runs (read from the script)."""
    with contextlib.suppress(OSError):
        match = re.search(r"KAFKA_VERSION=([0-9.]+)", (ROOT / "scripts" / "kafka.sh").read_text())
        if match:
            return match.group(1)
    return "unknown"


def _versions(names: Sequence[str]) -> dict[str, str]:
    from importlib import metadata

    found: dict[str, str] = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    wrk = shutil.which("wrk")
    if wrk:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([wrk, "--version"], capture_output=True, timeout=5, check=False)
            found["wrk"] = out.stdout.decode(errors="replace").split()[1]
    return found


def write_result(name: str, document: Mapping[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    document: dict[str, Any] = orjson.loads(path.read_bytes())
    return document


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return round(ours / theirs, 3)

"""The bridge's processes (ingress, worker) as real subprocesses that a test can kill.

Each process runs ``python -m common <command>`` with only the ``FEDAPAY_BRIDGE_*``
settings the test gives (none inherited from the caller), writes its log to a
file, and is always stopped when its context ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTING_PREFIX = "FEDAPAY_BRIDGE_"
STOP_TIMEOUT_S = 30.0


class ProcessFailed(RuntimeError):
    """A bridge process exited when it should not have, or did not become ready."""


def environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without its bridge settings, plus ``settings``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIX)}
    return {**base, **settings}


def run_command(
    command: list[str], settings: Mapping[str, str], *, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m common <command…>`` to completion; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "common", *command],
        cwd=REPO_ROOT,
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class BridgeProcess:
    """One ``python -m common <command>`` process with its log file."""

    def __init__(self, command: str, settings: Mapping[str, str], log_path: Path) -> None:
        self.command = command
        self.settings = dict(settings)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def _popen(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise ProcessFailed(f"{self.command} was never started")
        return self._process

    def start(self) -> BridgeProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "common", self.command],
                cwd=REPO_ROOT,
                env=environment(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def started(self) -> bool:
        return self._process is not None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.alive():
            self._popen.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int:
        return self._popen.wait(timeout)

    def kill(self) -> int:
        """SIGKILL: the process gets no chance to flush or commit anything."""
        self.send(signal.SIGKILL)
        return self.wait()

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; SIGKILL (and raise) if it does not stop in time."""
        self.send(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ProcessFailed(f"{self.command} ignored SIGTERM for {timeout} s") from None

    def stop(self) -> None:
        """End the process whatever its state (used on the way out of a test)."""
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessFailed):
            self.terminate(timeout=15.0)

    def rss_kib(self) -> int:
        """Resident memory of the process now (Linux ``VmRSS``), in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise ProcessFailed(f"no VmRSS for pid {self.pid}")

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@contextmanager
def running(command: str, settings: Mapping[str, str], log_path: Path) -> Iterator[BridgeProcess]:
    process = BridgeProcess(command, settings, log_path).start()
    try:
        yield process
    finally:
        process.stop()


async def wait_http_ok(
    process: BridgeProcess,
    url: str,
    *,
    within: float = 60.0,
) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if not process.alive():
                raise ProcessFailed(
                    f"{process.command} exited with {process.wait()}:\n{process.log_tail()}"
                )
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise ProcessFailed(f"{url} not ready within {within} s:\n{process.log_tail()}")

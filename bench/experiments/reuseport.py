"""Several server processes sharing one port (``SO_REUSEPORT``): the scaling direction of
issue 18, as an experiment.

    python -m bench.experiments.reuseport N MODULE [ARG ...]

Starts N processes of ``python -m MODULE ARG ...`` (same environment) whose listening sockets
set ``SO_REUSEPORT``, so that the kernel spreads the connections over them, and stops them on
SIGTERM or SIGINT. Each child makes the event loop's ``create_server`` pass
``reuse_port=True`` (the default asyncio loop only; not uvloop's) before it runs MODULE as
``__main__``: neither the ingress nor the baseline has a setting for it.

The ingress is not offered this way as a product setting: each process would keep its own
Prometheus registry, and ``/metrics`` on the shared port would answer from one of them at
random (it needs prometheus_client's multiprocess mode, or a metrics port per process, first;
see bench/README.md).
"""

from __future__ import annotations

import asyncio
import functools
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil

#: Seconds a child may take to listen before the launcher gives up.
LISTEN_WITHIN = 60.0
MODULE = "bench.experiments.reuseport"


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "--child":
        return _child(argv[1:])
    count, *command = argv
    return _launch(int(count), command)


def _child(command: Sequence[str]) -> int:
    loop_class: Any = asyncio.BaseEventLoop
    loop_class.create_server = _reusing_port(loop_class.create_server)
    module, *args = command
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def _reusing_port(create_server: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create_server)
    async def reusing(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["reuse_port"] = True
        return await create_server(self, *args, **kwargs)

    return reusing


def _launch(count: int, command: Sequence[str]) -> int:
    children: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        child = subprocess.Popen([sys.executable, "-m", MODULE, "--child", *command])
        children.append(child)
        _wait_listening(child)
    codes = [child.wait() for child in children]
    return max(codes, default=0)


def _wait_listening(child: subprocess.Popen[bytes]) -> None:
    """Until ``child`` listens on a TCP socket (the next one must find the port shared)."""
    process = psutil.Process(child.pid)
    deadline = time.monotonic() + LISTEN_WITHIN
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"reuseport: a child exited with {child.returncode}")
        if any(c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp")):
            return
        time.sleep(0.05)
    raise SystemExit("reuseport: a child did not listen in time")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A real local Kafka broker that tests can start, stop and restart, through scripts/kafka.sh."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "kafka.sh"
HOST = "127.0.0.1"
#: Set to host:port to run the tests against a broker started elsewhere.
BOOTSTRAP_VARIABLE = "FEDAPAY_TEST_KAFKA_BOOTSTRAP"
#: The port of scripts/kafka.sh's default broker.
LOCAL_PORT = 9092
#: Variables of the script that a LocalBroker decides itself (never inherited from the caller).
_OWN_VARIABLES = (
    "KAFKA_PORT",
    "KAFKA_CONTROLLER_PORT",
    "KAFKA_DATA_DIR",
    "KAFKA_STATE_DIR",
    "KAFKA_SASL_SSL_PORT",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_EXTRA_LISTENER",
)
#: The script waits up to 60 s for a start and 30 s for a stop; the first start also fetches jars.
_SCRIPT_TIMEOUT_S = 300.0


class BrokerError(RuntimeError):
    """scripts/kafka.sh failed; the message ends with its output."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalBroker:
    """One single-node KRaft broker on 127.0.0.1:`port`.

    With `data_dir`, the data survives `stop()` and is served again by the next `start()`;
    without it, every start begins empty. `state_dir` holds the pid file and the log
    (default: the script's per-port folder under .cache/kafka). With `sasl_ssl_port` it also
    listens with SASL_SSL (TLS from a throwaway CA, a SCRAM-SHA-512 user) on that port:
    :meth:`client_settings` are the bridge's settings for it. `jvm_options` replaces
    KAFKA_JVM_OPTS.
    """

    def __init__(
        self,
        port: int,
        data_dir: Path | None = None,
        *,
        controller_port: int | None = None,
        state_dir: Path | None = None,
        sasl_ssl_port: int | None = None,
        jvm_options: str | None = None,
        extra_listener: str | None = None,
    ) -> None:
        self.port = port
        #: host:port of one more listener, advertised as given (e.g. reachable from pods).
        self.extra_listener = extra_listener
        self.data_dir = data_dir
        self.controller_port = controller_port
        self.state_dir = state_dir
        self.sasl_ssl_port = sasl_ssl_port
        self.jvm_options = jvm_options

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self._run_checked("log").strip())

    def client_settings(self) -> dict[str, str]:
        """The ``FEDAPAY_BRIDGE_KAFKA_*`` settings of the SASL_SSL listener
        (``scripts/kafka.sh client-env``)."""
        lines = self._run_checked("client-env").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def is_answering(self) -> bool:
        """True when a Kafka broker (this one or any other) answers on the port."""
        return self._run("status").returncode == 0

    def start(self) -> bool:
        """Starts the broker, or reuses one that answers on the port.

        Returns True when this call started it, False when one was already answering.
        """
        if self.is_answering():
            log.info("reusing the Kafka broker that answers on %s", self.bootstrap)
            return False
        output = self._run_checked("start")
        log.info("started a Kafka broker: %s", output.strip().replace("\n", "; "))
        return True

    def stop(self, *, purge: bool = False) -> None:
        """Stops the broker the script started on this port (no-op if none); `purge` deletes
        its data folder too."""
        self._run_checked("stop", *(["--purge"] if purge else []))

    def _environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in _OWN_VARIABLES}
        env["KAFKA_PORT"] = str(self.port)
        if self.controller_port is not None:
            env["KAFKA_CONTROLLER_PORT"] = str(self.controller_port)
        if self.data_dir is not None:
            env["KAFKA_DATA_DIR"] = str(self.data_dir)
        if self.state_dir is not None:
            env["KAFKA_STATE_DIR"] = str(self.state_dir)
        if self.sasl_ssl_port is not None:
            env["KAFKA_SASL_SSL_PORT"] = str(self.sasl_ssl_port)
        if self.jvm_options is not None:
            env["KAFKA_JVM_OPTS"] = self.jvm_options
        if self.extra_listener is not None:
            env["KAFKA_EXTRA_LISTENER"] = self.extra_listener
        return env

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=_SCRIPT_TIMEOUT_S,
            check=False,
        )

    def _run_checked(self, *args: str) -> str:
        """Runs the script; returns its output or raises BrokerError."""
        result = self._run(*args)
        if result.returncode != 0:
            raise BrokerError(
                f"scripts/kafka.sh {' '.join(args)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        log.debug("scripts/kafka.sh %s: %s", " ".join(args), result.stdout.strip())
        return result.stdout


@contextmanager
def local_broker() -> Iterator[str]:
    """The bootstrap of scripts/kafka.sh's default broker: reused when one answers, else
    started here and stopped (its data purged) at the end."""
    broker = LocalBroker(LOCAL_PORT)
    started_here = broker.start()
    try:
        yield broker.bootstrap
    finally:
        if started_here:
            broker.stop(purge=True)


@contextmanager
def configured_or_local_broker() -> Iterator[str]:
    """The broker of ``FEDAPAY_TEST_KAFKA_BOOTSTRAP`` when set, else :func:`local_broker`."""
    configured = os.environ.get(BOOTSTRAP_VARIABLE)
    if configured:
        yield configured
        return
    with local_broker() as bootstrap:
        yield bootstrap

"""One isolated bridge deployment for a test: its own topic prefix, ports, data dirs, logs.

Builds the ``FEDAPAY_BRIDGE_*`` settings of the ingress and of each worker, creates
the contract's topics with ``fedapay-bridge topics create``, and starts the
processes (see :mod:`tests.reliability.procs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import Topics
from tests.kafka_broker import free_port
from tests.reliability.procs import BridgeProcess, ProcessFailed, run_command, running, wait_http_ok
from tests.reliability.progress import GroupProgress, progress, wait_caught_up

SECRET = "wh_sandbox_reliability_secret_4f1c9e"
ENDPOINT = "sandbox"
P = "FEDAPAY_BRIDGE_"
AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"
MODES = (AT_LEAST_ONCE, EXACTLY_ONCE)


@dataclass
class Deployment:
    bootstrap: str
    prefix: str
    root: Path
    mode: str = AT_LEAST_ONCE
    partitions: int = 3
    secret: str = SECRET
    #: Extra settings (names without the prefix) for every process.
    extra: dict[str, str] = field(default_factory=dict)
    ingress_port: int = field(default_factory=free_port)

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-app"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}/webhooks/{ENDPOINT}"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}/readyz"

    def _common(self) -> dict[str, str]:
        settings = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TOPIC_PREFIX": self.prefix,
            "LOG_FORMAT": "json",
            **self.extra,
        }
        return {f"{P}{name}": value for name, value in settings.items()}

    def ingress_settings(self, *, drop: tuple[str, ...] = (), **overrides: str) -> dict[str, str]:
        """The ingress's settings; ``drop`` removes some (names without the prefix)."""
        own = {
            "WEBHOOKS": ENDPOINT,
            "WEBHOOK_SANDBOX_SECRETS": self.secret,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.ingress_port),
            "PUBLISH_TIMEOUT_SECONDS": "3",
            "RETRY_AFTER_SECONDS": "1",
            **overrides,
        }
        settings = {**self._common(), **{f"{P}{k}": v for k, v in own.items()}}
        return {k: v for k, v in settings.items() if k.removeprefix(P) not in drop}

    def worker_settings(self, name: str, web_port: int, **overrides: str) -> dict[str, str]:
        own = {
            "APP_ID": self.app_id,
            "WORKER_ID": name,
            "DATA_DIR": str(self.root / name),
            "PROCESSING_GUARANTEE": self.mode,
            "TOPIC_PARTITIONS": str(self.partitions),
            "SESSION_TIMEOUT_SECONDS": "10",
            "COMMIT_INTERVAL_SECONDS": "1",
            "WEB_BIND": "127.0.0.1",
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(web_port),
            **overrides,
        }
        return {**self._common(), **{f"{P}{k}": v for k, v in own.items()}}

    def create_topics(self) -> None:
        """``fedapay-bridge topics create`` for this deployment (changelogs included)."""
        result = run_command(["topics", "create"], self.worker_settings("topics", 0))
        if result.returncode != 0:
            raise ProcessFailed(f"topics create failed:\n{result.stdout}{result.stderr}")

    async def delete_topics(self) -> None:
        """Delete every topic of this deployment (its prefix's contract topics and its app's
        internal ones), so that many runs on one broker do not pile topics up."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            names = [
                name
                for name in await admin.list_topics()
                if name.startswith((f"{self.prefix}.", f"{self.app_id}-"))
            ]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    @contextmanager
    def ingress(self, *, drop: tuple[str, ...] = (), **overrides: str) -> Iterator[BridgeProcess]:
        log_path = self.root / "logs" / "ingress.log"
        settings = self.ingress_settings(drop=drop, **overrides)
        with running("ingress", settings, log_path) as process:
            yield process

    async def wait_ingress_ready(self, process: BridgeProcess) -> None:
        await wait_http_ok(process, self.ready_url)

    async def wait_worker_ready(self, process: BridgeProcess, *, within: float = 90.0) -> None:
        """Until the worker has joined the group, got partitions and recovered their tables."""
        url = f"http://127.0.0.1:{process.settings['FEDAPAY_BRIDGE_WEB_PORT']}/readyz"
        await wait_http_ok(process, url, within=within)

    async def progress(self) -> GroupProgress:
        """The workers' group on the raw topic: end and committed offsets now."""
        return await progress(self.bootstrap, self.app_id, self.topics.raw)

    async def wait_caught_up(self, *, within: float = 90.0) -> None:
        """Until the workers committed every raw record written so far."""
        await wait_caught_up(self.bootstrap, self.app_id, self.topics.raw, within=within)

    def worker(self, name: str, **overrides: str) -> BridgeProcess:
        """A worker process, not started (its log appends across restarts)."""
        settings = self.worker_settings(name, free_port(), **overrides)
        return BridgeProcess("worker", settings, self.root / "logs" / f"worker-{name}.log")

"""The chart's FEDAPAY_BRIDGE_* variables are exactly what the processes read.

Each container's rendered environment (its ConfigMaps plus its own env, with `$(VAR)` expanded
and mounted Secret files stood in by temporary files) is handed to the real settings loader. The
loader must accept it, and must have read every variable the chart sets: a misspelt or retired
name fails here instead of being silently ignored in a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from common.config import PREFIX, Env
from ingress.settings import IngressSettings
from streams.settings import WorkerSettings
from tests.helm.chart import Manifest, Rendered, containers
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm

_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
#: What a mounted Secret file holds in these tests (long enough for a query token).
STAND_IN = "stand-in-value-of-a-secret-file"
_POD = {"POD_NAME": "fb-fedapay-bridge-worker-0", "POD_NAMESPACE": "payments"}


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values


def container_environ(rendered: Rendered, container: dict[str, Any], files: Path) -> dict[str, str]:
    environ: dict[str, str] = dict(_POD)
    for source in container.get("envFrom", []):
        environ.update(rendered.named("ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in container.get("env", []):
        if "value" in entry:
            environ[entry["name"]] = _REFERENCE.sub(lambda m: environ[m.group(1)], entry["value"])
    for name, value in list(environ.items()):
        if name.endswith("_FILE") and value.startswith("/etc/fedapay-bridge/"):
            stand_in = files / value.strip("/").replace("/", "_")
            stand_in.write_text(f"{STAND_IN}\n", encoding="utf-8")
            environ[name] = str(stand_in)
    return environ


Loader = Callable[[Mapping[str, str]], object]

LOADERS: dict[str, Loader] = {
    "receiver": lambda environ: IngressSettings.from_env(Env(environ)),
    "worker": lambda environ: WorkerSettings.from_env(Env(environ)),
    "topics": lambda environ: WorkerSettings.from_env(Env(environ)),
}


def _workload(rendered: Rendered, component: str) -> Manifest:
    kinds = {"receiver": "Deployment", "worker": "StatefulSet", "topics": "Job"}
    return rendered.one(kinds[component], component)


@pytest.mark.parametrize("component", sorted(LOADERS))
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_variable_the_chart_sets_is_read(
    renderer: Renderer, tmp_path: Path, value_set: str, component: str
) -> None:
    rendered = renderer.value_set(value_set)
    (container,) = containers(_workload(rendered, component))
    environ = RecordingEnviron(container_environ(rendered, container, tmp_path))
    LOADERS[component](environ)
    ours = {name for name in environ if name.startswith(PREFIX)}
    assert ours
    assert ours - environ.read == set()


def test_worker_identity_reaches_the_settings(renderer: Renderer, tmp_path: Path) -> None:
    rendered = renderer.value_set("default")
    (container,) = containers(_workload(rendered, "worker"))
    settings = WorkerSettings.from_env(Env(container_environ(rendered, container, tmp_path)))
    assert settings.worker_id == "fb-fedapay-bridge-worker-0"
    assert settings.web_host == (
        "fb-fedapay-bridge-worker-0.fb-fedapay-bridge-worker-headless.payments.svc"
    )
    assert settings.web_port == 6066
    assert str(settings.data_dir) == "/var/lib/fedapay-bridge"
    assert settings.topic_replication_factor == 3


def test_receiver_reads_the_webhook_secret_files(renderer: Renderer, tmp_path: Path) -> None:
    rendered = renderer.value_set("production-values")
    (container,) = containers(_workload(rendered, "receiver"))
    settings = IngressSettings.from_env(Env(container_environ(rendered, container, tmp_path)))
    assert set(settings.endpoints) == {"live", "sandbox"}
    assert settings.host == "0.0.0.0"  # noqa: S104 - in a pod, on purpose
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.kafka.sasl_password == STAND_IN


def test_an_unread_variable_is_caught(renderer: Renderer, tmp_path: Path) -> None:
    rendered = renderer.value_set(
        "default",
        ["worker.extraEnv[0].name=FEDAPAY_BRIDGE_DEDUP_WINDOW", "worker.extraEnv[0].value=x"],
    )
    (container,) = containers(_workload(rendered, "worker"))
    environ = RecordingEnviron(container_environ(rendered, container, tmp_path))
    LOADERS["worker"](environ)
    unread = {name for name in environ if name.startswith(PREFIX)} - environ.read
    assert unread == {"FEDAPAY_BRIDGE_DEDUP_WINDOW"}

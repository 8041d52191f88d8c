"""Render the Helm chart with the project's pinned helm and look into the manifests.

``helm`` is found at ``.cache/bin/helm`` (installed by ``scripts/helm.sh``), else on PATH.
Rendering pins the Kubernetes version (``KUBE_VERSION``) so that the chart, the API capabilities
helm assumes and the offline schema validation all speak of the same release.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "fedapay-bridge"
CI_VALUES = CHART / "ci"
PINNED_HELM = ROOT / ".cache" / "bin" / "helm"

#: Kubernetes version the chart is rendered for and validated against (kubernetes-validate ships
#: its schemas; the pinned helm v3.19 is built against the 1.34 client libraries).
KUBE_VERSION = "1.34.0"
RELEASE = "fb"
NAMESPACE = "payments"

Manifest = dict[str, Any]


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


def find_helm() -> Path | None:
    if PINNED_HELM.is_file():
        return PINNED_HELM
    found = shutil.which("helm")
    return Path(found) if found else None


def run_helm(helm: Path, args: Sequence[str], *, timeout: float = 60.0) -> str:
    result = subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise HelmError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


def template_args(
    values_files: Sequence[Path] = (),
    sets: Sequence[str] = (),
    *,
    chart: Path = CHART,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE]
    args += ["--kube-version", KUBE_VERSION]
    for path in values_files:
        args += ["--values", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    return [*args, *extra]


def parse_manifests(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@dataclass(frozen=True)
class Rendered:
    """The manifests of one ``helm template`` run."""

    manifests: tuple[Manifest, ...]

    def kinds(self) -> list[str]:
        return [m["kind"] for m in self.manifests]

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def maybe(self, kind: str, component: str | None = None) -> Manifest | None:
        found = [m for m in self.all(kind) if component is None or self.component(m) == component]
        if len(found) > 1:
            raise AssertionError(f"more than one {kind} of component {component}")
        return found[0] if found else None

    def one(self, kind: str, component: str | None = None) -> Manifest:
        found = self.maybe(kind, component)
        if found is None:
            raise AssertionError(f"no {kind} of component {component} in {self.kinds()}")
        return found

    def named(self, kind: str, name: str) -> Manifest:
        for manifest in self.all(kind):
            if manifest["metadata"]["name"] == name:
                return manifest
        raise AssertionError(f"no {kind} named {name}")

    @staticmethod
    def component(manifest: Manifest) -> str | None:
        labels = manifest["metadata"].get("labels", {})
        component = labels.get("app.kubernetes.io/component")
        return str(component) if component is not None else None


def render(helm: Path, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> Rendered:
    return Rendered(tuple(parse_manifests(run_helm(helm, template_args(values_files, sets)))))


def pod_spec(workload: Manifest) -> dict[str, Any]:
    """The pod spec of a Deployment, StatefulSet, Job, CronJob or bare Pod."""
    if workload["kind"] == "Pod":
        spec: dict[str, Any] = workload["spec"]
        return spec
    if workload["kind"] == "CronJob":
        job_spec: dict[str, Any] = workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return job_spec
    template_spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return template_spec


def containers(workload: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(rendered: Rendered) -> Iterator[Manifest]:
    for manifest in rendered.manifests:
        if manifest["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob", "Pod"):
            yield manifest


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's explicit env entries by name (value or valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def volumes_by_name(workload: Manifest) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(workload).get("volumes", [])}


def mounts_by_path(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def secret_data(secret: Manifest) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def file_source(workload: Manifest, container: dict[str, Any], path: str) -> tuple[str, str]:
    """The (Secret name, key) a file path in a container comes from; fails if it comes from none."""
    volumes = volumes_by_name(workload)
    for mount_path, mount in mounts_by_path(container).items():
        prefix = mount_path.rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            break
        relative = path[len(prefix) :]
        for item in secret.get("items", []):
            if item["path"] == relative:
                return str(secret["secretName"]), str(item["key"])
        return str(secret["secretName"]), relative
    raise AssertionError(f"{path} is not a file of a mounted Secret in {container['name']}")

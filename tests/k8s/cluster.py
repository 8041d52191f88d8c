"""The local single-node cluster of ``scripts/k8s.sh`` as the k8s tests see it.

The cluster lives in its own network namespace: the host reaches the API server at the node's
address, and reaches Services (ClusterIPs, resolved by kube-proxy inside the namespace) by running
``curl`` inside that namespace. Pods reach the host at ``host_ip`` (where the test broker listens).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "k8s.sh"
#: Set (to 1) to run the k8s tests; `scripts/test.sh` sets it when `scripts/k8s.sh status` is up.
ENABLE_VARIABLE = "FEDAPAY_TEST_K8S"

T = TypeVar("T")


class ClusterError(RuntimeError):
    """kubectl, helm or an HTTP call through the node failed; the message says which and why."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl_bin: Path
    helm_bin: Path
    netns: str
    host_ip: str
    node_ip: str
    storage_dir: Path
    version: str

    @classmethod
    def from_script(cls, helm: Path) -> Cluster:
        status = subprocess.run(
            ["bash", str(SCRIPT), "status"], capture_output=True, text=True, check=False
        )
        if status.returncode != 0:
            raise ClusterError(
                f"{ENABLE_VARIABLE} is set but the cluster is not up: run `scripts/k8s.sh up` "
                f"first\n{status.stdout}{status.stderr}"
            )
        env = dict(
            line.split("=", 1)
            for line in subprocess.run(
                ["bash", str(SCRIPT), "env"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if "=" in line
        )
        return cls(
            kubeconfig=Path(env["K8S_KUBECONFIG"]),
            kubectl_bin=Path(env["K8S_KUBECTL"]),
            helm_bin=helm,
            netns=env["K8S_NETNS"],
            host_ip=env["K8S_HOST_IP"],
            node_ip=env["K8S_NODE_IP"],
            storage_dir=Path(env["K8S_STORAGE_DIR"]),
            version=env["K8S_VERSION"],
        )

    # ---- tools ---------------------------------------------------------------------------------
    def _run(self, argv: Sequence[str], what: str, timeout: float, stdin: str | None) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        try:
            result = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{what} {' '.join(argv[1:])}: timed out after {timeout}s") from exc
        if result.returncode != 0:
            raise ClusterError(
                f"{what} {' '.join(argv[1:])}: exit {result.returncode}\n"
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout

    def kubectl(self, *args: str, timeout: float = 120.0, stdin: str | None = None) -> str:
        return self._run([str(self.kubectl_bin), *args], "kubectl", timeout, stdin)

    def kube_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def apply(self, manifest: Mapping[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def helm(self, *args: str, timeout: float = 600.0) -> str:
        return self._run([str(self.helm_bin), *args], "helm", timeout, None)

    # ---- HTTP through the node -----------------------------------------------------------------
    def http(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 10.0,
    ) -> HttpAnswer:
        """One request from inside the cluster's network namespace (so ClusterIPs work); status
        0 when no answer came (connection refused or reset, timeout)."""
        argv = ["nsenter", f"--net=/run/netns/{self.netns}", "--", "curl", "-s", "-S"]
        argv += ["-X", method, "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        if body is not None:
            argv += ["--data-binary", "@-"]
        result = subprocess.run(
            [*argv, url], input=body, capture_output=True, timeout=timeout + 5, check=False
        )
        payload, _, code = result.stdout.rpartition(b"\n")
        return HttpAnswer(int(code or b"0"), payload)

    def service_url(self, namespace: str, name: str, port: int, path: str) -> str:
        service = self.kube_json("-n", namespace, "get", "service", name)
        return f"http://{service['spec']['clusterIP']}:{port}{path}"


def wait_until(
    what: str, check: Callable[[], T | None], *, timeout: float, every: float = 1.0
) -> T:
    """Calls `check` until it returns something else than None (or False); fails after `timeout`
    seconds with the last error it raised."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = check()
            if value is not None and value is not False:
                return value
        except ClusterError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout}s waiting for {what}: {last}")
        time.sleep(every)

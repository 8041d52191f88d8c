"""Fixtures of the real-cluster tests: the cluster, a broker the pods reach, the release.

The tests here run only when ``FEDAPAY_TEST_K8S`` is set (``scripts/test.sh`` sets it when
``scripts/k8s.sh status`` finds the cluster up, as ``.ci/run`` arranges): without it they are not
collected at all. With it, a missing cluster, image or tool is a failure, never a skip.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helm.chart import CHART, find_helm
from tests.k8s.cluster import ENABLE_VARIABLE, ROOT, Cluster
from tests.kafka_broker import LocalBroker, free_port

if not os.environ.get(ENABLE_VARIABLE):
    collect_ignore_glob = ["test_*.py"]

VALUES = Path(__file__).resolve().parent / "values.yaml"
IMAGE = "localhost/fedapay-bridge:dev"
RELEASE = "fb"
#: The StorageClass name of the static volumes the test makes (the node has no provisioner).
STORAGE_CLASS = "fedapay-k8s-test"
#: The Secret the release takes its webhook secrets from (values.yaml: webhooks.existingSecret).
WEBHOOK_SECRET = "fedapay-webhook-secrets"
UID = 10001


@dataclass(frozen=True)
class Release:
    cluster: Cluster
    namespace: str
    name: str
    #: host:port of the broker for the host (tests); pods use `pod_bootstrap`.
    bootstrap: str
    pod_bootstrap: str
    webhook_secrets: dict[str, str]
    install_args: tuple[str, ...]

    @property
    def fullname(self) -> str:
        return f"{self.name}-fedapay-bridge"

    def query_token(self) -> str:
        secret = self.cluster.kube_json(
            "-n", self.namespace, "get", "secret", f"{self.fullname}-query-token"
        )
        return base64.b64decode(secret["data"]["token"]).decode()


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    helm = find_helm()
    if helm is None:
        pytest.fail("helm is not installed: run scripts/helm.sh", pytrace=False)
    return Cluster.from_script(helm)


@pytest.fixture(scope="session")
def image_in_cluster(cluster: Cluster) -> str:
    """The project's image, built from this checkout (and smoke-run by scripts/image.sh), imported
    into the node's containerd."""
    subprocess.run([str(ROOT / "scripts" / "image.sh")], check=True, timeout=1800)
    subprocess.run([str(ROOT / "scripts" / "k8s.sh"), "load", IMAGE], check=True, timeout=600)
    return IMAGE


@pytest.fixture(scope="module")
def pod_broker(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """The project's broker (scripts/kafka.sh) with one more listener on the host's end of the
    cluster's veth, which pods reach."""
    state = tmp_path_factory.mktemp("k8s-broker")
    broker = LocalBroker(
        free_port(),
        controller_port=free_port(),
        state_dir=state,
        extra_listener=f"{cluster.host_ip}:{free_port()}",
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(purge=True)


def _volumes(cluster: Cluster, namespace: str, count: int) -> list[str]:
    """Static hostPath volumes for the workers' claims, owned by the image's uid."""
    names = []
    for index in range(count):
        name = f"{namespace}-{index}"
        path = cluster.storage_dir / name
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, UID, UID)
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"fedapay-k8s-test": namespace}},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": STORAGE_CLASS,
                    "hostPath": {"path": str(path), "type": "Directory"},
                },
            }
        )
        names.append(name)
    return names


@pytest.fixture(scope="module")
def release(cluster: Cluster, image_in_cluster: str, pod_broker: LocalBroker) -> Iterator[Release]:
    """The chart installed with `helm install --wait` in a namespace of its own; uninstalled (if a
    test has not) and its namespace and volumes removed at the end."""
    namespace = f"fb-k8s-{uuid.uuid4().hex[:6]}"
    assert pod_broker.extra_listener is not None
    secrets_by_endpoint = {
        name: f"wh_{name}_{secrets.token_hex(12)}" for name in ("live", "sandbox")
    }
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl(
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        WEBHOOK_SECRET,
        *(f"--from-literal={name}={value}" for name, value in secrets_by_endpoint.items()),
    )
    volumes = _volumes(cluster, namespace, 2)
    repository, tag = image_in_cluster.rsplit(":", 1)
    install_args = (
        str(CHART),
        "--namespace",
        namespace,
        "-f",
        str(VALUES),
        "--set",
        f"image.repository={repository},image.tag={tag}",
        "--set",
        f"kafka.bootstrapServers={pod_broker.extra_listener}",
        "--set",
        f"worker.persistence.storageClassName={STORAGE_CLASS}",
    )
    found = Release(
        cluster=cluster,
        namespace=namespace,
        name=RELEASE,
        bootstrap=pod_broker.bootstrap,
        pod_bootstrap=pod_broker.extra_listener,
        webhook_secrets=secrets_by_endpoint,
        install_args=install_args,
    )
    try:
        cluster.helm("install", RELEASE, *install_args, "--wait", "--timeout", "10m", timeout=700)
        yield found
    finally:
        if RELEASE in cluster.helm("list", "-n", namespace, "-q"):
            cluster.helm("uninstall", RELEASE, "-n", namespace, "--wait", timeout=300)
        cluster.kubectl("delete", "namespace", namespace, "--wait=true", timeout=300)
        for name in volumes:
            cluster.kubectl("delete", "pv", name, "--ignore-not-found", "--wait=true")
            shutil.rmtree(cluster.storage_dir / name, ignore_errors=True)

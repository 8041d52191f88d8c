"""The chart on a real single-node Kubernetes (scripts/k8s.sh), end to end, in order:
install, a webhook through the Services, `helm test`, an upgrade that rolls every pod while
deliveries keep coming, a deleted worker pod coming back as itself, and the uninstall.

The tests of this module share one release and run in file order (each one leaves the release as
the next expects it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from ingress.signature import sign
from schemas.topics import Topics
from tests.fixtures import fixture_bytes
from tests.k8s.cluster import ClusterError, HttpAnswer, wait_until
from tests.k8s.conftest import Release

pytestmark = [pytest.mark.k8s, pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(1800)]

log = logging.getLogger(__name__)

TOPICS = Topics()
EVENT = "transaction.approved"
#: Ids of the test traffic: the range `helm test` and the simulator reserve for it.
_ids = itertools.count(900_500_000_000 + int(time.time()) % 100_000 * 1000)
#: The transaction the webhook test sends; the pod-deletion test asks for it again.
_first: dict[str, int] = {}


def webhook(transaction_id: int) -> bytes:
    document = orjson.loads(fixture_bytes("transaction.approved.json"))
    document["entity"]["id"] = transaction_id
    return orjson.dumps(document)


def post_webhook(release: Release, transaction_id: int, endpoint: str = "sandbox") -> HttpAnswer:
    body = webhook(transaction_id)
    url = release.cluster.service_url(
        release.namespace, f"{release.fullname}-receiver", 8080, f"/webhooks/{endpoint}"
    )
    headers = {
        "Content-Type": "application/json",
        "X-FEDAPAY-SIGNATURE": sign(body, release.webhook_secrets[endpoint]),
    }
    return release.cluster.http("POST", url, headers=headers, body=body)


def get_transaction(release: Release, transaction_id: int) -> HttpAnswer:
    url = release.cluster.service_url(
        release.namespace, f"{release.fullname}-worker", 6066, f"/transactions/{transaction_id}"
    )
    return release.cluster.http(
        "GET", url, headers={"Authorization": f"Bearer {release.query_token()}"}
    )


async def _ids_on(bootstrap: str, topic: str, want: set[int], seconds: float) -> set[int]:
    """The entity ids of `want` found on `topic` (read from the start) within `seconds`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: set[int] = set()
    deadline = time.monotonic() + seconds
    try:
        while found < want and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                for record in batch:
                    found.add(_entity_id(record.value))
    finally:
        await consumer.stop()
    return found & want


def _entity_id(value: bytes | None) -> int:
    try:
        document = orjson.loads(value or b"{}")
    except orjson.JSONDecodeError:
        return -1
    entity = document.get("entity") if isinstance(document, dict) else None
    found = entity.get("id") if isinstance(entity, dict) else document.get("id")
    try:
        return int(str(found))
    except ValueError:
        return -1


async def partition_counts(bootstrap: str, *topics: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


def ids_on(release: Release, topic: str, want: set[int], timeout: float = 120.0) -> set[int]:
    return asyncio.run(_ids_on(release.bootstrap, topic, want, timeout))


def pods(release: Release, component: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={release.name},app.kubernetes.io/component={component}"
    items: list[dict[str, Any]] = release.cluster.kube_json(
        "-n", release.namespace, "get", "pods", "-l", selector
    )["items"]
    return items


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return pod["metadata"].get("deletionTimestamp") is None and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def uids(release: Release) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for component in ("receiver", "worker")
        for p in pods(release, component)
    }


# ---- install --------------------------------------------------------------------------------
def test_install_makes_every_pod_ready_and_completes_the_topics_job(release: Release) -> None:
    receivers, workers = pods(release, "receiver"), pods(release, "worker")
    assert len(receivers) == 2
    assert all(map(ready, receivers))
    assert sorted(p["metadata"]["name"] for p in workers) == [
        f"{release.fullname}-worker-0",
        f"{release.fullname}-worker-1",
    ]
    assert all(map(ready, workers))
    # The topics Job is a pre-install hook, deleted once it succeeded: helm records its run.
    status = json.loads(
        release.cluster.helm("status", release.name, "-n", release.namespace, "-o", "json")
    )
    runs = {h["name"]: h["last_run"]["phase"] for h in status["hooks"] if h["kind"] == "Job"}
    assert runs == {f"{release.fullname}-topics": "Succeeded"}
    assert asyncio.run(partition_counts(release.bootstrap, TOPICS.raw, TOPICS.status)) == {
        TOPICS.raw: 4,
        TOPICS.status: 4,
    }
    claims = release.cluster.kube_json("-n", release.namespace, "get", "pvc")["items"]
    assert sorted(c["status"]["phase"] for c in claims) == ["Bound", "Bound"]


def test_a_signed_webhook_goes_through_the_services_to_the_query_api(release: Release) -> None:
    transaction_id = next(_ids)
    _first["id"] = transaction_id
    answer = post_webhook(release, transaction_id)
    assert answer.status == 200, answer
    want = {transaction_id}
    assert ids_on(release, TOPICS.raw, want) == want
    assert ids_on(release, TOPICS.for_event(EVENT), want) == want
    found = wait_until(
        "the query API to know the transaction",
        lambda: (a := get_transaction(release, transaction_id)).status == 200 and a.json(),
        timeout=120,
    )
    assert str(found["transaction_id"]) == str(transaction_id)
    assert (found["endpoint"], found["status"]) == ("sandbox", "approved")


def test_helm_test_passes(release: Release) -> None:
    output = release.cluster.helm("test", release.name, "-n", release.namespace, "--timeout", "5m")
    assert "Phase:          Succeeded" in output
    assert "Failed" not in output


# ---- upgrade while deliveries keep coming ---------------------------------------------------
@dataclass
class Sender:
    """Posts one new transaction after another, each retried until it gets 200 (as FedaPay
    retries), and records which were acknowledged."""

    post: Callable[[int], HttpAnswer]
    acknowledged: list[int] = field(default_factory=list)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            transaction_id = next(_ids)
            while True:
                try:
                    status = self.post(transaction_id).status
                except (ClusterError, OSError, ValueError):
                    status = 0
                if status == 200:
                    self.acknowledged.append(transaction_id)
                    break
                self.refused += 1
                time.sleep(0.2)
            time.sleep(0.05)


@pytest.fixture
def sender(release: Release) -> Iterator[Sender]:
    found = Sender(lambda transaction_id: post_webhook(release, transaction_id))
    thread = threading.Thread(target=found.run, name="k8s-sender", daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.stop.set()
        thread.join(timeout=60)


def test_upgrade_rolls_every_pod_without_losing_a_delivery(
    release: Release, sender: Sender
) -> None:
    before = uids(release)
    time.sleep(2)
    release.cluster.helm(
        "upgrade",
        release.name,
        *release.install_args,
        "--set",
        "log.level=WARNING",
        "--wait",
        "--timeout",
        "10m",
        timeout=700,
    )
    time.sleep(3)
    sender.stop.set()
    time.sleep(1)
    after = uids(release)
    assert set(after) >= {f"{release.fullname}-worker-0", f"{release.fullname}-worker-1"}
    assert not set(before.values()) & set(after.values()), "some pod was not replaced"
    acknowledged = set(sender.acknowledged)
    print(  # noqa: T201 - the figure the README quotes
        f"upgrade: {len(acknowledged)} deliveries acknowledged during the roll, "
        f"{sender.refused} refused answers retried"
    )
    assert len(acknowledged) >= 10
    assert ids_on(release, TOPICS.raw, acknowledged, timeout=180) == acknowledged
    assert ids_on(release, TOPICS.for_event(EVENT), acknowledged, timeout=300) == acknowledged


# ---- a worker pod deleted --------------------------------------------------------------------
def _claim_of(pod: dict[str, Any]) -> str:
    for volume in pod["spec"]["volumes"]:
        if "persistentVolumeClaim" in volume:
            return str(volume["persistentVolumeClaim"]["claimName"])
    raise AssertionError("the worker pod has no volume claim")


def _worker_id(pod: dict[str, Any]) -> str:
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}
    return str(env["FEDAPAY_BRIDGE_WORKER_ID"]).replace("$(POD_NAME)", pod["metadata"]["name"])


def test_a_deleted_worker_pod_comes_back_as_itself_and_the_stream_goes_on(
    release: Release,
) -> None:
    cluster, namespace = release.cluster, release.namespace
    name = f"{release.fullname}-worker-0"
    pod = cluster.kube_json("-n", namespace, "get", "pod", name)
    claim = cluster.kube_json("-n", namespace, "get", "pvc", _claim_of(pod))
    volume = claim["spec"]["volumeName"]
    data_dir = cluster.storage_dir / volume
    files_before = {
        p.relative_to(data_dir): p.stat().st_ino for p in data_dir.rglob("*") if p.is_file()
    }
    assert files_before, "the worker wrote nothing on its volume"

    cluster.kubectl("-n", namespace, "delete", "pod", name, "--wait=true", timeout=180)

    def replaced() -> dict[str, Any] | None:
        found: dict[str, Any] = cluster.kube_json("-n", namespace, "get", "pod", name)
        renewed = found["metadata"]["uid"] != pod["metadata"]["uid"]
        return found if renewed and ready(found) else None

    replacement = wait_until("the replacement worker pod to be Ready", replaced, timeout=300)
    # Identity: same name, same static member id (group.instance.id), same claim and volume.
    assert _worker_id(replacement) == _worker_id(pod) == name
    assert _claim_of(replacement) == _claim_of(pod)
    claim_after = cluster.kube_json("-n", namespace, "get", "pvc", _claim_of(pod))
    assert claim_after["metadata"]["uid"] == claim["metadata"]["uid"]
    assert claim_after["spec"]["volumeName"] == volume
    # State: the files written before are still there (not rebuilt), and the earlier
    # transaction is still answered.
    kept = {
        path
        for path, inode in files_before.items()
        if (data_dir / path).is_file() and (data_dir / path).stat().st_ino == inode
    }
    assert kept, "none of the worker's files survived the pod"
    answer = get_transaction(release, _first["id"])
    assert answer.status == 200, answer
    assert answer.json()["status"] == "approved"
    # The stream goes on.
    transaction_id = next(_ids)
    assert post_webhook(release, transaction_id).status == 200
    want = {transaction_id}
    assert ids_on(release, TOPICS.for_event(EVENT), want) == want
    wait_until(
        "the query API to know the new transaction",
        lambda: get_transaction(release, transaction_id).status == 200,
        timeout=120,
    )


# ---- uninstall -------------------------------------------------------------------------------
#: What `helm uninstall` leaves in the namespace: the workers' claims (the chart README says they
#: stay), and what the test made itself or Kubernetes makes in every namespace.
KEPT_KINDS = {"persistentvolumeclaims"}
OUTSIDE_THE_CHART = {
    ("secrets", "fedapay-webhook-secrets"),
    ("configmaps", "kube-root-ca.crt"),
    ("serviceaccounts", "default"),
}


def _namespaced_objects(release: Release) -> set[tuple[str, str]]:
    kinds = release.cluster.kubectl(
        "api-resources", "--verbs=list", "--namespaced", "-o", "name"
    ).split()
    found = set()
    for kind in kinds:
        if kind.startswith("events"):
            continue
        names = release.cluster.kubectl(
            "-n", release.namespace, "get", kind, "-o", "name", "--ignore-not-found"
        ).split()
        found |= {(kind.split(".")[0], n.split("/", 1)[1]) for n in names}
    return found


def test_uninstall_leaves_only_the_volume_claims(release: Release) -> None:
    release.cluster.helm("uninstall", release.name, "-n", release.namespace, "--wait", timeout=300)

    def only_kept() -> set[tuple[str, str]] | None:
        objects = _namespaced_objects(release) - OUTSIDE_THE_CHART
        return objects if all(kind in KEPT_KINDS for kind, _ in objects) else None

    left = wait_until("the release's objects to go", only_kept, timeout=180, every=2)
    assert sorted(left) == [
        ("persistentvolumeclaims", f"data-{release.fullname}-worker-{i}") for i in (0, 1)
    ]

"""Assertions on ``helm template`` output for what matters at run time: probes, security context,
secret wiring, the workers' identities and volume claims, hooks, labels and rollouts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helm.chart import (
    NAMESPACE,
    RELEASE,
    Manifest,
    Rendered,
    containers,
    env_of,
    file_source,
    mounts_by_path,
    pod_spec,
    secret_data,
    volumes_by_name,
    workloads,
)
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm

FULLNAME = f"{RELEASE}-fedapay-bridge"
RECEIVER = f"{FULLNAME}-receiver"
WORKER = f"{FULLNAME}-worker"
HEADLESS = f"{FULLNAME}-worker-headless"
WEBHOOK_SECRET = f"{FULLNAME}-webhooks"


def _config(rendered: Rendered, component: str) -> dict[str, str]:
    data: dict[str, str] = rendered.named("ConfigMap", f"{FULLNAME}-{component}")["data"]
    return data


def _settings(rendered: Rendered, workload: Manifest, container: dict[str, Any]) -> dict[str, Any]:
    """The FEDAPAY_BRIDGE_* settings a container sees: its ConfigMaps, then its own env."""
    settings: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        settings.update(rendered.named("ConfigMap", source["configMapRef"]["name"])["data"])
    settings.update(env_of(container))
    return settings


# ---- security ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_pod_runs_locked_down(renderer: Renderer, value_set: str) -> None:
    rendered = renderer.value_set(value_set)
    found = list(workloads(rendered))
    assert {w["kind"] for w in found} == {"Deployment", "StatefulSet", "Job", "Pod"}
    for workload in found:
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in containers(workload):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            tmp = mounts_by_path(container)["/tmp"]
            assert "emptyDir" in volumes_by_name(workload)[tmp["name"]]


def test_every_container_runs_the_one_image(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    images = {c["image"] for w in workloads(rendered) for c in containers(w)}
    assert images == {"fedapay-bridge:0.1.0"}


def test_image_digest_wins_over_the_tag(renderer: Renderer) -> None:
    rendered = renderer.value_set("production-values")
    images = {c["image"] for w in workloads(rendered) for c in containers(w)}
    assert images == {
        "registry.example.com/fedapay-bridge@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    }


# ---- receiver ------------------------------------------------------------------------------------


def test_receiver_probes_and_port(renderer: Renderer) -> None:
    deployment = renderer.value_set("default").one("Deployment", "receiver")
    (container,) = containers(deployment)
    assert container["args"] == ["ingress"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["readinessProbe"]["periodSeconds"] == 5


def test_receiver_listens_on_all_interfaces(renderer: Renderer) -> None:
    config = _config(renderer.value_set("default"), "receiver")
    assert config["FEDAPAY_BRIDGE_HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - in a pod, on purpose
    assert config["FEDAPAY_BRIDGE_HTTP_PORT"] == "8080"


def test_receiver_service_targets_the_http_port(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    service = rendered.named("Service", RECEIVER)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = rendered.one("Deployment", "receiver")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_autoscaler_owns_the_replica_count(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    deployment = rendered.one("Deployment", "receiver")
    hpa = rendered.one("HorizontalPodAutoscaler", "receiver")
    assert "replicas" not in deployment["spec"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": RECEIVER,
    }
    assert hpa["spec"]["minReplicas"] == 2


def test_fixed_replicas_without_autoscaler(renderer: Renderer) -> None:
    rendered = renderer.value_set("minimal-values")
    assert rendered.maybe("HorizontalPodAutoscaler") is None
    assert rendered.one("Deployment", "receiver")["spec"]["replicas"] == 1


def test_receiver_settings_reach_the_configmap(renderer: Renderer) -> None:
    config = _config(renderer.value_set("production-values"), "receiver")
    assert config["FEDAPAY_BRIDGE_TRUSTED_PROXIES"] == "10.0.0.0/8"
    assert config["FEDAPAY_BRIDGE_RATE_LIMIT_PER_SECOND"] == "50"
    assert config["FEDAPAY_BRIDGE_PRODUCER_COMPRESSION"] == "gzip"
    assert config["FEDAPAY_BRIDGE_UVLOOP"] == "true"


def test_large_numbers_are_not_rendered_in_exponent_form(renderer: Renderer) -> None:
    rendered = renderer.value_set("default", ["receiver.settings.maxBodyBytes=10485760"])
    assert _config(rendered, "receiver")["FEDAPAY_BRIDGE_MAX_BODY_BYTES"] == "10485760"
    production = _config(renderer.value_set("production-values"), "worker")
    assert production["FEDAPAY_BRIDGE_DEDUP_WINDOW_SECONDS"] == "2592000"


def test_public_ingress_with_tls(renderer: Renderer) -> None:
    ingress = renderer.value_set("production-values").one("Ingress", "receiver")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"secretName": "webhooks-example-com-tls", "hosts": ["webhooks.example.com"]}
    ]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/webhooks"
    assert path["backend"]["service"] == {"name": RECEIVER, "port": {"number": 8080}}


def test_no_ingress_resource_by_default(renderer: Renderer) -> None:
    assert renderer.value_set("default").maybe("Ingress") is None


# ---- webhook secrets --------------------------------------------------------------------------


def test_chart_made_webhook_secret_is_mounted_and_named(renderer: Renderer) -> None:
    rendered = renderer.value_set("production-values")
    secret = rendered.named("Secret", WEBHOOK_SECRET)
    data = secret_data(secret)
    assert len(data.pop(".checksum-salt")) == 40  # of the checksum/secrets annotation
    assert data == {
        "live": "wh_live_ci_only_current\nwh_live_ci_only_previous",
        "sandbox": "wh_sandbox_ci_only",
    }
    deployment = rendered.one("Deployment", "receiver")
    (container,) = containers(deployment)
    settings = _settings(rendered, deployment, container)
    assert settings["FEDAPAY_BRIDGE_WEBHOOKS"] == "live,sandbox"
    for name in ("live", "sandbox"):
        path = settings[f"FEDAPAY_BRIDGE_WEBHOOK_{name.upper()}_SECRETS_FILE"]
        assert file_source(deployment, container, path) == (WEBHOOK_SECRET, name)
    assert not any(key.endswith("_SECRETS") for key in settings)


def test_existing_webhook_secret_is_used_with_its_keys(renderer: Renderer) -> None:
    rendered = renderer.value_set("existing-secret-values")
    assert rendered.all("Secret") == []
    deployment = rendered.one("Deployment", "receiver")
    (container,) = containers(deployment)
    settings = _settings(rendered, deployment, container)
    assert settings["FEDAPAY_BRIDGE_WEBHOOKS"] == "live,sandbox-eu"
    live = settings["FEDAPAY_BRIDGE_WEBHOOK_LIVE_SECRETS_FILE"]
    sandbox = settings["FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_EU_SECRETS_FILE"]
    assert file_source(deployment, container, live) == ("fedapay-webhook-secrets", "FEDAPAY_LIVE")
    assert file_source(deployment, container, sandbox) == (
        "fedapay-webhook-secrets",
        "FEDAPAY_SANDBOX_EU",
    )


def test_missing_webhook_secrets_are_generated(renderer: Renderer) -> None:
    data = secret_data(renderer.value_set("default").named("Secret", WEBHOOK_SECRET))
    del data[".checksum-salt"]  # of the checksum/secrets annotation
    assert set(data) == {"live", "sandbox"}
    assert all(len(value) == 40 and value.isalnum() for value in data.values())


def test_secret_values_appear_only_in_the_secret(renderer: Renderer) -> None:
    rendered = renderer.value_set("production-values")
    for manifest in rendered.manifests:
        if manifest["kind"] == "Secret":
            continue
        text = json.dumps(manifest)
        assert "wh_live_ci_only" not in text, manifest["metadata"]["name"]
        assert "wh_sandbox_ci_only" not in text, manifest["metadata"]["name"]


# ---- Kafka connection -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "Job"])
def test_sasl_ssl_credentials_come_from_mounted_secrets(renderer: Renderer, kind: str) -> None:
    rendered = renderer.value_set("production-values")
    workload = rendered.all(kind)[0]
    (container,) = containers(workload)
    settings = _settings(rendered, workload, container)
    assert settings["FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["FEDAPAY_BRIDGE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert "FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD" not in settings
    assert "FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME" not in settings
    expected = {
        "FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD_FILE": ("fedapay-bridge-kafka-user", "password"),
        "FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME_FILE": ("fedapay-bridge-kafka-user", "username"),
        "FEDAPAY_BRIDGE_KAFKA_SSL_CA_FILE": ("kafka-cluster-ca-cert", "ca.crt"),
        "FEDAPAY_BRIDGE_KAFKA_SSL_CERT_FILE": ("fedapay-bridge-kafka-client", "tls.crt"),
        "FEDAPAY_BRIDGE_KAFKA_SSL_KEY_FILE": ("fedapay-bridge-kafka-client", "tls.key"),
    }
    for setting, source in expected.items():
        assert file_source(workload, container, settings[setting]) == source, setting


def test_sasl_plain_with_a_plain_username(renderer: Renderer) -> None:
    rendered = renderer.value_set("existing-secret-values")
    workload = rendered.one("StatefulSet", "worker")
    (container,) = containers(workload)
    settings = _settings(rendered, workload, container)
    assert settings["FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert settings["FEDAPAY_BRIDGE_KAFKA_SASL_MECHANISM"] == "PLAIN"
    assert settings["FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME"] == "fedapay-bridge"
    assert "FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME_FILE" not in settings
    password = settings["FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD_FILE"]
    assert file_source(workload, container, password) == ("kafka-credentials", "password")
    assert "FEDAPAY_BRIDGE_KAFKA_SSL_CA_FILE" not in settings


def test_plaintext_kafka_mounts_no_credentials(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    for workload in workloads(rendered):
        assert not {"kafka-sasl", "kafka-ca", "kafka-client"} & set(volumes_by_name(workload))
    config = _config(rendered, "worker")
    assert config["FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert config["FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert config["FEDAPAY_BRIDGE_TOPIC_PREFIX"] == "fedapay"


# ---- workers ----------------------------------------------------------------------------------


def test_workers_have_stable_identities(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    statefulset = rendered.one("StatefulSet", "worker")
    assert statefulset["spec"]["serviceName"] == HEADLESS
    assert statefulset["spec"]["replicas"] == 3
    (container,) = containers(statefulset)
    assert container["args"] == ["worker"]
    names = [e["name"] for e in container["env"]]
    env = env_of(container)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["FEDAPAY_BRIDGE_WORKER_ID"] == "$(POD_NAME)"
    assert env["FEDAPAY_BRIDGE_WEB_HOST"] == f"$(POD_NAME).{HEADLESS}.$(POD_NAMESPACE).svc"
    # $(VAR) expands only variables defined earlier in the list.
    assert names.index("POD_NAME") < names.index("FEDAPAY_BRIDGE_WEB_HOST")
    assert names.index("POD_NAMESPACE") < names.index("FEDAPAY_BRIDGE_WEB_HOST")


def test_web_host_with_a_cluster_domain(renderer: Renderer) -> None:
    statefulset = renderer.value_set("production-values").one("StatefulSet", "worker")
    (container,) = containers(statefulset)
    assert env_of(container)["FEDAPAY_BRIDGE_WEB_HOST"] == (
        f"$(POD_NAME).{HEADLESS}.$(POD_NAMESPACE).svc.cluster.local"
    )


def test_headless_service_publishes_every_worker(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    headless = rendered.named("Service", HEADLESS)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["ports"][0]["port"] == 6066
    query = rendered.named("Service", WORKER)
    assert query["spec"]["ports"][0]["targetPort"] == "web"
    labels = rendered.one("StatefulSet", "worker")["spec"]["template"]["metadata"]["labels"]
    assert headless["spec"]["selector"].items() <= labels.items()


def test_worker_data_lives_on_a_volume_claim(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    statefulset = rendered.one("StatefulSet", "worker")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]
    (container,) = containers(statefulset)
    data_dir = _config(rendered, "worker")["FEDAPAY_BRIDGE_DATA_DIR"]
    assert data_dir == "/var/lib/fedapay-bridge"
    assert mounts_by_path(container)[data_dir]["name"] == "data"
    assert "data" not in volumes_by_name(statefulset)
    assert _config(rendered, "worker")["FEDAPAY_BRIDGE_STORE"] == "rocksdb"


def test_volume_claim_storage_class_and_size(renderer: Renderer) -> None:
    statefulset = renderer.value_set("production-values").one("StatefulSet", "worker")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"


def test_worker_without_persistence_uses_an_empty_dir(renderer: Renderer) -> None:
    rendered = renderer.value_set("minimal-values")
    statefulset = rendered.one("StatefulSet", "worker")
    assert "volumeClaimTemplates" not in statefulset["spec"]
    assert volumes_by_name(statefulset)["data"] == {"name": "data", "emptyDir": {}}
    assert _config(rendered, "worker")["FEDAPAY_BRIDGE_STORE"] == "memory"


def test_worker_settings_reach_the_configmap(renderer: Renderer) -> None:
    config = _config(renderer.value_set("default"), "worker")
    assert config["FEDAPAY_BRIDGE_APP_ID"] == "fedapay-bridge"
    assert config["FEDAPAY_BRIDGE_DEDUP_WINDOW_SECONDS"] == "259200"
    assert config["FEDAPAY_BRIDGE_PROCESSING_GUARANTEE"] == "at_least_once"
    assert config["FEDAPAY_BRIDGE_TOPIC_PARTITIONS"] == "6"
    assert config["FEDAPAY_BRIDGE_TOPIC_REPLICATION_FACTOR"] == "3"
    assert config["FEDAPAY_BRIDGE_KEEP_ACCOUNT"] == "false"
    assert config["FEDAPAY_BRIDGE_WEB_PORT"] == "6066"


def test_disruption_budgets_select_their_component(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    for component in ("receiver", "worker"):
        pdb = rendered.one("PodDisruptionBudget", component)
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == component
    assert rendered.one("PodDisruptionBudget", "receiver")["spec"]["minAvailable"] == 1
    assert rendered.one("PodDisruptionBudget", "worker")["spec"]["maxUnavailable"] == 1


# ---- hooks ------------------------------------------------------------------------------------


def test_topic_job_is_a_pre_install_and_pre_upgrade_hook(renderer: Renderer) -> None:
    job = renderer.value_set("default").one("Job", "topics")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = containers(job)
    assert container["args"] == [
        "topics",
        "create",
        "--partitions",
        "6",
        "--replication-factor",
        "3",
    ]
    # Before install the ConfigMaps do not exist yet: settings must be inline.
    assert "envFrom" not in container
    env = env_of(container)
    assert env["FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    # `topics create` names the table changelog topics after the workers' app id.
    assert env["FEDAPAY_BRIDGE_APP_ID"] == "fedapay-bridge"
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_topic_job_can_be_turned_off(renderer: Renderer) -> None:
    assert renderer.value_set("default", ["topics.create=false"]).maybe("Job") is None


def test_helm_test_posts_a_signed_event_to_the_receiver(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    pod = rendered.one("Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = containers(pod)
    args = container["args"]
    assert args[0] == "simulate"
    assert args[args.index("--url") + 1] == f"http://{RECEIVER}:8080/webhooks/sandbox"
    assert args[args.index("--transactions") + 1] == "1"
    assert args[args.index("--customers") + 1] == "1"
    assert "--reserved-ids" in args
    secret_file = args[args.index("--secret-file") + 1]
    assert file_source(pod, container, secret_file) == (WEBHOOK_SECRET, "sandbox")
    assert pod["spec"]["restartPolicy"] == "Never"


def test_helm_test_uses_the_chosen_endpoint_and_existing_secret(renderer: Renderer) -> None:
    pod = renderer.value_set("existing-secret-values").one("Pod", "test")
    (container,) = containers(pod)
    args = container["args"]
    assert args[args.index("--url") + 1] == f"http://{RECEIVER}:8080/webhooks/sandbox-eu"
    secret_file = args[args.index("--secret-file") + 1]
    assert file_source(pod, container, secret_file) == (
        "fedapay-webhook-secrets",
        "FEDAPAY_SANDBOX_EU",
    )


# ---- labels and rollouts ----------------------------------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_standard_labels_on_every_resource(renderer: Renderer, value_set: str) -> None:
    for manifest in renderer.value_set(value_set).manifests:
        labels = manifest["metadata"]["labels"]
        name = manifest["metadata"]["name"]
        assert labels["app.kubernetes.io/name"] == "fedapay-bridge", name
        assert labels["app.kubernetes.io/instance"] == RELEASE, name
        assert labels["app.kubernetes.io/managed-by"] == "Helm", name
        assert labels["app.kubernetes.io/version"] == "0.1.0", name
        assert labels["helm.sh/chart"] == "fedapay-bridge-0.2.0", name
        assert manifest["metadata"]["namespace"] == NAMESPACE, name


def test_component_labels_per_part(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    expected = {
        ("Deployment", RECEIVER): "receiver",
        ("StatefulSet", WORKER): "worker",
        ("Job", f"{FULLNAME}-topics"): "topics",
        ("Pod", f"{FULLNAME}-test-webhook"): "test",
    }
    for (kind, name), component in expected.items():
        manifest = rendered.named(kind, name)
        assert rendered.component(manifest) == component
        if kind in ("Deployment", "StatefulSet"):
            selector = manifest["spec"]["selector"]["matchLabels"]
            assert selector["app.kubernetes.io/component"] == component
            template_labels = manifest["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= template_labels.items()


def test_common_labels_are_added(renderer: Renderer) -> None:
    for manifest in renderer.value_set("production-values").manifests:
        assert manifest["metadata"]["labels"]["team"] == "payments"


def _checksum(rendered: Rendered, kind: str, component: str) -> str:
    workload = rendered.one(kind, component)
    checksum: str = workload["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    return checksum


@pytest.mark.parametrize(
    ("change", "receiver_rolls", "worker_rolls"),
    [
        ("receiver.settings.signatureTolerance=120", True, False),
        # secrets roll the receiver through checksum/secrets (tests/helm/test_chart_hardening.py)
        ("webhooks.endpoints[0].secrets[0]=rotated", False, False),
        ("webhooks.endpoints[0].secretKey=other", True, False),
        ("worker.settings.dedupWindowSeconds=86400", False, True),
        ("kafka.bootstrapServers=other:9092", True, True),
        ("log.level=DEBUG", True, True),
    ],
)
def test_pods_roll_when_their_config_changes(
    renderer: Renderer, change: str, receiver_rolls: bool, worker_rolls: bool
) -> None:
    before = renderer.value_set("minimal-values")
    after = renderer.value_set("minimal-values", [change])
    receiver_changed = _checksum(before, "Deployment", "receiver") != _checksum(
        after, "Deployment", "receiver"
    )
    worker_changed = _checksum(before, "StatefulSet", "worker") != _checksum(
        after, "StatefulSet", "worker"
    )
    assert (receiver_changed, worker_changed) == (receiver_rolls, worker_rolls)


def test_checksums_are_stable_between_renders(renderer: Renderer) -> None:
    first = renderer.value_set("default")
    second = renderer.value_set("default", ["nameOverride=fedapay-bridge"])
    assert _checksum(first, "Deployment", "receiver") == _checksum(second, "Deployment", "receiver")


# ---- observability and network ----------------------------------------------------------------


def test_dashboard_configmap_for_the_grafana_sidecar(renderer: Renderer) -> None:
    configmap = renderer.value_set("default").named("ConfigMap", f"{FULLNAME}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["fedapay-bridge.json"])
    expressions = json.dumps([t["expr"] for p in dashboard["panels"] for t in p["targets"]])
    for metric in (
        "fedapay_ingress_requests_total",
        "fedapay_ingress_signature_failures_total",
        "fedapay_ingress_publish_seconds_bucket",
        "fedapay_ingress_producer_ready",
    ):
        assert metric in expressions


def test_network_policies(renderer: Renderer) -> None:
    rendered = renderer.value_set("production-values")
    policy = rendered.named("NetworkPolicy", RECEIVER)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    peers = rule["from"]
    assert {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "fedapay-bridge",
                "app.kubernetes.io/instance": RELEASE,
            }
        }
    } in peers
    egress_ports = [p["port"] for r in policy["spec"]["egress"] for p in r["ports"]]
    assert 53 in egress_ports
    assert 9093 in egress_ports
    worker = rendered.named("NetworkPolicy", WORKER)
    worker_egress = [p["port"] for r in worker["spec"]["egress"] for p in r["ports"]]
    assert 6066 in worker_egress
    off = renderer.value_set("default", ["networkPolicy.enabled=false"])
    assert off.all("NetworkPolicy") == []


def test_everything_can_be_turned_off_but_the_service_account(renderer: Renderer) -> None:
    rendered = renderer.value_set(
        "default",
        [
            "receiver.enabled=false",
            "worker.enabled=false",
            "topics.create=false",
            "metrics.dashboard.enabled=false",
        ],
    )
    assert rendered.kinds() == ["ServiceAccount"]


def test_topology_spread_gets_the_component_selector(renderer: Renderer) -> None:
    statefulset = renderer.value_set("production-values").one("StatefulSet", "worker")
    (constraint,) = pod_spec(statefulset)["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone"
    assert constraint["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "fedapay-bridge",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "worker",
    }


def test_worker_probes_use_the_http_routes(renderer: Renderer) -> None:
    statefulset = renderer.value_set("default").one("StatefulSet", "worker")
    (container,) = containers(statefulset)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "web"}

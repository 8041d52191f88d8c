"""The workers' query API in the chart: NetworkPolicies on by default (with a switch), the query
token from a Secret (made by the chart or an existing one) read by the workers as a file, and the
`helm test` pod that queries the workers with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Env
from streams.settings import WorkerSettings
from tests.helm.chart import (
    NAMESPACE,
    RELEASE,
    containers,
    env_of,
    file_source,
    secret_data,
)
from tests.helm.conftest import Renderer
from tests.helm.test_chart_notes import _notes, notes_chart  # noqa: F401 - the fixture
from tests.helm.test_chart_settings import container_environ

pytestmark = pytest.mark.helm

FULLNAME = f"{RELEASE}-fedapay-bridge"
WORKER = f"{FULLNAME}-worker"
TOKEN_SECRET = f"{FULLNAME}-query-token"
RELEASE_PODS = {
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/name": "fedapay-bridge",
            "app.kubernetes.io/instance": RELEASE,
        }
    }
}


# ---- NetworkPolicy ----------------------------------------------------------------------------


def test_network_policies_are_on_by_default(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")

    names = sorted(p["metadata"]["name"] for p in rendered.all("NetworkPolicy"))

    assert names == [f"{FULLNAME}-receiver", WORKER]
    worker = rendered.named("NetworkPolicy", WORKER)
    (rule,) = worker["spec"]["ingress"]
    assert rule["ports"] == [{"port": "web", "protocol": "TCP"}]
    assert rule["from"] == [RELEASE_PODS], "only this release's pods reach the query API"


def test_network_policies_can_be_switched_off(renderer: Renderer) -> None:
    rendered = renderer.value_set("default", ["networkPolicy.enabled=false"])

    assert rendered.all("NetworkPolicy") == []


def test_worker_from_adds_peers_to_the_query_api(renderer: Renderer) -> None:
    rendered = renderer.value_set(
        "default",
        ["networkPolicy.workerFrom[0].namespaceSelector.matchLabels.team=payments"],
    )

    (rule,) = rendered.named("NetworkPolicy", WORKER)["spec"]["ingress"]

    assert rule["from"] == [
        RELEASE_PODS,
        {"namespaceSelector": {"matchLabels": {"team": "payments"}}},
    ]


# ---- the query token --------------------------------------------------------------------------


def test_the_chart_makes_a_random_query_token_the_workers_read_as_a_file(
    renderer: Renderer, tmp_path: Path
) -> None:
    rendered = renderer.value_set("default")
    secret = rendered.named("Secret", TOKEN_SECRET)
    statefulset = rendered.one("StatefulSet", "worker")
    (container,) = containers(statefulset)
    env = env_of(container)

    token = secret_data(secret)["token"]
    assert len(token) == 48
    assert token.isalnum()
    assert "FEDAPAY_BRIDGE_QUERY_TOKEN" not in env
    path = env["FEDAPAY_BRIDGE_QUERY_TOKEN_FILE"]
    assert file_source(statefulset, container, path) == (TOKEN_SECRET, "token")
    settings = WorkerSettings.from_env(Env(container_environ(rendered, container, tmp_path)))
    assert settings.query_auth == "token"


def test_an_existing_query_token_secret_is_used_with_its_key(renderer: Renderer) -> None:
    rendered = renderer.value_set("existing-secret-values")
    statefulset = rendered.one("StatefulSet", "worker")
    (container,) = containers(statefulset)

    path = env_of(container)["FEDAPAY_BRIDGE_QUERY_TOKEN_FILE"]

    assert file_source(statefulset, container, path) == ("fedapay-query-token", "QUERY_TOKEN")
    assert [s["metadata"]["name"] for s in rendered.all("Secret")] == []


def test_no_query_token_secret_without_workers(renderer: Renderer) -> None:
    rendered = renderer.value_set("default", ["worker.enabled=false"])

    assert [s for s in rendered.all("Secret") if s["metadata"]["name"] == TOKEN_SECRET] == []
    assert rendered.maybe("Pod", "test-query") is None


# ---- helm test --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "url", "secret", "key"),
    [
        ([], f"http://{WORKER}:6066", TOKEN_SECRET, "token"),
        (
            ["worker.service.enabled=false", "worker.queryToken.existingSecret=mine"],
            f"http://{WORKER}-headless:6066",
            "mine",
            "token",
        ),
    ],
)
def test_helm_test_queries_the_workers_with_the_token(
    renderer: Renderer, sets: list[str], url: str, secret: str, key: str
) -> None:
    pod = renderer.value_set("default", sets).one("Pod", "test-query")
    (container,) = containers(pod)
    args = container["args"]

    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert args[:3] == ["query", "--url", url]
    token_file = args[args.index("--token-file") + 1]
    assert file_source(pod, container, token_file) == (secret, key)
    assert args[-3:] == ["summary", "--minutes", "60"]


# ---- install notes ----------------------------------------------------------------------------


def test_the_install_notes_say_how_to_get_the_token(helm: Path, notes_chart: Path) -> None:  # noqa: F811
    notes = _notes(helm, notes_chart)

    assert (
        f"kubectl -n {NAMESPACE} get secret {TOKEN_SECRET} -o jsonpath='{{.data.token}}'" in notes
    )
    assert 'curl -s -H "Authorization: Bearer $TOKEN"' in notes
    assert "A NetworkPolicy lets only this release's pods" in notes

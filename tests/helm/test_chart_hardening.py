"""Issue 13 §5 in the chart: no pod annotation is a plain hash over the webhook secrets, and
`helm test` posts to sandbox (never to live unless chosen) with ids from the reserved range."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.helm.chart import RELEASE, Rendered, containers, render, secret_data
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm

FULLNAME = f"{RELEASE}-fedapay-bridge"
TEST_POD = f"{FULLNAME}-test-webhook"
SECRET = "wh_sandbox_ci_only_not_a_real_secret"  # helm/fedapay-bridge/ci/minimal-values.yaml


def pod_annotations(rendered: Rendered) -> dict[str, str]:
    template = rendered.one("Deployment", "receiver")["spec"]["template"]
    found: dict[str, str] = template["metadata"]["annotations"]
    return found


def test_checksum_config_ignores_the_secrets_and_still_tracks_settings(
    renderer: Renderer,
) -> None:
    before = pod_annotations(renderer.value_set("minimal-values"))
    rotated = pod_annotations(
        renderer.value_set("minimal-values", ["webhooks.endpoints[0].secrets[0]=x"])
    )
    assert rotated["checksum/config"] == before["checksum/config"]
    retuned = renderer.value_set("minimal-values", ["receiver.settings.signatureTolerance=120"])
    assert pod_annotations(retuned)["checksum/config"] != before["checksum/config"]


def test_no_annotation_is_a_hash_anyone_can_recompute_from_a_guess(renderer: Renderer) -> None:
    first = render(renderer.helm, VALUE_SETS["minimal-values"], ())
    second = render(renderer.helm, VALUE_SETS["minimal-values"], ())
    found = pod_annotations(first)
    # checksum/secrets is salted with a random value kept in the Secret: two renders without a
    # cluster to look the salt up in differ, and no annotation hashes a guess of the secret alone.
    assert found["checksum/secrets"] != pod_annotations(second)["checksum/secrets"]
    guesses = [
        SECRET,
        json.dumps([{"name": "sandbox", "secrets": [SECRET]}], separators=(",", ":")),
    ]
    hashes = {hashlib.sha256(guess.encode()).hexdigest() for guess in guesses}
    assert not hashes & set(found.values())
    secret = first.named("Secret", f"{FULLNAME}-webhooks")
    assert len(secret_data(secret)[".checksum-salt"]) == 40
    volumes = first.one("Deployment", "receiver")["spec"]["template"]["spec"]["volumes"]
    (webhooks,) = [volume for volume in volumes if volume["name"] == "webhook-secrets"]
    assert ".checksum-salt" not in {item["key"] for item in webhooks["secret"]["items"]}


def test_existing_secret_gets_no_secrets_annotation(renderer: Renderer) -> None:
    assert "checksum/secrets" not in pod_annotations(renderer.value_set("existing-secret-values"))


def _test_args(rendered: Rendered) -> list[str]:
    (container,) = containers(rendered.named("Pod", TEST_POD))
    return [str(arg) for arg in container["args"]]


def test_helm_test_posts_to_sandbox_with_reserved_ids(renderer: Renderer) -> None:
    args = _test_args(renderer.value_set("default"))  # live and sandbox, live first
    assert args[args.index("--url") + 1].endswith("/webhooks/sandbox")
    assert "--reserved-ids" in args


def test_helm_test_never_posts_to_live_unless_chosen(renderer: Renderer) -> None:
    rendered = renderer.value_set("minimal-values", ["webhooks.endpoints[0].name=live"])
    assert TEST_POD not in {pod["metadata"]["name"] for pod in rendered.all("Pod")}
    chosen = renderer.value_set(
        "minimal-values", ["webhooks.endpoints[0].name=live", "tests.endpoint=live"]
    )
    args = _test_args(chosen)
    assert args[args.index("--url") + 1].endswith("/webhooks/live")
    assert "--reserved-ids" in args


def test_sasl_plain_over_plaintext_is_allowed_only_by_its_value(renderer: Renderer) -> None:
    allowed = renderer.value_set("existing-secret-values")
    config = allowed.named("ConfigMap", f"{FULLNAME}-receiver")["data"]
    assert config["FEDAPAY_BRIDGE_KAFKA_SASL_PLAIN_WITHOUT_TLS"] == "true"
    plain = renderer.value_set("existing-secret-values", ["kafka.sasl.plainWithoutTls=false"])
    config = plain.named("ConfigMap", f"{FULLNAME}-receiver")["data"]
    assert "FEDAPAY_BRIDGE_KAFKA_SASL_PLAIN_WITHOUT_TLS" not in config

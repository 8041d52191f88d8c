"""The reconcile CronJobs: off by default, one per endpoint, the API key Secret mounted as files,
every variable read by reconcile's settings loader, and the values schema's rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import PREFIX, Env
from reconcile.settings import ReconcileSettings
from tests.helm.chart import (
    HelmError,
    containers,
    file_source,
    pod_spec,
    run_helm,
    secret_data,
    template_args,
)
from tests.helm.conftest import Renderer
from tests.helm.test_chart_settings import STAND_IN, RecordingEnviron, container_environ

pytestmark = pytest.mark.helm

TWO_ENDPOINTS = (
    "reconcile.enabled=true",
    "reconcile.endpoints[0].name=live",
    "reconcile.endpoints[0].apiBase=https://api.fedapay.com",
    "reconcile.endpoints[0].apiKey=sk_live_chart_test",
    "reconcile.endpoints[1].name=my-sandbox",
    "reconcile.endpoints[1].apiBase=https://sandbox-api.fedapay.com",
    "reconcile.endpoints[1].apiKey=sk_sandbox_chart_test",
    "reconcile.endpoints[1].schedule=7 * * * *",
)


def test_off_by_default(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    assert rendered.all("CronJob") == []
    assert all(m["metadata"]["name"] != "fb-fedapay-bridge-fedapay-api" for m in rendered.manifests)


def test_a_cronjob_per_endpoint(renderer: Renderer) -> None:
    rendered = renderer.value_set("default", TWO_ENDPOINTS)
    jobs = {job["metadata"]["name"]: job for job in rendered.all("CronJob")}
    assert set(jobs) == {
        "fb-fedapay-bridge-reconcile-live",
        "fb-fedapay-bridge-reconcile-my-sandbox",
    }
    live, sandbox = (
        jobs["fb-fedapay-bridge-reconcile-live"],
        jobs["fb-fedapay-bridge-reconcile-my-sandbox"],
    )
    assert (live["spec"]["schedule"], sandbox["spec"]["schedule"]) == ("*/15 * * * *", "7 * * * *")
    assert live["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = containers(live)
    assert container["args"] == ["reconcile", "--endpoint", "live"]
    assert pod_spec(live)["restartPolicy"] == "Never"
    secret = rendered.named("Secret", "fb-fedapay-bridge-fedapay-api")
    assert secret_data(secret) == {
        "live": "sk_live_chart_test",
        "my-sandbox": "sk_sandbox_chart_test",
    }
    path = "/etc/fedapay-bridge/fedapay-api/live"
    assert file_source(live, container, path) == ("fb-fedapay-bridge-fedapay-api", "live")


@pytest.mark.parametrize("endpoint", ["live", "my-sandbox"])
def test_every_variable_is_read_by_reconcile(
    renderer: Renderer, tmp_path: Path, endpoint: str
) -> None:
    rendered = renderer.value_set("default", TWO_ENDPOINTS)
    job = rendered.named("CronJob", f"fb-fedapay-bridge-reconcile-{endpoint}")
    (container,) = containers(job)
    environ = RecordingEnviron(container_environ(rendered, container, tmp_path))
    settings = ReconcileSettings.from_env(Env(environ), endpoint)
    ours = {name for name in environ if name.startswith(PREFIX)}
    assert ours - environ.read == set()
    assert settings.api_key == STAND_IN
    assert settings.drift_statuses == ("pending",)
    assert settings.replication_factor == 3


def test_existing_secret_is_used_and_none_is_made(renderer: Renderer) -> None:
    rendered = renderer.value_set(
        "default",
        (
            "reconcile.enabled=true",
            "reconcile.existingSecret=fedapay-api-keys",
            "reconcile.endpoints[0].name=live",
            "reconcile.endpoints[0].apiBase=https://api.fedapay.com",
            "reconcile.endpoints[0].secretKey=live-key",
        ),
    )
    job = rendered.one("CronJob")
    (container,) = containers(job)
    path = "/etc/fedapay-bridge/fedapay-api/live-key"
    assert file_source(job, container, path) == ("fedapay-api-keys", "live-key")
    assert all(m["metadata"]["name"] != "fb-fedapay-bridge-fedapay-api" for m in rendered.manifests)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("reconcile.enabled=true",), "reconcile.enabled needs reconcile.endpoints"),
        (
            (
                "reconcile.enabled=true",
                "reconcile.endpoints[0].name=live",
                "reconcile.endpoints[0].apiBase=https://api.fedapay.com",
            ),
            '"live" needs apiKey',
        ),
        (
            (
                "reconcile.endpoints[0].name=live",
                "reconcile.endpoints[0].apiBase=ftp://api.fedapay.com",
            ),
            "apiBase",
        ),
        (("reconcile.settings.driftStatuses[0]=stuck",), "driftStatuses"),
        (("reconcile.settings.perPage=0",), "perPage"),
    ],
)
def test_bad_values_fail_the_render(helm: Path, sets: tuple[str, ...], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        run_helm(helm, template_args((), sets))

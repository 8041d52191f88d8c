"""A receiver pod stops in order: a preStop sleep while its endpoints are removed, then SIGTERM
(stop listening, drain, finish in-flight publishes), all inside terminationGracePeriodSeconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingress.server import DRAIN_SECONDS, runner_options
from ingress.settings import IngressSettings
from tests.helm.chart import HelmError, containers, pod_spec, render
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm

#: The connection drain the chart's ``fedapay-bridge.receiver.stopSeconds`` helper counts.
CHART_DRAIN_SECONDS = 1


def receiver_pod(renderer: Renderer, sets: tuple[str, ...] = ()) -> dict[str, object]:
    return pod_spec(renderer((), sets).one("Deployment", "receiver"))


def test_pre_stop_sleeps_the_configured_seconds(renderer: Renderer) -> None:
    pod = receiver_pod(renderer, ("receiver.preStopSeconds=7",))
    (container,) = containers(renderer((), ("receiver.preStopSeconds=7",)).one("Deployment"))
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "7"]}}}
    assert pod["terminationGracePeriodSeconds"] == 30


def test_pre_stop_is_on_by_default(renderer: Renderer) -> None:
    (container,) = containers(renderer().one("Deployment", "receiver"))
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]


def test_pre_stop_zero_turns_the_hook_off(renderer: Renderer) -> None:
    (container,) = containers(renderer((), ("receiver.preStopSeconds=0",)).one("Deployment"))
    assert "lifecycle" not in container


def test_the_chart_counts_the_receiver_drain() -> None:
    assert CHART_DRAIN_SECONDS >= DRAIN_SECONDS, "raise the drain in the stopSeconds helper"


def test_default_grace_covers_pre_stop_drain_and_shutdown() -> None:
    """The chart's defaults against the ingress's own shutdown timeout (publish timeout + 5)."""
    settings = IngressSettings(endpoints={})
    shutdown = runner_options(settings)["shutdown_timeout"]
    assert 5 + DRAIN_SECONDS + shutdown <= 30


@pytest.mark.parametrize(
    ("receiver", "minimum"),
    [
        ("{terminationGracePeriodSeconds: 15}", 16),
        ("{preStopSeconds: 20}", 31),
        ("{settings: {publishTimeoutSeconds: 25}}", 36),
        ("{terminationGracePeriodSeconds: 8, settings: {publishTimeoutSeconds: 2.5}}", 14),
    ],
)
def test_too_short_a_grace_fails_the_render(
    helm: Path, tmp_path: Path, receiver: str, minimum: int
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(f"receiver: {receiver}\n", encoding="utf-8")
    with pytest.raises(HelmError) as failure:
        render(helm, (values,))
    message = str(failure.value)
    assert "receiver.terminationGracePeriodSeconds" in message
    assert f"at least {minimum}" in message


def test_a_grace_of_exactly_the_minimum_renders(renderer: Renderer) -> None:
    pod = receiver_pod(renderer, ("receiver.terminationGracePeriodSeconds=16",))
    assert pod["terminationGracePeriodSeconds"] == 16


def test_no_receiver_no_grace_check(renderer: Renderer) -> None:
    rendered = renderer((), ("receiver.enabled=false", "receiver.terminationGracePeriodSeconds=1"))
    assert rendered.maybe("Deployment", "receiver") is None


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_value_set_keeps_the_pre_stop(renderer: Renderer, value_set: str) -> None:
    (container,) = containers(renderer.value_set(value_set).one("Deployment", "receiver"))
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"

"""The commands the chart runs parse with the real `fedapay-bridge` command line."""

from __future__ import annotations

import pytest

from common.cli import build_parser
from tests.helm.chart import containers, workloads
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_container_command_parses(renderer: Renderer, value_set: str) -> None:
    parser = build_parser()
    commands = {}
    for workload in workloads(renderer.value_set(value_set)):
        for container in containers(workload):
            assert "command" not in container, "the image's ENTRYPOINT is fedapay-bridge"
            args = [str(arg) for arg in container["args"]]
            try:
                commands[args[0]] = parser.parse_args(args)
            except SystemExit:
                pytest.fail(f"fedapay-bridge does not accept the arguments {args}")
    assert set(commands) == {"ingress", "worker", "topics", "simulate", "query"}
    assert commands["query"].token_file == "/etc/fedapay-bridge/query-token/token"
    assert commands["topics"].partitions >= 1
    assert commands["simulate"].transactions == 1

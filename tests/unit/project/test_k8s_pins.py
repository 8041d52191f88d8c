"""The local cluster's pinned versions are stated once in scripts/k8s.sh; the Go modules that build
it and the chart README's "Tested on a real cluster" table must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = (ROOT / "scripts" / "k8s.sh").read_text()
KUBERNETES_MOD = (ROOT / "scripts" / "k8s" / "kubernetes" / "go.mod").read_text()
COREDNS_MOD = (ROOT / "scripts" / "k8s" / "coredns" / "go.mod").read_text()
CHART_README = (ROOT / "helm" / "fedapay-bridge" / "README.md").read_text()


def pinned(name: str) -> str:
    found = re.search(rf"^readonly {name}=(v[0-9.]+)$", SCRIPT, re.MULTILINE)
    assert found, f"scripts/k8s.sh does not pin {name}"
    return found.group(1)


K8S = pinned("K8S_VERSION")
COREDNS = pinned("COREDNS_VERSION")


def test_the_build_module_requires_the_pinned_kubernetes() -> None:
    assert re.search(rf"^require k8s\.io/kubernetes {re.escape(K8S)}$", KUBERNETES_MOD, re.M)


def test_every_staging_module_is_pinned_to_the_matching_release() -> None:
    staging = "v0." + K8S.split(".", 1)[1]
    replaces = re.findall(r"^\t(k8s\.io/\S+) => (\S+) (\S+)$", KUBERNETES_MOD, re.MULTILINE)
    assert len(replaces) == 31
    assert {(module, target, version) for module, target, version in replaces} == {
        (module, module, staging) for module, _, _ in replaces
    }


def test_the_coredns_module_requires_the_pinned_coredns() -> None:
    assert re.search(
        rf"^require github\.com/coredns/coredns {re.escape(COREDNS)}$", COREDNS_MOD, re.M
    )


@pytest.mark.parametrize("version", [K8S, COREDNS])
def test_the_chart_readme_states_the_tested_versions(version: str) -> None:
    section = CHART_README.split("## Tested on a real cluster", 1)[1]
    assert f"| {version} |" in section or f"CoreDNS {version} |" in section

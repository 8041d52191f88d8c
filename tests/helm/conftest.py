"""Fixtures of the chart and image tests: the pinned helm and cached renders of the chart.

These tests never skip: without helm (or hadolint) they fail and say how to install it, so that
CI cannot pass without running them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helm.chart import CI_VALUES, Rendered, find_helm, render

#: The values sets the chart is tested with: the defaults and each file of the chart's ci/.
VALUE_SETS: dict[str, tuple[Path, ...]] = {
    "default": (),
    **{path.stem: (path,) for path in sorted(CI_VALUES.glob("*.yaml"))},
}


class Renderer:
    """Renders the chart, each distinct set of values once per session."""

    def __init__(self, helm: Path) -> None:
        self.helm = helm
        self._cache: dict[tuple[tuple[Path, ...], tuple[str, ...]], Rendered] = {}

    def __call__(self, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> Rendered:
        key = (tuple(values_files), tuple(sets))
        if key not in self._cache:
            self._cache[key] = render(self.helm, key[0], key[1])
        return self._cache[key]

    def value_set(self, name: str, sets: Sequence[str] = ()) -> Rendered:
        return self(VALUE_SETS[name], sets)


@pytest.fixture(scope="session")
def helm() -> Path:
    found = find_helm()
    if found is None:
        pytest.fail(
            "helm is not installed: run scripts/helm.sh (it installs the pinned helm into "
            ".cache/bin, where these tests look first)",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def renderer(helm: Path) -> Renderer:
    return Renderer(helm)

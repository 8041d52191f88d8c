"""The simulated scenario the simulator's tests share."""

from __future__ import annotations

import pytest

from simulator.lifecycle import Scenario, generate


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(400, 30, seed=7, illegal=0.1)

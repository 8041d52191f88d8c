"""A short, bounded run of the atheris fuzz targets in fuzz/ (the long run is fuzz/run.sh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.procs import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

RUNS = {"signature": 30_000, "request": 3_000}
#: libFuzzer's limit per input: a hang detector, far above any input's real time (well under
#: a second; 20 s was exceeded on a starved 2-core machine: SIGALRM, exit -14).
INPUT_TIMEOUT_S = 120


@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzz_target_finds_nothing(target: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "fuzz" / f"fuzz_{target}.py"),
            f"-runs={RUNS[target]}",
            f"-dict={REPO_ROOT / 'fuzz' / 'signature.dict'}",
            "-seed=1",
            f"-timeout={INPUT_TIMEOUT_S}",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert f"Done {RUNS[target]} runs" in output, output[-2000:]

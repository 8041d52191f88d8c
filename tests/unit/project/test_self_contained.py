"""The project stands on its own: nothing it runs or tests reads outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.fixtures import FIXTURES, fixture_bytes

REPO_ROOT = Path(__file__).resolve().parents[3]
#: A path that climbs out of the repository to the notes kept beside it.
OUTSIDE = re.compile(
    r"""\.\./shared|parents?\[\d\]\s*/\s*["']shared["']|\.parent\s*/\s*["']shared"""
)


def test_fixtures_live_in_the_repository() -> None:
    assert FIXTURES.is_relative_to(REPO_ROOT)
    assert fixture_bytes("transaction.approved.json").startswith(b"{")


def test_no_source_file_reads_beside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.sh", "Dockerfile", ".ci/*"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if name != "tests/unit/project/test_self_contained.py"
        and OUTSIDE.search((REPO_ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []

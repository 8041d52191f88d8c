"""Shared test fixtures: real FedaPay bodies kept beside the project, not inside it."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES: Path = PROJECT_ROOT.parent / "shared" / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of ``SHARED_FIXTURES / name``, byte for byte (no decoding)."""
    return (SHARED_FIXTURES / name).read_bytes()

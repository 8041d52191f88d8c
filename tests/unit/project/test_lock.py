"""The lock files: every dependency pyproject.toml names is pinned there, with hashes, inside
pyproject's range; the Dockerfile and scripts/setup.sh (hence .ci/run) install from them.

A dependency added to or changed in pyproject.toml without regenerating the locks (the command is
at the top of each lock) fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def pins(lock: Path) -> dict[str, str]:
    """name -> version of every ``name==version`` line; each must be followed by a hash."""
    lines = lock.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = _PIN.match(line)
        if match is None:
            assert not re.match(r"^[A-Za-z0-9]", line), f"{lock.name}: unhashed line {line!r}"
            continue
        assert lines[index + 1].strip().startswith("--hash=sha256:"), f"{lock.name}: {line}"
        found[canonicalize_name(match[1])] = match[2]
    return found


def named(*extras: str) -> list[Requirement]:
    texts = list(PYPROJECT["dependencies"])
    for extra in extras:
        texts += PYPROJECT["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize(
    ("lock", "extras"), [(RUNTIME_LOCK, ("uvloop",)), (DEV_LOCK, ("dev", "uvloop"))]
)
def test_every_dependency_of_pyproject_is_pinned_in_range(
    lock: Path, extras: tuple[str, ...]
) -> None:
    locked = pins(lock)
    for requirement in named(*extras):
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in {lock.name}: regenerate it"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {requirement.name}=={version} outside {requirement}: regenerate it"
        )


def test_the_dev_lock_pins_the_runtime_exactly_as_the_image_does() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime


def test_aiohttp_floor_excludes_releases_with_known_smuggling_and_decompression_bugs() -> None:
    (aiohttp,) = [r for r in named() if canonicalize_name(r.name) == "aiohttp"]
    assert not aiohttp.specifier.contains("3.13.2")
    assert not aiohttp.specifier.contains("3.9.5")
    assert SpecifierSet(">=3.13.3").contains(pins(RUNTIME_LOCK)["aiohttp"])


def test_image_and_setup_install_from_the_locks_with_hashes() -> None:
    dockerfile = " ".join(
        (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").split()
    )
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps" in dockerfile
    assert "!requirements.lock" in (ROOT / ".dockerignore").read_text(encoding="utf-8")
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in setup
    assert "--no-deps -e ." in setup
    assert "requirements-dev.lock" in setup.split("wanted=", 1)[1].splitlines()[0]

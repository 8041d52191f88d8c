#!/usr/bin/env bash
# Creates .venv and installs the bridge with its extras (dev, uvloop): every dependency from
# requirements-dev.lock (pinned, hash-checked), then the project itself without dependencies.
# Idempotent: reinstalls only when pyproject.toml or the lock changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.fedapay-bridge-installed"
wanted="$(cat pyproject.toml requirements-dev.lock | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  echo "setup: installing the bridge and its dev tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements-dev.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$wanted" > "$stamp"
fi
echo "setup: ready (.venv/bin/fedapay-bridge)"

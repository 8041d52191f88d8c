#!/usr/bin/env bash
# Runs every benchmark against the local broker, then writes bench/README.md's figures and the PNG.
#   bench/run_all.sh [python -m bench all options, e.g. --seconds 5 --rounds 1 --events 5000]
# Needs: the project's virtualenv with the `bench` extra (matplotlib, psutil, py-spy, quixstreams)
# and `wrk` (Debian: apt-get install wrk). Every target is on 127.0.0.1. Takes about 18 minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
command -v wrk >/dev/null || { echo "run_all.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
python -c "import matplotlib, psutil, quixstreams" 2>/dev/null || {
  echo "run_all.sh: install the bench extra (pip install -e '.[bench]')" >&2
  exit 1
}
scripts/kafka.sh start >/dev/null
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
exec python -m bench all "$@"

#!/usr/bin/env bash
# Bounded fuzz run (atheris/libFuzzer) of both targets, outside CI:
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 300)
# The corpus persists in .cache/fuzz/<target>/, crash inputs land in .cache/fuzz/crash-*.
# Exit status: 0 when no target found a failing input. CI runs a short version of the same
# targets (tests/reliability/test_fuzz.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source .venv/bin/activate
seconds="${1:-300}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: seconds must be a number" >&2; exit 2; }
status=0
for target in signature request; do
  corpus=".cache/fuzz/$target"
  mkdir -p "$corpus"
  echo "== fuzz $target for ${seconds}s"
  python "fuzz/fuzz_$target.py" -dict=fuzz/signature.dict -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=20 -artifact_prefix=".cache/fuzz/crash-$target-" "$corpus" \
    >".cache/fuzz/$target.log" 2>&1 || status=1
  grep -E "DONE|Done [0-9]+ runs|ERROR|AssertionError" ".cache/fuzz/$target.log" | tail -4
done
exit "$status"

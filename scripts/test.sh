#!/usr/bin/env bash
# The whole test suite, as the README gives it and as CI runs it:
# install, lint, type-check, start (or reuse) the local Kafka broker, run every test (the
# real-cluster ones too when scripts/k8s.sh's cluster is up), and fail if any test was skipped or
# the broker tests did not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/setup.sh
if [[ -x scripts/helm.sh ]]; then scripts/helm.sh >/dev/null; fi
if [[ -x scripts/prometheus.sh ]]; then scripts/prometheus.sh >/dev/null; fi

# shellcheck disable=SC1091
source .venv/bin/activate
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy (strict)"; mypy

started_kafka=0
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi
stop_kafka() { if [[ $started_kafka == 1 ]]; then scripts/kafka.sh stop --purge || true; fi; }
trap stop_kafka EXIT
export FEDAPAY_TEST_KAFKA_BOOTSTRAP="$(scripts/kafka.sh bootstrap)"

# The chart's real-cluster tests (tests/k8s) run when the local Kubernetes is up (.ci/run brings
# it up first); otherwise they are not collected.
if [[ -x scripts/k8s.sh ]] && scripts/k8s.sh status >/dev/null 2>&1; then
  export FEDAPAY_TEST_K8S=1
  echo "== the local Kubernetes is up: tests/k8s run too"
fi

echo "== pytest"
mkdir -p .cache
status=0
python -m pytest --junitxml=.cache/junit.xml "$@" || status=$?
python scripts/check_junit.py .cache/junit.xml || status=1
exit "$status"

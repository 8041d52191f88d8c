#!/usr/bin/env bash
# One command, on a fresh machine: install, start a real local Kafka broker, provision the
# topics, run the ingress and a stream worker, post a simulated FedaPay stream (signed, with
# duplicates and reordering) and show what landed in Kafka. Then keeps running until Ctrl-C.
#
#   scripts/demo.sh            run and keep the bridge up (webhook URL printed)
#   scripts/demo.sh --once     run the showcase, then stop everything it started
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
once=0
[[ "${1:-}" == "--once" ]] && once=1

scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate

run_dir="$ROOT/.cache/demo"
mkdir -p "$run_dir"
# The broker scripts/kafka.sh starts or finds (KAFKA_PORT, default 9092), unless set.
export FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS="${FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS:-$(scripts/kafka.sh bootstrap)}"
export FEDAPAY_BRIDGE_WEBHOOKS=sandbox
export FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_SECRETS="${DEMO_SECRET:-wh_sandbox_demo_secret}"
export FEDAPAY_BRIDGE_HTTP_PORT="${DEMO_PORT:-8080}"
export FEDAPAY_BRIDGE_LOG_FORMAT=text
export FEDAPAY_BRIDGE_DATA_DIR="$run_dir/worker-data"
# The worker's query API needs a bearer token: a random one in a file of the demo's own (the
# query CLI reads the same setting), unless FEDAPAY_BRIDGE_QUERY_TOKEN(_FILE) is set already.
if [[ -z "${FEDAPAY_BRIDGE_QUERY_TOKEN:-}${FEDAPAY_BRIDGE_QUERY_TOKEN_FILE:-}" ]]; then
  (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$run_dir/query-token")
  export FEDAPAY_BRIDGE_QUERY_TOKEN_FILE="$run_dir/query-token"
fi
url="http://127.0.0.1:${FEDAPAY_BRIDGE_HTTP_PORT}/webhooks/sandbox"

pids=()
started_kafka=0
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $started_kafka == 1 ]]; then scripts/kafka.sh stop --purge || true; fi
}
trap cleanup EXIT

if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started_kafka=1
fi
# On a broker of its own the demo uses the real topic names; on a reused broker it keeps its
# records apart from earlier runs with a topic prefix and consumer group of its own.
prefix=fedapay
if [[ $started_kafka == 0 ]]; then
  prefix="demo$(date +%s)"
  echo "demo: reusing a running broker: topics are prefixed $prefix instead of fedapay"
fi
export FEDAPAY_BRIDGE_TOPIC_PREFIX="$prefix"
export FEDAPAY_BRIDGE_APP_ID="$prefix-bridge"
rm -rf "$FEDAPAY_BRIDGE_DATA_DIR"

has_streams=0
if fedapay-bridge --help | grep -q "worker"; then has_streams=1; fi
if [[ $has_streams == 1 ]]; then
  echo "demo: provisioning topics"
  fedapay-bridge topics create
fi

echo "demo: starting the ingress on $url (log: $run_dir/ingress.log)"
fedapay-bridge ingress >"$run_dir/ingress.log" 2>&1 &
pids+=($!)
if [[ $has_streams == 1 ]]; then
  echo "demo: starting a stream worker (log: $run_dir/worker.log)"
  fedapay-bridge worker >"$run_dir/worker.log" 2>&1 &
  pids+=($!)
fi

for _ in $(seq 1 100); do
  if python -c "import sys,urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:${FEDAPAY_BRIDGE_HTTP_PORT}/readyz', timeout=1).status != 200)" 2>/dev/null; then
    break
  fi
  sleep 0.3
done

echo "demo: posting 30 simulated transactions (30% duplicates, shuffled, 10% with an illegal transition, 16 concurrent)"
fedapay-bridge simulate --url "$url" --secret "$FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_SECRETS" \
  --transactions 30 --customers 5 --duplicates 0.3 --shuffle --illegal 0.1 --concurrency 16 --seed 7

echo
fedapay-bridge peek "$prefix.raw" --limit 8
if [[ $has_streams == 1 ]]; then
  sleep "${DEMO_SETTLE_SECONDS:-8}"
  for topic in transaction.approved transaction.status anomalies; do
    echo; fedapay-bridge peek "$prefix.$topic" --limit 5
  done
  worker_url="http://127.0.0.1:${FEDAPAY_BRIDGE_WEB_PORT:-6066}"
  echo; echo "\$ fedapay-bridge query summary --minutes 10"
  fedapay-bridge query --url "$worker_url" summary --minutes 10
fi

if [[ $once == 1 ]]; then
  echo; echo "demo: done"
  exit 0
fi
echo
echo "demo: the bridge is running. Webhook URL: $url  (secret: \$FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_SECRETS)"
echo "demo: metrics at http://127.0.0.1:${FEDAPAY_BRIDGE_HTTP_PORT}/metrics; queries: fedapay-bridge query --token-file ${FEDAPAY_BRIDGE_QUERY_TOKEN_FILE:-<your token file>} summary (--help for more). Ctrl-C stops everything."
wait

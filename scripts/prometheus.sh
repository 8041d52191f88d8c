#!/usr/bin/env bash
# Installs Prometheus and promtool from Debian's `prometheus` package (apt-get) unless both are
# on PATH, and prints promtool's path. The observability tests (tests/observability, marker
# `prometheus`) run them: promtool checks and unit-tests the chart's alerting rules, prometheus
# scrapes a real ingress and real workers for the dashboard test.
#
#   scripts/prometheus.sh
#
# Needs root (or sudo) for apt-get the first time; nothing else is changed on the machine (the
# package's own service is not used: the tests start prometheus on loopback themselves).
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi

SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "scripts/prometheus.sh: apt-get needs root; install the prometheus package" >&2
    exit 1
  }
  SUDO=sudo
fi
echo "scripts/prometheus.sh: installing Debian's prometheus package (prometheus, promtool)" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
  --no-install-recommends prometheus >&2
# The package starts its own service where an init system runs; the tests do not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl disable --now prometheus >&2 || true
fi
command -v promtool

#!/usr/bin/env bash
# Installs the pinned Helm v3 CLI into the project's own tool folder (.cache/bin) with `go install`
# from the Go module proxy, and prints the path of the binary.
#
#   scripts/helm.sh          install helm unless the pinned build is already there; print its path
#
# Idempotent: nothing is built when .cache/bin/helm reports the pinned version and its build stamp
# matches. Needs Go 1.24+. The first build takes a few minutes (GOMAXPROCS from the caller applies).
#
# The link flags stamp what the official release binaries carry: the version, and the Kubernetes
# version that `helm template` and `helm lint` assume without --kube-version (the minor of the
# client-go that helm is built against, as the release Makefile derives it).
#
# Environment:
#   HELM_VERSION   the Helm v3 release to install              default v3.19.0
#   HELM_KUBE      Kubernetes major.minor helm assumes          default 1.34 (client-go v0.34)
#   HELM_BIN_DIR   where the binary goes                        default <project>/.cache/bin
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.0}"
HELM_KUBE="${HELM_KUBE:-1.34}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${HELM_BIN_DIR:-$ROOT/.cache/bin}"
HELM="$BIN_DIR/helm"
STAMP="$BIN_DIR/helm.stamp"
WANT="helm $HELM_VERSION kube $HELM_KUBE"

installed() {
  [[ -x "$HELM" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] || return 1
  [[ "$("$HELM" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]
}

if installed; then
  echo "$HELM"
  exit 0
fi

command -v go >/dev/null 2>&1 || {
  echo "scripts/helm.sh: Go is needed to build helm $HELM_VERSION" >&2
  exit 1
}

kube_major="${HELM_KUBE%%.*}"
kube_minor="${HELM_KUBE#*.}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=$kube_major -X $pkg.k8sVersionMinor=$kube_minor"
done

mkdir -p "$BIN_DIR"
rm -f "$STAMP"
echo "scripts/helm.sh: building helm $HELM_VERSION into $BIN_DIR (takes a few minutes)" >&2
GOBIN="$BIN_DIR" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$WANT" >"$STAMP"

if ! installed; then
  echo "scripts/helm.sh: the built helm does not report $HELM_VERSION" >&2
  exit 1
fi
echo "$HELM"

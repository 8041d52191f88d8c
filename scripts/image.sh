#!/usr/bin/env bash
# Builds the project's container image from the repository's Dockerfile, then smoke-runs it.
#
#   scripts/image.sh            build (base image cached) and smoke-test localhost/fedapay-bridge:dev
#   scripts/image.sh --no-smoke build only
#
# With a working Docker engine it runs `docker build` / `docker run`. Without one (this project's CI
# machines: no engine, no image registry reachable) it builds with buildah and runs with podman on
# a base image made locally: Debian bookworm (minbase) with Debian's Python 3.11, made with
# debootstrap and imported as localhost/python:3.11-slim-bookworm, the name the Dockerfile's
# PYTHON_IMAGE argument is given. The base root filesystem is cached under .cache/image/, so a
# second run only rebuilds the project layers.
#
# The build-only base trusts the host's locally added CA certificates (outbound HTTPS may be
# inspected), so pip inside the build can reach the package index; the Dockerfile is unchanged.
#
# Smoke test: `--help`, and the ingress answering GET /healthz with a read-only root filesystem,
# a tmpfs /tmp, as uid 10001 (checked from inside the running container). The containers use the
# host's network (the ingress on 127.0.0.1 only) or none: no bridge, no firewall rule is made.
#
# Environment:
#   IMAGE            the tag to build                      default localhost/fedapay-bridge:dev
#   PYTHON_IMAGE     the base image name                    default localhost/python:3.11-slim-bookworm
#   IMAGE_SMOKE_PORT host port for the /healthz check       default 18080
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-localhost/fedapay-bridge:dev}"
PYTHON_IMAGE="${PYTHON_IMAGE:-localhost/python:3.11-slim-bookworm}"
SMOKE_PORT="${IMAGE_SMOKE_PORT:-18080}"
CACHE="$ROOT/.cache/image"
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python3-pip,python-is-python3,ca-certificates
# The base tarball's name carries what it is made of, so a change makes a new one.
BASE_TAR="$CACHE/base-$SUITE-$(echo "$BASE_PACKAGES" | sha256sum | cut -c1-12).tar"
# podman cannot raise limits without CAP_SYS_RESOURCE on these machines; stay under them.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

log() { echo "scripts/image.sh: $*" >&2; }
die() { log "$*"; exit 1; }

have_docker() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# Without Docker: Debian's tools, installed with apt-get when missing.
ensure_tools() {
  local tool
  for tool in debootstrap buildah podman runc curl; do
    command -v "$tool" >/dev/null && continue
    command -v apt-get >/dev/null || die "$tool is missing (needs: debootstrap buildah podman runc curl)"
    log "installing debootstrap buildah podman runc curl (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      debootstrap buildah podman runc curl >/dev/null
    return
  done
}

# ---- base image ------------------------------------------------------------------------------
make_base_tar() {
  local rootfs
  rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  log "debootstrap $SUITE (minbase + $BASE_PACKAGES), a few minutes"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" >"$CACHE/debootstrap.log" 2>&1 \
    || { rm -rf "$rootfs"; die "debootstrap failed, see $CACHE/debootstrap.log"; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$BASE_TAR.tmp" .
  rm -rf "$rootfs"
  mv "$BASE_TAR.tmp" "$BASE_TAR"
}

ensure_base() {
  if podman image exists "$PYTHON_IMAGE"; then return; fi
  mkdir -p "$CACHE"
  [[ -f "$BASE_TAR" ]] || make_base_tar
  log "importing $BASE_TAR as $PYTHON_IMAGE"
  podman import --quiet --change 'CMD ["python3"]' "$BASE_TAR" "$PYTHON_IMAGE" >/dev/null
}

# ---- build -----------------------------------------------------------------------------------
build() {
  if have_docker; then
    docker build -t "$IMAGE" "$ROOT"
    return
  fi
  ensure_tools
  ensure_base
  log "buildah bud -> $IMAGE"
  buildah bud --quiet --layers --runtime "$(command -v runc)" --network=host "${ULIMITS[@]}" \
    --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" -t "$IMAGE" "$ROOT" >/dev/null
}

# ---- smoke test ------------------------------------------------------------------------------
engine() { if have_docker; then docker "$@"; else podman "$@"; fi; }

smoke() {
  local name out id status
  engine run --rm --network=none "${ULIMITS[@]}" "$IMAGE" --help >/dev/null || die "smoke: --help failed"
  log "smoke: --help ok"
  name="fedapay-bridge-smoke-$$"
  engine run -d --name "$name" "${ULIMITS[@]}" --read-only --tmpfs /tmp --network=host \
    -e FEDAPAY_BRIDGE_HTTP_HOST=127.0.0.1 -e FEDAPAY_BRIDGE_HTTP_PORT="$SMOKE_PORT" \
    -e FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 \
    -e FEDAPAY_BRIDGE_WEBHOOKS=smoke -e FEDAPAY_BRIDGE_WEBHOOK_SMOKE_SECRETS=wh_smoke_only \
    "$IMAGE" >/dev/null
  trap 'engine rm -f "$name" >/dev/null 2>&1 || true' EXIT
  status=""
  for _ in $(seq 1 60); do
    status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SMOKE_PORT/healthz" || true)"
    [[ "$status" == 200 ]] && break
    sleep 0.5
  done
  if [[ "$status" != 200 ]]; then
    engine logs "$name" 2>&1 | tail -20 >&2
    die "smoke: /healthz answered '${status}' instead of 200"
  fi
  id="$(engine exec "$name" id -u)"
  [[ "$id" == 10001 ]] || die "smoke: the ingress runs as uid $id, not 10001"
  out="$(engine exec "$name" sh -c 'touch /probe 2>&1 || true')"
  [[ "$out" == *"Read-only file system"* ]] || die "smoke: the root filesystem is writable ($out)"
  log "smoke: /healthz 200, uid 10001, read-only root filesystem"
  engine rm -f "$name" >/dev/null
  trap - EXIT
}

main() {
  local smoke_test=1
  case "${1:-}" in
    "") ;;
    --no-smoke) smoke_test=0 ;;
    -h | --help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
  local start=$SECONDS
  build
  log "built $IMAGE in $((SECONDS - start)) s"
  [[ $smoke_test == 1 ]] && smoke
  return 0
}

main "$@"

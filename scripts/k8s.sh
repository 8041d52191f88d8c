#!/usr/bin/env bash
# A real single-node Kubernetes (v1.34.4) for the chart's tests, in its own network namespace.
#
#   scripts/k8s.sh up       build what is missing, start the cluster, wait for the node and DNS
#   scripts/k8s.sh down     stop everything this script started (by PID), remove the namespace,
#                           mounts and cgroups it made, restore the sysctls the kubelet changed
#   scripts/k8s.sh status   exit 0 if the cluster answers and the node is Ready, 3 if not
#   scripts/k8s.sh env      print shell assignments for the tests (kubeconfig, addresses, tools)
#   scripts/k8s.sh build    only build the components and images (cached)
#   scripts/k8s.sh load IMAGE   copy a local (podman) image into the node's containerd
#   scripts/k8s.sh host-state   print what `down` must leave as `up` found it (CI compares them)
#
# No image registry is reachable and there is no Docker engine on the machines this runs on, so
# everything comes from package registries: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and kubectl are built from the Go module proxy
# (scripts/k8s/kubernetes pins them), CoreDNS likewise (scripts/k8s/coredns), the pod sandbox
# ("pause") is a small static C program (scripts/k8s/pause.c); containerd, runc, etcd and the CNI
# plugins are Debian's (PACKAGES below; apt-get installs them when a command is missing).
# Binaries land in .cache/k8s/<version>/, the Go caches keep the compiled packages: the first build
# took 33 minutes from empty caches on a loaded 2-core machine (README), later ones seconds.
#
# Isolation: every process runs in the network namespace $K8S_NETNS; the node has the address
# $K8S_NODE_IP on a veth pair whose host end is $K8S_HOST_IP (so the host reaches the API server,
# and pods reach a service the host runs on $K8S_HOST_IP, e.g. the Kafka broker). No host iptables
# rule, listening port or forwarding setting changes; the sysctls the kubelet sets are saved at
# `up` and restored at `down`. All state lives under .cache/k8s/run.
#
# Environment:
#   K8S_NETNS     network namespace name        default fbk8s
#   K8S_HOST_IP   host end of the veth (/24)   default 10.213.0.1
#   K8S_NODE_IP   node end of the veth          default 10.213.0.2
set -euo pipefail

readonly K8S_VERSION=v1.34.4
readonly COREDNS_VERSION=v1.14.7
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly NETNS="${K8S_NETNS:-fbk8s}"
readonly HOST_IP="${K8S_HOST_IP:-10.213.0.1}"
readonly NODE_IP="${K8S_NODE_IP:-10.213.0.2}"
readonly HOST_VETH="${NETNS}-host"
readonly NODE_NAME="${NETNS}-node"
readonly POD_CIDR=10.244.0.0/24
readonly SERVICE_CIDR=10.96.0.0/16
readonly API_SERVICE_IP=10.96.0.1
readonly DNS_SERVICE_IP=10.96.0.10
readonly CACHE="$ROOT/.cache/k8s"
readonly BIN="$CACHE/$K8S_VERSION/bin"
readonly IMAGES="$CACHE/$K8S_VERSION/images"
readonly RUN="$CACHE/run"
readonly PKI="$RUN/pki"
readonly PIDS="$RUN/pids"
readonly LOGS="$RUN/logs"
readonly CTR_SOCK="$RUN/containerd/containerd.sock"
readonly KUBECONFIG_ADMIN="$RUN/admin.kubeconfig"
readonly PAUSE_IMAGE=localhost/pause:fedapay-bridge
readonly COREDNS_IMAGE="localhost/coredns:$COREDNS_VERSION"
readonly COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# The kubelet sets these at start (setupKernelTunables); `down` puts the saved values back.
readonly SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
# Host folders the kubelet, containerd or the CNI library write to whatever their configuration
# says (container log links, shim sockets, CNI result cache): `down` removes what this run put in
# them, and the folders themselves when they did not exist before `up`.
readonly HOST_DIRS=(/var/log/containers /run/containerd /var/lib/cni)
# Stopped in this order (reverse of start).
readonly STOP_ORDER=(kubelet kube-proxy containerd kube-scheduler kube-controller-manager kube-apiserver etcd)

log() { echo "k8s.sh: $*" >&2; }
die() { log "$*"; exit 1; }
in_ns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ---- build -----------------------------------------------------------------------------------
go_build() { # <module dir> <package> <output> [ldflags]
  (cd "$1" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w ${4:-}" -o "$3" "$2")
}

build_components() {
  local stamp="$BIN/.stamp" want
  want="$K8S_VERSION $(sha256sum "$ROOT/scripts/k8s/kubernetes/go.sum" | cut -c1-16)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return
  mkdir -p "$BIN"
  local c version="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  version+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"
  for c in "${COMPONENTS[@]}"; do
    log "building $c $K8S_VERSION (Go module proxy; the first build is long)"
    go_build "$ROOT/scripts/k8s/kubernetes" "k8s.io/kubernetes/cmd/$c" "$BIN/$c" "$version"
  done
  echo "$want" >"$stamp"
}

scratch_image() { # <name> <binary> <entrypoint...>: a one-binary image saved for containerd
  local name="$1" binary="$2" archive="$IMAGES/${1//[\/:]/_}.tar" ctr
  shift 2
  [[ -f "$archive" && "$archive" -nt "$binary" ]] && return
  mkdir -p "$IMAGES"
  ctr="$(buildah from scratch)"
  buildah copy "$ctr" "$binary" "/$(basename "$binary")" >/dev/null
  buildah config --entrypoint "$(printf '"%s",' "$@" | sed 's/,$//; s/^/[/; s/$/]/')" "$ctr"
  buildah commit --quiet "$ctr" "$name" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -f "$archive"
  podman save --quiet --format docker-archive -o "$archive" "$name"
}

build_images() {
  if [[ ! -x "$IMAGES/pause" || "$IMAGES/pause" -ot "$ROOT/scripts/k8s/pause.c" ]]; then
    mkdir -p "$IMAGES"
    gcc -static -O2 -Wall -o "$IMAGES/pause" "$ROOT/scripts/k8s/pause.c"
  fi
  scratch_image "$PAUSE_IMAGE" "$IMAGES/pause" /pause
  if [[ ! -x "$IMAGES/coredns" || "$IMAGES/coredns" -ot "$ROOT/scripts/k8s/coredns/go.sum" ]]; then
    log "building CoreDNS $COREDNS_VERSION (Go module proxy)"
    go_build "$ROOT/scripts/k8s/coredns" . "$IMAGES/coredns"
  fi
  scratch_image "$COREDNS_IMAGE" "$IMAGES/coredns" /coredns
}

build() {
  preflight
  command -v go >/dev/null || die "Go is needed to build Kubernetes $K8S_VERSION"
  build_components
  build_images
}

# ---- certificates and configs ----------------------------------------------------------------
cert() { # <name> <subject> [extensions file]: a key and a certificate signed by the cluster CA
  local name="$1" subject="$2" ext="${3:-}"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" \
    -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -out "$PKI/$name.crt" ${ext:+-extfile "$ext"} 2>/dev/null
}

kubeconfig() { # <file> <cert name> <server>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NETNS
  cluster:
    certificate-authority: $PKI/ca.crt
    server: $3
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: $NETNS
  context: {cluster: $NETNS, user: $2}
current-context: $NETNS
EOF
}

make_pki() {
  mkdir -p "$PKI"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -subj "/CN=$NETNS-ca" \
    -days 2 -out "$PKI/ca.crt" 2>/dev/null
  cat >"$PKI/apiserver.ext" <<EOF
subjectAltName=IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
  cert apiserver "/CN=kube-apiserver" "$PKI/apiserver.ext"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kube-proxy "/CN=system:kube-proxy"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  local api="https://$NODE_IP:6443"
  kubeconfig "$KUBECONFIG_ADMIN" admin "$api"
  kubeconfig "$RUN/controller-manager.kubeconfig" controller-manager "$api"
  kubeconfig "$RUN/scheduler.kubeconfig" scheduler "$api"
  kubeconfig "$RUN/kubelet.kubeconfig" kubelet "$api"
  kubeconfig "$RUN/kube-proxy.kubeconfig" kube-proxy "$api"
}

write_configs() {
  mkdir -p "$RUN/cni/net.d" "$RUN/containerd"
  cat >"$RUN/cni/net.d/10-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$NETNS", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$RUN/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  cat >"$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE in these VMs: runc must not raise oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF
  echo "nameserver $DNS_SERVICE_IP" >"$RUN/resolv.conf"
  cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
containerRuntimeEndpoint: unix://$CTR_SOCK
failSwapOn: false
podLogsDir: $RUN/pod-logs
resolvConf: $RUN/resolv.conf
readOnlyPort: 0
address: $NODE_IP
healthzBindAddress: 127.0.0.1
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
EOF
  cat >"$RUN/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $RUN/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the host-wide conntrack table settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
# No br_netfilter guarantee: masquerade Service traffic so replies come back through the node.
iptables: {masqueradeAll: true}
EOF
}

# ---- processes -------------------------------------------------------------------------------
start() { # <name> <command...>: run in the namespace, in its own session, PID recorded
  local name="$1"
  shift
  mkdir -p "$PIDS" "$LOGS"
  # shellcheck disable=SC2016
  setsid nsenter --net="/run/netns/$NETNS" -- sh -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" \
    >"$LOGS/$name.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do [[ -s "$PIDS/$name.pid" ]] && return; sleep 0.1; done
  die "$name did not start, see $LOGS/$name.log"
}

alive() { [[ -s "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

wait_for() { # <what> <seconds> <command...>
  local what="$1" timeout="$2"
  shift 2
  for _ in $(seq 1 $((timeout * 2))); do
    "$@" >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "timed out after ${timeout}s waiting for $what (logs: $LOGS)"
}

stop_pid() { # <pid> <what>: SIGTERM, then SIGKILL after 15 s
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "$2 (pid $pid) ignored SIGTERM; killing"
  kill -KILL "$pid" 2>/dev/null || true
}

# ---- up --------------------------------------------------------------------------------------
# Debian packages the cluster needs (installed with apt-get when a command is missing).
readonly PACKAGES=(containerd runc etcd-server etcd-client containernetworking-plugins iptables
  conntrack buildah podman gcc libc6-dev openssl iproute2 util-linux curl)

preflight() {
  [[ $EUID == 0 ]] || die "needs root (network namespace, mounts, cgroups)"
  local tool missing=0
  for tool in containerd runc etcd ctr iptables openssl nsenter ip buildah podman gcc curl; do
    command -v "$tool" >/dev/null || missing=1
  done
  [[ -x /usr/lib/cni/bridge ]] || missing=1
  if [[ $missing == 1 ]]; then
    command -v apt-get >/dev/null || die "missing tools; install: ${PACKAGES[*]}"
    log "installing ${PACKAGES[*]} (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  fi
}

save_sysctls() {
  local s
  : >"$RUN/sysctls"
  for s in "${SYSCTLS[@]}"; do echo "$s $(cat "/proc/sys/$s")" >>"$RUN/sysctls"; done
}

make_netns() {
  ip netns add "$NETNS"
  ip link add "$HOST_VETH" type veth peer name eth0 netns "$NETNS"
  ip addr add "$HOST_IP/24" dev "$HOST_VETH"
  ip link set "$HOST_VETH" up
  in_ns ip link set lo up
  in_ns ip addr add "$NODE_IP/24" dev eth0
  in_ns ip link set eth0 up
  in_ns ip route add default via "$HOST_IP"
}

start_control_plane() {
  start etcd etcd --name "$NETNS" --data-dir "$RUN/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NETNS=http://127.0.0.1:2380"
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --authorization-mode=Node,RBAC --client-ca-file="$PKI/ca.crt" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key"
  wait_for "the API server" 120 kubectl_ get --raw /readyz
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$RUN/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key"
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig="$RUN/scheduler.kubeconfig" \
    --authorization-kubeconfig="$RUN/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false
}

start_node() {
  start containerd containerd --config "$RUN/containerd/config.toml"
  wait_for containerd 60 ctr --address "$CTR_SOCK" version
  local archive
  for archive in "$IMAGES"/*.tar; do
    ctr --address "$CTR_SOCK" -n k8s.io images import "$archive" >/dev/null
  done
  start kubelet "$BIN/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$RUN/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$RUN/kubelet"
  start kube-proxy "$BIN/kube-proxy" --config="$RUN/kube-proxy.yaml"
  wait_for "the node to be Ready" 180 kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
}

start_dns() {
  sed -e "s|@IMAGE@|$COREDNS_IMAGE|; s|@DNS_IP@|$DNS_SERVICE_IP|" "$ROOT/scripts/k8s/coredns.yaml" \
    | kubectl_ apply -f - >/dev/null
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null \
    || die "CoreDNS did not become ready (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"
}

up() {
  preflight
  if [[ -e "/run/netns/$NETNS" ]]; then
    status >/dev/null 2>&1 && { log "already up"; return; }
    die "namespace $NETNS exists but the cluster does not answer: run 'scripts/k8s.sh down' first"
  fi
  local t0=$SECONDS
  build
  log "built/checked in $((SECONDS - t0)) s"
  rm -rf "$RUN"
  mkdir -p "$RUN"
  ls /run/netns >"$RUN/netns-before" 2>/dev/null || true
  # `ip netns add` makes /run/netns a mount point (and the directory) when it is not one yet.
  if ! mountpoint -q /run/netns 2>/dev/null; then
    if [[ -d /run/netns ]]; then echo dir-kept; else echo dir-made; fi >"$RUN/netns-mount-made"
  fi
  local dir
  for dir in "${HOST_DIRS[@]}"; do [[ -e "$dir" ]] || echo "$dir" >>"$RUN/host-dirs-made"; done
  ls /var/lib/cni/results >"$RUN/cni-results-before" 2>/dev/null || true
  save_sysctls
  make_netns
  make_pki
  write_configs
  start_control_plane
  start_node
  start_dns
  log "up in $((SECONDS - t0)) s: kubeconfig $KUBECONFIG_ADMIN (API https://$NODE_IP:6443)"
}

# ---- down ------------------------------------------------------------------------------------
pod_pids() { # every process in the kubelet's pod cgroups, in any hierarchy
  find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

netns_pids() { # processes still in our network namespace (containerd shims)
  local ns p
  ns="$(stat -L -c %i "/run/netns/$NETNS" 2>/dev/null)" || return 0
  for p in /proc/[0-9]*; do
    [[ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" == "$ns" ]] && echo "${p#/proc/}"
  done
  return 0
}

remove_cgroups() { # depth-first: a cgroup can only be removed once its children are
  local dir
  for dir in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

unmount_under() { # every mount point below $1, deepest first
  local m
  awk '{print $2}' /proc/self/mounts | { grep -F "$1" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

clean_host_dirs() {
  local link dir
  for link in /var/log/containers/*.log; do
    [[ -L "$link" && "$(readlink "$link")" == "$RUN/"* ]] && rm -f "$link"
  done
  # The CNI library caches each sandbox's result there; pods killed with the node leave theirs.
  for link in /var/lib/cni/results/*; do
    [[ -e "$link" ]] || continue
    grep -qxF "$(basename "$link")" "$RUN/cni-results-before" 2>/dev/null || rm -f "$link"
  done
  [[ -f "$RUN/host-dirs-made" ]] || return 0
  while read -r dir; do
    [[ -d "$dir" ]] && find "$dir" -depth -type d -empty -delete 2>/dev/null
  done <"$RUN/host-dirs-made"
  return 0
}

unmount_netns_dir() { # undo the /run/netns mount point `ip netns add` made, once it is empty
  local made i
  made="$(cat "$RUN/netns-mount-made" 2>/dev/null)" || return 0
  [[ -z "$(ls -A /run/netns 2>/dev/null)" ]] || return 0
  for i in 1 2 3; do mountpoint -q /run/netns && umount /run/netns; done
  if [[ "$made" == dir-made ]]; then rmdir /run/netns 2>/dev/null || true; fi
  return 0
}

down() {
  local name pid ns
  if alive kubelet; then stop_pid "$(cat "$PIDS/kubelet.pid")" kubelet; fi
  for pid in $(pod_pids); do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in $(pod_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  for name in "${STOP_ORDER[@]:1}"; do
    if alive "$name"; then stop_pid "$(cat "$PIDS/$name.pid")" "$name"; fi
  done
  for pid in $(netns_pids); do stop_pid "$pid" "process in $NETNS"; done
  unmount_under "$RUN/"
  # Pod network namespaces the CRI made during this run.
  for ns in /run/netns/cni-*; do
    [[ -e "$ns" ]] || continue
    ns="$(basename "$ns")"
    grep -qx "$ns" "$RUN/netns-before" 2>/dev/null && continue
    umount "/run/netns/$ns" 2>/dev/null || true
    rm -f "/run/netns/$ns"
  done
  remove_cgroups
  clean_host_dirs
  if [[ -e "/run/netns/$NETNS" ]]; then ip netns del "$NETNS"; fi
  unmount_netns_dir
  ip link del "$HOST_VETH" 2>/dev/null || true
  if [[ -f "$RUN/sysctls" ]]; then
    while read -r name value; do echo "$value" >"/proc/sys/$name"; done <"$RUN/sysctls"
  fi
  rm -rf "$RUN"
  log "down"
}

# ---- load ------------------------------------------------------------------------------------
load() { # <image>: pods use it with imagePullPolicy Never/IfNotPresent (no registry here)
  [[ -n "${1:-}" ]] || die "usage: scripts/k8s.sh load IMAGE"
  alive containerd || die "the cluster is not up"
  local archive
  archive="$(mktemp "$RUN/image.XXXXXX.tar")"
  podman save --quiet --format docker-archive -o "$archive" "$1"
  ctr --address "$CTR_SOCK" -n k8s.io images import "$archive" >/dev/null
  rm -f "$archive"
  log "loaded $1"
}

# ---- host state ------------------------------------------------------------------------------
host_state() { # what `up` may touch on the host, and `down` must leave as it found it
  local s
  for s in "${SYSCTLS[@]}" net/ipv4/ip_forward; do echo "sysctl $s=$(cat "/proc/sys/$s")"; done
  # A host with no iptables table loaded prints nothing (grep then finds no line: not an error).
  { iptables-save 2>/dev/null || true; } | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'
  ip -o link show | awk '{print "link", $2}'
  ip route | sed 's/^/route /'
  for s in /run/netns/* "${HOST_DIRS[@]}" /sys/fs/cgroup/*/kubepods; do
    [[ -e "$s" ]] && echo "path $s"
  done
  awk '{print "mount", $2}' /proc/self/mounts | grep -F -e "$ROOT" -e /run/netns -e kubelet || true
  ss -Hltn 2>/dev/null | awk '{print "listen", $4}' | grep -F -e "$HOST_IP" -e ":6443" -e ":10250" || true
  return 0
}

# ---- status / env ----------------------------------------------------------------------------
status() {
  local name rc=0
  for name in "${STOP_ORDER[@]}"; do
    if alive "$name"; then echo "$name running (pid $(cat "$PIDS/$name.pid"))"; else echo "$name stopped"; rc=3; fi
  done
  [[ $rc == 0 ]] || return 3
  kubectl_ get nodes -o wide 2>/dev/null || return 3
  kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s >/dev/null 2>&1 || return 3
}

print_env() {
  cat <<EOF
K8S_KUBECONFIG=$KUBECONFIG_ADMIN
K8S_KUBECTL=$BIN/kubectl
K8S_NETNS=$NETNS
K8S_HOST_IP=$HOST_IP
K8S_NODE_IP=$NODE_IP
K8S_NODE_NAME=$NODE_NAME
K8S_VERSION=$K8S_VERSION
K8S_CTR_SOCK=$CTR_SOCK
K8S_STORAGE_DIR=$RUN/volumes
EOF
}

# Sourcing the script (for debugging) defines the functions and runs nothing.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    env) print_env ;;
    build) build ;;
    load) load "${2:-}" ;;
    host-state) host_state ;;
    *) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
fi

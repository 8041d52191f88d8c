#!/usr/bin/env bash
# A real local Apache Kafka broker (KRaft, one node that is both broker and controller) for
# development, the tests and CI. Needs only Java 17+ and Maven (for the first run).
#
#   scripts/kafka.sh start            start a broker, or reuse one that already answers on the port
#   scripts/kafka.sh stop [--purge]   stop the broker this script started (--purge: delete its data)
#   scripts/kafka.sh status           exit 0 if a broker answers on the port, 3 if not
#   scripts/kafka.sh log              print the path of the broker's log file
#   scripts/kafka.sh bootstrap        print host:port for clients
#   scripts/kafka.sh client-env       print the bridge's FEDAPAY_BRIDGE_KAFKA_* settings for the
#                                     SASL_SSL listener (only with KAFKA_SASL_SSL_PORT)
#
# Environment:
#   KAFKA_PORT             client (PLAINTEXT) port on 127.0.0.1            default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1              default KAFKA_PORT+1
#                          (so give several instances ports at least 2 apart)
#   KAFKA_DATA_DIR         data folder; formatted on first use, reused (data kept) when it
#                          already is. Default: a fresh temporary folder at every start.
#   KAFKA_STATE_DIR        pid file, data-folder pointer, log    default .cache/kafka/run-<port>
#   KAFKA_HEAP             JVM heap options                      default "-Xmx512m -Xms256m"
#   KAFKA_JVM_OPTS         extra JVM options                     default none
#   KAFKA_START_TIMEOUT    seconds to wait for the broker        default 60
#   KAFKA_EXTRA_LISTENER   host:port of one more PLAINTEXT listener (named EXTRA), advertised
#                          as given: e.g. an address pods of a local cluster reach (scripts/k8s.sh)
#
# Opt-in secured listener (off unless KAFKA_SASL_SSL_PORT is set; the PLAINTEXT listener stays):
#   KAFKA_SASL_SSL_PORT    also listen with SASL_SSL (TLS + SCRAM-SHA-512) on 127.0.0.1:<port>.
#                          At every start a throwaway CA (2 days) signs the broker's certificate
#                          (IP 127.0.0.1, DNS localhost): KAFKA_STATE_DIR/tls/ca.crt is what
#                          clients must trust. Needs openssl.
#   KAFKA_SASL_USERNAME    the SCRAM-SHA-512 user created with the store     default bridge
#   KAFKA_SASL_PASSWORD    its password                  default: random, made with the store
#                          The user is created when the data folder is formatted, and kept with
#                          it: a reused data folder keeps its user and password (KAFKA_SASL_* are
#                          then ignored). Clients read the password from KAFKA_STATE_DIR/sasl/password.
#
# The jars (Kafka and its runtime dependencies plus a log4j2 backend) are fetched once with Maven
# into .cache/kafka/<version>/libs; later runs use that folder and never touch the network.
#
# Broker defaults chosen for tests: topics are auto-created on first use with 3 partitions
# (tests use unique topic prefixes), replication factor and min.insync.replicas are 1,
# consumer groups start without the initial rebalance delay.
set -euo pipefail

readonly KAFKA_VERSION=4.1.2
readonly SCALA_VERSION=2.13

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly POM="$ROOT/scripts/kafka/pom.xml"
readonly LOG4J2_CONFIG="$ROOT/scripts/kafka/log4j2.xml"
readonly CACHE_DIR="$ROOT/.cache/kafka/$KAFKA_VERSION"
readonly LIBS="$CACHE_DIR/libs"

PORT="${KAFKA_PORT:-9092}"
[[ "$PORT" =~ ^[0-9]{1,5}$ ]] || {
  echo "kafka.sh: KAFKA_PORT is not a TCP port: $PORT" >&2
  exit 1
}
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((10#$PORT + 1))}"
STATE_DIR="${KAFKA_STATE_DIR:-$ROOT/.cache/kafka/run-$PORT}"
HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-}"
readonly PORT CONTROLLER_PORT STATE_DIR HEAP START_TIMEOUT SASL_SSL_PORT
readonly HOST=127.0.0.1
readonly PID_FILE="$STATE_DIR/broker.pid"
readonly DATA_POINTER="$STATE_DIR/data-dir"
readonly LOG_FILE="$STATE_DIR/server.log"
readonly CONSOLE_FILE="$STATE_DIR/console.log"
# Marks a data folder as made by this script, so that `stop --purge` never removes anything else.
readonly DATA_MARKER=".kafka-sh-data"
readonly STARTED_MESSAGE="Kafka Server started"
# The secured listener: its TLS files (remade at every start) and its SCRAM user.
readonly TLS_DIR="$STATE_DIR/tls"
readonly SASL_DIR="$STATE_DIR/sasl"
readonly SASL_MECHANISM=SCRAM-SHA-512
# In a data folder: the SCRAM user (first line) and password (second) it was formatted with.
readonly SCRAM_MARKER=".kafka-sh-scram"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

check_port() {
  if [[ ! "$1" =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
    die "not a TCP port: $1"
  fi
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java || die "java (17 or newer) is not installed"
  fi
}

now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Holds an exclusive lock on file $1 through file descriptor $2 until the script exits
# (fd 9: this port's state, fd 8: the jar cache). Without flock (rare), runs unlocked.
lock() {
  mkdir -p "$(dirname "$1")"
  eval "exec $2>\"\$1\""
  if command -v flock >/dev/null; then
    flock -w 120 "$2" || die "timed out waiting for the lock $1"
  fi
}

# --- jars ------------------------------------------------------------------------------------

libs_ready() { [[ -f "$LIBS/.complete" ]]; }

fetch_libs() {
  libs_ready && return 0
  lock "$CACHE_DIR/.fetch.lock" 8
  libs_ready && return 0 # another run fetched them while we waited
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch the Kafka jars"
  echo "Fetching Apache Kafka $KAFKA_VERSION jars (once) into $LIBS ..."
  local started tmp fetch_log
  started="$(now)"
  tmp="$(mktemp -d "$CACHE_DIR/libs.tmp.XXXXXX")"
  fetch_log="$CACHE_DIR/fetch.log"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" -Dkafka.version="$KAFKA_VERSION" \
    >"$fetch_log" 2>&1; then
    tail -n 30 "$fetch_log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch the Kafka jars (full output: $fetch_log)"
  fi
  local jar
  for jar in "kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" log4j-core-*.jar log4j-slf4j-impl-*.jar; do
    compgen -G "$tmp/$jar" >/dev/null || {
      rm -rf "$tmp"
      die "fetched jars lack $jar"
    }
  done
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  echo "Fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(since "$started") s"
}

# --- probes ----------------------------------------------------------------------------------

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# True when a Kafka broker answers on 127.0.0.1:$1: sends an ApiVersions v0 request and checks
# that the reply carries its correlation id.
kafka_answers() {
  local reply
  # size=18 | api_key=18 | api_version=0 | correlation_id=0x2a2a2a2a | client_id="kafka.sh"
  reply="$(timeout 3 bash -c "
    exec 3<>/dev/tcp/$HOST/$1 || exit 1
    printf '\\x00\\x00\\x00\\x12\\x00\\x12\\x00\\x00\\x2a\\x2a\\x2a\\x2a\\x00\\x08kafka.sh' >&3
    head -c 8 <&3 | od -An -tx1
  " 2>/dev/null | tr -d ' \n')" || return 1
  [[ "$reply" =~ ^[0-9a-f]{8}2a2a2a2a$ ]]
}

# The pid of the broker this script started on this port, if it is still running.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(<"$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must still be a Kafka broker.
  grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# --- data folder and configuration -----------------------------------------------------------

# A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (not starting with '-').
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  echo "$id"
}

# Prints the data folder to use for this start; creates it when needed.
choose_data_dir() {
  # A temporary folder of an earlier (stopped) start is not needed any more.
  purge_data_dir auto-only
  if [[ -n "${KAFKA_DATA_DIR:-}" ]]; then
    mkdir -p "$KAFKA_DATA_DIR"
    (cd "$KAFKA_DATA_DIR" && pwd)
    return
  fi
  mktemp -d "${TMPDIR:-/tmp}/kafka-$PORT.XXXXXX"
}

write_config() {
  local data_dir="$1" listeners="PLAINTEXT://$HOST:$PORT" protocols="PLAINTEXT:PLAINTEXT"
  if sasl_ssl_enabled; then
    listeners+=",SASL_SSL://$HOST:$SASL_SSL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  if [[ -n "${KAFKA_EXTRA_LISTENER:-}" ]]; then
    listeners+=",EXTRA://$KAFKA_EXTRA_LISTENER"
    protocols+=",EXTRA:PLAINTEXT"
  fi
  cat >"$data_dir/server.properties" <<EOF
# Written by scripts/kafka.sh at every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=$listeners
listener.security.protocol.map=$protocols,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$data_dir/kraft
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if sasl_ssl_enabled; then
    local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required;"
    cat >>"$data_dir/server.properties" <<EOF
sasl.enabled.mechanisms=$SASL_MECHANISM
listener.name.sasl_ssl.${SASL_MECHANISM,,}.sasl.jaas.config=$jaas
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/broker.pem
listener.name.sasl_ssl.ssl.client.auth=none
EOF
  fi
}

# --- the SASL_SSL listener (opt-in) ----------------------------------------------------------

sasl_ssl_enabled() { [[ -n "$SASL_SSL_PORT" ]]; }

# A throwaway CA and the broker certificate it signs, remade at every start (valid 2 days).
# The CA's key is deleted at once: nothing else can ever be signed by it.
make_tls() {
  command -v openssl >/dev/null || die "openssl is needed for the SASL_SSL listener"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR/work"
  chmod 700 "$TLS_DIR"
  local work="$TLS_DIR/work" ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:$HOST,DNS:localhost" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$work/broker.ext"
  {
    openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=kafka.sh throwaway CA ($PORT)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout "$work/ca.key" -out "$TLS_DIR/ca.crt" &&
      openssl req -new "${ec[@]}" -subj "/CN=$HOST" -keyout "$work/broker.key" \
        -out "$work/broker.csr" &&
      openssl x509 -req -in "$work/broker.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$work/ca.key" \
        -CAcreateserial -days 2 -extfile "$work/broker.ext" -out "$work/broker.crt"
  } >>"$CONSOLE_FILE" 2>&1 || die "openssl could not make the listener's certificates ($CONSOLE_FILE)"
  # Kafka's PEM key store: the private key (PKCS#8, not encrypted), then the certificate chain.
  cat "$work/broker.key" "$work/broker.crt" "$TLS_DIR/ca.crt" >"$TLS_DIR/broker.pem"
  rm -rf "$work"
}

# Chooses the SCRAM user of a data folder about to be formatted: KAFKA_SASL_USERNAME and
# KAFKA_SASL_PASSWORD, or bridge and a random password; kept in the folder (mode 600).
new_scram_user() {
  local data_dir="$1" user="${KAFKA_SASL_USERNAME:-bridge}" password="${KAFKA_SASL_PASSWORD:-}"
  [[ "$user$password" =~ ^[A-Za-z0-9_.-]*$ ]] ||
    die "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD may hold only letters, digits, _ . -"
  if [[ -z "$password" ]]; then
    password="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  fi
  (umask 077 && printf '%s\n%s\n' "$user" "$password" >"$data_dir/$SCRAM_MARKER")
}

# The --add-scram option of the store's format: the user of the data folder.
scram_option() {
  local user password
  { read -r user && read -r password; } <"$1/$SCRAM_MARKER"
  echo "$SASL_MECHANISM=[name=$user,password=$password]"
}

# Publishes the client side of the listener in the state folder: the user and the password.
publish_scram_user() {
  local data_dir="$1"
  [[ -f "$data_dir/$SCRAM_MARKER" ]] || die "the data folder $data_dir was formatted without" \
    "the SASL_SSL listener's user: use a new KAFKA_DATA_DIR (or none) with KAFKA_SASL_SSL_PORT"
  rm -rf "$SASL_DIR"
  (umask 077 && mkdir -p "$SASL_DIR" &&
    sed -n 1p "$data_dir/$SCRAM_MARKER" >"$SASL_DIR/username" &&
    sed -n 2p "$data_dir/$SCRAM_MARKER" >"$SASL_DIR/password")
}

# The bridge's settings for the SASL_SSL listener, one NAME=value a line (for `env` or a file).
cmd_client_env() {
  sasl_ssl_enabled || die "client-env needs KAFKA_SASL_SSL_PORT (the SASL_SSL listener's port)"
  [[ -f "$SASL_DIR/password" && -f "$TLS_DIR/ca.crt" ]] ||
    die "no SASL_SSL listener was started with KAFKA_PORT=$PORT (start one first)"
  cat <<EOF
FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS=$HOST:$SASL_SSL_PORT
FEDAPAY_BRIDGE_KAFKA_SECURITY_PROTOCOL=SASL_SSL
FEDAPAY_BRIDGE_KAFKA_SASL_MECHANISM=$SASL_MECHANISM
FEDAPAY_BRIDGE_KAFKA_SASL_USERNAME=$(<"$SASL_DIR/username")
FEDAPAY_BRIDGE_KAFKA_SASL_PASSWORD_FILE=$SASL_DIR/password
FEDAPAY_BRIDGE_KAFKA_SSL_CA_FILE=$TLS_DIR/ca.crt
EOF
}

is_formatted() { [[ -f "$1/kraft/meta.properties" ]]; }

format_store() {
  local data_dir="$1"
  shift
  # A short-lived tool: the C1 compiler alone starts it faster.
  "$(java_bin)" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dkafka.logs.dir="$STATE_DIR" -Dlog4j2.configurationFile="$LOG4J2_CONFIG" \
    -cp "$ROOT/scripts/kafka:$LIBS/*" kafka.tools.StorageTool format \
    --cluster-id "$(new_cluster_id)" --config "$data_dir/server.properties" "$@" \
    >>"$CONSOLE_FILE" 2>&1 || {
    tail -n 20 "$CONSOLE_FILE" >&2
    die "formatting the KRaft store in $data_dir failed"
  }
}

# --- start -----------------------------------------------------------------------------------

launch() {
  local data_dir="$1" java
  java="$(java_bin)"
  # shellcheck disable=SC2086 # HEAP and KAFKA_JVM_OPTS are lists of options
  (cd "$data_dir" && exec setsid nohup "$java" $HEAP ${KAFKA_JVM_OPTS:-} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$STATE_DIR" -Dlog4j2.configurationFile="$LOG4J2_CONFIG" \
    -cp "$ROOT/scripts/kafka:$LIBS/*" kafka.Kafka "$data_dir/server.properties" \
    </dev/null >>"$CONSOLE_FILE" 2>&1 8>&- 9>&-) &
  echo $! >"$PID_FILE"
  cp "$PID_FILE" "$data_dir/broker.pid"
}

# Shows the end of the logs, stops what is left of the broker, forgets a temporary data folder.
fail_start() {
  local pid="$1"
  echo "--- last lines of $LOG_FILE" >&2
  tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
  echo "--- last lines of $CONSOLE_FILE" >&2
  tail -n 10 "$CONSOLE_FILE" >&2 2>/dev/null || true
  stop_pid "$pid"
  rm -f "$PID_FILE"
  purge_data_dir auto-only
  die "$2"
}

# Waits until the broker started at log offset $2 (bytes) with pid $1 really serves clients.
wait_ready() {
  local pid="$1" log_offset="$2" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail_start "$pid" "the broker exited during start-up (log: $LOG_FILE)"
    fi
    if grep -q "$STARTED_MESSAGE" < <(tail -c "+$((log_offset + 1))" "$LOG_FILE" 2>/dev/null) &&
      kafka_answers "$PORT" && { ! sasl_ssl_enabled || port_open "$SASL_SSL_PORT"; }; then
      return 0
    fi
    sleep 0.2
  done
  fail_start "$pid" "the broker did not answer on $HOST:$PORT within $START_TIMEOUT s (stopped it)"
}

print_endpoints() {
  echo "log:       $LOG_FILE"
  echo "bootstrap: $HOST:$PORT"
  if sasl_ssl_enabled; then
    echo "sasl_ssl:  $HOST:$SASL_SSL_PORT ($SASL_MECHANISM; settings: scripts/kafka.sh client-env)"
  fi
}

cmd_start() {
  lock "$STATE_DIR/lock" 9
  local pid
  if kafka_answers "$PORT"; then
    if sasl_ssl_enabled && ! port_open "$SASL_SSL_PORT"; then
      die "a broker answers on $HOST:$PORT without the SASL_SSL listener on" \
        "$HOST:$SASL_SSL_PORT: stop it first"
    fi
    echo "A Kafka broker already answers on $HOST:$PORT: reusing it."
    print_endpoints
    return 0
  fi
  if pid="$(running_pid)"; then
    # Ours, but not answering yet (another start still waiting on it, or hung).
    echo "Broker pid $pid is starting; waiting for it ..."
    wait_ready "$pid" 0
    print_endpoints
    return 0
  fi
  port_open "$PORT" && die "$HOST:$PORT is taken by something that is not a Kafka broker"
  port_open "$CONTROLLER_PORT" && die "controller port $HOST:$CONTROLLER_PORT is already taken"
  if sasl_ssl_enabled && port_open "$SASL_SSL_PORT"; then
    die "SASL_SSL port $HOST:$SASL_SSL_PORT is already taken"
  fi

  fetch_libs
  local started data_dir log_offset=0
  started="$(now)"
  data_dir="$(choose_data_dir)"
  touch "$data_dir/$DATA_MARKER"
  echo "$data_dir" >"$DATA_POINTER"
  if [[ -n "${KAFKA_DATA_DIR:-}" ]]; then
    rm -f "$DATA_POINTER.auto"
  else
    touch "$DATA_POINTER.auto"
  fi
  write_config "$data_dir"
  if is_formatted "$data_dir"; then
    echo "Reusing the formatted data folder $data_dir"
  elif sasl_ssl_enabled; then
    new_scram_user "$data_dir"
    format_store "$data_dir" --add-scram "$(scram_option "$data_dir")"
  else
    format_store "$data_dir"
  fi
  if sasl_ssl_enabled; then
    publish_scram_user "$data_dir"
    make_tls
  fi
  [[ -f "$LOG_FILE" ]] && log_offset="$(stat -c %s "$LOG_FILE")"
  launch "$data_dir"
  pid="$(<"$PID_FILE")"
  wait_ready "$pid" "$log_offset"
  echo "Kafka $KAFKA_VERSION broker (pid $pid) ready on $HOST:$PORT in $(since "$started") s;" \
    "data: $data_dir"
  print_endpoints
}

# --- stop ------------------------------------------------------------------------------------

stop_pid() {
  local pid="$1" deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "Broker pid $pid did not stop within 30 s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
}

# Removes the data folder recorded for this port, only if this script made it (and, with
# "auto-only", only if it is a temporary folder chosen by the script).
purge_data_dir() {
  [[ -f "$DATA_POINTER" ]] || return 0
  [[ "${1:-}" == auto-only && ! -f "$DATA_POINTER.auto" ]] && return 0
  local data_dir
  data_dir="$(<"$DATA_POINTER")"
  if [[ -n "$data_dir" && "$data_dir" != / && -f "$data_dir/$DATA_MARKER" ]]; then
    rm -rf "$data_dir"
    [[ "${1:-}" == auto-only ]] || echo "Removed $data_dir"
  fi
  rm -f "$DATA_POINTER" "$DATA_POINTER.auto"
}

cmd_stop() {
  local purge=false
  case "${1:-}" in
    "") ;;
    --purge) purge=true ;;
    *) usage ;;
  esac
  [[ -d "$STATE_DIR" ]] || {
    echo "No broker was started by this script on port $PORT."
    return 0
  }
  lock "$STATE_DIR/lock" 9
  local pid
  if pid="$(running_pid)"; then
    local started
    started="$(now)"
    stop_pid "$pid"
    echo "Stopped the broker (pid $pid) on $HOST:$PORT in $(since "$started") s."
  else
    echo "No broker started by this script is running on port $PORT."
  fi
  rm -f "$PID_FILE"
  if [[ -f "$DATA_POINTER" ]]; then rm -f "$(<"$DATA_POINTER")/broker.pid"; fi
  if $purge; then purge_data_dir; fi
}

# --- status ----------------------------------------------------------------------------------

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if kafka_answers "$PORT"; then
      echo "running: pid $pid on $HOST:$PORT, data $(cat "$DATA_POINTER" 2>/dev/null)," \
        "log $LOG_FILE"
      return 0
    fi
    echo "starting (not answering yet): pid $pid on $HOST:$PORT"
    return 3
  fi
  if kafka_answers "$PORT"; then
    echo "running: a broker not started by this script answers on $HOST:$PORT"
    return 0
  fi
  echo "stopped: nothing answers on $HOST:$PORT"
  return 3
}

main() {
  check_port "$PORT"
  check_port "$CONTROLLER_PORT"
  [[ "$PORT" != "$CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
  if sasl_ssl_enabled; then
    check_port "$SASL_SSL_PORT"
    [[ "$SASL_SSL_PORT" != "$PORT" && "$SASL_SSL_PORT" != "$CONTROLLER_PORT" ]] ||
      die "KAFKA_SASL_SSL_PORT must differ from KAFKA_PORT and KAFKA_CONTROLLER_PORT"
  fi
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status ;;
    log) echo "$LOG_FILE" ;;
    bootstrap) echo "$HOST:$PORT" ;;
    client-env) cmd_client_env ;;
    *) usage ;;
  esac
}

main "$@"

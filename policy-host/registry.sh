#!/usr/bin/env bash
# A throw-away OCI registry on loopback (the CNCF distribution registry,
# Debian package `docker-registry`, binary /usr/bin/docker-registry), with
# its storage in a temporary directory, to try `make push` / `make pull`.
#
#   policy-host/registry.sh check                 # is the registry binary installed?
#   policy-host/registry.sh start [PORT]          # start on 127.0.0.1:PORT (default 5000)
#   policy-host/registry.sh status
#   policy-host/registry.sh stop                  # stop it and delete its storage
#
# Then, with a sources file listing it as insecure (plain HTTP):
#   echo 'insecure_sources: ["127.0.0.1:5000"]' > /tmp/sources.yml
#   make push REGISTRY=127.0.0.1:5000/policies/daemonset-csi-policy SOURCES=/tmp/sources.yml
#
# The state (config, pid, log, storage) lives in $POLICY_OCI_REGISTRY_DIR
# (default /tmp/policy-oci-registry). The tests in policy-host/tests/ do not use this
# script: they start one registry per test themselves (see docs/distribution.md).
set -euo pipefail

BIN="${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}"
STATE="${POLICY_OCI_REGISTRY_DIR:-/tmp/policy-oci-registry}"
PIDFILE="$STATE/registry.pid"

die() { echo "registry.sh: $*" >&2; exit 1; }

check() {
    if [[ ! -x "$BIN" ]]; then
        die "the registry binary $BIN is not installed: run \`apt-get install -y docker-registry\` (Debian) or set DOCKER_REGISTRY_BIN"
    fi
}

running_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    check
    local port="${1:-5000}"
    [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
    if pid="$(running_pid)"; then
        die "a registry is already running (pid $pid, state $STATE): stop it first"
    fi
    mkdir -p "$STATE/data"
    cat > "$STATE/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: policy-oci-local-registry
CONFIG
    "$BIN" serve "$STATE/config.yml" >"$STATE/registry.log" 2>&1 &
    echo $! > "$PIDFILE"
    # Wait (bounded) until it answers /v2/.
    for _ in $(seq 1 100); do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            cat "$STATE/registry.log" >&2
            rm -f "$PIDFILE"
            die "the registry exited at start (port $port in use?)"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "127.0.0.1:$port"
            return 0
        fi
        sleep 0.1
    done
    stop
    die "the registry did not listen on 127.0.0.1:$port within 10 s"
}

stop() {
    if pid="$(running_pid)"; then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$STATE"
}

status() {
    if pid="$(running_pid)"; then
        echo "running (pid $pid): $(sed -n 's/^  addr: //p' "$STATE/config.yml")"
    else
        echo "not running"
        return 1
    fi
}

case "${1:-}" in
    check) check ;;
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 check | start [PORT] | status | stop" ;;
esac

#!/usr/bin/env bash
# The container tier of the suites without Docker: Podman serving a Docker-compatible API
# on a private socket, and a Redis image built locally (nothing is pulled).
#
#   scripts/container-tier.sh start   install podman/runc if missing (root, Debian), build the
#                                     image if missing, start the API service; print the env
#   scripts/container-tier.sh env     print the environment testcontainers needs
#   scripts/container-tier.sh stop    stop the API service and remove the tier's containers
#
# Idempotent: a second `start` only checks. Use it as: eval "$(scripts/container-tier.sh start)"
set -euo pipefail

DIR="${HARNESS_CONTAINER_DIR:-/tmp/harness-containers}"
IMAGE="${HARNESS_REDIS_IMAGE:-localhost/redis-local:7}"
SOCKET="$DIR/podman.sock"
export CONTAINERS_CONF="$DIR/containers.conf"

log() { echo "container-tier: $*" >&2; }

print_env() {
    cat <<ENV
export DOCKER_HOST=unix://$SOCKET
export CONTAINERS_CONF=$CONTAINERS_CONF
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_CONNECTION_MODE=docker_host
export HARNESS_REDIS_IMAGE=$IMAGE
ENV
}

install_packages() {
    local missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]} and cannot install them (needs root and apt-get)"
        exit 1
    fi
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

write_conf() {
    mkdir -p "$DIR"
    # The sandbox refuses crun's defaults (setrlimit, cgroups in hybrid mode): runc, cgroupfs, fixed ulimits.
    cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
}

build_image() {
    podman image exists "$IMAGE" && return
    log "building $IMAGE from this machine's redis-server (no registry pull)"
    local rootfs="$DIR/rootfs"
    rm -rf "$rootfs" && mkdir -p "$rootfs/usr/bin"
    cp "$(command -v redis-server)" "$rootfs/usr/bin/redis-server"
    for lib in $(ldd "$(command -v redis-server)" | grep -o '/[^ ]*'); do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
    tar -C "$rootfs" -cf "$DIR/rootfs.tar" .
    podman import \
        --change 'CMD ["/usr/bin/redis-server","--protected-mode","no","--save","","--appendonly","no"]' \
        --change 'EXPOSE 6379' "$DIR/rootfs.tar" "$IMAGE" >/dev/null
    rm -rf "$rootfs" "$DIR/rootfs.tar"
}

service_answers() {
    [ -S "$SOCKET" ] && curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1
}

start_service() {
    service_answers && return
    log "starting the Podman API service on $SOCKET"
    rm -f "$SOCKET"
    nohup podman system service --time=0 "unix://$SOCKET" >"$DIR/service.log" 2>&1 &
    echo $! > "$DIR/service.pid"
    for _ in $(seq 1 100); do
        service_answers && return
        sleep 0.05
    done
    log "the API service did not answer; see $DIR/service.log"
    exit 1
}

stop() {
    if [ -f "$DIR/service.pid" ]; then
        kill "$(cat "$DIR/service.pid")" 2>/dev/null || true
        rm -f "$DIR/service.pid"
    fi
    if command -v podman >/dev/null 2>&1 && [ -f "$CONTAINERS_CONF" ]; then
        # testcontainers labels its containers; remove any a crashed run left behind
        podman ps -aq --filter label=org.testcontainers=true | xargs -r podman rm -f >/dev/null 2>&1 || true
    fi
    rm -f "$SOCKET"
}

case "${1:-}" in
    start) install_packages; write_conf; build_image; start_service; print_env ;;
    env) print_env ;;
    stop) stop ;;
    *) echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Makes a Docker engine and the Python base images that InfraMind's examples and tests need available here.
# Idempotent: when the engine answers and the images exist it only checks (well under 2 s).
#
#   scripts/setup-engine.sh            # as root
#
# Environment:
#   INFRAMIND_DOCKERD_LOG   dockerd log file          (default /var/log/inframind-dockerd.log)
#   INFRAMIND_DOCKERD_PID   file holding dockerd's PID (default /var/run/inframind-dockerd.pid)
#   INFRAMIND_ENGINE_WAIT   seconds to wait for the engine to answer (default 60)
#   INFRAMIND_SUITE         Debian suite of the stand-in base image (default bookworm)
#   INFRAMIND_ADDRESS_POOL  address pool for the engine's networks (default base=172.17.0.0/16,size=24)
set -euo pipefail

LOG_FILE="${INFRAMIND_DOCKERD_LOG:-/var/log/inframind-dockerd.log}"
PID_FILE="${INFRAMIND_DOCKERD_PID:-/var/run/inframind-dockerd.pid}"
WAIT_SECONDS="${INFRAMIND_ENGINE_WAIT:-60}"
SUITE="${INFRAMIND_SUITE:-bookworm}"
# Every run gets a network of its own; the engine's default pools hold only ~30 networks, /24s give 256.
ADDRESS_POOL="${INFRAMIND_ADDRESS_POOL:-base=172.17.0.0/16,size=24}"
BASE_TAG="python:3.10-slim"
ALIAS_TAGS=("python:3.11-slim")
STAND_IN_LABEL="org.inframind.stand-in=true"
# Version 2 adds Debian's python3-grpcio and python3-protobuf, so that gRPC model packages build without a network.
# A stand-in of an older version is rebuilt (under a temporary tag, then retagged, so that builds running meanwhile
# always find a complete image).
STAND_IN_VERSION="2"

say() { printf '[setup-engine] %s\n' "$*"; }
die() { printf '[setup-engine] error: %s\n' "$*" >&2; exit 1; }

engine_answers() { timeout 5 docker info >/dev/null 2>&1; }

apt_install() {
  # An install can fail on a fresh machine only because the package lists are missing or stale: refresh once.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; then
    say "apt-get install failed; running apt-get update and retrying"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  fi
}

ensure_engine() {
  if engine_answers; then
    say "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    return
  fi
  [[ $(id -u) -eq 0 ]] || die "no Docker engine answers and starting one needs root; rerun as root or set DOCKER_HOST"

  if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io"
    apt_install docker.io
  fi

  # A dockerd we started earlier may still be coming up: wait for it instead of starting a second one.
  local pid=""
  if [[ -s $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    pid=$(cat "$PID_FILE")
    say "dockerd (PID $pid, from $PID_FILE) is running but not answering yet; waiting"
  else
    say "starting dockerd --iptables=false --bridge=none --default-address-pool $ADDRESS_POOL (log: $LOG_FILE)"
    mkdir -p "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
    # No systemd here. setsid detaches it from this shell so it outlives the script; --iptables=false because
    # the machine's firewall is not ours to change, which also means no masquerade, i.e. containers get no egress.
    setsid dockerd --iptables=false --bridge=none --default-address-pool "$ADDRESS_POOL" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    say "dockerd PID $pid recorded in $PID_FILE"
  fi

  local deadline=$((SECONDS + WAIT_SECONDS))
  until engine_answers; do
    # Ours may have exited because another dockerd (started by someone else at the same moment) holds the lock:
    # then that one is waited for instead.
    if ! kill -0 "$pid" 2>/dev/null && ! pgrep -x dockerd >/dev/null 2>&1; then
      tail -n 20 "$LOG_FILE" >&2 || true
      die "dockerd (PID $pid) exited; see $LOG_FILE"
    fi
    ((SECONDS < deadline)) || die "dockerd did not answer within ${WAIT_SECONDS}s; see $LOG_FILE"
    sleep 0.5
  done
  say "Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_stand_in() {
  local target="$BASE_TAG.building-$$"
  target="${target/:/-stand-in:}"
  say "no registry can be pulled from: building a LOCAL STAND-IN for $BASE_TAG from Debian $SUITE packages (as $target)"
  say "  (it is not the official image: its python is Debian $SUITE's python3, i.e. 3.11 for bookworm)"
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    say "installing mmdebstrap"
    apt_install mmdebstrap
  fi
  STAND_IN_WORK=$(mktemp -d /tmp/inframind-base.XXXXXX)
  trap 'rm -rf "$STAND_IN_WORK"' EXIT
  local work=$STAND_IN_WORK

  # The host's own apt sources are used so that whatever mirror this machine is configured for is the one used.
  local sources=()
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && sources+=("$f")
  done
  ((${#sources[@]} > 0)) || die "no apt sources configured on this machine (/etc/apt/sources.list*)"

  # variant=apt is essential + apt only; docs, man pages and locales are left out to keep the image small.
  mmdebstrap --variant=apt \
    --include=python3,python3-pip,python3-grpcio,python3-protobuf,curl,ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$work/rootfs.tar" "${sources[@]}" </dev/null

  # PIP_NO_INDEX: there is no package index to reach; a missing package then fails at once instead of retrying.
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'ENV PIP_NO_INDEX=1' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $STAND_IN_LABEL" \
    --change "LABEL org.inframind.stand-in.source=debian-$SUITE" \
    --change "LABEL org.inframind.stand-in.version=$STAND_IN_VERSION" \
    --change 'CMD ["python3"]' \
    --message "InfraMind local stand-in for $BASE_TAG (Debian $SUITE)" \
    "$work/rootfs.tar" "$target" >/dev/null
  say "python in the stand-in: $(docker run --rm --network none "$target" python3 -c 'import sys, grpc, google.protobuf as p; print(sys.version.split()[0], "grpcio", grpc.__version__, "protobuf", p.__version__)' 2>&1)"
  # One tag operation per name: a build that starts now sees the old image or the new one, never none.
  docker tag "$target" "$BASE_TAG"
  local alias
  for alias in "${ALIAS_TAGS[@]}"; do
    if ! image_exists "$alias" || is_stand_in "$alias"; then docker tag "$target" "$alias"; fi
  done
  docker rmi "$target" >/dev/null
  say "built $BASE_TAG: $(docker image inspect --format '{{.Id}} {{.Size}} bytes' "$BASE_TAG")"
}

is_stand_in() { [[ $(docker image inspect --format '{{index .Config.Labels "org.inframind.stand-in"}}' "$1" 2>/dev/null) == "true" ]]; }
stand_in_version() { docker image inspect --format '{{index .Config.Labels "org.inframind.stand-in.version"}}' "$1" 2>/dev/null; }

ensure_base_images() {
  if image_exists "$BASE_TAG"; then
    if is_stand_in "$BASE_TAG" && [[ $(stand_in_version "$BASE_TAG") != "$STAND_IN_VERSION" ]]; then
      say "$BASE_TAG is a LOCAL STAND-IN of an older version ($(stand_in_version "$BASE_TAG" || true)); rebuilding it with grpcio"
      build_stand_in
    elif is_stand_in "$BASE_TAG"; then
      say "$BASE_TAG present (LOCAL STAND-IN v$STAND_IN_VERSION built from Debian packages with grpcio, not the official image)"
    else
      say "$BASE_TAG present"
    fi
  else
    build_stand_in
  fi
  local alias
  for alias in "${ALIAS_TAGS[@]}"; do
    if image_exists "$alias" && is_stand_in "$alias" && [[ $(stand_in_version "$alias") != "$STAND_IN_VERSION" ]] && is_stand_in "$BASE_TAG"; then
      docker tag "$BASE_TAG" "$alias"
      say "retagged $alias -> $BASE_TAG (the stand-in v$STAND_IN_VERSION)"
    elif image_exists "$alias"; then
      say "$alias present"
    else
      docker tag "$BASE_TAG" "$alias"
      say "tagged $alias -> $BASE_TAG (same stand-in image)"
    fi
  done
}

ensure_engine
ensure_base_images
say "ready"

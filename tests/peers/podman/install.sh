#!/bin/sh
# Installs Debian's podman: PodmanPeer runs `podman system service` on a socket of its own, so that tests can prove
# what InfraMind does against Podman's Docker-compatible API (it refuses to run there, IM3009: Podman 4.x ignores
# the isolation policy's bridge options). No service or socket unit is used. Idempotent.
set -eu
if command -v podman >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "podman is missing and installing it needs root: sudo apt-get install -y podman" >&2
  exit 1
fi
apt-get install -y --no-install-recommends podman || { apt-get update && apt-get install -y --no-install-recommends podman; }

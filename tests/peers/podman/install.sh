#!/bin/sh
# Installs Debian's podman: PodmanPeer runs `podman system service` on a socket of its own, so that tests can prove
# what InfraMind does against Podman's Docker-compatible API (it refuses to run there, IM3009: Podman 4.x ignores
# the isolation policy's bridge options). No service or socket unit is used. Idempotent.
set -eu
exec sh "$(dirname "$0")/../apt-install.sh" podman podman

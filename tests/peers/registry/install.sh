#!/bin/sh
# Installs Debian's docker-registry (the OCI distribution registry) that InfraMind.Storage.Tests start on
# 127.0.0.1 ports of their own (RegistryPeer). The package does not start a service here. Idempotent.
set -eu
if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "docker-registry is missing and installing it needs root: sudo apt-get install -y docker-registry" >&2
  exit 1
fi
# Only refresh the package lists when the cached ones do not know the package.
apt-get install -y --no-install-recommends docker-registry || { apt-get update && apt-get install -y --no-install-recommends docker-registry; }

#!/bin/sh
# Installs Debian's docker-registry (the OCI distribution registry) that InfraMind.Storage.Tests start on
# 127.0.0.1 ports of their own (RegistryPeer). The package does not start a service here. Idempotent.
set -eu
exec sh "$(dirname "$0")/../apt-install.sh" docker-registry docker-registry

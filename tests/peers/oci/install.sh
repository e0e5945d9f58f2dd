#!/bin/sh
# Installs skopeo, the independent OCI layout reader InfraMind.Oci.Tests checks its layout tars with. Idempotent.
set -eu
if command -v skopeo >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "skopeo is missing and installing it needs root: sudo apt-get install -y --no-install-recommends skopeo" >&2
  exit 1
fi
apt-get install -y --no-install-recommends skopeo

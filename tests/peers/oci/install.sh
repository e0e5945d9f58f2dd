#!/bin/sh
# Installs skopeo, the independent OCI layout reader InfraMind.Oci.Tests checks its layout tars with. Idempotent.
set -eu
exec sh "$(dirname "$0")/../apt-install.sh" skopeo skopeo

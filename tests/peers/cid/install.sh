#!/bin/sh
# Installs the independent CID peer (npm ipfs-only-hash) that InfraMind.Storage.Tests runs.
exec sh "$(dirname "$0")/../npm-ci.sh" "$(dirname "$0")"

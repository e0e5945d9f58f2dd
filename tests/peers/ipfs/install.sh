#!/bin/sh
# Installs the js-ipfs daemon (npm ipfs 0.66.1: Kubo RPC API and gateway) that InfraMind.Storage.Tests adds to and
# fetches from. Cold: ~1.5-5 min, ~1100 packages; the daemon runs without native add-ons.
exec sh "$(dirname "$0")/../npm-ci.sh" "$(dirname "$0")"

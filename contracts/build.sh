#!/bin/sh
# Builds the registry contract reproducibly: installs the pinned solc (package-lock.json) and writes
# src/InfraMind.Registry/Chain/ModelRegistry.abi.json and ModelRegistry.bin, which the .NET client embeds.
# A test (ContractArtifactsTests) compiles again and fails when the committed files differ: run this after every
# change to ModelRegistry.sol and commit its output.
#   sh contracts/build.sh [OUTDIR]
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
sh "$here/../tests/peers/npm-ci.sh" "$here"
exec node "$here/compile.cjs" "${1:-$here/../src/InfraMind.Registry/Chain}"

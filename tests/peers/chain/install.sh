#!/bin/sh
# Installs the EVM dev chain (npm ganache 7.9.2, ~30 packages, ~10 s cold) that InfraMind.Registry.Tests and
# bench/chain-bench publish to, and the pinned Solidity compiler (contracts/package.json) that the test comparing the
# committed contract artefacts with a fresh compile runs. Idempotent; no install scripts (ganache runs without its
# optional native add-ons).
set -eu
here="$(dirname "$0")"
sh "$here/../npm-ci.sh" "$here"
sh "$here/../npm-ci.sh" "$here/../../../contracts"

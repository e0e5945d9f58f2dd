#!/bin/sh
# Installs the EVM dev chains (npm ganache 7.9.2 and Hardhat 2.26.5, ~240 packages, ~20 s cold) that InfraMind.Registry.Tests and
# bench/chain-bench publish to, and the pinned Solidity compiler (contracts/package.json) that the test comparing the
# committed contract artefacts with a fresh compile runs. Idempotent; no install scripts (ganache runs without its
# optional native add-ons; Hardhat falls back to pure-JS keccak).
set -eu
here="$(dirname "$0")"
sh "$here/../npm-ci.sh" "$here"
sh "$here/../npm-ci.sh" "$here/../../../contracts"

#!/bin/sh
# Installs the js-ipfs daemon (npm ipfs 0.66.1: Kubo RPC API and gateway) that InfraMind.Storage.Tests adds to and
# fetches from. Idempotent: does nothing when node_modules already matches package-lock.json. Cold: ~3-5 min,
# ~1100 packages. Install scripts are not needed (the daemon runs without native add-ons).
set -eu
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 18+ (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.inframind-lock; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts
cp package-lock.json node_modules/.inframind-lock

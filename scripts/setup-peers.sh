#!/usr/bin/env bash
# Installs the real peers the tests talk to (npm CID implementations, skopeo, registry, nginx, IPFS…): every
# tests/peers/*/install.sh, each idempotent and quick when already done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for install in "$root"/tests/peers/*/install.sh; do
  echo "[setup-peers] $(basename "$(dirname "$install")")"
  bash "$install"
done

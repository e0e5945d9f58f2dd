#!/bin/sh
# One run: makes a 1 GiB file (or uses $1), times openssl dgst -sha256, InfraMind's sha256 and CID v0/v1, and
# ipfs-only-hash, and prints GB/s and ratios to openssl. Needs openssl; node + tests/peers/cid/install.sh for js.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
dotnet run -c Release --project "$root/bench/CidThroughput" -- "${1:-${TMPDIR:-/tmp}/inframind-bench-1g.bin}" "${2:-1024}"
